/* test_simulate.c: the simulator through its public interface: options are checked with messages
 * that name the option; every event it makes is valid (strictly, in canvas form, and in Caliper
 * form for the two documented kinds) and comes in event_time order; the same seed makes the same
 * bytes; generated text is cut exactly as Canvas cuts. */
#include "testing.h"

#include "levee/caliper.h"
#include "levee/id.h"
#include "levee/simulate.h"
#include "levee/text.h"

static lv_sim_options small_options(uint64_t seed)
{
    lv_sim_options o;
    lv_sim_options_init(&o);
    o.seed = seed;
    o.courses = 2;
    o.users = 30;
    o.days = 2;
    return o;
}

static void test_options_are_checked(void **state)
{
    (void)state;
    lv_sim *sim = (lv_sim *)1;
    lv_error err;
    lv_sim_options o = small_options(1);
    o.users = 1;
    assert_int_equal(lv_sim_new(&sim, &o, &err), LV_EINVAL);
    assert_null(sim);
    assert_non_null(strstr(err.msg, "number of users must be between 2 and"));
    o = small_options(1);
    o.courses = 0;
    assert_int_equal(lv_sim_new(&sim, &o, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "courses"));
    o = small_options(1);
    o.days = LV_SIM_MAX_DAYS + 1;
    assert_int_equal(lv_sim_new(&sim, &o, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "days"));
    o = small_options(1);
    o.start_ms = -1;
    assert_int_equal(lv_sim_new(&sim, &o, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "start time"));
    lv_sim_free(NULL);
}

/* Runs a simulation, writing each event in canvas form (one per line) into out. */
static unsigned long run_to_text(const lv_sim_options *o, lv_buf *out)
{
    lv_sim *sim;
    assert_int_equal(lv_sim_new(&sim, o, NULL), LV_OK);
    lv_jw *w = lv_jw_new(out, false);
    unsigned long n = 0;
    for (const lv_event *ev; (ev = lv_sim_next(sim)) != NULL; n++) {
        lv_jw_reset(w);
        assert_int_equal(lv_canvas_write_event(ev, w, NULL), LV_OK);
        lv_buf_putc(out, '\n');
    }
    assert_null(lv_sim_next(sim)); /* stays finished */
    lv_jw_free(w);
    lv_sim_free(sim);
    return n;
}

static void test_same_seed_same_bytes(void **state)
{
    (void)state;
    lv_buf a, b, c;
    lv_buf_init(&a);
    lv_buf_init(&b);
    lv_buf_init(&c);
    lv_sim_options o1 = small_options(9), o2 = small_options(10);
    unsigned long n = run_to_text(&o1, &a);
    assert_true(n > 20);
    assert_int_equal(run_to_text(&o1, &b), n);
    run_to_text(&o2, &c);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_false(a.len == c.len && memcmp(a.data, c.data, a.len) == 0);
    lv_buf_free(&a);
    lv_buf_free(&b);
    lv_buf_free(&c);
}

