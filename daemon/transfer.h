/*
 * fieldsyncd — attachments on the live link (docs/ATTACHMENTS.md).
 *
 * Blobs are pulled: a site asks a neighbour for the chunks it lacks of the
 * blobs it wants (the replica's `blobs` rows not complete), at most
 * FSY_XFER_WINDOW chunks at a time, and each chunk it stores lets it ask
 * for the next. What it holds is its own durable state, so a cut or a
 * restart of either side resumes where it was; a whole is checked against
 * its hash before it counts.
 *
 * Changes always go first: a neighbour's asked-for chunks are sent only
 * while no batch is in flight to it (fsy_peer_idle), and at most a window
 * of 64 KiB chunks sits in the link ahead of the next batch.
 *
 * One blob is fetched from one neighbour at a time (fsy_xfer_hub_t keeps
 * who fetches what), so a blob crosses a link once. A neighbour that lacks
 * a blob says NOTHAVE; it is asked again after FSY_XFER_RETRY_MS. A site
 * asked for a blob it lacks asks for it itself (the request travels up).
 *
 * Policies: a parent serves a child per [child] attachments (all, none,
 * on-demand: only what the child's people fetch); a child wants from its
 * parent what the parent says in HELLO it serves.
 *
 * Ownership: fsy_xfer_t is embedded next to its peer; fsy_xfer_reset()
 * when the session ends. Errors: store errors, FSY_ENOMEM.
 */
#ifndef FSY_TRANSFER_H
#define FSY_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "fieldsync/attachment.h"
#include "peer.h"

#define FSY_XFER_WINDOW 2       /* chunks asked for at once ... */
#define FSY_XFER_SLOW_BPS 8192  /* ... one below this rate (64 kbit/s) */
#define FSY_XFER_STALLS 3       /* silences before another is tried */
#define FSY_XFER_SKIP 16        /* blobs a neighbour said it lacks */
#define FSY_XFER_RETRY_MS 10000 /* ... asked again after this */
#define FSY_XFER_HUB_MAX 288    /* blobs fetched at once, daemon-wide */
#define FSY_XFER_RATE_S 60      /* the rate is over the last minute */

/* Which blob each neighbour is fetching, daemon-wide. */
typedef struct fsy_xfer_hub {
    uint8_t busy[FSY_XFER_HUB_MAX][FSY_BLOB_HASH_LEN];
    size_t n_busy;
} fsy_xfer_hub_t;

/* Bytes per second over the last minute, from per-second buckets. */
typedef struct fsy_rate {
    uint64_t bucket[FSY_XFER_RATE_S];
    uint64_t first_s, last_s; /* first and last second with bytes */
} fsy_rate_t;

typedef struct fsy_xfer {
    fsy_xfer_hub_t *hub;
    /* receiving: the blob being fetched from this neighbour */
    bool fetching;
    uint8_t hash[FSY_BLOB_HASH_LEN];
    uint64_t size;
    bool fetch;    /* on demand: asked for by a person */
    uint64_t next; /* chunks below it were asked for */
    uint64_t asked[FSY_XFER_WINDOW];
    size_t n_asked;
    uint64_t progress_ms; /* last chunk, or the first ask */
    unsigned stalls;      /* silences in a row while fetching */
    uint64_t pick_ms;     /* last look for something to fetch */
    uint64_t pick_from;   /* where in the wanted list the next look starts */
    /* blobs it said it lacks (or sent damaged), oldest replaced first */
    uint8_t skipped[FSY_XFER_SKIP][FSY_BLOB_HASH_LEN];
    size_t n_skipped, skip_next;
    uint64_t skipped_ms;
    /* serving: the chunks this neighbour asked for */
    uint8_t serve_hash[FSY_BLOB_HASH_LEN];
    uint64_t serve_size, serve_have;
    uint64_t serve[FSY_WANT_MAX];
    size_t n_serve;
    /* figures for status: bytes each way, and rates */
    uint64_t in_bytes, out_bytes;
    fsy_rate_t in_rate, out_rate;
    uint64_t figures_ms; /* last time the peer's figures were set */
} fsy_xfer_t;

void fsy_xfer_init(fsy_xfer_t *x, fsy_xfer_hub_t *hub);

/* The session ended: nothing asked for or promised is outstanding. */
void fsy_xfer_reset(fsy_xfer_t *x);

/* A WANT, CHUNK or NOTHAVE from peer p. */
int fsy_xfer_on_msg(fsy_xfer_t *x, fsy_peer_t *p, const fsy_sync_env_t *env,
                    const fsy_msg_t *m);

/* Every turn: asks for more (or again, after a silence), and sends what
 * was asked for when the link has no batch in flight. */
int fsy_xfer_tick(fsy_xfer_t *x, fsy_peer_t *p, const fsy_sync_env_t *env);

/* Bytes per second over the last minute. */
uint64_t fsy_rate_per_s(const fsy_rate_t *r, uint64_t now_ms);

#endif
