/*
 * fieldsyncd — the loop: one thread, in phases (libuv-style), each turn:
 *   1. wait for a frame (or 50 ms: new local writes are picked up by the
 *      pump below, so a write reaches a connected peer within ~50 ms)
 *   2. admit new CURVE keys (ZAP), then read every waiting frame: decode
 *      and validate it once, route it to its session (admission: a new
 *      child's slot only for a HELLO, routing ids bound to keys)
 *   3. the periodic jobs of s_jobs, each at its own period (Redis'
 *      serverCron): sessions (heartbeats, timeouts, pumps; every turn),
 *      health reports, status records, the systemd watchdog
 * Signal handlers only set a flag; the loop stops between two frames, so a
 * batch is either committed and acknowledged or neither.
 */
#include <errno.h>
#include <inttypes.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "fieldsync/query.h"
#include "fieldsync/wallclock.h"
#include "ahead.h"
#include "checkpoint.h"
#include "health.h"
#include "log.h"
#include "netwatch.h"
#include "reconfig.h"
#include "site_claim.h"
#include "z85.h"

#define FSY_WAIT_MS 50
#define FSY_READS_PER_TURN 256 /* then serve timers and pumps again */
#define FSY_STATUS_MS 1000

/* ---- sending ---------------------------------------------------------- */

static int
s_send(fsy_daemon_t *d, fsy_peer_t *p, const uint8_t *rid, size_t rid_len,
       const fsy_msg_t *m)
{
    uint8_t *buf;
    size_t len;
    int rc = fsy_wire_encode_msg(m, &buf, &len);
    if (rc == FSY_OK) {
        rc = fsy_transport_send(&d->tr, rid, rid_len, buf, len);
        free(buf);
    }
    if (rc == FSY_OK && p != NULL)
        fsy_peer_on_bytes(p, len, 0);
    return rc;
}

static int
s_send_parent(void *ctx, const fsy_msg_t *m)
{
    fsy_daemon_t *d = ctx;
    return s_send(d, &d->parent, NULL, 0, m);
}

static int
s_send_child(void *ctx, const fsy_msg_t *m)
{
    fsy_child_slot_t *c = ctx;
    return s_send(c->d, &c->peer, c->rid, c->rid_len, m);
}

static int
s_on_report(void *ctx, fsy_peer_t *p, const fsy_sync_env_t *env,
            const fsy_msg_t *m)
{
    (void)ctx;
    return fsy_health_receive(p, env, m);
}

static int
s_on_blob(void *ctx, fsy_peer_t *p, const fsy_sync_env_t *env,
          const fsy_msg_t *m)
{
    return fsy_xfer_on_msg(ctx, p, env, m);
}

/* A session's hooks: how it sends, and where its attachments go. */
static void
s_hook_peer(fsy_daemon_t *d, fsy_peer_t *p, fsy_xfer_t *x, const char *name,
            fsy_peer_send_fn send, void *send_ctx)
{
    snprintf(p->name, sizeof p->name, "%s", name);
    p->send = send;
    p->send_ctx = send_ctx;
    fsy_xfer_init(x, &d->xfer_hub);
    p->on_blob = s_on_blob;
    p->blob_ctx = x;
}

/* ---- admission -------------------------------------------------------- */

/*
 * The session of routing id rid. A new one is made only for a frame that
 * is a HELLO (hello true): anything else from an unknown id gets no slot,
 * so idle or bogus connections cannot fill the table and lock children out.
 */
static fsy_child_slot_t *
s_child_for(fsy_daemon_t *d, const uint8_t *rid, size_t rid_len, bool hello,
            const fsy_sync_env_t *env)
{
    fsy_child_slot_t *free_slot = NULL;
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++) {
        fsy_child_slot_t *c = &d->children[i];
        if (c->used && c->rid_len == rid_len &&
            memcmp(c->rid, rid, rid_len) == 0)
            return c;
        if (!c->used && free_slot == NULL)
            free_slot = c;
    }
    if (!hello)
        return NULL;
    if (free_slot == NULL) {
        static uint64_t full;
        if (fsy_log_worth(++full))
            fsy_log("warn", "children-full", "max=%d count=%" PRIu64,
                    FSY_MAX_CHILDREN, full);
        return NULL;
    }
    fsy_child_slot_t *c = free_slot;
    memset(c, 0, sizeof *c);
    c->d = d;
    c->used = true;
    memcpy(c->rid, rid, rid_len);
    c->rid_len = rid_len;
    s_hook_peer(d, &c->peer, &c->xfer, "child", s_send_child, c);
    c->peer.on_report = s_on_report;
    fsy_peer_start(&c->peer, env);
    return c;
}

/* With CURVE, a child's HELLO must name the site its key was admitted as. */
static bool
s_hello_matches(fsy_daemon_t *d, fsy_peer_t *p, const fsy_msg_t *m,
                const char *user)
{
    if (!d->curve || m->type != FSY_MSG_HELLO || p->is_parent ||
        strcmp(m->origin.site, user) == 0)
        return true;
    fsy_log("warn", "impostor", "key=%s claims=%s action=refused", user,
            m->origin.site);
    fsy_msg_t r = {.type = FSY_MSG_REFUSE};
    snprintf(r.reason, sizeof r.reason, "your key is %s's, not %s's", user,
             m->origin.site);
    p->send(p->send_ctx, &r); /* not session traffic: no heartbeat put off */
    return false;
}

/* With CURVE, a child's routing id must begin with the site its key
 * names, so no admitted child can take over another's connection. */
static bool
s_rid_ok(const fsy_daemon_t *d, const uint8_t *rid, size_t rid_len,
         const char *user)
{
    if (!d->curve)
        return true;
    size_t site_len = fsy_transport_rid_site_len(rid, rid_len);
    if (user[0] != '\0' && strlen(user) == site_len &&
        memcmp(user, rid, site_len) == 0)
        return true;
    static uint64_t seen;
    if (fsy_log_worth(++seen)) {
        char shown[FSY_RID_MAX + 1]; /* chosen by the peer: cleaned */
        snprintf(shown, sizeof shown, "%.*s", (int)rid_len, (const char *)rid);
        fsy_text_clean(shown);
        fsy_log("warn", "impostor",
                "key=%s routing_id=%s action=dropped count=%" PRIu64,
                user[0] ? user : "-", shown, seen);
    }
    return false;
}

