/*
 * fieldsyncd — the per-site daemon: syncs this site's replica with its
 * parent and its children over ZeroMQ.
 *
 * One thread, one loop, in phases (libuv-style):
 *   1. wait for a frame (or 50 ms: new local writes are picked up by the
 *      pump below, so a write reaches a connected peer within ~50 ms)
 *   2. read every waiting frame, decode and validate it, hand it to its
 *      peer's session (peer.c)
 *   3. per peer: heartbeats and timeouts, then pump what the peer lacks
 * Signal handlers only set a flag; the loop stops between two frames, so a
 * batch is either committed and acknowledged or neither.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "fieldsync/config.h"
#include "fieldsync/wallclock.h"
#include "fieldsync/keys.h"
#include "fieldsync/store.h"
#include "fieldsync/version.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "peer.h"
#include "transport.h"

#define FSY_MAX_CHILDREN 256
#define FSY_WAIT_MS 50
#define FSY_READS_PER_TURN 256 /* then serve timers and pumps again */
#define FSY_STATUS_MS 1000

typedef struct s_daemon s_daemon_t;

typedef struct s_child {
    s_daemon_t *d;
    bool used;
    uint8_t rid[FSY_RID_MAX];
    size_t rid_len;
    fsy_peer_t peer;
} s_child_t;

struct s_daemon {
    fsy_config_t cfg;
    bool curve;        /* links encrypted and authenticated */
    fsy_identity_t id; /* this site's keys (with CURVE) */
    uint8_t parent_curve_pk[32];
    fsy_store_t *store;
    fsy_transport_t tr;
    bool has_parent;
    fsy_peer_t parent;
    s_child_t children[FSY_MAX_CHILDREN];
    uint64_t malformed;
    uint64_t started_ms;
    _Atomic uint64_t loop_ms; /* last turn of the loop, for /healthz */
    fsy_http_t *http;
    uint64_t watchdog_us; /* systemd's WatchdogSec, 0 if none */
    uint64_t watchdog_ms; /* last WATCHDOG=1 sent */
    uint64_t health_ms;   /* last health tick */
};

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* ---- sending ---------------------------------------------------------- */

static int
s_send(s_daemon_t *d, fsy_peer_t *p, const uint8_t *rid, size_t rid_len,
       const fsy_msg_t *m)
{
    uint8_t *buf;
    size_t len;
    int rc = fsy_wire_encode_msg(m, &buf, &len);
    if (rc == FSY_OK) {
        rc = fsy_transport_send(&d->tr, rid, rid_len, buf, len);
        free(buf);
    }
    if (rc == FSY_OK)
        p->bytes_sent += len;
    return rc;
}

static int
s_send_parent(void *ctx, const fsy_msg_t *m)
{
    s_daemon_t *d = ctx;
    return s_send(d, &d->parent, NULL, 0, m);
}

static int
s_send_child(void *ctx, const fsy_msg_t *m)
{
    s_child_t *c = ctx;
    return s_send(c->d, &c->peer, c->rid, c->rid_len, m);
}

/* ---- receiving -------------------------------------------------------- */

/* A refused peer retries every few hundred ms: log the 1st, 2nd, 4th, 8th
 * ... time, so the log shows it without being flooded. */
static bool
s_worth_logging(uint64_t n)
{
    return (n & (n - 1)) == 0;
}

/*
 * The session of routing id rid. A new one is made only for a frame that
 * is a HELLO (hello true): anything else from an unknown id gets no slot,
 * so idle or bogus connections cannot fill the table and lock children out.
 */
static s_child_t *
s_child_for(s_daemon_t *d, const uint8_t *rid, size_t rid_len, bool hello,
            const fsy_sync_env_t *env)
{
    s_child_t *free_slot = NULL;
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++) {
        s_child_t *c = &d->children[i];
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
        if (s_worth_logging(++full))
            fsy_log("warn", "children-full", "max=%d count=%" PRIu64,
                    FSY_MAX_CHILDREN, full);
        return NULL;
    }
    s_child_t *c = free_slot;
    memset(c, 0, sizeof *c);
    c->d = d;
    c->used = true;
    memcpy(c->rid, rid, rid_len);
    c->rid_len = rid_len;
    snprintf(c->peer.name, sizeof c->peer.name, "child");
    c->peer.send = s_send_child;
    c->peer.send_ctx = c;
    fsy_peer_start(&c->peer, env);
    return c;
}

