/* fieldsync — a zstd stream per direction of a session. See wire_zstream.h. */
#include "wire_zstream.h"

#include <stdbool.h>
#include <stdlib.h>

#include <sodium.h>
#include <zstd.h>

#include "fieldsync/error.h"
#include "wire.h"
#include "wire_stream.h"

/* Past this, the tables of the higher levels buy little on reports and
 * cost memory per child (zstd -19 uses 2^22-2^24 entries by default). */
#define S_HASH_LOG_MAX 20
#define S_CHAIN_LOG_MAX 21
/* From this level zstd's own tables are at least that large. */
#define S_BIG_TABLES_FROM 10

void
fsy_ztx_restart(fsy_ztx_t *t, int level)
{
    t->id = 0; /* drawn at the next frame, with the context reset */
    t->seq = 0;
    t->bytes = 0;
    t->level = level < FSY_ZSTREAM_LEVEL_MIN   ? FSY_ZSTREAM_LEVEL_MIN
               : level > FSY_ZSTREAM_LEVEL_MAX ? FSY_ZSTREAM_LEVEL_MAX
                                               : level;
}

void
fsy_ztx_free(fsy_ztx_t *t)
{
    ZSTD_freeCCtx(t->cctx);
    t->cctx = NULL;
    fsy_ztx_restart(t, t->level);
}

void
fsy_zrx_free(fsy_zrx_t *r)
{
    ZSTD_freeDCtx(r->dctx);
    r->dctx = NULL;
    r->id = r->next = 0;
}

