/* fuzz_location.c: store locations on arbitrary text: telling a PostgreSQL location from a path, taking
 * the password out of it for messages, and taking levee's own settings (levee_schema, levee_pool_mode)
 * out of it before libpq reads it. A URI shown has no password in its user part (no ':' before the '@'
 * of its authority); a keyword/value location shown has no password keyword; what is left for libpq has
 * no setting of levee's left in it (taking them out again changes nothing and finds none). */
#include "../src/engines/pg/pg.h"
#include "levee/engines.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, '\0', size))
        return 0;
    char *loc = malloc(size + 1);
    memcpy(loc, data, size);
    loc[size] = '\0';
    bool pg = lv_store_is_postgresql(loc);
    char *shown = lv_store_location_redacted(loc);
    if (!pg && strcmp(shown, loc) != 0)
        abort(); /* a path is shown as it is */
    const char *scheme = strstr(shown, "://");
    if (pg && scheme && (strncmp(shown, "postgres://", 11) == 0 || strncmp(shown, "postgresql://", 13) == 0)) {
        const char *auth = scheme + 3;
        size_t n = strcspn(auth, "/?");
        const char *at = NULL;
        for (size_t i = 0; i < n; i++)
            if (auth[i] == '@')
                at = auth + i;
        if (at && memchr(auth, ':', (size_t)(at - auth)))
            abort();
    }
    char *conninfo, *schema;
    enum pg_pool_mode mode;
    lv_error err;
    if (pg && pg_location_settings(loc, shown, &conninfo, &schema, &mode, &err) == LV_OK) {
        char *again, *schema2;
        enum pg_pool_mode mode2;
        if (pg_location_settings(conninfo, shown, &again, &schema2, &mode2, &err) != LV_OK || strcmp(again, conninfo) != 0 ||
            schema2 || mode2 != PG_POOL_AUTO)
            abort();
        free(again);
        free(conninfo);
        free(schema);
    }
    free(shown);
    free(loc);
    return 0;
}