/* A frame that does not decode is dropped and counted; the session and
 * every other peer carry on. */
/* With CURVE, a child's HELLO must name the site its key was admitted as. */
static bool
s_hello_matches(s_daemon_t *d, fsy_peer_t *p, const fsy_msg_t *m,
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
    p->send(p->send_ctx, &r);
    return false;
}

static void
s_dispatch(s_daemon_t *d, fsy_peer_t *p, const uint8_t *buf, size_t len,
           const char *user, const fsy_sync_env_t *env)
{
    fsy_msg_t m;
    p->bytes_received += len;
    int rc = fsy_wire_decode_msg(buf, len, &m);
    if (rc != FSY_OK) {
        d->malformed++;
        fsy_log("warn", "malformed",
                "peer=%s bytes=%zu error=\"%s\" "
                "total=%" PRIu64,
                p->name, len, fsy_errdetail(), d->malformed);
        if (rc == FSY_EVERSION) {
            fsy_msg_t r = {.type = FSY_MSG_REFUSE};
            snprintf(r.reason, sizeof r.reason, "%s", fsy_errdetail());
            p->send(p->send_ctx, &r);
        }
        return;
    }
    rc = s_hello_matches(d, p, &m, user) ? fsy_peer_on_msg(p, env, &m) : FSY_OK;
    if (rc != FSY_OK)
        fsy_log("error", "session", "peer=%s error=\"%s\"", p->name,
                fsy_errdetail());
    fsy_msg_clear(&m);
}

/* With CURVE, a child's routing id must be the site its key names, so no
 * admitted child can take over another's connection. */
static bool
s_rid_ok(const s_daemon_t *d, const uint8_t *rid, size_t rid_len,
         const char *user)
{
    if (!d->curve)
        return true;
    if (user[0] != '\0' && strlen(user) == rid_len &&
        memcmp(user, rid, rid_len) == 0)
        return true;
    static uint64_t seen;
    if (s_worth_logging(++seen))
        fsy_log("warn", "impostor",
                "key=%s routing_id=%.*s action=dropped count=%" PRIu64,
                user[0] ? user : "-", (int)rid_len, (const char *)rid, seen);
    return false;
}

static int
s_read_parent(s_daemon_t *d, const fsy_sync_env_t *env)
{
    uint8_t rid[FSY_RID_MAX], *buf = NULL;
    size_t rid_len = 0, len = 0;
    char user[FSY_RID_MAX + 1];
    if (!d->has_parent ||
        fsy_transport_recv(&d->tr, 1, rid, &rid_len, &buf, &len, user) !=
            FSY_OK ||
        buf == NULL)
        return 0;
    s_dispatch(d, &d->parent, buf, len, "", env);
    free(buf);
    return 1;
}

static bool
s_is_hello(const uint8_t *buf, size_t len)
{
    fsy_msg_t m;
    if (fsy_wire_decode_msg(buf, len, &m) != FSY_OK)
        return false;
    bool hello = m.type == FSY_MSG_HELLO;
    fsy_msg_clear(&m);
    return hello;
}

/* A frame from an id with no session makes no session: a bad one is
 * counted and logged; another version is refused by name; anything else
 * is told to say hello (the child then restarts). */
