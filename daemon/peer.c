/*
 * fieldsync — one sync session with a neighbour. See peer.h for the states
 * and invariants.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ahead.h"
#include "fieldsync/authz.h"
#include "fieldsync/ident.h"
#include "fieldsync/wallclock.h"
#include "log.h"
#include "peer.h"
#include "store_delta.h"

/* Log rows read per scan while building a batch. */
#define FSY_SCAN_ROWS 2000
/* How soon a HELLO that could not be sent is tried again. */
#define FSY_HELLO_RETRY_MS 100
/* The longest a parent may tell us to wait before saying hello again. */
#define FSY_RETRY_MAX_MS (10 * 60 * 1000)
/* A scan callback's "enough": negative, unlike every fsy_err_t. */
#define S_STOP (-1)

/* ---- the `sent` and `known` vectors ----------------------------------- */

/* The peer holds what it sent us: raise vv to every change of l. */
static int
s_vv_raise_all(fsy_vv_t *vv, size_t *cap, const fsy_change_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const fsy_change_t *c = &l->v[i];
        int rc =
            fsy_vv_raise(vv, cap, c->scope, &c->version.origin, c->version.seq);
        if (rc != FSY_OK)
            return rc;
    }
    return FSY_OK;
}

/* sent := the peer's own vector (HELLO, or an ACK asking to rewind). What
 * is resent goes in a new compression stream: the peer may have lost
 * frames of the last one. */
static int
s_sent_reset(fsy_peer_t *p, const fsy_vv_t *vv)
{
    p->seek = true;
    p->urgent_done = 0; /* marks sent may be wanted again */
    fsy_ztx_restart(&p->ztx, p->ztx.level);
    /* measured afresh: a level ruled out by a slow moment is tried again */
    memset(p->ztx.speed, 0, sizeof p->ztx.speed);
    memset(p->ztx.read_speed, 0, sizeof p->ztx.read_speed);
    p->rewind_id = p->next_id;
    return fsy_vv_copy(&p->sent, &p->sent_cap, vv);
}

static void
s_error(fsy_peer_t *p, const char *why)
{
    snprintf(p->last_error, sizeof p->last_error, "%s", why);
    fsy_text_clean(p->last_error); /* may quote a peer; may be cut short */
}

/* Clears last_error when the condition it described is over; the
 * problems that end elsewhere (a recovery, a refused key) stay. */
static void
s_clear_error(fsy_peer_t *p)
{
    if (!p->link_problem && strncmp(p->last_error, "recovering", 10) != 0)
        s_error(p, "");
}

static const char *
s_state_name(fsy_peer_state_t st)
{
    return st == FSY_PEER_LIVE ? "live" : "wait-hello";
}

/* The invariants peer.h draws; a failure is a bug here, never bad input. */
static void
s_check(const fsy_peer_t *p)
{
    FSY_ASSERT(p->pace.n <= FSY_WINDOW_MAX);
    FSY_ASSERT(p->sent.n <= p->sent_cap || p->sent.n == 0);
    FSY_ASSERT(p->known.n <= p->known_cap || p->known.n == 0);
    FSY_ASSERT(p->state != FSY_PEER_WAIT_HELLO || p->pace.n == 0);
    FSY_ASSERT(p->state != FSY_PEER_LIVE || p->origin.site[0] != '\0');
}

/* Every change of state: logged (when it is a change) and checked. */
static void
s_set_state(fsy_peer_t *p, fsy_peer_state_t to, const char *why)
{
    if (to == FSY_PEER_WAIT_HELLO)
        fsy_pace_reset(&p->pace); /* nothing in flight outside a session */
    if (p->state != to)
        fsy_log("info", "state", "peer=%s from=%s to=%s why=\"%s\"", p->name,
                s_state_name(p->state), s_state_name(to), why);
    p->state = to;
    s_check(p);
}

bool
fsy_peer_connected(const fsy_peer_t *p, const fsy_sync_env_t *env)
{
    return p->state == FSY_PEER_LIVE &&
           env->now_ms - p->last_rx_ms < env->cfg->timeout_ms;
}

bool
fsy_peer_idle(const fsy_peer_t *p)
{
    return p->state == FSY_PEER_LIVE && p->pace.n == 0;
}

bool
fsy_peer_report_due(fsy_peer_t *p, const fsy_sync_env_t *env, uint64_t gap_ms)
{
    if (p->health_rx_ms != 0 && env->now_ms - p->health_rx_ms < gap_ms)
        return false;
    p->health_rx_ms = env->now_ms;
    return true;
}

void
fsy_peer_set_transfer(fsy_peer_t *p, uint64_t in_waiting, uint64_t in_rate,
                      uint64_t out_waiting, uint64_t out_rate)
{
    p->att_in_waiting = in_waiting;
    p->att_in_rate = in_rate;
    p->att_out_waiting = out_waiting;
    p->att_out_rate = out_rate;
}

void
fsy_peer_on_bytes(fsy_peer_t *p, size_t sent, size_t received)
{
    p->bytes_sent += sent;
    p->bytes_received += received;
}

/* A fingerprint of what status shows, but for the last-contact time. */
static uint64_t
s_status_print(const fsy_peer_t *p, bool connected)
{
    uint64_t h = connected ? 1 : 2;
    const uint64_t v[] = {
        p->changes_sent,    p->changes_received,
        p->bytes_sent,      p->bytes_received,
        p->batches_refused, p->changes_refused,
        p->known.n,         (uint64_t)p->clock_offset_ms / 1000,
        p->att_in_waiting,  p->att_out_waiting};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        h = h * 1099511628211u ^ v[i];
    for (const char *c = p->last_error; *c; c++)
        h = h * 1099511628211u ^ (uint8_t)*c;
    for (size_t i = 0; i < p->known.n; i++)
        h = h * 1099511628211u ^ p->known.v[i].seq;
    return h;
}

void
fsy_peer_link_problem(fsy_peer_t *p, const char *why)
{
    if (!p->link_problem || strcmp(p->last_error, why) != 0)
        fsy_log("warn", "link", "peer=%s why=\"%s\"", p->name, why);
    s_error(p, why);
    p->link_problem = true;
}

void
fsy_peer_retry_now(fsy_peer_t *p)
{
    p->retry_at_ms = 0;
    p->hello_tx_ms = 0;
}

void
fsy_peer_link_ok(fsy_peer_t *p)
{
    /* A new connection: the parent may have restarted, and frames of the
     * old one may be lost; the session starts over from the vectors, and
     * says hello at once (this turn's tick), so a resume takes one round
     * trip after the handshake, not a heartbeat and a refusal more. */
    if (p->is_parent) {
        fsy_log("info", "link", "peer=%s state=up", p->name);
        if (p->state == FSY_PEER_LIVE)
            s_set_state(p, FSY_PEER_WAIT_HELLO, "new connection");
        if (p->retry_at_ms == 0)
            p->hello_tx_ms = 0;
    }
    if (!p->link_problem)
        return;
    fsy_log("info", "link", "peer=%s state=ok", p->name);
    p->link_problem = false;
    s_error(p, "");
}

