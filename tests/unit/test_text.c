/* test_text.c: character counting, Canvas's (Rails') 8192-character cut, HTML's visible text, and the
 * strict UTF-8 checks and repair. */
#include "testing.h"

#include "levee/text.h"

static void test_counts_characters_not_bytes(void **state)
{
    (void)state;
    assert_int_equal(lv_utf8_count("abc", 3), 3);
    assert_int_equal(lv_utf8_count("h\xC3\xA9llo", 6), 5);            /* é */
    assert_int_equal(lv_utf8_count("\xE6\x97\xA5\xE6\x9C\xAC", 6), 2); /* 日本 */
    assert_int_equal(lv_utf8_count("\xF0\x9F\x98\x80!", 5), 2);        /* 😀! */
    assert_int_equal(lv_utf8_prefix("h\xC3\xA9llo", 6, 2), 3);
}

static char *repeat(const char *unit, size_t times)
{
    size_t n = strlen(unit);
    char *s = malloc(n * times + 1);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

static void test_short_text_is_unchanged(void **state)
{
    (void)state;
    lv_buf out;
    lv_buf_init(&out);
    assert_false(lv_text_truncate("hello world", 11, 8192, &out));
    assert_string_equal(out.data, "hello world");
    lv_buf_free(&out);
    /* exactly at the limit: unchanged */
    char *s = repeat("a", 8192);
    lv_buf_init(&out);
    assert_false(lv_text_truncate(s, 8192, 8192, &out));
    assert_int_equal(out.len, 8192);
    lv_buf_free(&out);
    free(s);
}

/* Rails: stop = rindex(" ", 8192 - 3) || 8189; result = text[0, stop] + "...". */
static void test_cuts_at_last_space_like_rails(void **state)
{
    (void)state;
    char *s = repeat("word ", 2000); /* 10000 characters */
    lv_buf out;
    lv_buf_init(&out);
    assert_true(lv_text_truncate(s, strlen(s), 8192, &out));
    /* Room is 8189; the last space at or before index 8189 is at 8189 ("word " repeats every 5) */
    assert_int_equal(lv_utf8_count(out.data, out.len), 8192);
    assert_string_equal(out.data + out.len - 8, " word...");
    assert_int_equal(out.data[out.len - 4], 'd');
    lv_buf_free(&out);
    free(s);

    /* "abcdefghij " repeated: room 8189 = 744*11 + 5, last space at 744*11 - 1 = 8183 */
    s = repeat("abcdefghij ", 1000);
    lv_buf_init(&out);
    assert_true(lv_text_truncate(s, strlen(s), 8192, &out));
    assert_int_equal(out.len, 8183 + 3);
    assert_string_equal(out.data + out.len - 6, "hij...");
    lv_buf_free(&out);
    free(s);
}

static void test_no_space_cuts_at_room(void **state)
{
    (void)state;
    char *s = repeat("x", 9000);
    lv_buf out;
    lv_buf_init(&out);
    assert_true(lv_text_truncate(s, 9000, 8192, &out));
    assert_int_equal(out.len, 8192);
    assert_string_equal(out.data + 8186, "xxx...");
    lv_buf_free(&out);
    free(s);
}

static void test_counts_multibyte_characters(void **state)
{
    (void)state;
    /* 9000 two-byte characters: the cut keeps 8189 characters (16378 bytes) and adds "..." */
    char *s = repeat("\xC3\xA9", 9000);
    lv_buf out;
    lv_buf_init(&out);
    assert_true(lv_text_truncate(s, strlen(s), 8192, &out));
    assert_int_equal(lv_utf8_count(out.data, out.len), 8192);
    assert_int_equal(out.len, 8189 * 2 + 3);
    lv_buf_free(&out);
    free(s);
}

static void expect_text(const char *html, const char *want)
{
    lv_buf out;
    lv_buf_init(&out);
    lv_html_to_text(html, strlen(html), &out);
    if (strcmp(out.data ? out.data : "", want) != 0)
        fprintf(stderr, "html %s -> '%s', want '%s'\n", html, out.data, want);
    assert_string_equal(out.data ? out.data : "", want);
    lv_buf_free(&out);
}

static void test_html_to_text(void **state)
{
    (void)state;
    expect_text("<p>test this discussion</p>", "test this discussion");
    expect_text("<h3>Discuss this</h3> What do you think?", "Discuss this What do you think?");
    expect_text("a<br>b<br/>c", "a b c");
    expect_text("<p>Fish &amp; chips &lt;3 &#8220;yum&#x201d; caf&eacute;&nbsp;time</p>",
                "Fish & chips <3 \xE2\x80\x9Cyum\xE2\x80\x9D caf\xC3\xA9 time");
    expect_text("<!-- note --><script>var x = '<p>';</script><style>p{}</style>ok", "ok");
    expect_text("  spaced \n\t out  ", "spaced out");
    expect_text("AT&T &unknown; &#0; &", "AT&T &unknown; \xEF\xBF\xBD &");
    expect_text("<a href=\"x\">link</a>text", "link text");
    expect_text("\xE6\x97\xA5\xE6\x9C\xAC<b>\xE8\xAA\x9E</b>", "\xE6\x97\xA5\xE6\x9C\xAC \xE8\xAA\x9E");
    expect_text("unclosed <b", "unclosed");
    expect_text("", "");
}

/* Well-formed UTF-8 passes as it is; anything else becomes U+FFFD (RFC 3629: overlong forms,
 * surrogates, past U+10FFFF, stray continuation bytes, cut sequences), one for each maximal subpart
 * as Unicode 3.9 recommends and Python's bytes.decode("utf-8", "replace") does: a sequence cut short is
 * one replacement, a byte that can begin nothing is one each. */
static void test_utf8_clean(void **state)
{
    (void)state;
    static const struct { const char *in; size_t len; const char *out; } cases[] = {
        { "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80" },
        { "\xC0\xAF", 2, "\xEF\xBF\xBD\xEF\xBF\xBD" },                     /* overlong '/' */
        { "\xE0\x80\xAF", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },     /* overlong, 3 bytes */
        { "\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },     /* a surrogate */
        { "\xF4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" }, /* > U+10FFFF */
        { "a\x80" "b", 3, "a\xEF\xBF\xBD" "b" },                                   /* a stray continuation */
        { "a\xE2\x82", 3, "a\xEF\xBF\xBD" },                                   /* cut short: one */
        { "\xF0\x9F\x98z", 4, "\xEF\xBF\xBD" "z" },
        { "\xE2\x82\xE2\x82\xAC", 5, "\xEF\xBF\xBD\xE2\x82\xAC" },            /* cut, then whole */
        { "\xFF", 1, "\xEF\xBF\xBD" },
        { "\xF5\x80", 2, "\xEF\xBF\xBD\xEF\xBF\xBD" },
        { "0123456789abcdef\xC3", 17, "0123456789abcdef\xEF\xBF\xBD" },    /* after an ASCII run */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lv_buf b;
        lv_buf_init(&b);
        size_t replaced = lv_utf8_clean(cases[i].in, cases[i].len, &b);
        assert_int_equal(b.len, strlen(cases[i].out));
        assert_int_equal(replaced == 0, strcmp(cases[i].in, cases[i].out) == 0);
        assert_memory_equal(b.data, cases[i].out, b.len);
        lv_buf_free(&b);
    }
    assert_int_equal(lv_utf8_valid_at("\xED\x9F\xBF", 3), 3); /* U+D7FF, just below the surrogates */
    assert_int_equal(lv_utf8_valid_at("\xF4\x8F\xBF\xBF", 4), 4); /* U+10FFFF */
    assert_int_equal(lv_utf8_valid_at("", 0), 0);
    assert_int_equal(lv_utf8_valid_at("\xEE\x80\x80", 3), 3);  /* U+E000, just above them */
    assert_int_equal(lv_utf8_valid_at("\xC2\x80", 2), 2);       /* U+0080, the first two-byte form */
    assert_int_equal(lv_utf8_valid_at("\xE0\xA0\x80", 3), 3);  /* U+0800 */
    assert_int_equal(lv_utf8_valid_at("\xF0\x90\x80\x80", 4), 4); /* U+10000 */
    assert_int_equal(lv_utf8_valid_at("\xF0\x8F\xBF\xBF", 4), 0); /* overlong U+FFFF */
    assert_int_equal(lv_utf8_valid_at("\xE2\x82", 2), 0);
}

/* What is wrong, in words, for each kind of ill-formed UTF-8, and how far one U+FFFD reaches. */
static void test_utf8_invalid_at(void **state)
{
    (void)state;
    static const struct { const char *in; size_t len, skip; const char *why; } cases[] = {
        { "\xC0\xAF", 2, 1, "overlong" },
        { "\xC1\xBF", 2, 1, "overlong" },
        { "\xE0\x80\xAF", 3, 1, "overlong" },
        { "\xF0\x80\x80\xAF", 4, 1, "overlong" },
        { "\xED\xA0\x80", 3, 1, "surrogate" },
        { "\xED\xBF\xBF", 3, 1, "surrogate" },
        { "\xF4\x90\x80\x80", 4, 1, "beyond U+10FFFF" },
        { "\xF5\x80\x80\x80", 4, 1, "beyond U+10FFFF" },
        { "\xF8\x88\x80\x80\x80", 5, 1, "never appears" },
        { "\xFE", 1, 1, "never appears" },
        { "\x80", 1, 1, "no lead byte" },
        { "\xE2\x82", 2, 2, "cut short" },
        { "\xE2\x82z", 3, 2, "cut short" },
        { "\xF0\x9F\x98", 3, 3, "cut short" },
        { "\xC3", 1, 1, "cut short" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = NULL;
        assert_int_equal(lv_utf8_invalid_at(cases[i].in, cases[i].len, &why), cases[i].skip);
        assert_non_null(why);
        if (!strstr(why, cases[i].why))
            fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, why, cases[i].why);
        assert_non_null(strstr(why, cases[i].why));
    }
    const char *why = "unset";
    assert_int_equal(lv_utf8_invalid_at("\xC3\xA9", 2, &why), 0);
    assert_null(why);
    assert_int_equal(lv_utf8_valid_prefix("abcdefghij\xC3\xA9klmnop\xC0", 19), 18);
    assert_int_equal(lv_utf8_valid_prefix("abcdefghij", 10), 10);
    /* cutting a quote short never splits a character */
    assert_int_equal(lv_utf8_cut("ab\xC3\xA9", 4, 3), 2);
    assert_int_equal(lv_utf8_cut("ab\xC3\xA9", 4, 4), 4);
    assert_int_equal(lv_utf8_cut("a\xF0\x9F\x98\x80" "b", 6, 4), 1);
    assert_int_equal(lv_utf8_cut("a\xF0\x9F\x98\x80" "b", 6, 5), 5);
    assert_int_equal(lv_utf8_cut("abc", 3, 2), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_characters_not_bytes),
        cmocka_unit_test(test_short_text_is_unchanged),
        cmocka_unit_test(test_cuts_at_last_space_like_rails),
        cmocka_unit_test(test_no_space_cuts_at_room),
        cmocka_unit_test(test_counts_multibyte_characters),
        cmocka_unit_test(test_html_to_text),
        cmocka_unit_test(test_utf8_clean),
        cmocka_unit_test(test_utf8_invalid_at),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
