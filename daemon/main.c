/*
 * fieldsyncd — the per-site daemon: syncs this site's replica with its
 * parent and its children over ZeroMQ.
 *
 * This file is start-up and shut-down: options, the configuration, the
 * replica (verified before anything is served), keys, the transport, HTTP,
 * signals. The loop itself is loop.c. Signal handlers only set s_stop; the
 * loop stops between two frames.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "fieldsync/ident.h"
#include "fieldsync/version.h"
#include "fieldsync/wallclock.h"
#include "log.h"
#include "reconfig.h"

static fsy_signals_t s_sig;

static void
s_on_signal(int sig)
{
    if (sig == SIGHUP)
        s_sig.reload = 1;
    else if (sig == SIGUSR1)
        s_sig.connect = 1;
    else
        s_sig.stop = sig;
}

/* ---- start-up --------------------------------------------------------- */

static int
s_usage(FILE *f, int rc)
{
    fprintf(f, "usage: fieldsyncd [-c CONFIG] [--check | --check-config]\n\n"
               "Runs this site's sync daemon in the foreground: keeps the "
               "replica named\nin CONFIG in sync with the parent site "
               "([parent] endpoint) and with\nchildren ([listen] endpoint). "
               "Logs go to stderr. SIGTERM or SIGINT stop it\ncleanly; SIGHUP "
               "re-reads CONFIG (children added, changed or removed take\n"
               "effect without ending other sessions); SIGUSR1 connects to "
               "the parent now.\n\n"
               "  -c, --config FILE  site configuration (default: "
               "$FIELDSYNC_CONFIG, else\n"
               "                     " FSY_DEFAULT_CONFIG ")\n"
               "      --check        check the configuration and the replica, "
               "then exit;\n"
               "                     binds nothing: it may run next to the "
               "daemon\n"
               "      --check-config check the configuration (and its key) "
               "alone, then\n"
               "                     exit: quick, for a reload\n"
               "  -h, --help         this help\n"
               "  -V, --version      print the version\n"
               "\nSee fieldsyncd(8) and fieldsync.conf(5).\n");
    return rc;
}