static void
s_refuse_unknown(s_daemon_t *d, const uint8_t *rid, size_t rid_len,
                 const uint8_t *frame, size_t frame_len)
{
    fsy_msg_t r = {.type = FSY_MSG_REFUSE}, m;
    int rc = fsy_wire_decode_msg(frame, frame_len, &m);
    fsy_msg_clear(&m);
    if (rc != FSY_OK && s_worth_logging(++d->malformed))
        fsy_log("warn", "malformed",
                "peer=unknown bytes=%zu error=\"%s\" "
                "total=%" PRIu64,
                frame_len, fsy_errdetail(), d->malformed);
    if (rc != FSY_OK && rc != FSY_EVERSION)
        return;
    snprintf(r.reason, sizeof r.reason, "%s",
             rc == FSY_EVERSION ? fsy_errdetail() : "say hello first");
    uint8_t *buf;
    size_t len;
    if (fsy_wire_encode_msg(&r, &buf, &len) != FSY_OK)
        return;
    fsy_transport_send(&d->tr, rid, rid_len, buf, len);
    free(buf);
}

static int
s_read_child(s_daemon_t *d, const fsy_sync_env_t *env)
{
    uint8_t rid[FSY_RID_MAX], *buf = NULL;
    size_t rid_len = 0, len = 0;
    char user[FSY_RID_MAX + 1];
    if (fsy_transport_recv(&d->tr, 0, rid, &rid_len, &buf, &len, user) !=
            FSY_OK ||
        buf == NULL)
        return 0;
    if (s_rid_ok(d, rid, rid_len, user)) {
        s_child_t *c = s_child_for(d, rid, rid_len, s_is_hello(buf, len), env);
        if (c != NULL)
            s_dispatch(d, &c->peer, buf, len, user, env);
        else
            s_refuse_unknown(d, rid, rid_len, buf, len);
    }
    free(buf);
    return 1;
}

static void
s_read_all(s_daemon_t *d, const fsy_sync_env_t *env)
{
    for (int i = 0; i < FSY_READS_PER_TURN; i++)
        if (s_read_parent(d, env) + s_read_child(d, env) == 0)
            return;
}

/* ZAP: a connecting key is admitted as the [child] it is configured for. */
static int
s_admit(void *ctx, const uint8_t key[32], char site[FSY_RID_MAX + 1])
{
    const s_daemon_t *d = ctx;
    for (size_t i = 0; i < d->cfg.n_children; i++)
        if (d->cfg.children[i].public_key[0] != '\0' &&
            memcmp(d->cfg.children[i].curve_pk, key, 32) == 0) {
            snprintf(site, FSY_RID_MAX + 1, "%s", d->cfg.children[i].site);
            return 1;
        }
    static uint64_t seen;
    if (s_worth_logging(++seen))
        fsy_log("warn", "unknown-key", "action=refused count=%" PRIu64, seen);
    return 0;
}

/* ---- the loop --------------------------------------------------------- */

/* A child's session is over: recorded so in `peers` and `sites`. */
static void
s_child_gone(s_daemon_t *d, s_child_t *c, const fsy_sync_env_t *env)
{
    c->peer.state = FSY_PEER_WAIT_HELLO;
    fsy_peer_record(&c->peer, env);
    if (c->peer.origin.site[0] != '\0')
        fsy_store_site_disconnected(d->store, c->peer.origin.site,
                                    c->peer.last_rx_ms);
}

static void
s_serve_peers(s_daemon_t *d, const fsy_sync_env_t *env)
{
    if (d->has_parent) {
        fsy_peer_tick(&d->parent, env);
        if (fsy_peer_pump(&d->parent, env) != FSY_OK)
            fsy_log("error", "pump", "peer=parent error=\"%s\"",
                    fsy_errdetail());
    }
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++) {
        s_child_t *c = &d->children[i];
        if (!c->used)
            continue;
        if (!fsy_peer_tick(&c->peer, env)) {
            s_child_gone(d, c, env);
            fsy_peer_clear(&c->peer);
            c->used = false;
            continue;
        }
        if (fsy_peer_pump(&c->peer, env) != FSY_OK)
            fsy_log("error", "pump", "peer=%s error=\"%s\"", c->peer.name,
                    fsy_errdetail());
    }
}

/* Every second: what each session knows goes to the replica, for
 * `fieldsync status` (its own process, its own time). */
