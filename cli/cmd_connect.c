/*
 * fieldsync CLI — sync: asks the daemon running on this replica to
 * connect to its parent now (not at the end of its reconnect back-off,
 * which may have reached minutes after a long cut), and waits until the
 * session is live. The request travels through the replica (the daemon
 * reads it within 0.2 s); the answer is the parent's status row, which the
 * daemon records as soon as the session is live.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "fieldsync/wallclock.h"

static const char s_usage[] =
    "fieldsync sync [--timeout SECONDS] [--no-wait] [--json]";

static const char s_help[] =
    "Asks fieldsyncd, running on this replica, to connect to its parent at\n"
    "once instead of waiting out its reconnect back-off (after a long cut\n"
    "it may wait minutes), and waits until the session is live. Use it when\n"
    "the satellite link has just come back. A session already live is left\n"
    "alone.\n"
    "\n"
    "  --timeout SECONDS  how long to wait for the session (default 30)\n"
    "  --no-wait          record the request and return at once\n"
    "  --json             print {\"parent\", \"live\", \"seconds\", "
    "\"error\"}\n"
    "\n"
    "Exit status: 0 live; 1 not live in time (the reason is the parent\n"
    "session's last error), or no daemon answered.\n"
    "\n"
    "Example:\n"
    "  fieldsync -c /etc/fieldsync/fieldsync.conf sync --timeout 60\n";

/* No daemon answering within this long: none runs on this replica. */
#define S_ANSWER_MS 5000
#define S_POLL_MS 100

typedef struct s_wait {
    uint64_t token, timeout_ms;
    uint64_t before_ms; /* the parent row's updated_ms before the request */
    bool answered, live, fresh, no_parent;
    char parent[FSY_SITE_MAX + 1];
    char error[512];
} s_wait_t;

static void
s_sleep_ms(unsigned ms)
{
    struct timespec t = {0, (long)ms * 1000000L};
    nanosleep(&t, NULL);
}

/* The parent's row: its name, last error and times; false if none. */
static int
s_parent_row(fsy_store_t *s, s_wait_t *w, bool *connected, uint64_t *updated)
{
    fsy_peer_status_t *v = NULL;
    size_t n = 0;
    int rc = fsy_store_peers(s, &v, &n);
    *connected = false;
    *updated = 0;
    for (size_t i = 0; rc == FSY_OK && i < n; i++) {
        if (strcmp(v[i].role, "parent") != 0)
            continue;
        snprintf(w->parent, sizeof w->parent, "%s", v[i].name);
        snprintf(w->error, sizeof w->error, "%s", v[i].last_error);
        *connected = v[i].connected;
        *updated = v[i].updated_ms;
    }
    fsy_peer_status_free(v, n);
    return rc;
}

/* One look at the replica: answered yet? the parent's row, if written
 * since the request. */
static int
s_look(fsy_store_t *s, s_wait_t *w)
{
    uint64_t asked = 0, answered = 0, updated = 0;
    bool connected = false;
    fsy_sync_outcome_t outcome;
    int rc = fsy_store_sync_requests(s, &asked, &answered, &outcome);
    if (rc == FSY_OK && answered >= w->token) {
        w->answered = true;
        w->no_parent = outcome == FSY_SYNC_NO_PARENT;
    }
    if (rc == FSY_OK && w->answered)
        rc = s_parent_row(s, w, &connected, &updated);
    w->fresh = updated != 0 && updated != w->before_ms;
    w->live = w->fresh && connected;
    return rc;
}

static int
s_wait(const fsy_cli_t *cli, fsy_store_t *s, s_wait_t *w, uint64_t *took)
{
    uint64_t t0 = fsy_mono_us() / 1000;
    for (;;) {
        fsy_err_clear();
        int rc = s_look(s, w);
        *took = fsy_mono_us() / 1000 - t0;
        if (rc != FSY_OK)
            return fsy_cli_fail(cli, rc);
        if (w->live || w->no_parent || *took >= w->timeout_ms)
            return FSY_EXIT_OK;
        if (!w->answered && *took >= S_ANSWER_MS)
            return FSY_EXIT_OK;
        s_sleep_ms(S_POLL_MS);
    }
}

