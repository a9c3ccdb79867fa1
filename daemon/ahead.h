/*
 * fieldsync — a session's next batch decoded while the current one is
 * applied.
 *
 * Why: on a hub taking a catch-up, the loop's thread is the bound, and a
 * quarter of its time went to decoding batches (inflating the session's
 * stream, parsing, checking each change's checksum), the rest to applying
 * them, one after the other on one core. While a batch is applied, the
 * next frame already waiting on the same socket from the same connection
 * is read and decoded on a worker (lib/worker.h); its deltas are rebuilt
 * on the loop's thread when its turn comes (lib/wire_stream.h,
 * fsy_batch_resolve), where every change applied before it is in the
 * replica.
 *
 * The frame read ahead stays first in line: the next read of its socket
 * returns it (fsy_ahead_recv), and the loop does not sleep while one is
 * held (fsy_ahead_held); it is checked (key, routing id, session) in its
 * turn like any frame. Only a frame that continues the stream the session
 * follows is decoded ahead, so no stream context is made or dropped off
 * the loop's thread; the worker runs only between fsy_ahead_start and
 * fsy_ahead_settle, both inside one batch's handling, during which
 * nothing else touches the session's stream. A result is taken only by
 * the frame it was made from, with the stream where the decode left it,
 * and kept while frames of other sessions come first; anything else goes
 * the usual way. A session restarted in between refuses what does not
 * follow its stream, and asks for a resend. A frame decoded ahead and
 * then dropped in its turn (a key revoked by a reload, a session no
 * longer live) leaves the stream past it: the frames after it still
 * decode, and its changes are missing before theirs, a gap the apply
 * sees (the sender is asked to resend from the receiver's vector, as for
 * any gap). Decoding touches neither the replica nor SQLite, and applies
 * nothing.
 *
 * Ownership: fsy_ahead_new's result is freed by fsy_ahead_free (it holds
 * a frame and a decoded batch at most). Errors: fsy_ahead_new returns NULL
 * when out of memory (each batch is then decoded in its turn); a decode's
 * error comes back through fsy_ahead_take with its detail.
 */
#ifndef FSY_AHEAD_H
#define FSY_AHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/change.h"
#include "msg.h"
#include "transport.h"
#include "wire_stream.h"
#include "wire_zstream.h"

typedef struct fsy_ahead fsy_ahead_t;

fsy_ahead_t *fsy_ahead_new(fsy_transport_t *tr);
void fsy_ahead_free(fsy_ahead_t *a);

/* fsy_transport_recv, the frame read ahead first (if it is this socket's).
 * a NULL: fsy_transport_recv on tr. */
int fsy_ahead_recv(fsy_ahead_t *a, fsy_transport_t *tr, int from_parent,
                   uint8_t *rid, size_t *rid_len, uint8_t **buf, size_t *len,
                   fsy_frame_from_t *from);

/* Another frame waits on this socket (read ahead, or in ZeroMQ's queue). */
bool fsy_ahead_waiting(fsy_ahead_t *a, fsy_transport_t *tr, int from_parent);

/* A frame is held: the loop must not sleep before reading it. */
bool fsy_ahead_held(const fsy_ahead_t *a);

/* A batch of the session whose receiving stream is zrx (from the parent
 * or a child: zrx names the session) was just decoded and is about to be
 * applied: the next frame on its socket, if one waits, is read and, if it
 * is the next frame of zrx's stream from the same connection, decoded on
 * the worker, which has zrx until fsy_ahead_settle. a NULL: no-op. */
void fsy_ahead_start(fsy_ahead_t *a, int from_parent, fsy_zrx_t *zrx,
                     uint64_t now_ms);

/* Waits for the worker's decode, if one runs. a NULL: no-op. */
void fsy_ahead_settle(fsy_ahead_t *a);

/* zrx's session's batch m decoded ahead: true with *rc its result (error detail
 * set) and, on FSY_OK, its changes and the deltas left to rebuild moved to out
 * and rest (the caller's to clear); false if it was not (decode it now).
 * a NULL: false. */
bool fsy_ahead_take(fsy_ahead_t *a, const fsy_zrx_t *zrx, const fsy_msg_t *m,
                    fsy_change_list_t *out, fsy_batch_rest_t *rest, int *rc);

/* Batches decoded ahead and used so far, and the deltas among their
 * changes (rebuilt in their turn). a NULL: 0. */
void fsy_ahead_counts(const fsy_ahead_t *a, uint64_t *taken, uint64_t *deltas);

#endif