int
fsy_peer_record(fsy_peer_t *p, const fsy_sync_env_t *env)
{
    if (p->origin.site[0] == '\0') { /* not introduced yet */
        if (!p->is_parent || !p->link_problem ||
            s_status_print(p, false) == p->recorded_print)
            return FSY_OK;
        p->recorded_print = s_status_print(p, false);
        return fsy_store_peer_note(env->store, "parent", p->last_error);
    }
    bool connected = fsy_peer_connected(p, env);
    /* Each record is a durable write (an fsync on a field laptop's disk):
     * only when something changed, or to keep last contact fresh. */
    uint64_t print = s_status_print(p, connected);
    if (print == p->recorded_print &&
        env->now_ms - p->recorded_ms < FSY_STATUS_REFRESH_MS)
        return FSY_OK;
    p->recorded_print = print;
    p->recorded_ms = env->now_ms;
    fsy_peer_status_t st = {0};
    snprintf(st.name, sizeof st.name, "%s", p->origin.site);
    snprintf(st.role, sizeof st.role, "%s", p->is_parent ? "parent" : "child");
    st.connected = connected;
    st.last_contact_ms = p->last_rx_ms;
    st.changes_sent = p->changes_sent;
    st.changes_received = p->changes_received;
    st.bytes_sent = p->bytes_sent;
    st.bytes_received = p->bytes_received;
    st.refused = p->batches_refused + p->changes_refused;
    snprintf(st.last_error, sizeof st.last_error, "%s", p->last_error);
    st.updated_ms = env->now_ms;
    st.offset_known = p->offset_known;
    st.clock_offset_ms = p->clock_offset_ms;
    st.att_in_waiting = p->att_in_waiting;
    st.att_in_rate = p->att_in_rate;
    st.att_out_waiting = p->att_out_waiting;
    st.att_out_rate = p->att_out_rate;
    int rc = fsy_vv_format(&p->known, &st.vv);
    if (rc == FSY_OK)
        rc = fsy_store_peer_put(env->store, &st);
    free(st.vv);
    return rc;
}

void
fsy_peer_clock(fsy_peer_t *p, const fsy_sync_env_t *env, uint64_t their_ms)
{
    if (their_ms > INT64_MAX || env->now_ms > INT64_MAX)
        return;
    int64_t offset = (int64_t)their_ms - (int64_t)env->now_ms;
    uint64_t off = fsy_abs_ms(offset);
    if (off > (uint64_t)FSY_CLOCK_OFFSET_MAX_MS)
        return; /* not a clock */
    p->clock_offset_ms = offset;
    p->offset_known = true;
    /* Logged when it crosses the status threshold, either way: a clock
     * hours off is an operations problem, not one line per heartbeat. */
    bool skewed =
        off >= (uint64_t)env->cfg->thresholds.amber_clock_offset_s * 1000;
    if (skewed != p->offset_logged)
        fsy_log(skewed ? "warn" : "info", "clock-offset",
                "peer=%s offset_ms=%" PRId64 " state=%s", p->name, offset,
                skewed ? "skewed" : "ok");
    p->offset_logged = skewed;
}

/* ---- sending ---------------------------------------------------------- */

int
fsy_peer_send(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_msg_t *m)
{
    p->last_tx_ms = env->now_ms;
    int rc = p->send(p->send_ctx, m);
    p->send_failed |= rc != FSY_OK;
    return rc;
}

/* Is site the child of section k or a site below it? */
static bool
s_in_subtree(const fsy_child_conf_t *k, const char *site)
{
    return strcmp(site, k->site) == 0 ||
           (k->sites_below[0] != '\0' &&
            fsy_scope_allowed(k->sites_below, site));
}

/*
 * Our vector as this peer may see it: a child with read_scopes learns the
 * entries of those scopes, and of the streams it writes itself (its own
 * and its sites_below'), so it neither resends them nor hears of the rest.
 * Only what is on disk: a power loss could take back a batch committed
 * without a sync, and the peer would then count as delivered what we
 * lost (store_durable.c).
 */
static int
s_my_vv(fsy_peer_t *p, const fsy_sync_env_t *env, fsy_vv_t **out)
{
    int rc = fsy_store_durable_vv(env->store, out);
    const fsy_child_conf_t *k = p->is_parent ? NULL : p->acl;
    if (rc != FSY_OK || k == NULL || k->read_scopes[0] == '\0')
        return rc;
    fsy_vv_t *vv = *out;
    size_t n = 0;
    for (size_t i = 0; i < vv->n; i++) {
        const fsy_vv_entry_t *e = &vv->v[i];
        if (fsy_scope_allowed(k->read_scopes, e->scope) ||
            s_in_subtree(k, e->origin.site))
            vv->v[n++] = *e;
    }
    vv->n = n;
    return FSY_OK;
}

/*
 * For a child: what the root holds of the streams of the child and the
 * sites below it (store_delivery.c), so it learns how far up its changes
 * are. *out NULL for a parent, or a child not introduced yet.
 */
static int
s_root_for(const fsy_peer_t *p, const fsy_sync_env_t *env, fsy_vv_t **out)
{
    *out = NULL;
    const fsy_child_conf_t *k = p->is_parent ? NULL : p->acl;
    int rc = k == NULL ? FSY_OK : fsy_store_root_vv(env->store, out);
    if (rc != FSY_OK || *out == NULL)
        return rc;
    fsy_vv_t *vv = *out;
    size_t n = 0;
    for (size_t i = 0; i < vv->n; i++)
        if (s_in_subtree(k, vv->v[i].origin.site))
            vv->v[n++] = vv->v[i];
    vv->n = n;
    return FSY_OK;
}

static uint64_t
s_vv_print(const fsy_vv_t *vv)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < vv->n; i++) {
        const fsy_vv_entry_t *e = &vv->v[i];
        for (const char *c = e->scope; *c; c++)
            h = (h ^ (uint8_t)*c) * 1099511628211u;
        for (const char *c = e->origin.site; *c; c++)
            h = (h ^ (uint8_t)*c) * 1099511628211u;
        h = (h ^ e->origin.incarnation) * 1099511628211u;
        h = (h ^ e->seq) * 1099511628211u;
    }
    return h;
}

/* Sends m with what the root holds for this peer, if it is a child: a
 * HELLO always, an ACK or heartbeat only when it changed since last sent
 * (every byte counts on a thin link). */
static int
s_send_with_root(fsy_peer_t *p, const fsy_sync_env_t *env, fsy_msg_t *m)
{
    fsy_vv_t *root = NULL;
    int rc = s_root_for(p, env, &root);
    uint64_t print = 0;
    if (rc == FSY_OK && root != NULL) {
        print = s_vv_print(root);
        m->root = *root;
        m->has_root = m->type == FSY_MSG_HELLO || print != p->root_print;
    }
    if (rc == FSY_OK)
        rc = fsy_peer_send(p, env, m);
    if (rc == FSY_OK && m->has_root) /* else sent again next time */
        p->root_print = print;
    fsy_vv_free(&root);
    return rc;
}

static int
s_send_hello(fsy_peer_t *p, const fsy_sync_env_t *env)
{
    fsy_msg_t m = {.type = FSY_MSG_HELLO};
    fsy_vv_t *vv = NULL;
    int rc = s_my_vv(p, env, &vv);
    if (rc != FSY_OK)
        return rc;
    if (fsy_store_lazy_commits(env->store) > 0)
        p->vv_behind = true; /* the whole vector follows once on disk */
    m.origin = *fsy_store_origin(env->store);
    m.vv = *vv;
    m.max_value = FSY_VALUE_MAX;
    m.max_txn_changes = FSY_TXN_MAX;
    if (env->instance != NULL)
        snprintf(m.instance, sizeof m.instance, "%s", env->instance);
    snprintf(m.merge_rule, sizeof m.merge_rule, "%s",
             fsy_store_merge_rule(env->store));
    /* the window every neighbour may stream to us with at once */
    m.has_window = true;
    m.window_log = (uint32_t)fsy_zrx_offer(env->cfg->n_children + 1);
    fsy_zrx_window(&p->zrx, (int)m.window_log);
    if (!p->is_parent && p->acl != NULL) /* what we serve this child */
        m.attachments = (uint32_t)p->acl->attachments;
    fsy_tip_t tips[FSY_TIPS_MAX];
    if (!p->is_parent && p->origin.site[0] != '\0') { /* its own streams */
        rc = fsy_store_tips(env->store, vv, &p->origin, tips, &m.n_tips);
        m.tips = tips;
    }
    p->hello_tx_ms = env->now_ms;
    if (rc == FSY_OK)
        rc = s_send_with_root(p, env, &m);
    fsy_vv_free(&vv);
    /* Not connected yet (nothing was queued): try again soon rather than
     * a whole heartbeat later, so a session starts as the link comes up. */
    if (rc != FSY_OK && env->cfg->heartbeat_ms > FSY_HELLO_RETRY_MS)
        p->hello_tx_ms -= env->cfg->heartbeat_ms - FSY_HELLO_RETRY_MS;
    return rc;
}