/* A key as people see it: the first characters of its .pub file. */
static const char *
s_fingerprint(const uint8_t key[32], char out[12])
{
    char z85[41];
    if (fsy_z85_encode(z85, key, 32) != 0)
        snprintf(z85, sizeof z85, "?");
    snprintf(out, 12, "%.8s...", z85);
    return out;
}

/* ZAP: a connecting key is admitted as the [child] it is configured for. */
static int
s_admit(void *ctx, const uint8_t key[32], const char *address,
        char site[FSY_RID_MAX + 1])
{
    fsy_daemon_t *d = ctx;
    for (size_t i = 0; i < d->cfg.n_children; i++)
        if (d->cfg.children[i].public_key[0] != '\0' &&
            memcmp(d->cfg.children[i].curve_pk, key, 32) == 0) {
            fsy_reconfig_user_id(d->cfg.children[i].site, key, site,
                                 FSY_RID_MAX + 1);
            return 1;
        }
    static uint64_t seen;
    char fp[12];
    s_fingerprint(key, fp);
    if (fsy_log_worth(++seen))
        fsy_log("warn", "unknown-key",
                "key=%s address=%s action=refused count=%" PRIu64, fp, address,
                seen);
    snprintf(d->key_note, sizeof d->key_note,
             "refused a key no [child] section has (CURVE %s) from %.40s: if "
             "a child's key was regenerated, put its new .pub in its [child]",
             fp, address);
    d->key_note_ms = fsy_wall_ms();
    return 0;
}

/* How long a refused key stays on this site's own row. */
#define S_KEY_NOTE_MS (10 * 60 * 1000)

#define S_BROKEN_HANDSHAKES 3

/* The parent connection's handshakes: a key refused or mismatched is
 * said in words (status, log) instead of looking like silence. */
static void
s_parent_events(fsy_daemon_t *d)
{
    fsy_link_event_t ev;
    const char *site = fsy_store_origin(d->store)->site;
    while (fsy_transport_parent_event(&d->tr, &ev) == 1) {
        char why[300];
        if (ev == FSY_LINK_OK) {
            d->handshakes_broken = 0;
            fsy_peer_link_ok(&d->parent);
            continue;
        }
        /* A handshake broken off once is a flaky link; again and again,
         * with no refusal said, it is the parent's key. */
        if (ev == FSY_LINK_KEY_MISMATCH &&
            (++d->handshakes_broken < S_BROKEN_HANDSHAKES ||
             strstr(d->parent.last_error, "refused this site's key") != NULL))
            continue;
        if (ev == FSY_LINK_KEY_REFUSED) {
            char fp[12], fp2[12];
            snprintf(why, sizeof why,
                     "the parent refused this site's key (.pub %s, CURVE %s): "
                     "was it regenerated? copy %s's .pub to the parent's "
                     "[child %s] public_key",
                     s_fingerprint(d->id.sign_pk, fp),
                     s_fingerprint(d->id.curve_pk, fp2), site, site);
        } else
            snprintf(why, sizeof why,
                     "the parent closes every connection in the handshake: "
                     "is its key still [parent] server_public_key "
                     "(%.8s...)? if it was regenerated, copy its new .pub "
                     "here",
                     d->cfg.parent_public_key);
        fsy_peer_link_problem(&d->parent, why);
    }
}

/* A session is over: recorded so in `peers` (and for a child, `sites`). */
static void
s_session_gone(fsy_daemon_t *d, fsy_peer_t *p, const fsy_sync_env_t *env,
               const char *why)
{
    if (fsy_peer_stop(p, env, why) != FSY_OK)
        fsy_log("warn", "status", "error=\"%s\"", fsy_errdetail());
    if (!p->is_parent && p->origin.site[0] != '\0')
        fsy_store_site_disconnected(d->store, p->origin.site, p->last_rx_ms);
}

/* Ends child c's session (recorded so, with why) and frees its slot. */
static void
s_child_end(fsy_child_slot_t *c, const fsy_sync_env_t *env, const char *why)
{
    s_session_gone(c->d, &c->peer, env, why);
    fsy_xfer_reset(&c->xfer);
    fsy_peer_clear(&c->peer);
    memset(c, 0, sizeof *c);
}

/* ---- receiving: each frame decoded once, where it enters -------------- */

/* A frame that does not decode is dropped and counted; the session and
 * every other peer carry on. Another version is refused by name. The log
 * is rate-limited (the 1st, 2nd, 4th, 8th ... line): a peer sending
 * garbage in a loop must not fill the disk. */
static void
s_malformed(fsy_daemon_t *d, fsy_peer_t *p, const uint8_t *rid, size_t rid_len,
            size_t len, int rc)
{
    d->malformed++;
    if (fsy_log_worth(d->malformed)) {
        char why[256];
        snprintf(why, sizeof why, "%s", fsy_errdetail());
        fsy_text_clean(why);
        fsy_log("warn", "malformed",
                "peer=%s bytes=%zu error=\"%s\" total=%" PRIu64,
                p ? p->name : "unknown", len, why, d->malformed);
    }
    if (rc != FSY_EVERSION)
        return;
    fsy_msg_t r = {.type = FSY_MSG_REFUSE};
    snprintf(r.reason, sizeof r.reason, "%s", fsy_errdetail());
    s_send(d, p, rid, rid_len, &r);
}

/* A decoded message for session p. */
static void
s_deliver(fsy_daemon_t *d, fsy_peer_t *p, const fsy_msg_t *m, const char *user,
          const fsy_sync_env_t *env)
{
    if (!s_hello_matches(d, p, m, user))
        return;
    if (fsy_peer_on_msg(p, env, m) != FSY_OK)
        fsy_log("error", "session", "peer=%s error=\"%s\"", p->name,
                fsy_errdetail());
}

