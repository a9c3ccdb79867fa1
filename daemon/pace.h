/*
 * fieldsync — the batches a session has in flight, and how many more it
 * may send: the window, and no more bytes than the link delivers in
 * FSY_PACE_TARGET_MS.
 *
 * Why bytes: on a 256 kbit/s link a window of eight 80 kB batches is
 * twenty seconds of queue in the sockets, and an urgent report written
 * now would wait behind all of it. Bounding the bytes in flight by the
 * measured delivery rate keeps that queue a few seconds deep, while still
 * covering the round trip, so the link stays busy.
 *
 * The rate: each ACK gives a sample, the bytes acknowledged between the
 * batch's sending and its ACK over that time (what the link and the
 * receiver delivered, including this batch); the best sample of the last
 * FSY_PACE_RATE_MS is kept, so an idle moment does not throttle the next
 * burst. Until there is one, two batches may be in flight.
 *
 * The same samples in the batches' bytes before compression give the
 * raw rate: what the receiver takes in, whatever the level. The level's
 * choice needs it (wire_zstream.h): where the receiver bounds the
 * session, the compressed rate falls as the level rises (fewer bytes for
 * the same documents), which reads as a slower link and asks for a yet
 * higher level; the raw rate does not move.
 *
 * Ownership: plain data, embedded in fsy_peer_t; nothing to free.
 */
#ifndef FSY_PACE_H
#define FSY_PACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FSY_WINDOW_MAX 1024 /* the largest [sync] window */
#define FSY_PACE_TARGET_MS 3000
#define FSY_PACE_RATE_MS 10000
#define FSY_PACE_UNKNOWN_MAX 2 /* batches in flight before a sample */

/* A batch may hold twice [sync] batch_changes (at most FSY_PACE_GROWN_MAX)
 * once the link and its receiver have been measured to take batch_bytes
 * of changes, counted before compression, in FSY_PACE_FAST_MS or less
 * (raw_rate: the link's rate times the compression ratio). That is where
 * the receiver's transactions, not the link, bound a catch-up: each commit
 * rewrites the last page of every table and index it wrote (about forty
 * of a catch-up batch's hundred pages), so fewer, larger ones cost it
 * less (docs/PERFORMANCE.md). A batch's values stay bounded by
 * batch_bytes whatever its count, so a thin link whose documents
 * compress well grows its batches too, for no more bytes a batch; an
 * urgent batch never grows. A grown batch also ends once its decoded size
 * reaches half of what a receiver takes at any compression ratio
 * (wire_stream.h, FSY_WIRE_COST_FLOOR), and after a batch is refused
 * (a gapped ACK) batches go as configured until the next session. */
#define FSY_PACE_FAST_MS 250
#define FSY_PACE_GROWN_MAX 2048

typedef struct fsy_flight {
    uint64_t id;        /* the batch's id: only its ACK frees it */
    uint64_t sent_ms;   /* when it was handed to the link */
    uint64_t delivered; /* fsy_pace_t.delivered then */
    uint64_t bytes;     /* its frame's size */
    uint64_t raw;       /* its batch's size before compression */
    uint64_t raw_then;  /* fsy_pace_t.delivered_raw then */
} fsy_flight_t;

typedef struct fsy_pace {
    fsy_flight_t f[FSY_WINDOW_MAX];
    unsigned n;             /* batches in flight */
    uint64_t bytes;         /* their bytes */
    uint64_t delivered;     /* bytes acknowledged this session */
    uint64_t rate;          /* bytes/s, best recent sample; 0: none yet */
    uint64_t rate_ms;       /* when it was taken */
    uint64_t delivered_raw; /* the same before compression */
    uint64_t raw_rate;      /* raw bytes/s, best recent sample; 0: none */
    uint64_t raw_rate_ms;   /* when it was taken */
} fsy_pace_t;

/* How many changes the next batch may hold (see FSY_PACE_FAST_MS), given
 * [sync] batch_changes and batch_bytes. */
size_t fsy_pace_batch_changes(const fsy_pace_t *pc, size_t batch_changes,
                              size_t batch_bytes);

/* A new session: nothing in flight, no rate. */
void fsy_pace_reset(fsy_pace_t *pc);

/* May another batch go, with at most `window` in flight? */
bool fsy_pace_open(const fsy_pace_t *pc, unsigned window);

/* Batch `id` of `bytes` (`raw` before compression) was sent at now_ms.
 * The caller checked fsy_pace_open (there is room). */
void fsy_pace_sent(fsy_pace_t *pc, uint64_t id, uint64_t bytes, uint64_t raw,
                   uint64_t now_ms);

/* Batch `id` was acknowledged at now_ms: false if it is not in flight
 * (an ACK from an earlier session, or made up), which frees nothing. */
bool fsy_pace_acked(fsy_pace_t *pc, uint64_t id, uint64_t now_ms);

#endif
