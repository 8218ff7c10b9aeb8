/* codec.c: zstd compression of raw documents with trained dictionaries (libzstd's ZDICT trainer and
 * prepared dictionaries). */
#include "levee/codec.h"

#include <stdlib.h>
#include <zdict.h>
#include <zstd.h>

struct lv_dict {
    int64_t id;
    ZSTD_CDict *cdict;
    ZSTD_DDict *ddict;
};

struct lv_zctx {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
};

lv_status lv_dict_train(const void *samples, const size_t *sizes, unsigned n, lv_buf *dict_out,
                        lv_error *err)
{
    lv_buf_reset(dict_out);
    lv_buf_reserve(dict_out, LV_DICT_BYTES);
    size_t got = ZDICT_trainFromBuffer(dict_out->data, LV_DICT_BYTES, samples, sizes, n);
    if (ZDICT_isError(got))
        return lv_fail(err, LV_EINVAL, "could not train a compression dictionary from %u documents: %s",
                       n, ZDICT_getErrorName(got));
    dict_out->len = got;
    return LV_OK;
}

lv_status lv_dict_new(int64_t id, const void *data, size_t len, bool compress, lv_dict **out, lv_error *err)
{
    lv_dict *d = lv_xcalloc(1, sizeof *d);
    d->id = id;
    d->cdict = compress ? ZSTD_createCDict(data, len, LV_ZSTD_LEVEL) : NULL;
    d->ddict = ZSTD_createDDict(data, len);
    if ((compress && !d->cdict) || !d->ddict) {
        lv_dict_free(d);
        return lv_fail(err, LV_EINTERNAL, "compression dictionary %lld is not usable", (long long)id);
    }
    *out = d;
    return LV_OK;
}

int64_t lv_dict_id(const lv_dict *d)
{
    return d->id;
}

void lv_dict_free(lv_dict *d)
{
    if (!d)
        return;
    ZSTD_freeCDict(d->cdict);
    ZSTD_freeDDict(d->ddict);
    free(d);
}

lv_zctx *lv_zctx_new(void)
{
    lv_zctx *z = lv_xcalloc(1, sizeof *z);
    z->c = ZSTD_createCCtx();
    z->d = ZSTD_createDCtx();
    if (!z->c || !z->d) {
        lv_zctx_free(z);
        return NULL;
    }
    return z;
}

void lv_zctx_free(lv_zctx *z)
{
    if (!z)
        return;
    ZSTD_freeCCtx(z->c);
    ZSTD_freeDCtx(z->d);
    free(z);
}

lv_status lv_compress(lv_zctx *z, const lv_dict *d, const void *src, size_t n, lv_buf *out,
                      lv_error *err)
{
    if (d && !d->cdict)
        return lv_fail(err, LV_EINTERNAL, "compression dictionary %lld was prepared for reading only",
                       (long long)d->id);
    lv_buf_reset(out);
    size_t bound = ZSTD_compressBound(n);
    lv_buf_reserve(out, bound);
    size_t got = d ? ZSTD_compress_usingCDict(z->c, out->data, bound, src, n, d->cdict)
                   : ZSTD_compressCCtx(z->c, out->data, bound, src, n, LV_ZSTD_LEVEL);
    if (ZSTD_isError(got))
        return lv_fail(err, LV_EINTERNAL, "compression failed: %s", ZSTD_getErrorName(got));
    out->len = got;
    return LV_OK;
}

lv_status lv_decompress(lv_zctx *z, const lv_dict *d, const void *src, size_t n, size_t raw_len,
                        lv_buf *out, lv_error *err)
{
    lv_buf_reset(out);
    lv_buf_reserve(out, raw_len);
    size_t got = d ? ZSTD_decompress_usingDDict(z->d, out->data, raw_len, src, n, d->ddict)
                   : ZSTD_decompressDCtx(z->d, out->data, raw_len, src, n);
    if (ZSTD_isError(got))
        return lv_fail(err, LV_EINVAL, "stored document is damaged: %s", ZSTD_getErrorName(got));
    if (got != raw_len)
        return lv_fail(err, LV_EINVAL, "stored document is damaged: %zu bytes instead of %zu", got, raw_len);
    out->len = got;
    out->data[got] = '\0';
    return LV_OK;
}