static int
s_read_parent(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    uint8_t rid[FSY_RID_MAX], *buf = NULL;
    size_t rid_len = 0, len = 0;
    fsy_frame_from_t from;
    if (!d->has_parent ||
        fsy_ahead_recv(d->ahead, &d->tr, 1, rid, &rid_len, &buf, &len, &from) !=
            FSY_OK ||
        buf == NULL)
        return 0;
    fsy_msg_t m;
    fsy_peer_on_bytes(&d->parent, 0, len);
    fsy_sync_env_t e = *env;
    e.more_waiting = fsy_ahead_waiting(d->ahead, &d->tr, 1);
    int rc = fsy_wire_decode_msg(buf, len, &m);
    if (rc == FSY_OK)
        s_deliver(d, &d->parent, &m, "", &e);
    else
        s_malformed(d, &d->parent, NULL, 0, len, rc);
    fsy_msg_clear(&m);
    free(buf);
    return 1;
}

/*
 * Only sites with a [child NAME] section are served, with or without keys
 * (insecure = true turns off encryption, not authorisation), and a HELLO
 * must come from the routing id its site sets (transport.c), so no name
 * can take another's session. Others are refused without a slot, and
 * logged at rates that fall (anyone can send these).
 */
static bool
s_child_known(fsy_daemon_t *d, const uint8_t *rid, size_t rid_len,
              const fsy_msg_t *m)
{
    const char *site = m->origin.site;
    size_t site_len = fsy_transport_rid_site_len(rid, rid_len);
    bool named = strlen(site) == site_len && memcmp(site, rid, site_len) == 0;
    if (named && fsy_config_child(&d->cfg, site) != NULL)
        return true;
    static uint64_t seen;
    if (fsy_log_worth(++seen)) {
        char clean[FSY_SITE_MAX + 1];
        snprintf(clean, sizeof clean, "%s", site);
        fsy_text_clean(clean);
        fsy_log("warn", "unknown-child",
                "site=%s action=refused why=\"%s\" count=%" PRIu64, clean,
                named ? "no [child] section" : "routing id differs", seen);
    }
    fsy_msg_t r = {.type = FSY_MSG_REFUSE};
    snprintf(r.reason, sizeof r.reason,
             named ? "this site has no [child %s] section: ask its operators "
                     "to add one"
                   : "hello from another routing id than %s's",
             site);
    s_send(d, NULL, rid, rid_len, &r);
    return false;
}

/* A frame from child rid, decoded. No session and not a HELLO: told to
 * say hello (the child then restarts). */
static void
s_from_child(fsy_daemon_t *d, const uint8_t *rid, size_t rid_len,
             const uint8_t *buf, size_t len, const fsy_frame_from_t *from,
             const fsy_sync_env_t *env)
{
    fsy_msg_t m;
    fsy_child_slot_t *gone = NULL;
    int rc = fsy_wire_decode_msg(buf, len, &m);
    bool hello = rc == FSY_OK && m.type == FSY_MSG_HELLO;
    if (hello && (!s_child_known(d, rid, rid_len, &m) ||
                  !fsy_claim_admit(d, rid, rid_len, &m, from, env, &gone))) {
        fsy_msg_clear(&m);
        return;
    }
    if (gone != NULL)
        s_child_end(gone, env, "replaced by another run of the site");
    fsy_child_slot_t *c = s_child_for(d, rid, rid_len, hello, env);
    if (c != NULL)
        fsy_peer_on_bytes(&c->peer, 0, len);
    if (c != NULL && hello)
        fsy_claim_introduce(c, &m, from, env);
    if (rc != FSY_OK) {
        s_malformed(d, c ? &c->peer : NULL, rid, rid_len, len, rc);
    } else if (c != NULL) {
        s_deliver(d, &c->peer, &m, from->user, env);
    } else {
        fsy_msg_t r = {.type = FSY_MSG_REFUSE};
        snprintf(r.reason, sizeof r.reason, "say hello first");
        s_send(d, NULL, rid, rid_len, &r);
    }
    fsy_msg_clear(&m);
}

/*
 * With CURVE, a connection keeps the key it was admitted with: once a
 * reload removes or changes that key, its frames are dropped (and the
 * sender told, now and then), so a revoked key stops at once rather than
 * at its next reconnection. from->user becomes the site alone.
 */
static bool
s_key_ok(fsy_daemon_t *d, const uint8_t *rid, size_t rid_len,
         fsy_frame_from_t *from)
{
    char site[FSY_RID_MAX + 1];
    bool ok = fsy_reconfig_key_current(&d->cfg, from->user, site, sizeof site);
    snprintf(from->user, sizeof from->user, "%s", site);
    if (ok)
        return true;
    static uint64_t seen;
    if (!fsy_log_worth(++seen))
        return false;
    fsy_log("warn", "revoked-key", "site=%s action=dropped count=%" PRIu64,
            site, seen);
    fsy_msg_t r = {.type = FSY_MSG_REFUSE};
    snprintf(r.reason, sizeof r.reason,
             "this connection's key is no longer admitted for %.32s: the "
             "parent's [child %.32s] section changed or was removed",
             site, site);
    s_send(d, NULL, rid, rid_len, &r);
    return false;
}

static int
s_read_child(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    uint8_t rid[FSY_RID_MAX], *buf = NULL;
    size_t rid_len = 0, len = 0;
    fsy_frame_from_t from;
    if (fsy_ahead_recv(d->ahead, &d->tr, 0, rid, &rid_len, &buf, &len, &from) !=
            FSY_OK ||
        buf == NULL)
        return 0;
    fsy_sync_env_t e = *env;
    e.more_waiting = fsy_ahead_waiting(d->ahead, &d->tr, 0);
    if (s_key_ok(d, rid, rid_len, &from) &&
        s_rid_ok(d, rid, rid_len, from.user))
        s_from_child(d, rid, rid_len, buf, len, &from, &e);
    free(buf);
    return 1;
}

/* Children are pumped for about this long a turn (then the next turn goes
 * on with the next one). */
#define S_PUMP_US 40000

/* Messages are read for at most this long a turn: fifty children saying
 * hello at once (each a few disk writes) are spread over turns, and
 * timers and pumps run between. */
#define S_READ_US 40000
/* Peers whose last vector from us left out lazy commits since put on
 * disk get the whole one (peer.c, fsy_peer_vv_update; a failed send is
 * tried again next time). Every turn, and as the reads run dry. */
static void
s_vv_updates(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    if (d->has_parent)
        fsy_peer_vv_update(&d->parent, env);
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++)
        if (d->children[i].used)
            fsy_peer_vv_update(&d->children[i].peer, env);
}

/* The loop's own sync of the log failed (detail set): busy, try again;
 * an I/O error, the disk may be failing (/healthz says so from now on). */
