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
 * Memory: windows of FSY_ZSTREAM_WINDOW_LOG (1 MiB) at both ends, and at
 * high levels the compressor's tables held to a few MiB.
 *
 * Ownership: the structs own their zstd contexts (fsy_ztx_free,
 * fsy_zrx_free); *z from fsy_ztx_batch is the caller's to free.
 * Errors: FSY_ENOMEM; from fsy_zrx_batch FSY_ENOTFOUND when the frame does
 * not follow the stream (ask for a resend), else what fsy_wire_inflate_batch
 * returns for a damaged or hostile frame.
 */
#ifndef FSY_WIRE_ZSTREAM_H
#define FSY_WIRE_ZSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "fieldsync/change.h"

#define FSY_ZSTREAM_WINDOW_LOG 20
#define FSY_ZSTREAM_LEVEL_MIN 1
#define FSY_ZSTREAM_LEVEL_MAX 19

/* The sending end. Zeroed is a valid start. */
typedef struct fsy_ztx {
    void *cctx;     /* ZSTD_CCtx, made at the first frame */
    uint64_t id;    /* the stream's; 0 until its first frame */
    uint64_t seq;   /* the next frame's number in it */
    int level;      /* used when the next stream starts */
    uint64_t bytes; /* compressed bytes sent in this stream */
} fsy_ztx_t;

/* The receiving end. Zeroed is a valid start. */
typedef struct fsy_zrx {
    void *dctx;    /* ZSTD_DCtx */
    uint64_t id;   /* the stream followed; 0 none (or it broke) */
    uint64_t next; /* the number the next frame must have */
} fsy_zrx_t;

/* The next frame starts a new stream, at level (FSY_ZSTREAM_LEVEL_MIN..MAX). */
void fsy_ztx_restart(fsy_ztx_t *t, int level);
void fsy_ztx_free(fsy_ztx_t *t);
void fsy_zrx_free(fsy_zrx_t *r);

/* A frame of the stream: the batch of n changes (wire format 2),
 * compressed and flushed. Sets *raw_len, *stream and *seq for the frame. */
int fsy_ztx_batch(fsy_ztx_t *t, const fsy_change_t *c, size_t n, uint8_t **z,
                  size_t *zl, uint64_t *raw_len, uint64_t *stream,
                  uint64_t *seq);

/* Decodes frame (stream, seq) of raw_len bytes (at most max) into out,
 * which is cleared on error. On FSY_ENOTFOUND and on any other error the
 * current stream is abandoned: only a new one (seq 0) decodes after it. */
int fsy_zrx_batch(fsy_zrx_t *r, const uint8_t *z, size_t zl, uint64_t raw_len,
                  uint64_t stream, uint64_t seq, uint64_t max,
                  fsy_change_list_t *out);

#endif
