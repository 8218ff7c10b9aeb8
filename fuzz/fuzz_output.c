/* fuzz_output.c: the rule "every output levee writes is valid UTF-8 JSON", on arbitrary bytes. Each
 * document is decoded; every event's canonical record (normalize), its Caliper envelope and its canvas
 * form (convert), and every diagnostic (validate --json) are checked with a strict UTF-8 checker of
 * this harness's own (RFC 3629, written from its table, not levee's) and parsed back as JSON. */
#include "levee/caliper.h"
#include "levee/event.h"
#include "levee/json.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 3629 section 4: decode each sequence to its code point and refuse what is not a character
 * written in its shortest form. */
static bool strict_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        uint32_t cp, min;
        size_t n;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false; /* a continuation byte, or 0xF8..0xFF */
        }
        if (len - i < n)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

/* The output must be valid UTF-8 and one JSON value that needs no repair when read back. */
static void check_output(const char *what, const lv_buf *out)
{
    if (!strict_utf8((const unsigned char *)out->data, out->len)) {
        fprintf(stderr, "%s output is not valid UTF-8: %.*s\n", what, (int)out->len, out->data);
        abort();
    }
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root;
    lv_json_report rep;
    lv_error err;
    /* a value nested deeper than any answer is kept whole (its text is still checked above) */
    if (lv_json_parse_report(&a, out->data, out->len, LV_ANSWER_MAX_DEPTH, &root, &rep, &err) != LV_OK) {
        fprintf(stderr, "%s output is not JSON (%s): %.*s\n", what, err.msg, (int)out->len, out->data);
        abort();
    }
    if (rep.n_repairs) {
        fprintf(stderr, "%s output holds a lone surrogate escape: %.*s\n", what, (int)out->len, out->data);
        abort();
    }
    lv_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lv_arena a;
    lv_arena_init(&a, 8192);
    lv_doc doc;
    lv_decode_options opt = { .strict = false };
    lv_decode(&a, (const char *)data, size, &opt, &doc);
    bool pretty = size % 2 == 1;
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, pretty);
    for (size_t i = 0; i < doc.n_events; i++) {
        const lv_event *ev = &doc.events[i];
        for (const lv_diag *d = ev->diags; d; d = d->next) {
            lv_buf_reset(&out);
            lv_jw_reset(w);
            lv_diag_json(w, "fuzz", 1, ev, d);
            check_output("a diagnostic's", &out);
        }
        if (ev->rejected || ev->is_entity)
            continue;
        lv_buf_reset(&out);
        lv_jw_reset(w);
        lv_record_write(w, ev);
        check_output("the canonical record's", &out);
        lv_error err;
        lv_buf_reset(&out);
        lv_jw_reset(w);
        if (lv_caliper_write_envelope(ev, &a, w, &err) == LV_OK)
            check_output("the Caliper envelope's", &out);
        lv_buf_reset(&out);
        lv_jw_reset(w);
        if (lv_canvas_write_event(ev, w, &err) == LV_OK)
            check_output("the canvas form's", &out);
    }
    lv_jw_free(w);
    lv_buf_free(&out);
    lv_arena_free(&a);
    return 0;
}