static void
s_record_status(s_daemon_t *d, const fsy_sync_env_t *env)
{
    int rc = FSY_OK;
    if (d->has_parent)
        rc = fsy_peer_record(&d->parent, env);
    for (size_t i = 0; rc == FSY_OK && i < FSY_MAX_CHILDREN; i++)
        if (d->children[i].used)
            rc = fsy_peer_record(&d->children[i].peer, env);
    if (rc != FSY_OK)
        fsy_log("warn", "status", "error=\"%s\"", fsy_errdetail());
}

/* Every [sync] health_ms, and as soon as the parent says hello: our own
 * summary, and the report upwards. */
static void
s_health(s_daemon_t *d, const fsy_sync_env_t *env, bool *parent_live)
{
    bool live = d->has_parent && d->parent.state == FSY_PEER_LIVE;
    bool due = env->now_ms - d->health_ms >= d->cfg.health_ms;
    if (!due && live == *parent_live)
        return;
    *parent_live = live;
    d->health_ms = env->now_ms;
    if (fsy_health_tick(d->has_parent ? &d->parent : NULL, env) != FSY_OK)
        fsy_log("warn", "health", "error=\"%s\"", fsy_errdetail());
}

/* Leaving: every session is over, and recorded so. */
static void
s_leave(s_daemon_t *d, const fsy_sync_env_t *env)
{
    d->parent.state = FSY_PEER_WAIT_HELLO;
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++)
        if (d->children[i].used)
            s_child_gone(d, &d->children[i], env);
    s_record_status(d, env);
}

/* systemd (Type=notify): a watchdog ping at twice the rate it asks for,
 * and a one-line status for `systemctl status`. No-ops outside systemd. */
static void
s_notify(s_daemon_t *d, const fsy_sync_env_t *env)
{
    if (d->watchdog_us == 0 ||
        (env->now_ms - d->watchdog_ms) * 1000 < d->watchdog_us / 2)
        return;
    d->watchdog_ms = env->now_ms;
    unsigned live = 0;
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++)
        live +=
            d->children[i].used && d->children[i].peer.state == FSY_PEER_LIVE;
    sd_notifyf(0, "WATCHDOG=1\nSTATUS=parent %s, %u child session(s)",
               !d->has_parent                     ? "none"
               : d->parent.state == FSY_PEER_LIVE ? "connected"
                                                  : "disconnected",
               live);
}

static void
s_run(s_daemon_t *d)
{
    fsy_sync_env_t env = {d->store, &d->cfg, fsy_wall_ms(), d->started_ms};
    if (d->has_parent) {
        snprintf(d->parent.name, sizeof d->parent.name, "parent");
        d->parent.is_parent = true;
        d->parent.send = s_send_parent;
        d->parent.send_ctx = d;
        fsy_peer_start(&d->parent, &env);
    }
    uint64_t recorded = 0;
    bool parent_live = false;
    sd_notify(0, "READY=1");
    while (!s_stop) {
        fsy_transport_wait(&d->tr, FSY_WAIT_MS);
        env.now_ms = fsy_wall_ms();
        atomic_store(&d->loop_ms, env.now_ms);
        fsy_transport_zap(&d->tr, s_admit, d);
        s_read_all(d, &env);
        s_serve_peers(d, &env);
        s_health(d, &env, &parent_live);
        if (env.now_ms - recorded >= FSY_STATUS_MS) {
            s_record_status(d, &env);
            recorded = env.now_ms;
        }
        s_notify(d, &env);
    }
    sd_notify(0, "STOPPING=1");
    s_leave(d, &env);
}

/* ---- start-up --------------------------------------------------------- */

static int
s_usage(FILE *f, int rc)
{
    fprintf(f, "usage: fieldsyncd -c CONFIG\n\n"
               "Runs this site's sync daemon in the foreground: keeps the "
               "replica named\nin CONFIG in sync with the parent site "
               "([parent] endpoint) and with\nchildren ([listen] endpoint). "
               "Logs go to stderr; SIGTERM or SIGINT\nstop it cleanly.\n\n"
               "  -c, --config FILE  site configuration (see config/*.conf)\n"
               "      --check        check the configuration and the replica, "
               "then exit\n"
               "  -h, --help         this help\n"
               "  -V, --version      print the version\n");
    return rc;
}