static int
s_send_refuse(fsy_peer_t *p, const fsy_sync_env_t *env, const char *why)
{
    fsy_msg_t m = {.type = FSY_MSG_REFUSE};
    snprintf(m.reason, sizeof m.reason, "%s", why);
    fsy_log("warn", "refuse", "peer=%s reason=\"%s\"", p->name, why);
    return fsy_peer_send(p, env, &m);
}

int
fsy_peer_start(fsy_peer_t *p, const fsy_sync_env_t *env)
{
    s_set_state(p, FSY_PEER_WAIT_HELLO, "session start");
    p->check_sends = false;
    p->check_from = 0;
    p->cursor = 0;
    p->seek = true;
    p->sent.n = 0;
    p->last_rx_ms = p->last_ack_ms = env->now_ms;
    /* Batch ids start at a random point per session, so an ACK from an
     * earlier session never matches a batch of this one. */
    randombytes_buf(&p->next_id, sizeof p->next_id);
    p->next_id >>= 16;
    return p->is_parent ? s_send_hello(p, env) : FSY_OK;
}

/* Starts over: a child says hello again at its next tick, not at once, so
 * two sides that disagree do not ping-pong; a parent waits for it. */
static void
s_restart(fsy_peer_t *p, const fsy_sync_env_t *env, const char *why)
{
    fsy_log("info", "restart", "peer=%s why=\"%s\"", p->name, why);
    if (!p->link_problem) /* the cause, rather than its symptom */
        s_error(p, why);
    s_set_state(p, FSY_PEER_WAIT_HELLO, why);
    p->hello_tx_ms = env->now_ms;
}

int
fsy_peer_stop(fsy_peer_t *p, const fsy_sync_env_t *env, const char *why)
{
    s_set_state(p, FSY_PEER_WAIT_HELLO, why);
    return fsy_peer_record(p, env);
}

/* ---- building a batch ------------------------------------------------- */

typedef struct s_builder {
    fsy_peer_t *p;
    const fsy_config_t *cfg;
    fsy_change_list_t batch;
    size_t bytes;
    size_t max_changes; /* fsy_pace_batch_changes */
    uint64_t cost;      /* its decoded size as a receiver counts it */
    bool closed;        /* the batch is full and ends a transaction */
    bool txn_done;      /* the last change taken ends its transaction */
    bool more;          /* stopped short of the log's end (S_BUILD_ROWS) */
    bool behind; /* a change beyond `sent` + 1: rewind after this batch */
    size_t rows;
    /* urgent: one stream in seq order, up to the transaction ending at
     * `upto`; the log cursor stays where it is */
    bool urgent;
    uint64_t upto;
    /* what the peer held when the batch began: bases it may be sent as
     * deltas against (not urgent batches) */
    fsy_vv_t held;
    size_t held_cap;
} s_builder_t;

/* Does the peer take the stream (scope, site)? A child is sent only its
 * read scopes, and its own streams (a restored child takes its old one
 * back: store_recover.c). Seqs count per (origin, scope), so leaving out
 * whole streams leaves no holes. */
static bool
s_readable(const fsy_peer_t *p, const char *scope, const char *site)
{
    if (p->acl == NULL)      /* a child with no section (a reload took it) */
        return p->is_parent; /* gets nothing; a parent everything */
    return fsy_scope_allowed(p->acl->read_scopes, scope) ||
           strcmp(site, p->acl->site) == 0;
}

static int
s_take(const fsy_change_t *c, uint64_t lseq, void *ctx)
{
    s_builder_t *b = ctx;
    fsy_peer_t *p = b->p;
    b->rows++;
    if (!b->urgent)
        p->cursor = lseq;
    if (!s_readable(p, c->scope, c->version.origin.site))
        return 0;
    fsy_vv_entry_t *e = fsy_vv_find(&p->sent, c->scope, &c->version.origin);
    uint64_t have = e ? e->seq : 0;
    if (c->version.seq <= have)
        return 0; /* the peer holds it, or will */
    if (c->version.seq != have + 1) {
        b->behind = true;
        return 0;
    }
    /* A change damaged on our disk must never be taken anywhere: the
     * batch's hash covers the checksums as stored, and a receiver refuses
     * a batch whose changes do not hash to it, asking for a resend. From
     * then on every change is checked here before it leaves (and values
     * go whole), until a batch so checked is acknowledged whole, so the
     * damaged one is found and named at this end (the loop stops on this)
     * instead of being resent for ever. Checking every change always cost
     * a field office a quarter of its processor in a catch-up
     * (docs/REPLICATION.md, item 14). A batch sent alone is checked as it
     * is sent (s_check_alone). */
    if (p->check_sends && !fsy_change_sound(c))
        return fsy_err_set(
            FSY_ECORRUPT,
            "the change at log position %" PRIu64 " fails its checksum", lseq);
    fsy_change_t *slot;
    int rc = fsy_change_list_push(&b->batch, &slot);
    if (rc == FSY_OK && (rc = fsy_change_copy(slot, c)) != FSY_OK)
        b->batch.n--;
    if (rc == FSY_OK)
        rc = fsy_vv_raise(&p->sent, &p->sent_cap, c->scope, &c->version.origin,
                          c->version.seq);
    if (rc != FSY_OK)
        return rc;
    b->bytes += c->value_len;
    b->cost += fsy_wire_change_cost(c);
    b->txn_done = c->txn_end;
    bool reached = b->urgent && c->version.seq >= b->upto;
    /* a grown batch also ends before a receiver could take it for a
     * decompression bomb (pace.h) */
    bool grown_full = b->batch.n > b->cfg->batch_changes &&
                      b->cost >= FSY_WIRE_COST_FLOOR / 2;
    if (c->txn_end && (reached || b->batch.n >= b->max_changes ||
                       b->bytes >= b->cfg->batch_bytes || grown_full)) {
        b->closed = true;
        return S_STOP; /* stop the scan here */
    }
    return 0;
}

/* The first change of a stream after a seq: its log position. */
static int
s_first_pos(const fsy_change_t *c, uint64_t lseq, void *ctx)
{
    (void)c;
    *(uint64_t *)ctx = lseq;
    return S_STOP;
}

/*
 * Puts the cursor just before the first change the peer lacks, looked up
 * per stream it takes with the index on (scope, origin, seq): a session
 * start or a rewind costs a lookup per stream, not a scan of the log.
 * Nothing lacking: the cursor goes to the log's end.
 */