static void test_events_are_valid_ordered_and_counted(void **state)
{
    (void)state;
    lv_sim_options o = small_options(3);
    o.days = 4;
    lv_sim *sim;
    assert_int_equal(lv_sim_new(&sim, &o, NULL), LV_OK);
    lv_sim_info info;
    lv_sim_describe(sim, &info);
    assert_true(info.root_account_id == info.shard * LV_SHARD_FACTOR + 1);
    assert_int_equal(info.courses, 2);
    assert_int_equal(info.users, 30);
    assert_true(info.end_ms - info.start_ms == 4 * 86400000LL);
    assert_true(info.enrollments >= 30);

    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    int64_t last = INT64_MIN;
    unsigned long n = 0, caliper = 0, per_kind[16] = { 0 };
    for (const lv_event *ev; (ev = lv_sim_next(sim)) != NULL; n++) {
        assert_non_null(ev->kind);
        assert_true(ev->has_time);
        assert_true(ev->time_ms >= last);
        assert_true(ev->time_ms >= info.start_ms);
        last = ev->time_ms;
        per_kind[ev->kind - lv_kinds]++;
        assert_true(ev->shard == info.shard);

        lv_buf_reset(&out);
        lv_jw_reset(w);
        assert_int_equal(lv_canvas_write_event(ev, w, NULL), LV_OK);
        lv_doc doc = decode_text(&a, out.data, true);
        if (doc.events[0].rejected) {
            fprintf(stderr, "%s\n", out.data);
            print_diags(&doc.events[0]);
        }
        assert_false(doc.events[0].rejected);
        assert_true(doc.events[0].time_ms == ev->time_ms);
        if (ev->kind->caliper) {
            lv_buf_reset(&out);
            lv_jw_reset(w);
            assert_int_equal(lv_caliper_write_envelope(ev, &a, w, NULL), LV_OK);
            doc = decode_text(&a, out.data, true);
            if (doc.events[0].rejected)
                print_diags(&doc.events[0]);
            assert_false(doc.events[0].rejected);
            assert_ptr_equal(doc.events[0].kind, ev->kind);
            caliper++;
        }
        lv_arena_reset(&a);
    }
    assert_true(n > 50);
    assert_true(caliper > 0 && caliper < n);
    for (size_t k = 0; k < lv_kind_count; k++)
        assert_int_equal(lv_sim_count(sim, &lv_kinds[k]), per_kind[k]);
    assert_int_equal(lv_sim_count(sim, NULL), 0);
    lv_jw_free(w);
    lv_buf_free(&out);
    lv_arena_free(&a);
    lv_sim_free(sim);
}

/* A simulation stopped half way frees everything it made (checked by LeakSanitizer). */
static void test_free_midway(void **state)
{
    (void)state;
    lv_sim_options o = small_options(4);
    lv_sim *sim;
    assert_int_equal(lv_sim_new(&sim, &o, NULL), LV_OK);
    for (int i = 0; i < 25; i++)
        assert_non_null(lv_sim_next(sim));
    lv_sim_free(sim);
}

static void test_text_is_cut_as_canvas_cuts(void **state)
{
    (void)state;
    lv_prng r;
    lv_prng_seed(&r, 12);
    lv_buf scratch, out, again;
    lv_buf_init(&scratch);
    lv_buf_init(&out);
    lv_buf_init(&again);
    unsigned cut = 0, short_texts = 0, unicode = 0;
    for (int i = 0; i < 3000 && cut < 5; i++) {
        lv_buf_reset(&out);
        bool was_cut = lv_sim_text(&r, LV_SIM_TEXT_TOPIC, (unsigned)i, &scratch, &out);
        size_t chars = lv_utf8_count(out.data, out.len);
        assert_true(chars <= LV_TEXT_LIMIT);
        assert_true(out.len > 0 && out.data[0] == '<');
        unicode += lv_utf8_count(out.data, out.len) != out.len;
        short_texts += chars < 1000;
        if (!was_cut) {
            assert_int_equal(out.len, scratch.len);
            continue;
        }
        cut++;
        /* scratch holds the whole text: the cut is Rails' truncate(8192, separator: " ") */
        assert_true(lv_utf8_count(scratch.data, scratch.len) > LV_TEXT_LIMIT);
        lv_buf_reset(&again);
        assert_true(lv_text_truncate(scratch.data, scratch.len, LV_TEXT_LIMIT, &again));
        assert_int_equal(again.len, out.len);
        assert_memory_equal(again.data, out.data, out.len);
        size_t kept = out.len - 3;
        assert_memory_equal(out.data + kept, "...", 3);
        assert_true(scratch.data[kept] == ' ');
        assert_memory_equal(scratch.data, out.data, kept);
    }
    assert_true(cut >= 5);
    assert_true(short_texts > cut * 10);
    assert_true(unicode > 0);
    for (int i = 0; i < 200; i++) {
        lv_buf_reset(&out);
        assert_false(lv_sim_text(&r, LV_SIM_TEXT_TITLE, (unsigned)i, &scratch, &out));
        assert_true(out.len > 3 && out.len < 200);
        assert_null(memchr(out.data, '<', out.len));
    }
    lv_buf_free(&scratch);
    lv_buf_free(&out);
    lv_buf_free(&again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_are_checked),
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_events_are_valid_ordered_and_counted),
        cmocka_unit_test(test_free_midway),
        cmocka_unit_test(test_text_is_cut_as_canvas_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
