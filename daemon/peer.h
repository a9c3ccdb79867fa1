/*
 * fieldsync — one sync session with a neighbour (parent or child).
 *
 * The session is symmetric once established: each side streams the changes
 * of its local log the other lacks, in log order, in batches of whole
 * transactions, at most `window` unacknowledged; the receiver applies a
 * batch in one transaction and acknowledges it with its new vector.
 *
 *            send/recv HELLO                     HELLO received
 *   WAIT_HELLO ---------------------------> LIVE <-------------- any state
 *       ^                                    |
 *       |   silence > timeout, REFUSE,       |
 *       +------ apply failure (child) -------+
 *
 * Invariants (LIVE):
 *   - `sent` is what the peer holds or will hold once every batch in
 *     flight is applied; a change is sent only if seq == sent + 1.
 *   - `cursor` is the log position scanned up to. A session start, or a
 *     gap reported in an ACK, sets `sent` to the peer's vector and `seek`:
 *     the next pump puts the cursor just before the first change the peer
 *     lacks, found per stream with the index on (scope, origin, seq) (the
 *     design's "rewind to the smallest local seq holding a needed
 *     change"), so a resume with nothing new scans nothing.
 *   - every batch ends with a change that ends its transaction.
 *
 * Every change of state goes through one function in peer.c,
 * s_set_state(), which logs the transition and checks these invariants
 * (FSY_ASSERT, on in release builds):
 *   - WAIT_HELLO: no batch in flight;
 *   - LIVE: the peer has introduced itself (origin known);
 *   - always: pace.n <= FSY_WINDOW_MAX, vectors within their capacity.
 * No other file writes `state`; fsy_peer_connected() is the one answer to
 * "is this neighbour connected", for status, health and systemd alike.
 *
 * The peer knows nothing of ZeroMQ or of the health module: messages leave
 * through `send`, and a HEALTH message from a child is handed to
 * `on_report` (daemon/health.c, through the loop), so the dependency runs
 * one way: health -> peer. It keeps only what a session must know of
 * reports: when it last took one (fsy_peer_report_due).
 * Ownership: fsy_peer_t is embedded by the caller; fsy_peer_clear() frees
 * what it holds.
 */
#ifndef FSY_PEER_H
#define FSY_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/config.h"
#include "fieldsync/store.h"
#include "pace.h"
#include "wire.h"
#include "wire_zstream.h"

typedef enum fsy_peer_state {
    FSY_PEER_WAIT_HELLO = 0,
    FSY_PEER_LIVE
} fsy_peer_state_t;

/* Sends one message to this peer; returns FSY_OK or an error (dropped). */
typedef int (*fsy_peer_send_fn)(void *ctx, const fsy_msg_t *m);

struct fsy_peer;
struct fsy_sync_env;
/* Takes a HEALTH message from child p (a live session's). */
typedef int (*fsy_peer_report_fn)(void *ctx, struct fsy_peer *p,
                                  const struct fsy_sync_env *env,
                                  const fsy_msg_t *m);

typedef struct fsy_peer {
    char name[FSY_SITE_MAX + 16]; /* for logs: "parent" or the child's id */
    bool is_parent;               /* we connected to it (and re-HELLO) */
    fsy_peer_state_t state;
    fsy_origin_t origin; /* from its HELLO */
    fsy_vv_t sent;
    size_t sent_cap;
    uint64_t cursor;
    bool seek;            /* the cursor is to be found again (above) */
    uint64_t log_epoch;   /* fsy_store_log_epoch() the cursor belongs to */
    uint64_t urgent_done; /* urgent marks up to this id are sent (or moot) */
    bool rolled_back;     /* a rollback was seen and logged (s_rollback) */
    bool link_problem;    /* last_error is fsy_peer_link_problem's */
    bool send_failed;     /* a send failed while handling a message */
    uint64_t root_print;  /* the root vector last sent to this child */
    bool vv_behind;       /* our last vector to it left out lazy commits */
    uint64_t next_id;
    /* the batches in flight: only their ACKs free credit, so a stale or
     * forged ACK cannot open the window; and the bytes the link may hold */
    fsy_pace_t pace;
    size_t batch_changes; /* a batch's changes as last built; 0: none yet */
    bool grow_off;        /* a gapped ACK: batches as configured (pace.h) */
    uint64_t last_rx_ms, last_tx_ms, hello_tx_ms;
    uint64_t last_ack_ms; /* last progress on batches in flight */
    uint64_t hello_rx_ms; /* last HELLO accepted from the peer */
    /* one compression stream each way (lib/wire_zstream.h) */
    fsy_ztx_t ztx;
    bool peer_deltas; /* its HELLO said a window: it rebuilds deltas */
    fsy_zrx_t zrx;
    uint64_t rewind_id; /* batches up to this id were sent before the
                           last rewind: their gapped ACKs are moot */
    /* the peer asked for a resend: every change sent is checked against
     * its checksum first, and values go whole (s_take says why), until the
     * ACK of a batch sent so, from check_from on (0: none sent yet) */
    bool check_sends;
    uint64_t check_from;
    uint64_t frames_lost; /* stream frames that could not be inflated */
    uint64_t retry_at_ms; /* refused with a time to try again: no HELLO
                             before it (0: none) */
    uint64_t recorded_ms, recorded_print; /* last status written */
    /* what status shows (fieldsync status) */
    uint64_t changes_sent, changes_received, batches_refused;
    uint64_t bytes_sent, bytes_received;
    fsy_vv_t known; /* the peer's vector as last heard: HELLO, ACK */
    size_t known_cap;
    uint64_t changes_refused; /* outside its write scopes or subtree */
    /* At a parent: the child's [child NAME] section (borrowed from the
     * configuration), or NULL when none restricts it. */
    const fsy_child_conf_t *acl;
    char last_error[256];
    /* its clock minus ours, from its last HEARTBEAT or HEALTH: an estimate
     * low by the one-way delay */
    int64_t clock_offset_ms;
    bool offset_known;
    bool offset_logged;    /* past the threshold, and logged so */
    uint64_t health_rx_ms; /* last HEALTH taken (from a child) */
    fsy_peer_send_fn send;
    void *send_ctx;
    fsy_peer_report_fn on_report; /* NULL: reports are ignored */
    void *report_ctx;
    /* WANT, CHUNK and NOTHAVE (attachments: daemon/transfer.c), from a
     * live session; NULL: ignored */
    fsy_peer_report_fn on_blob;
    void *blob_ctx;
    /* from a parent's HELLO: which attachments' bytes it serves us */
    fsy_attach_policy_t attachments;
    /* attachments' progress, as daemon/transfer.c last set it */
    uint64_t att_in_waiting, att_in_rate, att_out_waiting, att_out_rate;
} fsy_peer_t;