static void
s_sync_failed(fsy_daemon_t *d, int rc)
{
    bool io = rc == FSY_EIO;
    if (io)
        atomic_fetch_add(&d->disk_sync_failed, 1);
    if (fsy_log_worth(++d->sync_failures))
        fsy_log(io ? "error" : "warn", "sync",
                "error=\"%s\" count=%" PRIu64 "%s", fsy_errdetail(),
                d->sync_failures,
                io ? " note=\"every batch is committed with a disk sync from "
                     "now on: check the disk\""
                   : "");
}

/*
 * Lazy commits go on disk on the checkpointer's thread (checkpoint.h): a
 * sync of the log is asked after each commit made without one while none
 * is under way, and its end, collected here, lets the vector we give away
 * and the change feed move up (store_durable.c). The loop never waits for
 * it; should it fail, no lazy commit is promised again (the peers resend
 * them) and none is made.
 */
static void
s_lazy_sync(fsy_daemon_t *d)
{
    uint64_t point;
    fsy_wal_sync_t out;
    char why[256];
    if (d->lazy_sync_asked && fsy_checkpointer_synced(d->checkpointer, &point,
                                                      &out, why, sizeof why)) {
        d->lazy_sync_asked = false;
        if (out == FSY_WAL_SYNCED)
            d->synced_behind += fsy_store_lazy_synced(d->store, point, true);
        if (out == FSY_WAL_SYNC_FAILED) {
            fsy_store_lazy_synced(d->store, point, false);
            s_sync_failed(d, fsy_err_set(FSY_EIO, "%s", why));
        }
        /* not tried: the loop syncs itself (SQLite's own descriptor) */
        if (out == FSY_WAL_NOT_SYNCED) {
            if (fsy_log_worth(++d->sync_skipped))
                fsy_log("warn", "sync",
                        "error=\"%s\" count=%" PRIu64
                        " note=\"synced on the loop's thread instead\"",
                        why, d->sync_skipped);
            int rc = fsy_store_sync(d->store);
            if (rc != FSY_OK)
                s_sync_failed(d, rc);
            return;
        }
    }
    if (d->lazy_sync_asked || d->checkpointer == NULL)
        return;
    if (fsy_store_lazy_point(d->store, &point) != FSY_OK)
        fsy_err_clear(); /* asked again after the next commit */
    else if (point != 0) {
        fsy_checkpointer_sync(d->checkpointer, point);
        d->lazy_sync_asked = true;
    }
}

/*
 * Nothing more to read: batches committed without a disk sync go on disk
 * now (on the checkpointer's thread if there is one, else here), and the
 * peers whose ACKs left them out learn the vector that holds them
 * (store_durable.c), also when some other synced commit put them there
 * first. Should a disk sync fail, no vector ever promises them (the peers
 * resend them) and every later batch is committed with a sync.
 */
static void
s_read_done(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    unsigned lazy = fsy_store_lazy_commits(d->store);
    s_lazy_sync(d);
    /* what waits for the thread's sync is told of in a later turn; the
     * feed's end left once all is on disk goes in a small synced commit */
    int rc = d->checkpointer != NULL && fsy_store_lazy_commits(d->store) > 0
                 ? FSY_OK
                 : fsy_store_sync(d->store); /* at once if none waits */
    if (rc != FSY_OK) {
        /* busy: next time; an I/O error: the lazy commits are never
         * promised (the peers resend them) and none are made again */
        s_sync_failed(d, rc);
        return;
    }
    if (lazy > 0)
        fsy_log("debug", "sync", "lazy_commits=%u", lazy);
    s_vv_updates(d, env);
}

static void
s_read_all(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    uint64_t t0 = fsy_mono_us();
    for (int i = 0; i < FSY_READS_PER_TURN; i++) {
        if (s_read_parent(d, env) + s_read_child(d, env) == 0)
            return s_read_done(d, env);
        s_lazy_sync(d);
        d->frame_ms = env->now_ms;
        if (fsy_mono_us() - t0 >= S_READ_US)
            return;
    }
}

/* ---- periodic jobs ---------------------------------------------------- */

/* Damage found in the replica: the loop ends and main.c says what to do
 * (the daemon would send it on). */
static void
s_damaged(fsy_daemon_t *d, const char *what)
{
    fsy_log("error", "damaged", "error=\"%s\"", what);
    snprintf(d->damaged, sizeof d->damaged, "%s", what);
    /* the next start checks everything and refuses (best effort) */
    if (fsy_store_set_suspect(d->store, true) != FSY_OK)
        fsy_log("warn", "damaged", "note=\"not recorded: %s\"",
                fsy_errdetail());
}

/* What the peer lacks: changes first, then attachments' chunks. */
static void
s_pump(fsy_daemon_t *d, fsy_peer_t *p, fsy_xfer_t *x, const fsy_sync_env_t *env)
{
    int rc = fsy_peer_pump(p, env);
    if (rc == FSY_ECORRUPT)
        s_damaged(d, fsy_errdetail());
    else if (rc != FSY_OK)
        fsy_log("error", "pump", "peer=%s error=\"%s\"", p->name,
                fsy_errdetail());
    if (fsy_xfer_tick(x, p, env) != FSY_OK)
        fsy_log("error", "attachments", "peer=%s error=\"%s\"", p->name,
                fsy_errdetail());
}

/* Every turn: heartbeats and timeouts, then what each peer lacks. */
static void
s_job_sessions(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    s_vv_updates(d, env);
    if (d->has_parent) {
        fsy_peer_tick(&d->parent, env);
        s_pump(d, &d->parent, &d->parent_xfer, env);
    }
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++) {
        fsy_child_slot_t *c = &d->children[i];
        if (c->used && !fsy_peer_tick(&c->peer, env))
            s_child_end(c, env, "timeout");
        else if (c->used)
            fsy_claim_tick(c, env);
    }
    /* Pumps take turns: one starting where the last turn stopped, each
     * until the turn's time is up, so fifty children with something to
     * send share the loop and none waits long for another. */
    uint64_t t0 = fsy_mono_us();
    for (size_t k = 0; k < FSY_MAX_CHILDREN; k++) {
        size_t i = (d->pump_next + k) % FSY_MAX_CHILDREN;
        fsy_child_slot_t *c = &d->children[i];
        if (!c->used)
            continue;
        s_pump(d, &c->peer, &c->xfer, env);
        if (fsy_mono_us() - t0 >= S_PUMP_US) {
            d->pump_next = (i + 1) % FSY_MAX_CHILDREN;
            return;
        }
    }
}