/* CURVE unless insecure = true: this site's key, and its parent's. */
static int
s_keys(fsy_daemon_t *d, const char *path)
{
    d->curve = !d->cfg.insecure;
    if (!d->curve)
        return 0;
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

static void
s_say_damaged(const fsy_daemon_t *d, const char *what, const char *doing)
{
    fprintf(stderr,
            "fieldsyncd: %s is damaged: %s. %s: it would send the damage to "
            "other sites. Keep the file for investigation and rebuild this "
            "site from its parent (docs/RELIABILITY.md, \"Rebuilding a "
            "site\").\n",
            d->cfg.db, what, doing);
}

/*
 * A damaged replica would send its damage to every other site: refuse to
 * run on it, and say how to rebuild it (docs/RELIABILITY.md). --check
 * verifies all of it; a start the changes added since the last check
 * (the loop checks the rest while it runs), so a restart does not wait
 * for a million checksums.
 */
static int
s_verify(fsy_daemon_t *d, bool whole)
{
    fsy_verify_report_t r;
    bool suspect = false, unmarked = false;
    if (!d->cfg.verify_at_start)
        return 0;
    /* damage seen by an earlier run: everything again, refused or cleared */
    if (!whole && fsy_store_suspect(d->store, &suspect) == FSY_OK && suspect)
        whole = true;
    /* what a start found sound is not checked again at the next, even if
     * this run stops before its whole pass gets there (the pass steps
     * aside for traffic: verify.h) */
    int rc = whole ? fsy_store_verify(d->store, &r)
                   : fsy_store_verify_new(d->store, &r, &unmarked);
    if (unmarked) /* not damage, and not a reason to stay down */
        fprintf(stderr,
                "fieldsyncd: warning: could not record how far %s was "
                "checked: %s (the next start checks the same changes)\n",
                d->cfg.db, fsy_errdetail());
    if (rc == FSY_OK && suspect)
        rc = fsy_store_set_suspect(d->store, false);
    if (rc == FSY_ECORRUPT)
        s_say_damaged(d, fsy_errdetail(), "Not starting");
    else if (rc != FSY_OK) /* busy, out of memory, I/O: not damage */
        fprintf(stderr,
                "fieldsyncd: could not verify %s: %s (try again; "
                "[site] verify_at_start = false skips the check)\n",
                d->cfg.db, fsy_errdetail());
    return rc == FSY_OK ? 0 : 1;
}

/* This run of the daemon, as its parent tells it from another machine
 * running as the same site: a routing id of its own, and "host pid N". */
static void
s_instance(fsy_daemon_t *d, const char *site)
{
    char host[64] = "";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    snprintf(d->instance, sizeof d->instance, "%.30s pid %ld", host,
             (long)getpid());
    fsy_text_clean(d->instance);
    fsy_transport_routing_id(site, d->routing_id);
}

/* [merge] whole_value_fields into the replica, where the tool reads it
 * too; a change derives the documents it affects again. */
static int
s_merge_rule(fsy_daemon_t *d, const char *path)
{
    char before[FSY_MERGE_RULE_MAX + 1];
    snprintf(before, sizeof before, "%s", fsy_store_merge_rule(d->store));
    if (fsy_store_set_whole_value_fields(d->store, d->cfg.whole_value_fields) !=
        FSY_OK)
        return fprintf(stderr, "fieldsyncd: %s: [merge]: %s\n", path,
                       fsy_errdetail()),
               1;
    if (strcmp(before, fsy_store_merge_rule(d->store)) != 0)
        fsy_log("info", "merge_rule", "was=\"%s\" now=\"%s\"", before,
                fsy_store_merge_rule(d->store));
    return 0;
}

/* The sockets; a check (--check) binds nothing: it may run next to the
 * daemon it checks the file of. */
static int
s_open_transport(fsy_daemon_t *d)
{
    fsy_transport_opts_t topts = {.listen = d->cfg.listen,
                                  .parent = d->cfg.parent,
                                  .routing_id = d->routing_id,
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
    /* The root's vector is what "at HQ" means to every site below it. */
    if (fsy_store_set_root(d->store, !d->has_parent) != FSY_OK)
        return fprintf(stderr, "fieldsyncd: %s\n", fsy_errdetail()), 1;
    return 0;
}

/* An older replica's upgrade can take minutes before the start line:
 * said on stderr, as the other words before the log is set up. */
static void
s_notice(const char *msg)
{
    fprintf(stderr, "fieldsyncd: %s\n", msg);
}

static int
s_setup(fsy_daemon_t *d, const char *path, bool check)
{
    char why[512];
    snprintf(d->config_path, sizeof d->config_path, "%s", path);
    fsy_config_defaults(&d->cfg);
    if (fsy_config_load(&d->cfg, path) != FSY_OK)
        return fprintf(stderr, "fieldsyncd: %s\n", fsy_errdetail()), 1;
    if (fsy_reconfig_check(&d->cfg, path, why, sizeof why) != 0)
        return fprintf(stderr, "fieldsyncd: %s\n", why), 1;
    /* every connection of this process: the loop's, HTTP's, the checks' */
    fsy_store_defer_checkpoints_all(FSY_WAL_HARD_KIB);
    fsy_store_on_notice(s_notice);
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
    if (s_verify(d, check) != 0 || s_keys(d, path) != 0)
        return 1;
    d->has_parent = d->cfg.parent[0] != '\0';
    if (check) /* changes nothing: not the merge rule, not the sockets */
        return 0;
    fsy_store_set_max_clock_skew(d->store, d->cfg.max_clock_skew_ms);
    fsy_store_set_max_value(d->store, d->cfg.max_value_bytes);
    if (s_merge_rule(d, path) != 0)
        return 1;
    s_instance(d, site);
    if (s_open_transport(d) != 0)
        return 1;
    fsy_log_set_site(site);
    return 0;
}

/* What only a running daemon does: logs as configured, HTTP, watchdog. */
static int
s_serve(fsy_daemon_t *d)
{
    fsy_log_configure(d->cfg.log_level, d->cfg.log_syslog);
    d->started_ms = fsy_wall_ms();
    atomic_store(&d->loop_ms, d->started_ms);
    uint64_t us = 0;
    if (sd_watchdog_enabled(0, &us) > 0)
        d->watchdog_us = us;
    if (d->cfg.http_listen[0] == '\0')
        return 0;
    fsy_http_opts_t ho = {.cfg = &d->cfg,
                          .started_ms = d->started_ms,
                          .loop_ms = &d->loop_ms,
                          .turn_max_us = &d->turn_max_us,
                          .disk_sync_failed = &d->disk_sync_failed};
    if (fsy_http_start(&d->http, &ho) != FSY_OK)
        return fprintf(stderr, "fieldsyncd: %s\n", fsy_errdetail()), 1;
    return 0;
}

/* HUP and USR1 from the first instant (a reload or a link-up hook during
 * a long start-up check must not kill the daemon: they are acted on once
 * the loop runs); TERM and INT once there is something to stop cleanly,
 * before which their default (ending at once) loses nothing. */
static void
s_signals(bool stop_too)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: interrupt the wait */
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!stop_too)
        return;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* --check-config: the file alone (and the key it names), not the replica:
 * quick enough for `systemctl reload`, whatever the replica's size. */
static int
s_check_config(fsy_daemon_t *d, const char *path)
{
    char why[512];
    fsy_config_defaults(&d->cfg);
    if (fsy_config_load(&d->cfg, path) != FSY_OK)
        return fprintf(stderr, "fieldsyncd: %s\n", fsy_errdetail()), 1;
    if (fsy_reconfig_check(&d->cfg, path, why, sizeof why) != 0)
        return fprintf(stderr, "fieldsyncd: %s\n", why), 1;
    if (s_keys(d, path) != 0)
        return 1;
    printf("%s: configuration is usable (the replica was not checked)\n", path);
    return 0;
}

/* Runs the daemon on a configuration that passed s_setup. */
static int
s_run(fsy_daemon_t *d)
{
    int rc = s_serve(d);
    if (rc != 0)
        return rc;
    s_signals(true);
    fsy_log("info", "start", "version=%s listen=%s parent=%s curve=%s http=%s",
            FSY_VERSION_STRING, d->cfg.listen[0] ? d->cfg.listen : "-",
            d->has_parent ? d->cfg.parent : "-", d->curve ? "on" : "off",
            d->cfg.http_listen[0] ? d->cfg.http_listen : "off");
    if (!d->curve)
        fsy_log("warn", "insecure",
                "msg=\"insecure = true: links are neither encrypted "
                "nor authenticated\"");
    fsy_loop_run(d, &s_sig);
    /* batches committed lazily go on disk, and the feed on past them */
    if (fsy_store_sync(d->store) != FSY_OK)
        fsy_log("warn", "sync", "error=\"%s\"", fsy_errdetail());
    fsy_log("info", "stop",
            "malformed=%" PRIu64 " lazy_commits=%" PRIu64
            " synced_behind=%" PRIu64 " decoded_ahead=%" PRIu64
            " ahead_deltas=%" PRIu64,
            d->malformed, fsy_store_lazy_total(d->store), d->synced_behind,
            d->ahead_taken, d->ahead_deltas);
    if (d->damaged[0] == '\0')
        return 0;
    s_say_damaged(d, d->damaged, "Stopped");
    return 1;
}

static void
s_teardown(fsy_daemon_t *d)
{
    fsy_http_stop(&d->http); /* first: its requests read the replica */
    fsy_peer_clear(&d->parent);
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++)
        if (d->children[i].used)
            fsy_peer_clear(&d->children[i].peer);
    fsy_transport_close(&d->tr);
    fsy_alerts_free(&d->alerts);
    fsy_store_close(&d->store);
    fsy_identity_wipe(&d->id);
    fsy_config_free(&d->cfg);
}

