/* fieldsync — a zstd stream per direction of a session. See wire_zstream.h. */
#define ZSTD_STATIC_LINKING_ONLY /* the size estimates and parameters */
#include "wire_zstream.h"

#include <stdatomic.h>
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

/* What the streams of the process hold, to send and to receive. The
 * loop's thread changes them; /metrics reads them from its own. */
static _Atomic size_t s_held[2];

size_t
fsy_zstream_held(int receiving)
{
    return atomic_load(&s_held[receiving != 0]);
}

static void
s_hold(size_t *held, int receiving, size_t bytes)
{
    atomic_fetch_sub(&s_held[receiving != 0], *held);
    atomic_fetch_add(&s_held[receiving != 0], bytes);
    *held = bytes;
}

int
fsy_zrx_offer(size_t n)
{
    for (int w = FSY_ZSTREAM_WINDOW_LOG; w >= FSY_ZSTREAM_WINDOW_LOG_MIN; w--)
        if (n <=
            FSY_ZSTREAM_RX_BUDGET / ZSTD_estimateDStreamSize((size_t)1 << w))
            return w;
    return 0;
}

void
fsy_ztx_window(fsy_ztx_t *t, int window_log)
{
    t->window_log = window_log > FSY_ZSTREAM_WINDOW_LOG ? FSY_ZSTREAM_WINDOW_LOG
                    : window_log >= FSY_ZSTREAM_WINDOW_LOG_MIN ? window_log
                                                               : -1;
}

void
fsy_zrx_window(fsy_zrx_t *r, int window_log)
{
    r->window_log = window_log;
}

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
    s_hold(&t->held, 0, 0);
    fsy_ztx_restart(t, t->level);
}

void
fsy_zrx_free(fsy_zrx_t *r)
{
    ZSTD_freeDCtx(r->dctx);
    r->dctx = NULL;
    s_hold(&r->held, 1, 0);
    r->id = r->next = 0;
}

void
fsy_ztx_idle(fsy_ztx_t *t, uint64_t now_ms)
{
    if (t->cctx != NULL && now_ms - t->idle_ms >= FSY_ZSTREAM_IDLE_MS)
        fsy_ztx_free(t);
}

void
fsy_zrx_idle(fsy_zrx_t *r, uint64_t now_ms)
{
    if (r->dctx != NULL && now_ms - r->idle_ms >= 10 * FSY_ZSTREAM_IDLE_MS)
        fsy_zrx_free(r);
}

/* The parameters of level with a window of 2^wlog, the tables held to
 * the window; what a stream with them holds. */
static size_t
s_cparams(int level, int wlog, ZSTD_compressionParameters *cp)
{
    *cp = ZSTD_getCParams(level, ZSTD_CONTENTSIZE_UNKNOWN, 0);
    cp->windowLog = (unsigned)wlog;
    unsigned hmax = (unsigned)wlog + 1 < S_HASH_LOG_MAX ? (unsigned)wlog + 1
                                                        : S_HASH_LOG_MAX;
    unsigned cmax = (unsigned)wlog + 1 < S_CHAIN_LOG_MAX ? (unsigned)wlog + 1
                                                         : S_CHAIN_LOG_MAX;
    if (cp->hashLog > hmax)
        cp->hashLog = hmax;
    if (cp->chainLog > cmax)
        cp->chainLog = cmax;
    return ZSTD_estimateCStreamSize_usingCParams(*cp);
}

/* The highest level (then the largest window) at or under what is wanted
 * whose stream fits the budget beside the others; false if none does. */
static bool
s_fit(const fsy_ztx_t *t, int *level, ZSTD_compressionParameters *cp,
      size_t *size)
{
    static const int steps[] = {19, 15, 12, 9, 6, 3, 1};
    int want = t->level ? t->level : 3;
    int wmax = t->window_log ? t->window_log : FSY_ZSTREAM_WINDOW_LOG;
    size_t others = fsy_zstream_held(0) - t->held;
    size_t room =
        others < FSY_ZSTREAM_TX_BUDGET ? FSY_ZSTREAM_TX_BUDGET - others : 0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        *level = i == 0 ? want : steps[i];
        if (i > 0 && steps[i] >= want)
            continue;
        for (int w = wmax; w >= FSY_ZSTREAM_WINDOW_LOG_MIN; w--)
            if ((*size = s_cparams(*level, w, cp)) <= room)
                return true;
    }
    return false;
}