/* What each session knows goes to the replica, for `fieldsync status`
 * (its own process, its own time). */
static void
s_job_status(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    /* One transaction for them all, and no disk sync: status rows are
     * rewritten within seconds, and fifty children coming back at once
     * must not hold the loop for fifty syncs. */
    if (d->parent.state == FSY_PEER_LIVE)
        d->sync_watch = false;
    int rc = fsy_store_begin_volatile(d->store);
    if (rc == FSY_OK && d->has_parent)
        rc = fsy_peer_record(&d->parent, env);
    for (size_t i = 0; rc == FSY_OK && i < FSY_MAX_CHILDREN; i++)
        if (d->children[i].used)
            rc = fsy_peer_record(&d->children[i].peer, env);
    if (rc == FSY_OK)
        rc = fsy_store_commit(d->store);
    else
        fsy_store_rollback(d->store);
    if (rc != FSY_OK)
        fsy_log("warn", "status", "error=\"%s\"", fsy_errdetail());
}

/* Our own summary, and the report upwards. */
static void
s_job_health(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    d->parent_live = d->has_parent && d->parent.state == FSY_PEER_LIVE;
    if (fsy_health_tick(d->has_parent ? &d->parent : NULL, env) != FSY_OK)
        fsy_log("warn", "health", "error=\"%s\"", fsy_errdetail());
}

/* ... and at once when the parent's session starts or ends. */
static bool
s_health_early(const fsy_daemon_t *d)
{
    return (d->has_parent && d->parent.state == FSY_PEER_LIVE) !=
           d->parent_live;
}

/* systemd (Type=notify): a one-line status for `systemctl status` with
 * each watchdog ping. */
static void
s_job_watchdog(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    unsigned live = 0;
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++)
        live += d->children[i].used &&
                fsy_peer_connected(&d->children[i].peer, env);
    sd_notifyf(0, "WATCHDOG=1\nSTATUS=parent %s, %u child session(s)",
               !d->has_parent                        ? "none"
               : fsy_peer_connected(&d->parent, env) ? "connected"
                                                     : "disconnected",
               live);
}

static uint64_t
s_every_turn(const fsy_daemon_t *d)
{
    (void)d;
    return 0;
}

static uint64_t
s_status_period(const fsy_daemon_t *d)
{
    (void)d;
    return FSY_STATUS_MS;
}

static uint64_t
s_health_period(const fsy_daemon_t *d)
{
    return d->cfg.health_ms;
}

/* Twice the rate systemd asks for; never outside systemd. */
static uint64_t
s_watchdog_period(const fsy_daemon_t *d)
{
    return d->watchdog_us == 0 ? UINT64_MAX : d->watchdog_us / 2000;
}

/* Health colours that changed run the [alert] command (alert.h). */
static void
s_job_alerts(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    fsy_alerts_reap(&d->alerts);
    /* Children reconnect within a timeout of a start: no alert for that. */
    if (env->now_ms - d->started_ms < d->cfg.timeout_ms)
        return;
    fsy_status_view_t v;
    if (fsy_status_view_load(d->store, &d->cfg, true, env->now_ms, &v) !=
        FSY_OK) {
        fsy_log("warn", "alert", "error=\"%s\"", fsy_errdetail());
        return;
    }
    fsy_alerts_check(&d->alerts, d->cfg.alert_command,
                     fsy_store_origin(d->store)->site, &v);
    fsy_status_view_free(&v);
}

static uint64_t
s_alerts_period(const fsy_daemon_t *d)
{
    return d->cfg.alert_command[0] == '\0' ? UINT64_MAX : FSY_ALERT_CHECK_MS;
}

/* The mark the next start checks from moves forward only (a check
 * begun anew re-reads what an earlier one passed). */
static void
s_verified_to(fsy_daemon_t *d, uint64_t through)
{
    /* a recovery gave positions out again since the check began: what it
     * saw there is not what is there now; the next start checks it */
    if (through <= d->verify_mark ||
        d->verify_epoch != fsy_store_log_epoch(d->store))
        return;
    if (fsy_store_set_verified(d->store, through) != FSY_OK)
        fsy_log("warn", "verify", "error=\"%s\"", fsy_errdetail());
    else
        d->verify_mark = through;
}

/* The check steps aside while sessions move data: on a two-core field
 * server a catch-up after a link comes back needs both cores (the check of
 * a 90,000-change replica took half a second of one, beside the sync). */
#define S_VERIFY_QUIET_MS 300
/* ... and begins this long after the start, whatever moves: a start's
 * sessions come up first (a handshake over a satellite link takes a few
 * round trips of 500-800 ms, and moves no data the check would see), and a
 * field office restarted after a power cut has its pending changes to send
 * (in an incremental round on loopback the check began with the field
 * office's start and took a core from HQ's apply). */
#define S_VERIFY_GRACE_MS 5000

/*
 * The whole replica, checked on a thread while the daemon runs (verify.h),
 * once a run; how far it found every change sound is recorded as it goes,
 * so the next start checks only what came after (main.c), even if this
 * run stops half-way. Damage ends the run, as it would have refused the
 * start.
 */
static void
s_job_verify(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    char why[256];
    uint64_t through;
    if (d->verifier == NULL) {
        d->verify_epoch = fsy_store_log_epoch(d->store);
        if (fsy_store_verified(d->store, &d->verify_mark) != FSY_OK ||
            fsy_verifier_start(&d->verifier, d->cfg.db, S_VERIFY_QUIET_MS,
                               S_VERIFY_GRACE_MS) != FSY_OK) {
            fsy_log("warn", "verify", "error=\"%s\"", fsy_errdetail());
            d->verify_done = true;
        }
        return;
    }
    fsy_verify_state_t st =
        fsy_verifier_poll(d->verifier, &through, why, sizeof why);
    if (st != FSY_VERIFY_DAMAGED)
        s_verified_to(d, through);
    if (st == FSY_VERIFY_RUNNING)
        return;
    fsy_verifier_stop(&d->verifier);
    d->verify_done = true;
    if (st == FSY_VERIFY_DAMAGED)
        return s_damaged(d, why);
    if (st == FSY_VERIFY_FAILED) /* not damage: the next start checks */
        fsy_log("warn", "verify", "error=\"%s\"", why);
    else
        fsy_log("info", "verified", "through=%" PRIu64 " s=%" PRIu64, through,
                (env->now_ms - d->started_ms) / 1000);
}