/* Everything a session needs from its daemon. */
typedef struct fsy_sync_env {
    fsy_store_t *store;
    const fsy_config_t *cfg;
    uint64_t now_ms;
    uint64_t started_ms;  /* when the daemon started (uptime) */
    const char *note;     /* a problem of this site's own, or NULL */
    const char *instance; /* this daemon run in HELLO ("host pid N") */
    /* another message waits behind the one handled, or a thread puts
     * lazy commits on disk (loop.c, s_lazy_sync): a batch's commit may
     * skip the disk sync (store_durable.c) */
    bool more_waiting;
    bool synced_behind;
    /* the next batch decoded while this one is applied (ahead.h); NULL:
     * each is decoded in its turn */
    struct fsy_ahead *ahead;
} fsy_sync_env_t;

/* Starts (or restarts) a session: a parent-side peer waits for HELLO; a
 * child-side peer (is_parent) sends its HELLO at once. */
int fsy_peer_start(fsy_peer_t *p, const fsy_sync_env_t *env);

/* Handles one decoded message from this peer. */
int fsy_peer_on_msg(fsy_peer_t *p, const fsy_sync_env_t *env,
                    const fsy_msg_t *m);

/* Sends what the peer lacks, while the window allows. */
int fsy_peer_pump(fsy_peer_t *p, const fsy_sync_env_t *env);

/* Once lazy commits are on disk (fsy_store_sync): a live peer whose last
 * vector from us left them out gets the whole one (an ACK of no batch). */
int fsy_peer_vv_update(fsy_peer_t *p, const fsy_sync_env_t *env);

/*
 * Heartbeats and timeouts. Returns false when a parent-side session is
 * dead and should be dropped.
 */
bool fsy_peer_tick(fsy_peer_t *p, const fsy_sync_env_t *env);

/* The connection to this parent cannot be made, for a reason below the
 * session (a key refused): why goes to status and, when new, the log. */
void fsy_peer_link_problem(fsy_peer_t *p, const char *why);

/* A handshake succeeded, or a child's trouble is over: a link problem
 * said before is over. For the parent (a new connection): logged, and
 * the session starts over with a hello at the next tick. */
void fsy_peer_link_ok(fsy_peer_t *p);

/* At a child: say hello to the parent at the next tick, whatever wait a
 * refusal asked for (an operator asked: fieldsync sync). */
void fsy_peer_retry_now(fsy_peer_t *p);

/* Records this peer's status in the replica (once it has said hello). */
/* How often an unchanged status is written anyway (last contact). */
#define FSY_STATUS_REFRESH_MS 5000

int fsy_peer_record(fsy_peer_t *p, const fsy_sync_env_t *env);

/* The peer's clock read their_ms when ours read env->now_ms; logged when
 * the offset crosses [status] amber_clock_offset_s. */
void fsy_peer_clock(fsy_peer_t *p, const fsy_sync_env_t *env,
                    uint64_t their_ms);

/* Sends m to the peer now (health reports use it); the error, if any, is
 * the send function's. */
int fsy_peer_send(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_msg_t *m);

/* The one definition of "connected": live, and heard from within the
 * timeout. */
bool fsy_peer_connected(const fsy_peer_t *p, const fsy_sync_env_t *env);

/* Live with no batch in flight: what is left of the link may carry
 * attachments' chunks (changes always go first). */
bool fsy_peer_idle(const fsy_peer_t *p);

/* Whether a health report from this child may be taken now: one per gap
 * (half a health period), and the first of each session always. */
bool fsy_peer_report_due(fsy_peer_t *p, const fsy_sync_env_t *env,
                         uint64_t gap_ms);

/* Attachments' progress with this peer (bytes waiting each way, rates in
 * bytes/s), for its status record. */
void fsy_peer_set_transfer(fsy_peer_t *p, uint64_t in_waiting, uint64_t in_rate,
                           uint64_t out_waiting, uint64_t out_rate);

/* Counts bytes that crossed the link for this peer (whole frames). */
void fsy_peer_on_bytes(fsy_peer_t *p, size_t sent, size_t received);

/* The session is over (the daemon stops, or a child is gone): back to
 * WAIT_HELLO, and recorded so; returns fsy_peer_record()'s result. */
int fsy_peer_stop(fsy_peer_t *p, const fsy_sync_env_t *env, const char *why);

void fsy_peer_clear(fsy_peer_t *p);

#endif
