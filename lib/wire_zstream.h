/*
 * fieldsync — one zstd stream per direction of a live session, so each
 * batch is compressed with everything sent before it in the session as
 * history (field names, places, phrases of earlier reports), not alone.
 *
 * The sender flushes the stream at every frame, so each frame decodes as
 * soon as it arrives, and numbers its frames within the stream; a stream
 * has a random id. The receiver follows one stream at a time: a frame
 * numbered 0 starts a new one (its history forgotten), any other frame
 * must be the next of the current one. A frame lost or from an earlier
 * stream cannot be decoded: the receiver says so (a gapped ACK), the
 * sender resends from the receiver's vector in a new stream. A sender may
 * start a new stream whenever it likes (a new session, a rewind), which
 * costs only the history.
 *
 * Memory is bounded for a hub with hundreds of children. The receiver
 * says in its HELLO the largest window it decodes (fsy_zrx_offer: all its
 * neighbours streaming at once fit FSY_ZSTREAM_RX_BUDGET); the sender
 * keeps every stream of the process within FSY_ZSTREAM_TX_BUDGET, taking
 * a lower level or a smaller window when the budget is short, and when
 * nothing fits it compresses the batch alone (a frame of no stream,
 * stream 0). A stream idle for FSY_ZSTREAM_IDLE_MS gives its context
 * back; the next frame starts a new stream. The receiver gives its
 * context back after ten times that, so a frame that was merely slow on
 * a thin link still finds the stream it continues.
 *
 * Ownership: the structs own their zstd contexts (fsy_ztx_free,
 * fsy_zrx_free); *z from fsy_ztx_batch is the caller's to free. The
 * budgets are process-wide counters: one thread uses the streams.
 * Errors: FSY_ENOMEM; from fsy_zrx_batch FSY_ENOTFOUND when the frame does
 * not follow the stream (ask for a resend), else what fsy_wire_inflate_batch
 * returns for a damaged or hostile frame.
 */
#ifndef FSY_WIRE_ZSTREAM_H
#define FSY_WIRE_ZSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "fieldsync/change.h"
#include "wire_delta.h"
#include "wire_stream.h"

#define FSY_ZSTREAM_WINDOW_LOG 20     /* the largest window: 1 MiB */
#define FSY_ZSTREAM_WINDOW_LOG_MIN 17 /* below, frames go alone */
#define FSY_ZSTREAM_LEVEL_MIN 1
#define FSY_ZSTREAM_LEVEL_MAX 19
#define FSY_ZSTREAM_TX_BUDGET ((size_t)48 << 20)
#define FSY_ZSTREAM_RX_BUDGET ((size_t)160 << 20)
#define FSY_ZSTREAM_IDLE_MS 30000

/* The sending end. Zeroed is a valid start. */
typedef struct fsy_ztx {
    void *cctx;       /* ZSTD_CCtx, made at the first frame of a stream */
    size_t held;      /* what cctx counts for in the budget */
    uint64_t id;      /* the stream's; 0 until its first frame */
    uint64_t seq;     /* the next frame's number in it */
    int level;        /* wanted when the next stream starts */
    int window_log;   /* the receiver's: 0 not said (the largest), -1 none */
    int used_level;   /* what the current stream has (the budget's say) */
    uint64_t bytes;   /* compressed bytes sent in this stream */
    uint64_t idle_ms; /* time of its last frame */
    /* compressed bytes a second each level put out here (0: not
     * measured), kept across streams until the caller clears it (a
     * session measures afresh, daemon/peer.c) */
    uint64_t speed[FSY_ZSTREAM_LEVEL_MAX + 1];
    /* the same frames' bytes before compression, a second (read_speed) */
    uint64_t read_speed[FSY_ZSTREAM_LEVEL_MAX + 1];
} fsy_ztx_t;

/* The receiving end. Zeroed is a valid start. */
typedef struct fsy_zrx {
    void *dctx;       /* ZSTD_DCtx */
    size_t held;      /* what dctx counts for */
    uint64_t id;      /* the stream followed; 0 none (or it broke) */
    uint64_t next;    /* the number the next frame must have */
    int window_log;   /* the largest decoded (what we offered); 0 the largest */
    uint64_t idle_ms; /* time of its last frame */
} fsy_zrx_t;

/* The largest window log (FSY_ZSTREAM_WINDOW_LOG_MIN..FSY_ZSTREAM_
 * WINDOW_LOG) with which n streams decoding at once fit the receive
 * budget; 0 when even the smallest does not (frames then go alone). */
int fsy_zrx_offer(size_t n);