static int
s_seek(fsy_peer_t *p, const fsy_sync_env_t *env)
{
    fsy_vv_t *mine = NULL;
    uint64_t from = UINT64_MAX, last = 0;
    /* The log's end before the vector: a write committed between the two
     * reads lies past `last` (scanned next) or in the vector (looked up),
     * never skipped. */
    int rc = fsy_store_log_last(env->store, &last);
    if (rc == FSY_OK)
        rc = fsy_store_vv(env->store, &mine);
    for (size_t i = 0; rc == FSY_OK && i < mine->n; i++) {
        const fsy_vv_entry_t *e = &mine->v[i];
        const fsy_vv_entry_t *s = fsy_vv_find(&p->sent, e->scope, &e->origin);
        uint64_t have = s ? s->seq : 0, pos = UINT64_MAX;
        if (e->seq <= have || !s_readable(p, e->scope, e->origin.site))
            continue;
        rc = fsy_store_stream_after(env->store, e->scope, &e->origin, have, 1,
                                    s_first_pos, &pos);
        rc = rc == S_STOP ? FSY_OK : rc;
        from = pos < from ? pos : from;
    }
    fsy_vv_free(&mine);
    if (rc == FSY_OK) {
        p->cursor = from == UINT64_MAX ? last : from - 1;
        p->seek = false;
    }
    return rc;
}

/*
 * Scans the log from the cursor until the batch is full or the log ends.
 * Transactions are contiguous in every log (store_apply.c refuses anything
 * else), so the log's end is always a transaction's end. A turn of the
 * loop scans at most S_BUILD_ROWS rows before it stops at a transaction's
 * end (the next turn goes on from the cursor), so a child that takes few
 * of many streams does not hold the loop.
 */
#define S_BUILD_ROWS (4 * FSY_SCAN_ROWS)

/* The changes a batch may hold now (pace.h: more on a fast link); the log
 * says when that moves, and why. */
static size_t
s_batch_changes(fsy_peer_t *p, const fsy_config_t *cfg)
{
    size_t n = p->grow_off
                   ? cfg->batch_changes
                   : fsy_pace_batch_changes(&p->pace, cfg->batch_changes,
                                            cfg->batch_bytes);
    if (n != (p->batch_changes ? p->batch_changes : cfg->batch_changes))
        fsy_log(
            "info", "batch_size",
            "peer=%s changes=%zu configured=%zu taken_raw_bytes_per_s=%" PRIu64
            " why=\"%s\"",
            p->name, n, cfg->batch_changes, p->pace.raw_rate,
            n > cfg->batch_changes ? "a fast link: fewer, larger transactions "
                                     "for the receiver"
            : p->grow_off ? "a batch was refused: as configured until the "
                            "next session"
                          : "batches as configured");
    p->batch_changes = n;
    return n;
}

static int
s_build(fsy_peer_t *p, const fsy_sync_env_t *env, s_builder_t *b)
{
    memset(b, 0, sizeof *b);
    b->p = p;
    b->cfg = env->cfg;
    b->max_changes = s_batch_changes(p, env->cfg);
    int rc0 = fsy_vv_copy(&b->held, &b->held_cap, &p->sent);
    if (rc0 != FSY_OK)
        return rc0;
    for (size_t scanned = 0;;) {
        b->rows = 0;
        int rc = fsy_store_log_after(env->store, p->cursor, FSY_SCAN_ROWS,
                                     s_take, b);
        if (rc != FSY_OK && rc != S_STOP)
            return rc;
        if (b->closed || b->rows < FSY_SCAN_ROWS)
            return FSY_OK;
        scanned += b->rows;
        if (scanned >= S_BUILD_ROWS && (b->batch.n == 0 || b->txn_done)) {
            b->more = true; /* not the log's end: the next turn goes on */
            return FSY_OK;
        }
    }
}

static bool
s_window_open(const fsy_peer_t *p, const fsy_sync_env_t *env)
{
    return p->state == FSY_PEER_LIVE &&
           fsy_pace_open(&p->pace, env->cfg->window);
}

/* The level for what is sent next: [sync] compression_level, or what the
 * link's measured rate allows; a change of 3 levels or more starts a new
 * stream at the new level (its history is the price). */
static void
s_pick_level(fsy_peer_t *p, const fsy_sync_env_t *env)
{
    int want =
        env->cfg->compression_level
            ? (int)env->cfg->compression_level
            : fsy_ztx_link_level(&p->ztx, p->pace.rate, p->pace.raw_rate);
    if (p->ztx.id != 0 && abs(want - p->ztx.level) < 3)
        return;
    if (want != p->ztx.level)
        fsy_log("debug", "compression",
                "peer=%s level=%d was=%d link_bytes_per_s=%" PRIu64
                " level_bytes_per_s=%" PRIu64 " taken_raw_bytes_per_s=%" PRIu64
                " level_read_bytes_per_s=%" PRIu64,
                p->name, want, p->ztx.level, p->pace.rate,
                fsy_ztx_speed(&p->ztx, want), p->pace.raw_rate,
                fsy_ztx_read_speed(&p->ztx, want));
    fsy_ztx_restart(&p->ztx, want);
}

/* A batch compressed alone (stream 0) is decoded with the message, where
 * a hash that does not match is a malformed frame: no resend is asked,
 * so nothing would make s_take check its changes: they are checked here
 * (rare: no stream could be had). */
static int
s_check_alone(const s_builder_t *b)
{
    for (size_t i = 0; i < b->batch.n; i++) {
        const fsy_change_t *c = &b->batch.v[i];
        if (!fsy_change_sound(c))
            return fsy_err_set(FSY_ECORRUPT,
                               "the change %s:%" PRIu64 " of %.64s in scope "
                               "%s fails its checksum",
                               c->version.origin.site, c->version.seq, c->doc,
                               c->scope);
    }
    return FSY_OK;
}

/* Sends one built batch: *sent false if the session had to restart (or a
 * change of a batch sent alone failed its checksum: FSY_ECORRUPT). */
static int
s_send_batch(fsy_peer_t *p, const fsy_sync_env_t *env, s_builder_t *b,
             bool *sent)
{
    *sent = false;
    fsy_msg_t m = {.type = FSY_MSG_BATCH, .id = ++p->next_id};
    m.urgent = b->urgent;
    s_pick_level(p, env);
    if (p->check_sends && p->check_from == 0)
        p->check_from = m.id; /* its clean ACK ends the checks */
    /* while checking, values go whole: a delta is made against the base
     * as stored here, which the change's own check does not cover */
    fsy_delta_t *d = NULL; /* none worth it is no error: values go whole */
    int rc =
        !b->urgent && p->peer_deltas && !p->check_sends
            ? fsy_store_deltas(env->store, b->batch.v, b->batch.n, &b->held, &d)
            : FSY_OK;
    if (rc == FSY_ECORRUPT) /* a damaged base: the loop stops on it */
        return rc;
    if (rc != FSY_OK)
        fsy_log("warn", "delta", "peer=%s error=\"%s\"", p->name,
                fsy_errdetail());
    int zrc =
        fsy_ztx_batch(&p->ztx, b->batch.v, b->batch.n, d, env->now_ms,
                      &m.zpayload, &m.zlen, &m.raw_len, &m.zstream, &m.zseq);
    fsy_deltas_free(d, b->batch.n);
    if (zrc != FSY_OK) {
        fsy_log("error", "compress", "peer=%s error=\"%s\"", p->name,
                fsy_errdetail());
        s_restart(p, env, "a batch could not be compressed");
        return FSY_OK;
    }
    /* with check_sends, s_take checked them already */
    rc = m.zstream == 0 && !p->check_sends ? s_check_alone(b) : FSY_OK;
    if (rc != FSY_OK) {
        free(m.zpayload);
        return rc;
    }
    uint64_t before = p->bytes_sent; /* the send counts its frame */
    rc = fsy_peer_send(p, env, &m);
    free(m.zpayload);
    if (rc != FSY_OK) {
        /* `sent` already counts it: only a new session is sure. */
        s_restart(p, env, "a batch could not be sent");
        return FSY_OK;
    }
    if (p->pace.n == 0)
        p->last_ack_ms = env->now_ms;
    fsy_pace_sent(&p->pace, m.id, p->bytes_sent - before, m.raw_len,
                  env->now_ms);
    p->changes_sent += b->batch.n;
    *sent = true;
    return FSY_OK;
}