/* Why it is not live, in words, into w->error. */
static void
s_why(const fsy_cli_t *cli, s_wait_t *w, uint64_t took)
{
    char why[512];
    if (!w->answered)
        snprintf(why, sizeof why,
                 "no fieldsyncd answered within %.0f s: is it running on "
                 "%.200s, or still checking its replica at start? "
                 "(systemctl status fieldsyncd)",
                 took / 1e3, cli->db);
    else if (w->no_parent)
        snprintf(why, sizeof why,
                 "this site's daemon has no [parent]: there is nothing to "
                 "connect to (headquarters, or a configuration without "
                 "[parent] endpoint)");
    else if (w->parent[0] == '\0')
        snprintf(why, sizeof why,
                 "the daemon recorded no parent session yet: 'fieldsync "
                 "status' and its log say why");
    else if (!w->fresh || w->error[0] == '\0')
        snprintf(why, sizeof why,
                 "not live after %.0f s (no error recorded since the "
                 "request: 'fieldsync status' shows the session)",
                 took / 1e3);
    else
        snprintf(why, sizeof why, "not live after %.0f s: %.200s", took / 1e3,
                 w->error);
    snprintf(w->error, sizeof w->error, "%s", why);
}

static int
s_report(const fsy_cli_t *cli, s_wait_t *w, uint64_t took, bool json)
{
    if (!w->live)
        s_why(cli, w, took);
    else
        w->error[0] = '\0';
    if (json) {
        cJSON *root = cJSON_CreateObject();
        bool ok = fsy_cli_jstr(root, "parent", w->parent) &&
                  fsy_cli_jbool(root, "live", w->live) &&
                  fsy_cli_jnum(root, "seconds", (double)took / 1e3) &&
                  fsy_cli_jstr(root, "error", w->error);
        int rc = fsy_cli_json_print(cli, root, ok);
        return rc != FSY_EXIT_OK ? rc : w->live ? FSY_EXIT_OK : FSY_EXIT_FAIL;
    }
    if (!w->live)
        return fsy_cli_failf(cli, "%s", w->error);
    printf("live with parent %s (%.1f s)\n", w->parent, (double)took / 1e3);
    return FSY_EXIT_OK;
}

static int
s_options(fsy_cli_t *cli, int argc, char **argv, s_wait_t *w, bool *no_wait,
          bool *json)
{
    enum { OPT_JSON = 256, OPT_TIMEOUT, OPT_NO_WAIT };
    static const struct option opts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"no-wait", no_argument, NULL, OPT_NO_WAIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    char *end;
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_JSON)
            *json = true;
        else if (c == OPT_NO_WAIT)
            *no_wait = true;
        else if (c == OPT_TIMEOUT) {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v == 0 || v > 86400)
                return fsy_cli_badargf(cli,
                                       "--timeout: '%s' is not a number of "
                                       "seconds from 1 to 86400",
                                       optarg);
            w->timeout_ms = (uint64_t)v * 1000;
        } else if (c == 'h')
            return fsy_cli_help(cli, s_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    return fsy_cli_operands(cli, argc, argv, 0, "");
}

int
fsy_cmd_sync(fsy_cli_t *cli, int argc, char **argv)
{
    fsy_store_t *s = NULL;
    s_wait_t w = {.timeout_ms = 30000};
    bool no_wait = false, json = false;
    uint64_t took = 0;
    cli->usage = s_usage;
    int rc = s_options(cli, argc, argv, &w, &no_wait, &json);
    if (rc == 0)
        rc = fsy_cli_open(cli, &s);
    if (rc == 0) {
        bool connected;
        fsy_err_clear();
        rc = fsy_cli_check(cli, s_parent_row(s, &w, &connected, &w.before_ms));
    }
    if (rc == 0)
        rc = fsy_cli_check(cli, fsy_store_sync_request(s, &w.token));
    if (rc == 0 && no_wait && !json)
        printf("asked the daemon to connect to its parent now; "
               "'fieldsync status' shows the session\n");
    else if (rc == 0 && no_wait) {
        cJSON *root = cJSON_CreateObject();
        rc = fsy_cli_json_print(cli, root, fsy_cli_jbool(root, "asked", true));
    } else if (rc == 0 && (rc = s_wait(cli, s, &w, &took)) == 0)
        rc = s_report(cli, &w, took, json);
    fsy_store_close(&s);
    return rc;
}
