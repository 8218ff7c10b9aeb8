/* fuzz_journal.c: opening and reading a journal whose segment holds arbitrary bytes (a damaged or
 * torn file): recovery must cut it to whole, valid records, reading must return exactly those, and
 * appending afterwards must work. */
#include "levee/journal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/levee-fuzz-journal-%d", (int)getpid());
    mkdir(dir, 0700);
    char path[128];
    snprintf(path, sizeof path, "%s/0000000000000000.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
    lv_journal *j;
    lv_error err;
    if (lv_journal_open(dir, 0, &j, &err) != LV_OK)
        abort();
    uint64_t end = lv_journal_durable(j);
    if (end > size)
        abort();
    lv_journal_reader *r;
    lv_journal_reader_open(j, 0, &r, &err);
    lv_journal_record rec;
    uint64_t at = 0;
    while (lv_journal_read(r, &rec, &err) == LV_OK) {
        if (rec.offset != at || rec.next > end)
            abort();
        at = rec.next;
    }
    if (at != end)
        abort(); /* every byte kept belongs to a whole record */
    lv_journal_reader_close(r);
    uint64_t t = lv_journal_append(j, LV_JOURNAL_DOCUMENT, "x", 1);
    if (lv_journal_wait(j, t, &err) != LV_OK)
        abort();
    lv_journal_close(j);
    unlink(path);
    rmdir(dir);
    return 0;
}