/*
 * Builds a batch of u's stream from what the peer holds, in seq order,
 * up to u's transaction (or as much as a batch takes).
 */
static int
s_build_urgent(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_urgent_t *u,
               s_builder_t *b)
{
    memset(b, 0, sizeof *b);
    b->p = p;
    b->cfg = env->cfg;
    b->max_changes = env->cfg->batch_changes; /* urgent ones stay small */
    b->urgent = true;
    b->upto = u->seq;
    for (;;) {
        const fsy_vv_entry_t *e = fsy_vv_find(&p->sent, u->scope, &u->origin);
        size_t had = b->batch.n;
        b->rows = 0;
        int rc =
            fsy_store_stream_after(env->store, u->scope, &u->origin,
                                   e ? e->seq : 0, FSY_SCAN_ROWS, s_take, b);
        if (rc != FSY_OK && rc != S_STOP)
            return rc;
        if (b->closed || b->rows < FSY_SCAN_ROWS || b->batch.n == had)
            return FSY_OK;
    }
}

/*
 * Sends u's transaction, and its stream before it, while the window
 * allows; *done: nothing of it is left to send to this peer.
 */
static int
s_pump_one_urgent(fsy_peer_t *p, const fsy_sync_env_t *env,
                  const fsy_urgent_t *u, bool *done)
{
    *done = p->acl != NULL ? !fsy_scope_allowed(p->acl->read_scopes, u->scope)
                           : !p->is_parent;
    while (!*done && s_window_open(p, env)) {
        const fsy_vv_entry_t *e = fsy_vv_find(&p->sent, u->scope, &u->origin);
        if ((*done = u->seq <= (e ? e->seq : 0)))
            break;
        s_builder_t b;
        int rc = s_build_urgent(p, env, u, &b);
        bool sent = false;
        if (rc == FSY_OK && b.batch.n > 0)
            rc = s_send_batch(p, env, &b, &sent);
        if (sent)
            fsy_log("info", "urgent",
                    "peer=%s scope=%s origin=%s seq=%" PRIu64 " changes=%zu",
                    p->name, u->scope, u->origin.site, u->seq, b.batch.n);
        fsy_change_list_clear(&b.batch);
        free(b.held.v);
        if (!sent)
            return rc;
    }
    return FSY_OK;
}

/*
 * Urgent transactions go first, in the order they were marked. The peer
 * keeps its place in the marks (urgent_done), so marks long sent cost
 * nothing; a new session starts from the first again.
 */
static int
s_pump_urgent(fsy_peer_t *p, const fsy_sync_env_t *env)
{
    fsy_urgent_t u[FSY_URGENT_MAX];
    size_t n = FSY_URGENT_MAX;
    int rc = FSY_OK;
    bool prefix = true; /* every mark so far is done */
    while (rc == FSY_OK && n == FSY_URGENT_MAX && prefix &&
           s_window_open(p, env)) {
        rc = fsy_store_urgent_list(env->store, p->urgent_done, u, &n);
        for (size_t i = 0; rc == FSY_OK && i < n && s_window_open(p, env);
             i++) {
            bool done;
            rc = s_pump_one_urgent(p, env, &u[i], &done);
            prefix = prefix && done;
            if (prefix)
                p->urgent_done = u[i].id;
        }
    }
    return rc;
}

int
fsy_peer_pump(fsy_peer_t *p, const fsy_sync_env_t *env)
{
    if (p->log_epoch != fsy_store_log_epoch(env->store)) {
        p->log_epoch = fsy_store_log_epoch(env->store);
        p->seek = true; /* positions past it may hold other changes now */
    }
    if (!s_window_open(p, env))
        return FSY_OK;
    int rc = p->seek ? s_seek(p, env) : FSY_OK;
    if (rc == FSY_OK)
        rc = s_pump_urgent(p, env);
    while (rc == FSY_OK && s_window_open(p, env)) {
        s_builder_t b;
        rc = s_build(p, env, &b);
        bool more = b.closed, sent = true;
        if (rc == FSY_OK && b.batch.n > 0)
            rc = s_send_batch(p, env, &b, &sent);
        more = more && sent;
        fsy_change_list_clear(&b.batch);
        free(b.held.v);
        if (b.behind) /* a change needed lies before the cursor */
            rc = rc == FSY_OK ? s_seek(p, env) : rc;
        if (!more)
            break;
    }
    return rc;
}

/* ---- receiving -------------------------------------------------------- */

/*
 * Has one side gone back in time on its own stream (../shared/DESIGN.md,
 * "An origin's stream is write-once")? A child checks its parent's vector
 * and tips of its streams against its replica; a parent checks that the
 * child holds at least what the parent holds of the child's stream.
 */
static int
s_rolled_back(const fsy_peer_t *p, const fsy_sync_env_t *env,
              const fsy_msg_t *m, bool *behind, char *why, size_t len)
{
    if (p->is_parent)
        return fsy_store_rolled_back(env->store, &m->vv, m->tips, m->n_tips,
                                     behind, why, len);
    fsy_vv_t *mine = NULL;
    int rc = fsy_store_vv(env->store, &mine);
    *behind = false;
    for (size_t i = 0; rc == FSY_OK && i < mine->n && !*behind; i++) {
        const fsy_vv_entry_t *e = &mine->v[i];
        uint64_t theirs = fsy_vv_get(&m->vv, e->scope, &m->origin);
        if (fsy_origin_eq(&e->origin, &m->origin) && e->seq > theirs) {
            *behind = true;
            snprintf(why, len,
                     "%s's replica holds its own changes up to %s:%" PRIu64
                     " in %s, this site up to %" PRIu64,
                     m->origin.site, m->origin.site, theirs, e->scope, e->seq);
        }
    }
    fsy_vv_free(&mine);
    return rc;
}

/*
 * A rollback: no session until it is recovered, so nothing of the site's
 * reused seqs is sent or taken; both ends say why (status, log, REFUSE).
 */
static int
s_rollback(fsy_peer_t *p, const fsy_sync_env_t *env, const char *where)
{
    const char *site =
        p->is_parent ? fsy_store_origin(env->store)->site : p->origin.site;
    char why[sizeof p->last_error];
    snprintf(why, sizeof why,
             "%.32s was restored from an older copy or runs on two machines "
             "(%.90s): its reused seqs are refused; %s",
             site, where,
             p->is_parent ? "sync stopped: see OPERATIONS.md"
                          : "it recovers by itself at its next hello");
    if (!p->rolled_back) /* once, not at every hello */
        fsy_log(p->is_parent ? "error" : "warn", "rollback",
                "peer=%s why=\"%s\"", p->name, why);
    p->rolled_back = true;
    s_error(p, why);
    s_set_state(p, FSY_PEER_WAIT_HELLO, "rollback");
    fsy_msg_t r = {.type = FSY_MSG_REFUSE};
    snprintf(r.reason, sizeof r.reason, "%s", why);
    return fsy_peer_send(p, env, &r);
}

/* What status says while a recovery waits for the tree. */
static void
s_recovering_error(fsy_peer_t *p, uint64_t displaced)
{
    char why[sizeof p->last_error];
    snprintf(
        why, sizeof why,
        "recovering: this replica was restored from an older copy; %" PRIu64
        " change(s) written since are set aside until the parent's copy "
        "of this site's stream is back, then written again: nothing lost",
        displaced);
    s_error(p, why);
}