static int
s_set(ZSTD_CCtx *c, int level, const ZSTD_compressionParameters *cp)
{
    ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
    size_t e = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(e))
        e = ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, (int)cp->windowLog);
    if (!ZSTD_isError(e))
        e = ZSTD_CCtx_setParameter(c, ZSTD_c_hashLog, (int)cp->hashLog);
    if (!ZSTD_isError(e))
        e = ZSTD_CCtx_setParameter(c, ZSTD_c_chainLog, (int)cp->chainLog);
    if (ZSTD_isError(e))
        return fsy_err_set(FSY_EINTERNAL, "zstd: %s", ZSTD_getErrorName(e));
    return FSY_OK;
}

/* A new stream, if the budget has room for one: *alone when it has not
 * (or the receiver takes none), the frame then goes alone. */
static int
s_start(fsy_ztx_t *t, bool *alone)
{
    ZSTD_compressionParameters cp;
    int level;
    size_t size;
    *alone = t->window_log < 0 || !s_fit(t, &level, &cp, &size);
    if (*alone) {
        fsy_ztx_free(t); /* what it held is another stream's to take */
        return FSY_OK;
    }
    /* A context made for other parameters keeps their tables: anew. */
    if (t->cctx != NULL && t->held != size) {
        ZSTD_freeCCtx(t->cctx);
        t->cctx = NULL;
    }
    if (t->cctx == NULL && (t->cctx = ZSTD_createCCtx()) == NULL) {
        s_hold(&t->held, 0, 0);
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    }
    s_hold(&t->held, 0, size);
    int rc = s_set(t->cctx, level, &cp);
    if (rc != FSY_OK)
        return rc;
    t->used_level = level;
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

/* A batch compressed alone, at a level whose tables are modest: this is
 * the path of a sender short of memory. */
static int
s_alone(const fsy_ztx_t *t, const uint8_t *raw, size_t len, uint8_t **z,
        size_t *zl)
{
    int level = t->level < 9 ? (t->level ? t->level : 3) : 9;
    size_t cap = ZSTD_compressBound(len);
    if ((*z = malloc(cap)) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    size_t n = ZSTD_compress(*z, cap, raw, len, level);
    if (ZSTD_isError(n)) {
        free(*z);
        *z = NULL;
        return fsy_err_set(FSY_EINTERNAL, "cannot compress a batch");
    }
    *zl = n;
    return FSY_OK;
}

int
fsy_ztx_batch(fsy_ztx_t *t, const fsy_change_t *c, size_t n,
              const fsy_delta_t *d, uint64_t now_ms, uint8_t **z, size_t *zl,
              uint64_t *raw_len, uint64_t *stream, uint64_t *seq)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    bool alone = false;
    *z = NULL;
    *zl = 0;
    fsy_ztx_idle(t, now_ms); /* a stream that idled away starts anew */
    t->idle_ms = now_ms;
    int rc = t->id == 0 ? s_start(t, &alone) : FSY_OK;
    if (rc == FSY_OK)
        rc = fsy_wire_encode_batch_deltas(c, n, alone ? NULL : d, &raw, &len);
    if (rc == FSY_OK)
        rc = alone ? s_alone(t, raw, len, z, zl) : s_flush(t, raw, len, z, zl);
    if (rc == FSY_OK) {
        *raw_len = len;
        *stream = alone ? 0 : t->id;
        *seq = alone ? 0 : t->seq++;
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
    int wlog = r->window_log ? r->window_log : FSY_ZSTREAM_WINDOW_LOG;
    if (r->dctx == NULL && (r->dctx = ZSTD_createDCtx()) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    s_hold(&r->held, 1, ZSTD_estimateDStreamSize((size_t)1 << wlog));
    ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_and_parameters);
    ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, wlog);
    r->id = stream;
    r->next = 0;
    return FSY_OK;
}

int
fsy_zrx_batch(fsy_zrx_t *r, const uint8_t *z, size_t zl, uint64_t raw_len,
              uint64_t stream, uint64_t seq, uint64_t max, uint64_t now_ms,
              fsy_base_fn base_fn, void *base_ctx, fsy_change_list_t *out)
{
    if (raw_len > max)
        return fsy_err_set(
            FSY_ETOOBIG, "payload of %llu bytes is over the %llu-byte limit",
            (unsigned long long)raw_len, (unsigned long long)max);
    r->idle_ms = now_ms;
    int rc = s_follow(r, stream, seq);
    if (rc != FSY_OK)
        return rc;
    fsy_batch_parser_t p;
    fsy_batch_parser_init(&p, out);
    fsy_batch_parser_bases(&p, base_fn, base_ctx);
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
