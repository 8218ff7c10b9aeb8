/* test_catalog.c: the catalog's own consistency (the table everything else trusts), its lookups,
 * the role mapping, and its Markdown rendering. */
#include "testing.h"

#include "levee/catalog.h"

static void test_kinds_are_consistent(void **state)
{
    (void)state;
    assert_int_equal(lv_kind_count, 7);
    for (size_t k = 0; k < lv_kind_count; k++) {
        const lv_kind *kind = &lv_kinds[k];
        assert_true(kind->n_fields <= LV_BODY_MAX);
        assert_ptr_equal(lv_kind_find(kind->name, strlen(kind->name)), kind);
        size_t required = 0;
        for (size_t i = 0; i < kind->n_fields; i++) {
            const lv_field *f = &kind->fields[i];
            assert_int_equal(lv_kind_field_index(kind, f->name, strlen(f->name)), (int)i);
            for (size_t j = i + 1; j < kind->n_fields; j++)
                assert_string_not_equal(f->name, kind->fields[j].name);
            if (f->flags & LV_F_REQUIRED) {
                /* required body fields are the ids an event cannot be understood without */
                assert_int_equal(f->type, LV_T_ID);
                assert_false(f->flags & LV_F_NULLABLE);
                required++;
            }
            if (f->type == LV_T_ENUM)
                assert_non_null(f->values);
            assert_true(f->doc && f->doc[0]);
        }
        assert_true(required > 0);
        if (kind->caliper) {
            /* the object id is carried as the kind's URN */
            bool found = false;
            for (size_t i = 0; i < kind->n_fields; i++)
                for (int p = 0; p < LV_CALIPER_PLACES && kind->fields[i].caliper[p].path; p++)
                    if (strcmp(kind->fields[i].caliper[p].path, "object/id") == 0) {
                        assert_int_equal(kind->fields[i].caliper[p].form, LV_CF_URN);
                        assert_string_equal(kind->fields[i].caliper[p].urn, kind->caliper->object_urn);
                        found = true;
                    }
            assert_true(found);
            assert_ptr_equal(lv_kind_for_caliper(kind->caliper->type, strlen(kind->caliper->type),
                                                 kind->caliper->action, strlen(kind->caliper->action)),
                             kind);
        }
    }
    assert_null(lv_kind_find("asset_accessed", 14));
    assert_null(lv_kind_find("", 0));
}

static void test_metadata_lookup(void **state)
{
    (void)state;
    for (int m = 0; m < LV_META_COUNT; m++) {
        const char *n = lv_metadata_fields[m].name;
        assert_non_null(n);
        assert_int_equal(lv_meta_index(n, strlen(n)), m);
    }
    assert_int_equal(lv_meta_index("event_names", 11), -1);
    assert_int_equal(lv_meta_index("x", 1), -1);
    assert_true(lv_metadata_fields[LV_M_EVENT_NAME].flags & LV_F_REQUIRED);
    assert_true(lv_metadata_fields[LV_M_EVENT_TIME].flags & LV_F_REQUIRED);
}

static void test_roles(void **state)
{
    (void)state;
    assert_string_equal(lv_caliper_role_for("StudentEnrollment", 17), "Learner");
    assert_string_equal(lv_caliper_role_for("TeacherEnrollment", 17), "Instructor");
    assert_string_equal(lv_caliper_role_for("TaEnrollment", 12), "Instructor#TeachingAssistant");
    assert_null(lv_caliper_role_for("Dean of Students", 16));
    assert_string_equal(lv_canvas_role_for("Learner", 7), "StudentEnrollment");
    assert_string_equal(lv_canvas_role_for("Mentor", 6), "ObserverEnrollment");
    assert_null(lv_canvas_role_for("Officer", 7));
}

static void test_markdown_lists_every_kind_and_field(void **state)
{
    (void)state;
    lv_buf md;
    lv_buf_init(&md);
    lv_catalog_markdown(&md);
    for (size_t k = 0; k < lv_kind_count; k++) {
        char heading[128];
        snprintf(heading, sizeof heading, "## %s\n", lv_kinds[k].name);
        assert_non_null(strstr(md.data, heading));
        for (size_t i = 0; i < lv_kinds[k].n_fields; i++) {
            char cell[128];
            snprintf(cell, sizeof cell, "| `%s` |", lv_kinds[k].fields[i].name);
            assert_non_null(strstr(md.data, cell));
        }
    }
    assert_non_null(strstr(md.data, "`actor.extensions[\"com.instructure.canvas\"].user_login`"));
    assert_non_null(strstr(md.data, "`membership.roles[0]`"));
    lv_buf_free(&md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds_are_consistent),
        cmocka_unit_test(test_metadata_lookup),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_markdown_lists_every_kind_and_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
