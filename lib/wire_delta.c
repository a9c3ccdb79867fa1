/* fieldsync — values as deltas against a base. See wire_delta.h. */
#include "wire_delta.h"

#include <stdlib.h>

#include <zstd.h>

#include "fieldsync/error.h"

/* Matches against the base matter, not the level's search effort. */
#define S_LEVEL 6

int
fsy_delta_make(const fsy_change_t *c, uint32_t base, const uint8_t *bv,
               size_t bl, fsy_delta_t *d)
{
    d->bytes = NULL;
    d->len = 0;
    if (c->value_len < FSY_DELTA_MIN || bl == 0)
        return FSY_OK;
    size_t cap = c->value_len / 2;
    ZSTD_CCtx *z = ZSTD_createCCtx();
    uint8_t *out = malloc(cap);
    if (z == NULL || out == NULL) {
        ZSTD_freeCCtx(z);
        free(out);
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    }
    size_t n = ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, S_LEVEL);
    if (!ZSTD_isError(n))
        n = ZSTD_CCtx_refPrefix(z, bv, bl);
    if (!ZSTD_isError(n))
        n = ZSTD_compress2(z, out, cap, c->value, c->value_len);
    ZSTD_freeCCtx(z);
    if (ZSTD_isError(n)) { /* no room under half: the value goes whole */
        free(out);
        return FSY_OK;
    }
    d->bytes = out;
    d->len = n;
    d->base = base;
    return FSY_OK;
}

int
fsy_delta_apply(const uint8_t *delta, size_t len, const uint8_t *bv, size_t bl,
                size_t max, uint8_t **value, size_t *vlen)
{
    *value = NULL;
    *vlen = 0;
    /* the size is said first, and bounded before anything is made */
    unsigned long long size = ZSTD_getFrameContentSize(delta, len);
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR ||
        size > FSY_VALUE_MAX || size == 0)
        return fsy_err_set(FSY_ECORRUPT, "a delta of no valid size");
    if (size > max)
        return fsy_err_set(FSY_ETOOBIG,
                           "deltas rebuilding over %zu bytes in one batch",
                           (size_t)FSY_DELTA_BATCH_MAX);
    ZSTD_DCtx *z = ZSTD_createDCtx();
    uint8_t *out = malloc((size_t)size);
    if (z == NULL || out == NULL) {
        ZSTD_freeDCtx(z);
        free(out);
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    }
    size_t n = ZSTD_DCtx_refPrefix(z, bv, bl);
    if (!ZSTD_isError(n))
        n = ZSTD_decompressDCtx(z, out, (size_t)size, delta, len);
    ZSTD_freeDCtx(z);
    if (ZSTD_isError(n) || n != size) {
        free(out);
        return fsy_err_set(FSY_ECORRUPT,
                           "a delta does not rebuild its value from the base");
    }
    *value = out;
    *vlen = n;
    return FSY_OK;
}

void
fsy_deltas_free(fsy_delta_t *d, size_t n)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(d[i].bytes);
    free(d);
}
