/* fuzz_decode.c: the whole decoder (canvas events, Caliper envelopes and events) on arbitrary bytes.
 * Every accepted event must write a record that is valid JSON, and convert to Caliper or refuse
 * with a message; its identity (both the canonical one and the one before store schema 7) is
 * computed, and the two agree for an event with nothing the catalog does not know. */
#include "levee/caliper.h"
#include "levee/event.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lv_arena a;
    lv_arena_init(&a, 8192);
    lv_doc doc;
    lv_decode_options opt = { .strict = size % 2 == 0 };
    lv_decode(&a, (const char *)data, size, &opt, &doc);
    if (doc.n_events == 0)
        abort();
    for (size_t i = 0; i < doc.n_events; i++) {
        const lv_event *ev = &doc.events[i];
        if (ev->rejected && !ev->diags)
            abort(); /* a rejection always says why */
        if (ev->rejected || ev->is_entity)
            continue;
        lv_buf out;
        lv_buf_init(&out);
        lv_jw *w = lv_jw_new(&out, false);
        lv_record_write(w, ev);
        lv_json *parsed;
        if (lv_json_parse(&a, out.data, out.len, &parsed, NULL) != LV_OK)
            abort();
        lv_buf_reset(&out);
        lv_jw_reset(w);
        lv_error err;
        if (lv_caliper_write_envelope(ev, &a, w, &err) == LV_OK) {
            if (lv_json_parse(&a, out.data, out.len, &parsed, NULL) != LV_OK)
                abort();
        } else if (err.msg[0] == '\0') {
            abort();
        }
        lv_buf_reset(&out);
        lv_jw_reset(w);
        if (lv_canvas_write_event(ev, w, &err) == LV_OK &&
            lv_json_parse(&a, out.data, out.len, &parsed, NULL) != LV_OK)
            abort();
        lv_jw_free(w);
        lv_buf_reset(&out);
        lv_event_identity(ev, &out);
        lv_buf old;
        lv_buf_init(&old);
        lv_event_identity_v6(ev, &old);
        if (ev->kind && !ev->unknown_fields && (out.len != old.len || memcmp(out.data, old.data, out.len) != 0))
            abort(); /* schema 7's upgrade would re-key an event it must leave alone */
        lv_buf_free(&old);
        lv_buf_free(&out);
    }
    lv_arena_free(&a);
    return 0;
}