enum { S_RUN, S_CHECK, S_CHECK_CONFIG };

/* The options: 0, or the exit status (help, version, a usage error). */
static int
s_options(int argc, char **argv, const char **config, int *mode)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check"))
            *mode = S_CHECK;
        else if (!strcmp(argv[i], "--check-config"))
            *mode = S_CHECK_CONFIG;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return s_usage(stdout, 0), -1;
        else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version"))
            return printf("fieldsyncd %s\n", FSY_VERSION_STRING), -1;
        else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
                 i + 1 < argc)
            *config = argv[++i];
        else
            return fprintf(stderr, "fieldsyncd: unexpected '%s'\n", argv[i]),
                   s_usage(stderr, 2);
    }
    bool from_env = false;
    if (*config == NULL &&
        access(*config = fsy_config_default_path(&from_env), F_OK) != 0) {
        fprintf(stderr,
                "fieldsyncd: no configuration at %s%s: give -c FILE, or "
                "create it (examples: /usr/share/doc/fieldsync/examples)\n",
                *config, from_env ? " ($FIELDSYNC_CONFIG)" : "");
        return s_usage(stderr, 2);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    const char *config = NULL;
    int mode = S_RUN;
    s_signals(false);
    int rc = s_options(argc, argv, &config, &mode);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    static fsy_daemon_t d; /* large: the children table */
    if (mode == S_CHECK_CONFIG)
        rc = s_check_config(&d, config);
    else if ((rc = s_setup(&d, config, mode == S_CHECK)) == 0 &&
             mode == S_CHECK)
        printf("%s: configuration and replica are usable\n", config);
    else if (rc == 0)
        rc = s_run(&d);
    s_teardown(&d);
    return rc;
}