/* CURVE unless insecure = true: this site's key, and its parent's. */
static int
s_keys(s_daemon_t *d, const char *path)
{
    d->curve = !d->cfg.insecure;
    if (!d->curve)
        return 0;
    if (d->cfg.secret_key_file[0] == '\0')
        return fprintf(stderr,
                       "fieldsyncd: %s: no [site] secret_key_file: "
                       "create one with 'fieldsync keygen -o NAME' (or set "
                       "insecure = true to run without encryption)\n",
                       path),
               1;
    if (fsy_identity_load(d->cfg.secret_key_file, &d->id) != FSY_OK)
        return fprintf(stderr, "fieldsyncd: %s\n", fsy_errdetail()), 1;
    if (d->cfg.parent[0] != '\0' &&
        fsy_public_key_parse(d->cfg.parent_public_key, NULL,
                             d->parent_curve_pk) != FSY_OK)
        return fprintf(stderr,
                       "fieldsyncd: %s: [parent] server_public_key "
                       "is required with CURVE: the parent's .pub file\n",
                       path),
               1;
    return 0;
}

/* A damaged replica would send its damage to every other site: refuse to
 * run on it, and say how to rebuild it (docs/RELIABILITY.md). */
static int
s_verify(s_daemon_t *d)
{
    fsy_verify_report_t r;
    if (!d->cfg.verify_at_start)
        return 0;
    int rc = fsy_store_verify(d->store, &r);
    if (rc == FSY_ECORRUPT)
        fprintf(stderr,
                "fieldsyncd: %s is damaged: %s. Not starting: it would send "
                "the damage to other sites. Keep the file for investigation "
                "and rebuild this site from its parent (docs/RELIABILITY.md, "
                "\"Rebuilding a site\").\n",
                d->cfg.db, fsy_errdetail());
    else if (rc != FSY_OK) /* busy, out of memory, I/O: not damage */
        fprintf(stderr,
                "fieldsyncd: could not verify %s: %s (try again; "
                "[site] verify_at_start = false skips the check)\n",
                d->cfg.db, fsy_errdetail());
    return rc == FSY_OK ? 0 : 1;
}

static int
s_setup(s_daemon_t *d, const char *path)
{
    fsy_config_defaults(&d->cfg);
    if (fsy_config_load(&d->cfg, path) != FSY_OK)
        return fprintf(stderr, "fieldsyncd: %s\n", fsy_errdetail()), 1;
    if (d->cfg.db[0] == '\0')
        return fprintf(stderr, "fieldsyncd: %s: [site] db is required\n", path),
               1;
    if (d->cfg.timeout_ms <= 2 * d->cfg.heartbeat_ms)
        return fprintf(stderr,
                       "fieldsyncd: %s: [sync] timeout_ms must be "
                       "more than twice heartbeat_ms, or idle sessions would "
                       "restart forever\n",
                       path),
               1;
    if (d->cfg.listen[0] == '\0' && d->cfg.parent[0] == '\0')
        return fprintf(stderr,
                       "fieldsyncd: %s: neither [listen] nor "
                       "[parent]: nothing to sync with\n",
                       path),
               1;
    if (fsy_store_open(&d->store, d->cfg.db) != FSY_OK)
        return fprintf(stderr,
                       "fieldsyncd: %s (create it with 'fieldsync "
                       "--db %s init --site SITE')\n",
                       fsy_errdetail(), d->cfg.db),
               1;
    const char *site = fsy_store_origin(d->store)->site;
    if (d->cfg.site_id[0] && strcmp(d->cfg.site_id, site) != 0)
        return fprintf(stderr,
                       "fieldsyncd: %s: [site] id is %s but the "
                       "replica belongs to %s\n",
                       path, d->cfg.site_id, site),
               1;
    if (s_verify(d) != 0 || s_keys(d, path) != 0)
        return 1;
    fsy_store_set_max_clock_skew(d->store, d->cfg.max_clock_skew_ms);
    fsy_store_set_max_value(d->store, d->cfg.max_value_bytes);
    fsy_transport_opts_t topts = {.listen = d->cfg.listen,
                                  .parent = d->cfg.parent,
                                  .site = site,
                                  .reconnect_ms = d->cfg.reconnect_ms,
                                  .reconnect_max_ms = d->cfg.reconnect_max_ms,
                                  .heartbeat_ms = d->cfg.heartbeat_ms,
                                  .timeout_ms = d->cfg.timeout_ms,
                                  .max_message_bytes = d->cfg.max_message_bytes,
                                  .curve = d->curve,
                                  .curve_pk = d->id.curve_pk,
                                  .curve_sk = d->id.curve_sk,
                                  .parent_curve_pk = d->parent_curve_pk};
    if (fsy_transport_open(&d->tr, &topts))
        return fprintf(stderr, "fieldsyncd: %s\n", fsy_errdetail()), 1;
    d->has_parent = d->cfg.parent[0] != '\0';
    fsy_log_set_site(site);
    return 0;
}