/*
 * We (a child) went back in time: set aside what we wrote beyond what the
 * parent is known to hold and take a new incarnation (store_recover.c),
 * then say hello again as it. Falls back to stopping if that fails.
 */
static int
s_recover(fsy_peer_t *p, const fsy_sync_env_t *env, const char *where)
{
    fsy_recovery_t rec;
    fsy_origin_t old = *fsy_store_origin(env->store);
    if (fsy_store_recover_begin(env->store, &rec) != FSY_OK) {
        fsy_log("error", "recover", "peer=%s error=\"%s\"", p->name,
                fsy_errdetail());
        return s_rollback(p, env, where);
    }
    fsy_log("warn", "rollback",
            "peer=%s action=recovering retired=%s:%016" PRIx64
            " incarnation=%016" PRIx64 " set_aside=%" PRIu64 " why=\"%s\"",
            p->name, old.site, old.incarnation,
            fsy_store_origin(env->store)->incarnation, rec.displaced, where);
    s_recovering_error(p, rec.displaced);
    s_set_state(p, FSY_PEER_WAIT_HELLO, "recovering");
    return s_send_hello(p, env);
}

/*
 * From the parent: remember how far it holds our streams, and end a
 * recovery once the retired stream is back. Neither stops the session.
 */
static void
s_parent_progress(fsy_peer_t *p, const fsy_sync_env_t *env,
                  const fsy_vv_t *theirs, const fsy_msg_t *m)
{
    fsy_recover_result_t r;
    /* How far up our changes are: one commit without a disk sync for each
     * ACK (a catch-up's stream of them synced the sender's disk for every
     * batch). A power loss can only take these marks back, never forward:
     * "pending" then shows more, a restore sets more aside (RECOVERY.md),
     * and the next ACK or HELLO raises them again. */
    int rc = fsy_store_begin_volatile(env->store);
    if (rc == FSY_OK && m != NULL && m->has_root)
        rc = fsy_store_root_delivered(env->store, &m->root);
    if (rc == FSY_OK)
        rc = fsy_store_delivered(env->store, theirs);
    if (rc == FSY_OK)
        rc = fsy_store_commit(env->store);
    else
        fsy_store_rollback(env->store);
    if (rc != FSY_OK ||
        fsy_store_recover_finish(env->store, &p->known, &r) != FSY_OK) {
        fsy_log("warn", "recover", "peer=%s error=\"%s\"", p->name,
                fsy_errdetail());
        return;
    }
    if (r.done) {
        fsy_log("info", "recovered",
                "peer=%s reissued=%" PRIu64 " dropped=%" PRIu64, p->name,
                r.reissued, r.dropped);
        s_error(p, "");
    } else if (r.waiting && strncmp(p->last_error, "recovering", 10) != 0) {
        fsy_recovery_t rec;
        if (fsy_store_recovery(env->store, &rec) == FSY_OK)
            s_recovering_error(p, rec.displaced);
    }
}

/* Sites merging concurrent text by different rules would show different
 * values for the same changes: no session until they agree. */
static int
s_refuse_merge_rule(fsy_peer_t *p, const fsy_sync_env_t *env,
                    const fsy_msg_t *m)
{
    char why[sizeof p->last_error];
    snprintf(why, sizeof why,
             "text merge rules differ: %.24s \"%.50s\", %.24s \"%.50s\"; "
             "give every site the same [merge] whole_value_fields",
             fsy_store_origin(env->store)->site,
             fsy_store_merge_rule(env->store), m->origin.site, m->merge_rule);
    if (strcmp(p->last_error, why) != 0) /* once, not at every hello */
        fsy_log("warn", "refuse", "peer=%s reason=\"%s\"", p->name, why);
    s_error(p, why);
    fsy_msg_t r = {.type = FSY_MSG_REFUSE};
    snprintf(r.reason, sizeof r.reason, "%s", why);
    return fsy_peer_send(p, env, &r);
}

static int
s_on_hello(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_msg_t *m)
{
    /* Each HELLO restarts the stream from the vectors: from a live peer,
     * accept at most one a heartbeat, or a flood of them would make us
     * resend a window of history for each. */
    if (p->state == FSY_PEER_LIVE &&
        env->now_ms - p->hello_rx_ms < env->cfg->heartbeat_ms)
        return FSY_OK;
    p->hello_rx_ms = env->now_ms;
    p->health_rx_ms = 0; /* its first report of a session is always taken */
    if (m->max_value != FSY_VALUE_MAX || m->max_txn_changes != FSY_TXN_MAX)
        return s_send_refuse(p, env,
                             "change limits differ: upgrade the "
                             "older fieldsync");
    bool reply = !p->is_parent; /* a child says hello first */
    p->origin = m->origin;
    if (p->is_parent)
        p->attachments = (fsy_attach_policy_t)m->attachments;
    if (!p->is_parent) {
        snprintf(p->name, sizeof p->name, "%s", m->origin.site);
        p->acl = fsy_config_child(env->cfg, m->origin.site);
        if (p->acl == NULL) /* the daemon admits none such: a last guard */
            return s_send_refuse(p, env, "no [child] section for this site");
    }
    if (m->merge_rule[0] != '\0' && /* "": older, merges nothing */
        strcmp(m->merge_rule, fsy_store_merge_rule(env->store)) != 0)
        return s_refuse_merge_rule(p, env, m);
    bool behind = false;
    char why[256];
    int rc = s_rolled_back(p, env, m, &behind, why, sizeof why);
    if (rc == FSY_OK && behind && p->is_parent)
        return s_recover(p, env, why);
    if (rc == FSY_OK && behind && reply) /* the child sees it for itself */
        rc = s_send_hello(p, env);
    if (rc != FSY_OK || behind)
        return rc != FSY_OK ? rc : s_rollback(p, env, why);
    p->peer_deltas = m->has_window; /* the same release: Change.delta */
    fsy_ztx_window(&p->ztx, !m->has_window ? FSY_ZSTREAM_WINDOW_LOG
                            : m->window_log > FSY_ZSTREAM_WINDOW_LOG
                                ? FSY_ZSTREAM_WINDOW_LOG
                                : (int)m->window_log);
    rc = s_sent_reset(p, &m->vv);
    if (rc == FSY_OK)
        rc = fsy_vv_copy(&p->known, &p->known_cap, &m->vv);
    if (rc != FSY_OK)
        return rc;
    fsy_pace_reset(&p->pace); /* a new session: earlier batches forgotten */
    p->batch_changes = 0;     /* and their size: measured again */
    p->grow_off = false;
    if (p->rolled_back) /* it came back as a new incarnation */
        fsy_log("info", "rollback", "peer=%s action=cleared", p->name);
    s_clear_error(p); /* a new session: earlier trouble is over */
    p->rolled_back = false;
    s_set_state(p, FSY_PEER_LIVE, "hello");
    fsy_log("info", "hello", "peer=%s origin=%s:%016" PRIx64 " entries=%zu",
            p->name, m->origin.site, m->origin.incarnation, m->vv.n);
    if (p->is_parent)
        s_parent_progress(p, env, &m->vv, m);
    return reply ? s_send_hello(p, env) : FSY_OK;
}

/*
 * Leaves out what a child may not write, counting and logging it; the rest
 * of the batch and the session carry on. *kept points into m (shallow).
 */