/* Polled twice a second while it runs. */
static uint64_t
s_verify_period(const fsy_daemon_t *d)
{
    return d->verify_done || !d->cfg.verify_at_start ? UINT64_MAX : 500;
}

/* ---- connecting now (fieldsync sync, SIGUSR1) --------------------------- */

/* A connection on its way for less than this is left to finish: a SYN
 * answered over a satellite link takes a second. */
#define S_CONNECTING_GRACE_MS 3000

/* Whether making the parent's connection again now helps: yes while
 * ZeroMQ waits out its back-off, or while an attempt hangs (its SYNs went
 * into a link that was down); no while TCP is up (the handshake and the
 * session are coming: starting over would only lose them). */
static bool
s_reconnect_helps(const fsy_daemon_t *d)
{
    uint64_t for_ms;
    fsy_conn_state_t st = fsy_transport_parent_state(&d->tr, &for_ms);
    return st == FSY_CONN_WAITING || st == FSY_CONN_UNKNOWN ||
           (st == FSY_CONN_CONNECTING && for_ms >= S_CONNECTING_GRACE_MS);
}

/*
 * The parent's connection is made again at once, whatever ZeroMQ's
 * back-off had reached, unless one is up or on its way; a live session is
 * left alone. Asked by an operator (`fieldsync sync`, SIGUSR1), a wait a
 * refusal asked for is cut short too, and the parent's status is
 * recorded at once for `fieldsync sync` to read.
 */
static fsy_sync_outcome_t
s_connect_now(fsy_daemon_t *d, const fsy_sync_env_t *env, const char *by,
              bool by_operator)
{
    if (!d->has_parent) {
        fsy_log("info", "connect-now",
                "by=\"%s\" action=none why=\"no "
                "[parent]\"",
                by);
        return FSY_SYNC_NO_PARENT;
    }
    bool live = fsy_peer_connected(&d->parent, env);
    bool reconnect = !live && s_reconnect_helps(d);
    if (by_operator || reconnect)
        fsy_log("info", "connect-now", "by=\"%s\" parent=%s action=%s", by,
                live ? "live" : "down",
                live        ? "none"
                : reconnect ? "reconnect"
                            : "wait-connecting");
    if (by_operator) {
        d->sync_watch = true;
        d->parent.recorded_ms = 0; /* recorded at the next status job */
        if (!live)
            fsy_peer_retry_now(&d->parent);
    }
    if (reconnect && fsy_transport_reconnect(&d->tr, d->cfg.parent) != FSY_OK)
        fsy_log("warn", "connect-now", "error=\"%s\"", fsy_errdetail());
    return live ? FSY_SYNC_LIVE : FSY_SYNC_CONNECTING;
}

/* A link, address or route came up (netwatch.h) while the parent is
 * away: try it now rather than at the end of the back-off, which starts
 * short again from there. News is kept while a fresh attempt is on its
 * way (it may fail); at most one reconnection a second: a link coming up
 * brings several notifications, an address then a route. */
#define S_NET_RETRY_MS 1000
static void
s_network_news(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    uint64_t for_ms;
    if (d->netwatch_fd >= 0 && fsy_netwatch_drain(d->netwatch_fd))
        d->net_news_ms = env->now_ms;
    if (d->net_news_ms == 0)
        return;
    if (!d->has_parent || fsy_peer_connected(&d->parent, env) ||
        fsy_transport_parent_state(&d->tr, &for_ms) == FSY_CONN_CONNECTED) {
        d->net_news_ms = 0; /* nothing to hurry */
        return;
    }
    if (env->now_ms - d->net_acted_ms < S_NET_RETRY_MS || !s_reconnect_helps(d))
        return;
    d->net_news_ms = 0;
    d->net_acted_ms = env->now_ms;
    s_connect_now(d, env, "network change", false);
}

/* A request from `fieldsync sync`, read from the replica. */
static void
s_job_requests(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    uint64_t asked = 0, answered = 0;
    fsy_sync_outcome_t was;
    if (fsy_store_sync_requests(d->store, &asked, &answered, &was) != FSY_OK ||
        asked <= d->sync_seen)
        return;
    d->sync_seen = asked;
    fsy_sync_outcome_t o = s_connect_now(d, env, "fieldsync sync", true);
    if (fsy_store_sync_answer(d->store, asked, o) != FSY_OK)
        fsy_log("warn", "connect-now", "error=\"%s\"", fsy_errdetail());
}

/* Often enough that `fieldsync sync` is answered at once; one read of a
 * cached page each time. */
static uint64_t
s_requests_period(const fsy_daemon_t *d)
{
    (void)d;
    return 200;
}

/* A request made while no daemon ran is answered by this start, which
 * connects anyway. */
static void
s_requests_start(fsy_daemon_t *d)
{
    uint64_t asked = 0, answered = 0;
    fsy_sync_outcome_t was;
    if (fsy_store_sync_requests(d->store, &asked, &answered, &was) != FSY_OK)
        return;
    d->sync_seen = asked;
    d->sync_watch = true;
    if (asked > answered &&
        fsy_store_sync_answer(d->store, asked,
                              d->has_parent ? FSY_SYNC_CONNECTING
                                            : FSY_SYNC_NO_PARENT) != FSY_OK)
        fsy_log("warn", "connect-now", "error=\"%s\"", fsy_errdetail());
}

/* The parent's session became live after a request: recorded now. */
static bool
s_status_early(const fsy_daemon_t *d)
{
    return d->sync_watch && d->parent.state == FSY_PEER_LIVE;
}

/* ---- the text index, behind the changes (schema 9) -------------------- */

/* A run of the index job: at most this long (and its commit), well under
 * a slow turn whatever the documents' size. */
#define S_INDEX_BUDGET_MS 20
/* The index waits while frames come (a catch-up goes first) ... */
#define S_INDEX_QUIET_MS 500
/* ... but after this long behind a busy link, it takes its share anyway
 * (20 ms each 100 ms: ~2,000 reports a second). */
