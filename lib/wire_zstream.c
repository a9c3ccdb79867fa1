/* fieldsync — a zstd stream per direction of a session. See wire_zstream.h. */
#define ZSTD_STATIC_LINKING_ONLY /* the size estimates and parameters */
#include "wire_zstream.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <sodium.h>
#include <zstd.h>

#include "fieldsync/error.h"
#include "fieldsync/wallclock.h"
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

/* zstd levels and about what each puts out per second (compressed bytes)
 * on reports on a small machine: the highest that keeps 4 times ahead of
 * the link, so compressing takes at most a quarter of the time the link
 * takes to carry the result, is the one used. The figures are a first
 * guess: a level measured on this sender's own frames (fsy_ztx_speed)
 * counts for what it did, and the levels not yet measured are taken as
 * slow as the slowest measured one was against its figure. Without that,
 * a sender whose level ran slower than the table says read its own
 * slowness as a slow link (ACKs wait while it compresses) and stayed at a
 * level its processor could not carry: a catch-up on loopback spent 59 %
 * of its time in zstd. Output, not input, is what compares with the
 * link: a level that compresses reports 50 to 1 feeds a link slowly even
 * when it reads its input fast. Input is what compares with the receiver
 * (fsy_ztx_link_level): a level not measured is guessed to read its
 * output times the documents' ratio, as measured (5 to 1, the table's
 * assumption, before anything is). */
static const struct {
    int level;
    uint64_t out_per_s;
} s_levels[] = {{19, 400 << 10}, {15, 1600 << 10}, {12, 3 << 20},
                {9, 8 << 20},    {6, 12 << 20},    {3, 30 << 20}};
#define S_LEVELS (sizeof s_levels / sizeof s_levels[0])
#define S_TABLE_RATIO 5

/* The highest level (then the largest window) at or under what is wanted
 * whose stream fits the budget beside the others; false if none does. */