static int
s_authorise(fsy_peer_t *p, const fsy_msg_t *m, fsy_change_t **kept, size_t *n)
{
    *kept = m->changes.v;
    *n = m->changes.n;
    if (p->is_parent)
        return FSY_OK;  /* a parent may send any origin (authz.h) */
    if (p->acl == NULL) /* s_on_hello admits configured children only */
        return fsy_err_set(FSY_EINTERNAL, "child %s has no section", p->name);
    fsy_authority_t a = {.role = FSY_ROLE_CHILD, .child = p->acl};
    snprintf(a.site, sizeof a.site, "%s", p->acl->site);
    fsy_change_t *v = malloc((m->changes.n ? m->changes.n : 1) * sizeof *v);
    if (v == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    size_t k = 0, refused = 0;
    char why[300], first[300] = "";
    for (size_t i = 0; i < m->changes.n; i++) {
        if (fsy_authz_may_write(&a, &m->changes.v[i], why, sizeof why))
            v[k++] = m->changes.v[i];
        else if (refused++ == 0)
            snprintf(first, sizeof first, "%s", why);
    }
    if (refused > 0) {
        p->changes_refused += refused;
        snprintf(p->last_error, sizeof p->last_error,
                 "refused %" PRIu64 " change(s): %.200s", p->changes_refused,
                 first);
        fsy_text_clean(p->last_error);
        fsy_log("warn", "unauthorised", "peer=%s refused=%zu first=\"%s\"",
                p->name, refused, p->last_error);
    }
    *kept = v;
    *n = k;
    return FSY_OK;
}

/* An ACK of batch id (0: of none, the vector alone), with our vector. */
static int
s_send_ack(fsy_peer_t *p, const fsy_sync_env_t *env, uint64_t id,
           uint64_t gapped, uint64_t refused)
{
    fsy_msg_t ack = {
        .type = FSY_MSG_ACK, .id = id, .gapped = gapped, .refused = refused};
    fsy_vv_t *vv = NULL;
    bool behind = fsy_store_lazy_commits(env->store) > 0;
    int rc = s_my_vv(p, env, &vv);
    if (rc != FSY_OK)
        return rc;
    ack.vv = *vv;
    rc = s_send_with_root(p, env, &ack);
    fsy_vv_free(&vv);
    /* told the whole vector only if this one went */
    p->vv_behind = behind || rc != FSY_OK;
    return rc;
}

int
fsy_peer_vv_update(fsy_peer_t *p, const fsy_sync_env_t *env)
{
    if (!p->vv_behind || p->state != FSY_PEER_LIVE ||
        fsy_store_lazy_commits(env->store) > 0) /* it would lag still */
        return FSY_OK;
    return s_send_ack(p, env, 0, 0, 0);
}

/* Lazy commits waiting for the disk at most: a stream that never pauses
 * still goes on disk every few batches, and our vector lags it by no
 * more. With a thread that syncs behind the loop (loop.c, s_lazy_sync),
 * a commit with a sync of its own is made only once it falls this far
 * behind: a disk slower than the stream. */
#define S_LAZY_MAX 8
#define S_LAZY_MAX_BEHIND 32

static int
s_apply_batch(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_msg_t *m)
{
    fsy_apply_stats_t st;
    fsy_change_t *kept;
    size_t n;
    int rc = s_authorise(p, m, &kept, &n);
    if (rc != FSY_OK)
        return rc;
    bool clean = n == m->changes.n; /* nothing left out as unauthorised */
    /* another message waits: the commit need not wait for the disk, a
     * later one (or the read's end, loop.c) puts it there; an urgent
     * batch does, it is marked in a commit of its own just after */
    bool lazy = !m->urgent &&
                (env->synced_behind
                     ? fsy_store_lazy_commits(env->store) < S_LAZY_MAX_BEHIND
                     : env->more_waiting &&
                           fsy_store_lazy_commits(env->store) < S_LAZY_MAX);
    rc = lazy ? fsy_store_apply_lazy(env->store, kept, n, &st)
              : fsy_store_apply_validated(env->store, kept, n, &st);
    clean = clean && st.gapped == 0;
    /* Passed on first in turn; a mark lost is only an order lost. */
    if (rc == FSY_OK && m->urgent &&
        fsy_store_mark_urgent(env->store, kept, n) != FSY_OK)
        fsy_log("warn", "urgent", "peer=%s error=\"%s\"", p->name,
                fsy_errdetail());
    if (kept != m->changes.v)
        free(kept);
    if (rc != FSY_OK) {
        /* Not acknowledged: the sender restarts from our vector. */
        p->batches_refused++;
        s_error(p, fsy_errdetail());
        fsy_log("warn", "apply-failed",
                "peer=%s batch=%" PRIu64 " error=\"%s\"", p->name, m->id,
                fsy_errdetail());
        return s_send_refuse(p, env, "could not apply a batch: restart");
    }
    p->changes_received += st.applied;
    /* The rows just logged are this peer's own: the cursor is found again
     * by the vectors (a lookup per stream) rather than by reading them
     * back to learn they need not go (7 % of a hub's catch-up). */
    p->seek = p->seek || st.applied > 0;
    if ((rc = s_vv_raise_all(&p->known, &p->known_cap, &m->changes)) !=
            FSY_OK ||
        (rc = s_vv_raise_all(&p->sent, &p->sent_cap, &m->changes)) != FSY_OK)
        return rc;
    if (st.refused > 0) {
        char why[sizeof p->last_error];
        snprintf(why, sizeof why, "blocked: %.240s", st.refused_why);
        s_error(p, why);
        fsy_log("error", "refused", "peer=%s origin=%s count=%zu why=\"%s\"",
                p->name, st.refused_origin.site, st.refused, st.refused_why);
    } else if (st.gapped > 0) { /* amber until a batch applies whole */
        char why[sizeof p->last_error];
        snprintf(why, sizeof why,
                 "blocked at %.32s:%" PRIu64 " in %.32s: %.32s:%" PRIu64
                 " came first; the sender was asked to resend from there",
                 st.gap_origin.site, st.gap_have + 1, st.gap_scope,
                 st.gap_origin.site, st.gap_got);
        s_error(p, why);
    } else if (clean && strncmp(p->last_error, "blocked", 7) == 0) {
        s_clear_error(p); /* the stream moves again; a refusal of
                             unauthorised changes stands until a session */
    }
    if (p->is_parent)
        s_parent_progress(p, env, &p->known, NULL);
    return s_send_ack(p, env, m->id, st.gapped, st.refused);
}

/*
 * A batch in the session's compression stream is inflated here. One that
 * does not follow the stream (a frame lost on a cut, a frame of an
 * earlier stream) or does not decode is not applied: a gapped ACK asks
 * the sender to resend from our vector, in a new stream.
 */
static int
s_on_batch(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_msg_t *m)
{
    if (m->zstream == 0)
        return s_apply_batch(p, env, m);
    fsy_msg_t whole = *m; /* borrows m's payload; owns its changes */
    memset(&whole.changes, 0, sizeof whole.changes);
    fsy_batch_rest_t rest = {0};
    int rc;
    if (!fsy_ahead_take(env->ahead, &p->zrx, m, &whole.changes, &rest, &rc))
        rc = fsy_zrx_batch_defer(&p->zrx, m->zpayload, m->zlen, m->raw_len,
                                 m->zstream, m->zseq, FSY_MSG_MAX, env->now_ms,
                                 &rest, &whole.changes);
    /* deltas rebuilt here, where every batch before this one is */
    if (rc == FSY_OK &&
        (rc = fsy_batch_resolve(&whole.changes, &rest, fsy_store_base,
                                env->store)) != FSY_OK)
        p->zrx.id = 0; /* the stream is dropped, as for any bad frame */
    fsy_batch_rest_clear(&rest);
    if (rc == FSY_OK) {
        fsy_ahead_start(env->ahead, p->is_parent, &p->zrx, env->now_ms);
        rc = s_apply_batch(p, env, &whole);
        fsy_ahead_settle(env->ahead);
        fsy_change_list_clear(&whole.changes);
        return rc;
    }
    fsy_change_list_clear(&whole.changes);
    if (fsy_log_worth(++p->frames_lost))
        fsy_log(rc == FSY_ENOTFOUND ? "info" : "warn", "resend",
                "peer=%s batch=%" PRIu64 " why=\"%s\" count=%" PRIu64, p->name,
                m->id, fsy_errdetail(), p->frames_lost);
    return s_send_ack(p, env, m->id, 1, 0);
}

/*
 * An ACK of no batch (id 0): the peer's vector grew once what it had
 * acknowledged went on disk (fsy_peer_vv_update). One that names less
 * than we know (left over from an earlier session) changes nothing.
 */
static int
s_on_vv_update(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_msg_t *m)
{
    if (fsy_vv_missing(&p->known, &m->vv, "") > 0)
        return FSY_OK;
    int rc = fsy_vv_copy(&p->known, &p->known_cap, &m->vv);
    if (rc == FSY_OK && p->is_parent)
        s_parent_progress(p, env, &p->known, m);
    return rc;
}

static int
s_on_ack(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_msg_t *m)
{
    if (m->id == 0)
        return s_on_vv_update(p, env, m);
    if (!fsy_pace_acked(&p->pace, m->id, env->now_ms))
        return FSY_OK; /* from an earlier session, or made up */
    p->last_ack_ms = env->now_ms;
    if (p->check_sends && m->gapped == 0 && p->check_from != 0 &&
        m->id >= p->check_from)
        p->check_sends = false; /* what was sent checked arrived whole */
    int rc = fsy_vv_copy(&p->known, &p->known_cap, &m->vv);
    if (rc == FSY_OK && p->is_parent)
        s_parent_progress(p, env, &m->vv, m);
    /* a batch sent before the last rewind: what it lacked is resent */
    if (rc != FSY_OK || m->gapped == 0 || m->id <= p->rewind_id)
        return rc;
    fsy_log("info", "rewind", "peer=%s batch=%" PRIu64 " gapped=%" PRIu64,
            p->name, m->id, m->gapped);
    p->check_sends = true;
    p->check_from = 0;
    p->grow_off = true; /* whatever was refused goes again as configured */
    return s_sent_reset(p, &m->vv);
}

static int s_on_msg(fsy_peer_t *p, const fsy_sync_env_t *env,
                    const fsy_msg_t *m);

/*
 * A reply that cannot be sent (the peer dropped the connection, say after
 * a stall) ends the session; it restarts and the vectors resend what
 * matters, so it is a restart, not an error.
 */
int
fsy_peer_on_msg(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_msg_t *m)
{
    p->send_failed = false;
    int rc = s_on_msg(p, env, m);
    if (rc != FSY_OK && p->send_failed &&
        strncmp(fsy_errdetail(), "send:", 5) == 0) {
        s_restart(p, env,
                  "a reply could not be sent: the connection was "
                  "dropped");
        return FSY_OK;
    }
    return rc;
}

static int
s_on_msg(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_msg_t *m)
{
    p->last_rx_ms = env->now_ms;
    if (m->type == FSY_MSG_HELLO)
        return s_on_hello(p, env, m);
    if (m->type == FSY_MSG_REFUSE) {
        /* Already starting over: more refusals answer frames the old
         * session had queued (a link back from a cut delivers them all at
         * once). Restarting for each would put the HELLO off again and
         * again; the reason is kept, and logged when it changes. */
        bool again =
            p->state != FSY_PEER_LIVE && strcmp(p->last_error, m->reason) == 0;
        if (!again)
            fsy_log("warn", "refused-by-peer", "peer=%s reason=\"%s\"", p->name,
                    m->reason);
        if (p->state == FSY_PEER_LIVE)
            s_restart(p, env, "refused by the peer");
        s_error(p, m->reason);
        if (p->is_parent && m->retry_ms > 0) /* bounded: it is the peer's */
            p->retry_at_ms = env->now_ms + (m->retry_ms < FSY_RETRY_MAX_MS
                                                ? m->retry_ms
                                                : FSY_RETRY_MAX_MS);
        return FSY_OK;
    }
    /* A child talking to a parent that does not know it (the parent
     * restarted) is told to say hello, heartbeats included: otherwise both
     * would stay alive with nothing moving. */
    if (p->state != FSY_PEER_LIVE)
        return p->is_parent ? FSY_OK : s_send_refuse(p, env, "say hello first");
    if (m->type == FSY_MSG_HEARTBEAT) {
        fsy_peer_clock(p, env, m->sent_ms);
        if (p->is_parent && m->has_root &&
            fsy_store_root_delivered(env->store, &m->root) != FSY_OK)
            fsy_log("warn", "delivery", "peer=%s error=\"%s\"", p->name,
                    fsy_errdetail());
        return FSY_OK;
    }
    if (m->type == FSY_MSG_HEALTH)
        return p->is_parent || p->on_report == NULL
                   ? FSY_OK
                   : p->on_report(p->report_ctx, p, env, m);
    if (m->type == FSY_MSG_BATCH)
        return s_on_batch(p, env, m);
    if (m->type == FSY_MSG_WANT || m->type == FSY_MSG_CHUNK ||
        m->type == FSY_MSG_NOTHAVE)
        return p->on_blob == NULL ? FSY_OK : p->on_blob(p->blob_ctx, p, env, m);
    return s_on_ack(p, env, m);
}

bool
fsy_peer_tick(fsy_peer_t *p, const fsy_sync_env_t *env)
{
    const fsy_config_t *cfg = env->cfg;
    /* Told to try later: quiet until then, the reason kept on show. */
    if (p->retry_at_ms != 0) {
        if (env->now_ms < p->retry_at_ms)
            return true;
        p->retry_at_ms = p->hello_tx_ms = 0;
        p->last_rx_ms = p->last_ack_ms = env->now_ms;
    }
    /* Credit never leaks: batches unacknowledged for a whole timeout,
     * with the link otherwise alive, restart the session. */
    bool stalled = p->state == FSY_PEER_LIVE && p->pace.n > 0 &&
                   env->now_ms - p->last_ack_ms >= cfg->timeout_ms;
    if (stalled || env->now_ms - p->last_rx_ms >= cfg->timeout_ms) {
        if (!p->is_parent) {
            fsy_log("info", "timeout", "peer=%s", p->name);
            return false;
        }
        s_restart(p, env, stalled ? "batches unacknowledged" : "silence");
        p->last_rx_ms = p->last_ack_ms = env->now_ms;
        p->hello_tx_ms = 0; /* hello at once */
    }
    if (p->state != FSY_PEER_LIVE) {
        if (p->is_parent && env->now_ms - p->hello_tx_ms >= cfg->heartbeat_ms)
            s_send_hello(p, env);
    } else if (env->now_ms - p->last_tx_ms >= cfg->heartbeat_ms) {
        fsy_msg_t hb = {.type = FSY_MSG_HEARTBEAT, .sent_ms = env->now_ms};
        s_send_with_root(p, env, &hb);
    }
    fsy_ztx_idle(&p->ztx, env->now_ms); /* memory back from quiet streams */
    fsy_zrx_idle(&p->zrx, env->now_ms);
    return true;
}

void
fsy_peer_clear(fsy_peer_t *p)
{
    free(p->sent.v);
    free(p->known.v);
    fsy_ztx_free(&p->ztx);
    fsy_zrx_free(&p->zrx);
    memset(p, 0, sizeof *p);
}