#define S_INDEX_LAG_MS 10000

static void
s_job_index(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    bool more = false;
    if (env->now_ms - d->frame_ms < S_INDEX_QUIET_MS &&
        env->now_ms - d->indexed_ms < S_INDEX_LAG_MS)
        return;
    static uint64_t failed;
    if (fsy_store_index_catch_up(d->store, SIZE_MAX, S_INDEX_BUDGET_MS,
                                 &more) != FSY_OK &&
        fsy_log_worth(++failed))
        fsy_log("warn", "index", "error=\"%s\" count=%" PRIu64, fsy_errdetail(),
                failed);
    if (!more)
        d->indexed_ms = env->now_ms;
}

/* The index and checkpoint jobs look every 100 ms (each decides itself
 * whether to act). */
static uint64_t
s_every_100ms(const fsy_daemon_t *d)
{
    (void)d;
    return 100;
}

/* ---- the write-ahead log, copied into the database --------------------- */

/* SQLite copies its log into the database at a commit that leaves 1,000
 * pages (4 or 8 MB) in it: inside the turn that applies a batch, whose sender
 * then waits (an incremental round of 1,000 edited reports took 15 %
 * longer, a catch-up spent 9 % of HQ's time there). The daemon's
 * connections defer it (main.c); the checkpointer thread copies the log
 * once no changes or attachments have moved for a while (heartbeats, which
 * idle children send all the time, do not count), or once it is large
 * even while they move. */
static void
s_checkpoint_ask(fsy_daemon_t *d)
{
    unsigned kib = fsy_store_wal_kib(d->store);
    bool quiet = fsy_mono_us() / 1000 - d->moved_ms >= S_INDEX_QUIET_MS;
    /* a log the copy left (a reader kept it) is asked again only after
     * a commit changed it */
    if (kib < FSY_WAL_SOFT_KIB || kib == d->ckpt_asked ||
        (!quiet && kib < FSY_WAL_HARD_KIB / 2))
        return;
    d->ckpt_asked = kib;
    fsy_log("debug", "checkpoint", "kib=%u moving=%s", kib,
            quiet ? "no" : "yes");
    if (d->checkpointer != NULL)
        fsy_checkpointer_ask(d->checkpointer);
    else if (fsy_store_checkpoint(d->store) != FSY_OK) /* no thread */
        fsy_log("warn", "checkpoint", "error=\"%s\"", fsy_errdetail());
}

/* A log past half the limit while changes stream in is asked for at once,
 * after every commit, not every 100 ms: the thread then copies without a
 * pause, so the loop's own copy at the limit (a commit that waits for the
 * disk) finds little left to do. */
static bool
s_checkpoint_early(const fsy_daemon_t *d)
{
    /* without the thread the copy is the loop's own: every 100 ms */
    unsigned kib = fsy_store_wal_kib(d->store);
    return d->checkpointer != NULL && kib >= FSY_WAL_HARD_KIB / 2 &&
           kib != d->ckpt_asked;
}

static void
s_job_checkpoint(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    (void)env; /* quiet is measured on the monotonic clock */
    s_checkpoint_ask(d);
    if (d->checkpointer == NULL)
        return;
    char why[256];
    uint64_t failed =
        fsy_checkpointer_failures(d->checkpointer, why, sizeof why);
    if (failed > d->ckpt_failed && fsy_log_worth(failed))
        fsy_log("warn", "checkpoint", "error=\"%s\" count=%" PRIu64, why,
                failed);
    d->ckpt_failed = failed;
}

typedef struct s_job {
    const char *name;
    uint64_t (*period_ms)(const fsy_daemon_t *d);
    bool (*early)(const fsy_daemon_t *d); /* due before its period; or NULL */
    void (*run)(fsy_daemon_t *d, const fsy_sync_env_t *env);
} s_job_t;

/* In the order they run within a turn. */
static const s_job_t s_jobs[FSY_LOOP_JOBS] = {
    {"sessions", s_every_turn, NULL, s_job_sessions},
    {"health", s_health_period, s_health_early, s_job_health},
    {"status", s_status_period, s_status_early, s_job_status},
    {"watchdog", s_watchdog_period, NULL, s_job_watchdog},
    {"alerts", s_alerts_period, NULL, s_job_alerts},
    {"verify", s_verify_period, NULL, s_job_verify},
    {"requests", s_requests_period, NULL, s_job_requests},
    {"index", s_every_100ms, NULL, s_job_index},
    {"checkpoint", s_every_100ms, s_checkpoint_early, s_job_checkpoint},
};

static void
s_cron(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    for (size_t i = 0; i < FSY_LOOP_JOBS; i++) {
        const s_job_t *j = &s_jobs[i];
        uint64_t period = j->period_ms(d);
        bool due = period != UINT64_MAX && env->now_ms - d->job_ms[i] >= period;
        if (!due && (j->early == NULL || !j->early(d)))
            continue;
        d->job_ms[i] = env->now_ms;
        uint64_t t0 = fsy_mono_us();
        j->run(d, env);
        d->turn_us[1 + i] = fsy_mono_us() - t0;
    }
}

/* ---- the loop --------------------------------------------------------- */

/* Leaving: every session is over, and recorded so. */
static void
s_leave(fsy_daemon_t *d, const fsy_sync_env_t *env)
{
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++)
        if (d->children[i].used)
            s_session_gone(d, &d->children[i].peer, env, "stopping");
    if (d->has_parent)
        s_session_gone(d, &d->parent, env, "stopping");
}

/* A turn that held the loop: every neighbour waited that long. The
 * longest is a metric; one over S_SLOW_TURN_US is logged. */
#define S_SLOW_TURN_US 100000
/* This thread's processor time: a slow turn that used little of it
 * waited (the disk, other processes). */
