/* fuzz_location.c: store locations on arbitrary text: telling a PostgreSQL location from a path, and taking
 * the password out of it for messages. A URI shown has no password in its user part (no ':' before the '@'
 * of its authority); a keyword/value location shown has no password keyword. */
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
    free(shown);
    free(loc);
    return 0;
}