/* Bytes the streams of this process hold now, to send and to receive
 * (any thread may ask). */
size_t fsy_zstream_held(int receiving);

/* The receiver's window log from its HELLO (absent: the largest); out
 * of range is taken as the nearest safe value: over the largest is the
 * largest, under the smallest is 0 (frames alone). The next stream uses
 * it. */
void fsy_ztx_window(fsy_ztx_t *t, int window_log);

/* The next frame starts a new stream, at level (FSY_ZSTREAM_LEVEL_MIN..MAX). */
void fsy_ztx_restart(fsy_ztx_t *t, int level);
void fsy_ztx_free(fsy_ztx_t *t);
void fsy_zrx_free(fsy_zrx_t *r);

/* A frame of the stream at now_ms: the batch of n changes (wire format
 * 2; d: NULL or a delta per change), compressed and flushed. Sets
 * *raw_len, *stream and *seq for the frame; *stream 0: the batch was
 * compressed alone (no window, or no room in the budget), to be sent as a
 * frame of no stream, and then without deltas (such a frame is decoded
 * where no replica is at hand). */
int fsy_ztx_batch(fsy_ztx_t *t, const fsy_change_t *c, size_t n,
                  const fsy_delta_t *d, uint64_t now_ms, uint8_t **z,
                  size_t *zl, uint64_t *raw_len, uint64_t *stream,
                  uint64_t *seq);

/* Compressed bytes a second that level put out on this sender (what it
 * can feed a link), measured on the frames of at least
 * FSY_ZSTREAM_SPEED_MIN raw bytes that continue a stream (a moving
 * average); 0 while it has not been measured. The caller may clear
 * t->speed (a new session measures afresh). */
#define FSY_ZSTREAM_SPEED_MIN ((size_t)16 << 10)
uint64_t fsy_ztx_speed(const fsy_ztx_t *t, int level);

/* Bytes before compression a second that level read on this sender,
 * measured on the same frames as fsy_ztx_speed; 0 while not measured. */
uint64_t fsy_ztx_read_speed(const fsy_ztx_t *t, int level);

/* The level for a session whose link carried link_bytes_per_s compressed
 * and whose receiver took raw_bytes_per_s before compression (0: not
 * measured yet: the middle level 3): the highest that keeps 4 times ahead
 * of both, as measured here (or guessed from what was measured). Output
 * against the link: compressing takes at most a quarter of the time the
 * link takes to carry the result. Input against the receiver: where the
 * receiver, not the link, bounds the session, the compressed rate falls as
 * the level rises and would ask for ever higher levels until compressing
 * is what holds the session back; the raw rate does not depend on the
 * level. raw_bytes_per_s 0 with a link rate: the link alone decides. */
int fsy_ztx_link_level(const fsy_ztx_t *t, uint64_t link_bytes_per_s,
                       uint64_t raw_bytes_per_s);

/* Sets the receiving end's largest window (fsy_zrx_offer; 0 the
 * largest); a stream that needs more does not decode. */
void fsy_zrx_window(fsy_zrx_t *r, int window_log);

/* Decodes frame (stream, seq) of raw_len bytes (at most max) into out,
 * which is cleared on error; deltas are rebuilt with base_fn (NULL: a
 * delta is refused). On FSY_ENOTFOUND and on any other error the current
 * stream is abandoned: only a new one (seq 0) decodes after it. */
int fsy_zrx_batch(fsy_zrx_t *r, const uint8_t *z, size_t zl, uint64_t raw_len,
                  uint64_t stream, uint64_t seq, uint64_t max, uint64_t now_ms,
                  fsy_base_fn base_fn, void *base_ctx, fsy_change_list_t *out);

/* The same, with deltas left in rest (the caller's, emptied first) for
 * fsy_batch_resolve to rebuild where the replica is: callable on a thread
 * without the replica, as long as nothing else touches r meanwhile and the
 * frame continues the stream (a frame that starts one makes a context and
 * counts it in the process's budget). rest is cleared on error. */
int fsy_zrx_batch_defer(fsy_zrx_t *r, const uint8_t *z, size_t zl,
                        uint64_t raw_len, uint64_t stream, uint64_t seq,
                        uint64_t max, uint64_t now_ms, fsy_batch_rest_t *rest,
                        fsy_change_list_t *out);

/* Gives back the contexts of streams idle at now_ms (see above). */
void fsy_ztx_idle(fsy_ztx_t *t, uint64_t now_ms);
void fsy_zrx_idle(fsy_zrx_t *r, uint64_t now_ms);

#endif