static uint64_t
s_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
s_turn_took(fsy_daemon_t *d, uint64_t us, uint64_t cpu_us)
{
    static uint64_t slow;
    if (us > atomic_load(&d->turn_max_us))
        atomic_store(&d->turn_max_us, us);
    if (us >= S_SLOW_TURN_US && fsy_log_worth(++slow)) {
        char parts[256] = "";
        size_t n = 0;
        for (size_t i = 0; i <= FSY_LOOP_JOBS && n < sizeof parts; i++)
            if (d->turn_us[i] >= 1000)
                n += (size_t)snprintf(
                    parts + n, sizeof parts - n, " %s_ms=%" PRIu64,
                    i ? s_jobs[i - 1].name : "read", d->turn_us[i] / 1000);
        fsy_log("warn", "slow-turn",
                "ms=%" PRIu64 " cpu_ms=%" PRIu64 "%s longest_ms=%" PRIu64
                " count=%" PRIu64,
                us / 1000, cpu_us / 1000, parts,
                atomic_load(&d->turn_max_us) / 1000, slow);
    }
    memset(d->turn_us, 0, sizeof d->turn_us);
}

/* What moved (changes, attachment bytes) through any session: the
 * whole-replica check steps aside while it grows (verify.h), not for
 * heartbeats, which fifty idle children send several times a second. */
static uint64_t
s_moved(const fsy_peer_t *p, const fsy_xfer_t *x)
{
    return p->changes_sent + p->changes_received + x->in_bytes + x->out_bytes;
}

static void
s_note_traffic(fsy_daemon_t *d)
{
    uint64_t moved = d->has_parent ? s_moved(&d->parent, &d->parent_xfer) : 0;
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++)
        if (d->children[i].used)
            moved += s_moved(&d->children[i].peer, &d->children[i].xfer);
    if (moved > d->moved) { /* a session ended lowers it: nothing moved */
        fsy_verifier_traffic(d->verifier);
        d->moved_ms = fsy_mono_us() / 1000;
    }
    d->moved = moved;
}

/* Signals, between two turns: each logged, then acted on. */
static void
s_signals(fsy_daemon_t *d, fsy_signals_t *sig, const fsy_sync_env_t *env)
{
    if (sig->reload) {
        sig->reload = 0;
        fsy_log("info", "signal", "name=HUP action=reload");
        sd_notify(0, "RELOADING=1");
        fsy_reconfig_reload(d);
        for (size_t i = 0; i < FSY_MAX_CHILDREN; i++) {
            fsy_child_slot_t *c = &d->children[i];
            if (!c->used || c->end_why == NULL)
                continue;
            fsy_log("info", "session-end", "peer=%s why=\"%s\"", c->peer.name,
                    c->end_why);
            s_child_end(c, env, c->end_why);
        }
        sd_notify(0, "READY=1");
    }
    if (sig->connect) {
        sig->connect = 0;
        fsy_log("info", "signal", "name=USR1 action=connect-now");
        s_connect_now(d, env, "SIGUSR1", true);
    }
}

void
fsy_loop_run(fsy_daemon_t *d, fsy_signals_t *sig)
{
    fsy_sync_env_t env = {.store = d->store,
                          .cfg = &d->cfg,
                          .now_ms = fsy_wall_ms(),
                          .started_ms = d->started_ms,
                          .instance = d->instance};
    if (d->has_parent) {
        s_hook_peer(d, &d->parent, &d->parent_xfer, "parent", s_send_parent, d);
        d->parent.is_parent = true;
        fsy_peer_start(&d->parent, &env);
    }
    s_requests_start(d);
    if ((d->ahead = env.ahead = fsy_ahead_new(&d->tr)) == NULL)
        fsy_log("warn", "decode-ahead",
                "error=\"out of memory\" note=\"each batch is decoded in its "
                "turn\"");
    if (fsy_checkpointer_start(&d->checkpointer, d->cfg.db) != FSY_OK)
        fsy_log("warn", "checkpoint",
                "error=\"%s\" note=\"the log is copied on the loop's "
                "thread\"",
                fsy_errdetail());
    env.synced_behind = d->checkpointer != NULL;
    /* sessions come back first; the lag counts from the start (from 0,
     * it read as ten seconds behind, and the index ran beside the first
     * catch-up: a quarter of a field office's processor) */
    d->frame_ms = d->indexed_ms = d->started_ms;
    d->netwatch_fd = d->has_parent ? fsy_netwatch_open() : -1;
    if (d->has_parent && d->netwatch_fd < 0)
        fsy_log("warn", "netwatch",
                "error=\"%s\" note=\"a link coming back is noticed at the "
                "end of the reconnect back-off only\"",
                strerror(errno));
    sd_notify(0, "READY=1");
    while (!sig->stop && d->damaged[0] == '\0') {
        /* a frame read ahead is read first, without sleeping */
        fsy_transport_wait(&d->tr, fsy_ahead_held(d->ahead) ? 0 : FSY_WAIT_MS,
                           d->netwatch_fd);
        uint64_t turn = fsy_mono_us(), cpu = s_cpu_us();
        env.now_ms = fsy_wall_ms();
        atomic_store(&d->loop_ms, env.now_ms);
        fsy_transport_zap(&d->tr, s_admit, d);
        if (d->has_parent)
            s_parent_events(d);
        env.note =
            d->key_note_ms != 0 && env.now_ms - d->key_note_ms < S_KEY_NOTE_MS
                ? d->key_note
                : NULL;
        s_signals(d, sig, &env);
        s_network_news(d, &env);
        s_read_all(d, &env);
        d->turn_us[0] = fsy_mono_us() - turn;
        s_note_traffic(d); /* before the jobs that wait for quiet */
        s_cron(d, &env);
        s_turn_took(d, fsy_mono_us() - turn, s_cpu_us() - cpu);
    }
    if (sig->stop)
        fsy_log("info", "signal", "name=%s action=stop",
                sig->stop == SIGINT ? "INT" : "TERM");
    sd_notify(0, "STOPPING=1");
    if (d->netwatch_fd >= 0)
        close(d->netwatch_fd);
    d->netwatch_fd = -1;
    if (d->verifier != NULL) { /* what it found sound so far is kept */
        char why[8];
        uint64_t through;
        if (fsy_verifier_poll(d->verifier, &through, why, sizeof why) !=
            FSY_VERIFY_DAMAGED)
            s_verified_to(d, through);
        fsy_verifier_stop(&d->verifier);
    }
    fsy_checkpointer_stop(&d->checkpointer);
    s_leave(d, &env);
    fsy_ahead_counts(d->ahead, &d->ahead_taken, &d->ahead_deltas);
    fsy_ahead_free(d->ahead);
    d->ahead = NULL;
}
