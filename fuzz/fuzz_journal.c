/* fuzz_journal.c: opening and reading a journal whose segment holds arbitrary bytes (a damaged or
 * torn file): recovery must cut a torn end to whole records, reading must return records in order,
 * whole and within what is durable, every byte skipped between them counted as damage (and set
 * aside), and appending afterwards must work. */
#include "levee/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Removes every file in dir, then dir. */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR)
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/levee-fuzz-journal-%d", (int)getpid());
    remove_tree(dir);
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
    if (lv_journal_reader_open(j, 0, &r, &err) != LV_OK)
        abort();
    lv_journal_record rec;
    uint64_t at = 0, skipped = 0;
    while (lv_journal_read(r, &rec, &err) == LV_OK) {
        if (rec.offset < at || rec.next > end || rec.next <= rec.offset)
            abort();
        skipped += rec.offset - at;
        at = rec.next;
    }
    lv_journal_reader_close(r);
    lv_journal_health h;
    lv_journal_health_get(j, &h);
    if (h.damaged_bytes < skipped || h.failing)
        abort(); /* nothing is skipped without being counted as damage */
    char msg[LV_ERROR_MAX];
    while (lv_journal_take_damage(j, msg, sizeof msg))
        if (!msg[0])
            abort();
    uint64_t t;
    if (lv_journal_append(j, LV_JOURNAL_DOCUMENT, "x", 1, &t, &err) != LV_OK || lv_journal_wait(j, t, &err) != LV_OK)
        abort();
    lv_journal_close(j);
    remove_tree(dir);
    return 0;
}