static int
s_start(fsy_ztx_t *t)
{
    if (t->cctx == NULL && (t->cctx = ZSTD_createCCtx()) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    int level = t->level ? t->level : 3;
    bool big = level >= S_BIG_TABLES_FROM; /* defaults past the caps */
    ZSTD_CCtx_reset(t->cctx, ZSTD_reset_session_and_parameters);
    size_t e = ZSTD_CCtx_setParameter(t->cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(e))
        e = ZSTD_CCtx_setParameter(t->cctx, ZSTD_c_windowLog,
                                   FSY_ZSTREAM_WINDOW_LOG);
    if (!ZSTD_isError(e) && big)
        e = ZSTD_CCtx_setParameter(t->cctx, ZSTD_c_hashLog, S_HASH_LOG_MAX);
    if (!ZSTD_isError(e) && big)
        e = ZSTD_CCtx_setParameter(t->cctx, ZSTD_c_chainLog, S_CHAIN_LOG_MAX);
    if (ZSTD_isError(e))
        return fsy_err_set(FSY_EINTERNAL, "zstd: %s", ZSTD_getErrorName(e));
    do
        t->id = ((uint64_t)randombytes_random() << 32) | randombytes_random();
    while (t->id == 0);
    t->seq = 0;
    return FSY_OK;
}

/* Compresses raw into the stream and flushes it: the frame's bytes. */
static int
s_flush(fsy_ztx_t *t, const uint8_t *raw, size_t len, uint8_t **z, size_t *zl)
{
    size_t cap = ZSTD_compressBound(len) + 64, rc;
    if ((*z = malloc(cap)) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    ZSTD_inBuffer in = {raw, len, 0};
    ZSTD_outBuffer out = {*z, cap, 0};
    do
        rc = ZSTD_compressStream2(t->cctx, &out, &in, ZSTD_e_flush);
    while (!ZSTD_isError(rc) && rc != 0 && out.pos < out.size);
    if (ZSTD_isError(rc) || rc != 0) {
        free(*z);
        *z = NULL;
        t->id = 0; /* the context is in no known state: a new stream */
        return fsy_err_set(FSY_EINTERNAL, "cannot compress a batch");
    }
    *zl = out.pos;
    return FSY_OK;
}

int
fsy_ztx_batch(fsy_ztx_t *t, const fsy_change_t *c, size_t n, uint8_t **z,
              size_t *zl, uint64_t *raw_len, uint64_t *stream, uint64_t *seq)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    *z = NULL;
    *zl = 0;
    int rc = fsy_wire_encode_batch(c, n, &raw, &len);
    if (rc == FSY_OK && t->id == 0)
        rc = s_start(t);
    if (rc == FSY_OK)
        rc = s_flush(t, raw, len, z, zl);
    if (rc == FSY_OK) {
        *raw_len = len;
        *stream = t->id;
        *seq = t->seq++;
        t->bytes += *zl;
    }
    free(raw);
    return rc;
}

/* Takes the stream's output for one flushed frame: everything the input
 * gives, no more. */
static int
s_inflate(ZSTD_DCtx *d, fsy_batch_parser_t *p, const uint8_t *z, size_t zl,
          uint64_t raw_len)
{
    enum { PIECE = 128 << 10 };
    uint8_t *piece = malloc(PIECE);
    if (piece == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    ZSTD_inBuffer in = {z, zl, 0};
    ZSTD_outBuffer out = {piece, PIECE, PIECE};
    uint64_t total = 0;
    int rc = FSY_OK;
    while (rc == FSY_OK && (in.pos < in.size || out.pos == out.size)) {
        out.pos = 0;
        size_t r = ZSTD_decompressStream(d, &out, &in);
        if (ZSTD_isError(r))
            rc = fsy_err_set(FSY_ECORRUPT, "payload does not decompress");
        else if ((total += out.pos) > raw_len)
            rc = fsy_err_set(FSY_ECORRUPT, "payload is longer than it says");
        else if ((rc = fsy_batch_parser_feed(p, piece, out.pos)) == FSY_OK)
            rc = fsy_batch_parser_check(p, in.pos);
        if (rc == FSY_OK && out.pos == 0 && in.pos == in.size)
            break; /* nothing more comes from this frame */
    }
    free(piece);
    if (rc == FSY_OK && total != raw_len)
        rc = fsy_err_set(FSY_ECORRUPT, "payload is not the %llu bytes it says",
                         (unsigned long long)raw_len);
    return rc;
}

/* Is frame (stream, seq) the next of the stream followed, or a new one? */
static int
s_follow(fsy_zrx_t *r, uint64_t stream, uint64_t seq)
{
    if (stream != 0 && stream == r->id && seq == r->next)
        return FSY_OK;
    if (stream == 0 || seq != 0) {
        r->id = 0;
        return fsy_err_set(FSY_ENOTFOUND,
                           "frame %llu of a compression stream whose "
                           "earlier frames did not arrive",
                           (unsigned long long)seq);
    }
    if (r->dctx == NULL && (r->dctx = ZSTD_createDCtx()) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_and_parameters);
    ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax,
                           FSY_ZSTREAM_WINDOW_LOG);
    r->id = stream;
    r->next = 0;
    return FSY_OK;
}

int
fsy_zrx_batch(fsy_zrx_t *r, const uint8_t *z, size_t zl, uint64_t raw_len,
              uint64_t stream, uint64_t seq, uint64_t max,
              fsy_change_list_t *out)
{
    if (raw_len > max)
        return fsy_err_set(
            FSY_ETOOBIG, "payload of %llu bytes is over the %llu-byte limit",
            (unsigned long long)raw_len, (unsigned long long)max);
    int rc = s_follow(r, stream, seq);
    if (rc != FSY_OK)
        return rc;
    fsy_batch_parser_t p;
    fsy_batch_parser_init(&p, out);
    rc = s_inflate(r->dctx, &p, z, zl, raw_len);
    if (rc == FSY_OK)
        rc = fsy_batch_parser_end(&p);
    fsy_batch_parser_free(&p);
    if (rc != FSY_OK) {
        fsy_change_list_clear(out);
        r->id = 0; /* its state is unknown now */
        return rc;
    }
    r->next++;
    return FSY_OK;
}