static bool
s_fit(const fsy_ztx_t *t, int *level, ZSTD_compressionParameters *cp,
      size_t *size)
{
    int want = t->level ? t->level : 3;
    int wmax = t->window_log ? t->window_log : FSY_ZSTREAM_WINDOW_LOG;
    size_t others = fsy_zstream_held(0) - t->held;
    size_t room =
        others < FSY_ZSTREAM_TX_BUDGET ? FSY_ZSTREAM_TX_BUDGET - others : 0;
    /* what is wanted, then the ladder's lower levels, then 1 */
    for (size_t i = 0; i <= S_LEVELS; i++) {
        int step = i < S_LEVELS ? s_levels[i].level : 1;
        *level = i == 0 ? want : step;
        if (i > 0 && step >= want)
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

/* v[level], 0 for a level out of range. */
static uint64_t
s_at(const uint64_t *v, int level)
{
    return level >= FSY_ZSTREAM_LEVEL_MIN && level <= FSY_ZSTREAM_LEVEL_MAX
               ? v[level]
               : 0;
}

uint64_t
fsy_ztx_speed(const fsy_ztx_t *t, int level)
{
    return s_at(t->speed, level);
}

uint64_t
fsy_ztx_read_speed(const fsy_ztx_t *t, int level)
{
    return s_at(t->read_speed, level);
}

/* How much slower than the table the measured levels ran (per mille, at
 * most 1000: a fast machine does not raise the guesses; at least 125: one
 * odd level does not rule out every other). Mostly the documents' ratio:
 * reports that compress 50 to 1 come out of every level slower than the
 * table's 5 to 1 guess. */
static uint64_t
s_level_scale(const fsy_ztx_t *z)
{
    uint64_t scale = 1000;
    for (size_t i = 0; i < S_LEVELS; i++) {
        uint64_t m = fsy_ztx_speed(z, s_levels[i].level);
        uint64_t s = m * 1000 / s_levels[i].out_per_s;
        if (m != 0 && s < scale)
            scale = s;
    }
    return scale < 125 ? 125 : scale;
}

/* The documents' ratio (per mille) as the levels measured here saw it,
 * the best one (higher levels compress better), at most 1000 to 1; the
 * table's 5 to 1 before any measurement. */
static uint64_t
s_ratio_milli(const fsy_ztx_t *z)
{
    uint64_t best = 0;
    for (int l = FSY_ZSTREAM_LEVEL_MIN; l <= FSY_ZSTREAM_LEVEL_MAX; l++)
        if (z->speed[l] != 0 && z->read_speed[l] / z->speed[l] < 1000) {
            uint64_t r = z->read_speed[l] * 1000 / z->speed[l];
            best = r > best ? r : best;
        }
    return best != 0 ? best : S_TABLE_RATIO * 1000;
}

/* What the ladder's level i puts out a second here: measured, or the
 * table's guess as slow as the measured levels were against theirs. */
static uint64_t
s_out_speed(const fsy_ztx_t *z, size_t i)
{
    uint64_t v = fsy_ztx_speed(z, s_levels[i].level);
    return v != 0 ? v : s_levels[i].out_per_s * s_level_scale(z) / 1000;
}

/* What it reads a second: measured, or its output times the documents'
 * ratio. With the ratio the link carries, this asks of a level what its
 * output against the link asks (a thin link keeps level 19); where the
 * receiver bounds the session it does not move with the level. */
static uint64_t
s_in_speed(const fsy_ztx_t *z, size_t i)
{
    uint64_t r = fsy_ztx_read_speed(z, s_levels[i].level);
    return r != 0 ? r : s_out_speed(z, i) * s_ratio_milli(z) / 1000;
}

int
fsy_ztx_link_level(const fsy_ztx_t *z, uint64_t link_bytes_per_s,
                   uint64_t raw_bytes_per_s)
{
    if (link_bytes_per_s == 0)
        return 3; /* not measured yet */
    for (size_t i = 0; i < S_LEVELS; i++)
        if (s_out_speed(z, i) / 4 >= link_bytes_per_s &&
            s_in_speed(z, i) / 4 >= raw_bytes_per_s)
            return s_levels[i].level;
    return 1;
}

/* One more sample of level's speed: len raw bytes made zl in us
 * microseconds. Small frames are left out (the clock's grain and the
 * per-call costs would make any level look slow). */
static void
s_speed_sample(fsy_ztx_t *t, int level, size_t len, size_t zl, uint64_t us)
{
    if (len < FSY_ZSTREAM_SPEED_MIN || level < FSY_ZSTREAM_LEVEL_MIN ||
        level > FSY_ZSTREAM_LEVEL_MAX)
        return;
    us = us ? us : 1;
    uint64_t v = (uint64_t)zl * 1000000 / us, r = (uint64_t)len * 1000000 / us;
    uint64_t *s = &t->speed[level], *rs = &t->read_speed[level];
    *s = *s == 0 ? v : (*s * 3 + v) / 4;
    *rs = *rs == 0 ? r : (*rs * 3 + r) / 4;
}

/* The frame's bytes: raw compressed into the stream (flushed), or alone.
 * Timed only when it continues a stream: a stream's first frame (and a
 * frame alone, which makes a context each time) also pays for setting up
 * the level's tables, megabytes at the high levels, and would make the
 * level look slower than it runs. */
static int
s_compress(fsy_ztx_t *t, bool alone, const uint8_t *raw, size_t len,
           uint8_t **z, size_t *zl)
{
    if (alone)
        return s_alone(t, raw, len, z, zl);
    uint64_t t0 = fsy_mono_us();
    int rc = s_flush(t, raw, len, z, zl);
    if (rc == FSY_OK && t->seq > 0)
        s_speed_sample(t, t->used_level, len, *zl, fsy_mono_us() - t0);
    return rc;
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
        rc = s_compress(t, alone, raw, len, z, zl);
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

/* Decodes a frame into out with p set up by the caller (bases or defer). */
static int
s_zrx_decode(fsy_zrx_t *r, fsy_batch_parser_t *p, const uint8_t *z, size_t zl,
             uint64_t raw_len, uint64_t stream, uint64_t seq, uint64_t max,
             uint64_t now_ms)
{
    if (raw_len > max)
        return fsy_err_set(
            FSY_ETOOBIG, "payload of %llu bytes is over the %llu-byte limit",
            (unsigned long long)raw_len, (unsigned long long)max);
    r->idle_ms = now_ms;
    int rc = s_follow(r, stream, seq);
    if (rc != FSY_OK)
        return rc;
    rc = s_inflate(r->dctx, p, z, zl, raw_len);
    if (rc == FSY_OK)
        rc = fsy_batch_parser_end(p);
    if (rc != FSY_OK) {
        r->id = 0; /* its state is unknown now */
        return rc;
    }
    r->next++;
    return FSY_OK;
}

int
fsy_zrx_batch(fsy_zrx_t *r, const uint8_t *z, size_t zl, uint64_t raw_len,
              uint64_t stream, uint64_t seq, uint64_t max, uint64_t now_ms,
              fsy_base_fn base_fn, void *base_ctx, fsy_change_list_t *out)
{
    fsy_batch_parser_t p;
    fsy_batch_parser_init(&p, out);
    fsy_batch_parser_bases(&p, base_fn, base_ctx);
    int rc = s_zrx_decode(r, &p, z, zl, raw_len, stream, seq, max, now_ms);
    fsy_batch_parser_free(&p);
    if (rc != FSY_OK)
        fsy_change_list_clear(out);
    return rc;
}

int
fsy_zrx_batch_defer(fsy_zrx_t *r, const uint8_t *z, size_t zl, uint64_t raw_len,
                    uint64_t stream, uint64_t seq, uint64_t max,
                    uint64_t now_ms, fsy_batch_rest_t *rest,
                    fsy_change_list_t *out)
{
    fsy_batch_parser_t p;
    fsy_batch_parser_init(&p, out);
    fsy_batch_parser_defer(&p, rest);
    int rc = s_zrx_decode(r, &p, z, zl, raw_len, stream, seq, max, now_ms);
    fsy_batch_parser_free(&p);
    if (rc != FSY_OK) {
        fsy_change_list_clear(out);
        fsy_batch_rest_clear(rest);
    }
    return rc;
}