/* What only a running daemon does: logs as configured, HTTP, watchdog. */
static int
s_serve(s_daemon_t *d)
{
    fsy_log_configure(d->cfg.log_level, d->cfg.log_syslog);
    d->started_ms = fsy_wall_ms();
    atomic_store(&d->loop_ms, d->started_ms);
    uint64_t us = 0;
    if (sd_watchdog_enabled(0, &us) > 0)
        d->watchdog_us = us;
    if (d->cfg.http_listen[0] == '\0')
        return 0;
    fsy_http_opts_t ho = {
        .cfg = &d->cfg, .started_ms = d->started_ms, .loop_ms = &d->loop_ms};
    if (fsy_http_start(&d->http, &ho) != FSY_OK)
        return fprintf(stderr, "fieldsyncd: %s\n", fsy_errdetail()), 1;
    return 0;
}

static void
s_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: interrupt the wait */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void
s_teardown(s_daemon_t *d)
{
    fsy_http_stop(&d->http); /* first: its requests read the replica */
    fsy_peer_clear(&d->parent);
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++)
        if (d->children[i].used)
            fsy_peer_clear(&d->children[i].peer);
    fsy_transport_close(&d->tr);
    fsy_store_close(&d->store);
    fsy_identity_wipe(&d->id);
    fsy_config_free(&d->cfg);
}

int
main(int argc, char **argv)
{
    const char *config = NULL;
    bool check = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check")) {
            check = true;
            continue;
        }
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return s_usage(stdout, 0);
        if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version"))
            return printf("fieldsyncd %s\n", FSY_VERSION_STRING), 0;
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
            i + 1 < argc)
            config = argv[++i];
        else
            return fprintf(stderr, "fieldsyncd: unexpected '%s'\n", argv[i]),
                   s_usage(stderr, 2);
    }
    if (config == NULL)
        return s_usage(stderr, 2);
    static s_daemon_t d; /* large: the children table */
    int rc = s_setup(&d, config);
    if (rc == 0 && check)
        printf("%s: configuration and replica are usable\n", config);
    else if (rc == 0 && (rc = s_serve(&d)) == 0) {
        s_signals();
        fsy_log("info", "start",
                "version=%s listen=%s parent=%s curve=%s http=%s",
                FSY_VERSION_STRING, d.cfg.listen[0] ? d.cfg.listen : "-",
                d.has_parent ? d.cfg.parent : "-", d.curve ? "on" : "off",
                d.cfg.http_listen[0] ? d.cfg.http_listen : "off");
        if (!d.curve)
            fsy_log("warn", "insecure",
                    "msg=\"insecure = true: links are neither encrypted "
                    "nor authenticated\"");
        s_run(&d);
        fsy_log("info", "stop", "malformed=%" PRIu64, d.malformed);
    }
    s_teardown(&d);
    return rc;
}
