/*
 * fieldsync CLI — changes: the replica's change feed as NDJSON, for the
 * tools analysts follow HQ with (a warehouse, a notebook, a BI tool).
 * A consumer stores the cursor of the last line it handled and resumes
 * with --since; --follow waits for more.
 */
#include "common.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fieldsync/error.h"
#include "fieldsync/doc_json.h"
#include "fieldsync/query.h"

enum { OPT_SINCE = 256, OPT_FOLLOW, OPT_LIMIT, OPT_JSON };

#define S_BATCH 1000
#define S_POLL_MS 500

static const char s_changes_usage[] =
    "fieldsync changes [--since CURSOR] [--follow] [--limit N]";
static const char s_changes_help[] =
    "Writes every change this replica holds, in the order it committed\n"
    "them, as NDJSON: one line a change (a field written, removed, a\n"
    "document deleted), with the cursor to resume after it:\n"
    "  {\"cursor\":\"0.1234\",\"scope\":\"MLI\",\"id\":..,\"field\":..,"
    "\"value\":..,\n"
    "   \"version\":\"gao:17\",\"site\":\"gao\",\"author\":..,\"time\":..}\n"
    "Store the cursor of the last line handled and give it to --since:\n"
    "no change is missed or repeated, across restarts of either side.\n"
    "\n"
    "  --since CURSOR  start after this cursor (default 0: the beginning)\n"
    "  --follow        at the end, wait for new changes (until interrupted)\n"
    "  --limit N       stop after N changes\n"
    "  --json          accepted: the output is always NDJSON\n"
    "\n"
    "The daemon serves the same at /api/changes (docs/ANALYSIS.md).\n"
    "\n"
    "Examples:\n"
    "  fieldsync changes > all.ndjson\n"
    "  fieldsync changes --since \"$(tail -1 all.ndjson | jq -r .cursor)\" "
    "--follow\n";

typedef struct s_changes {
    const fsy_cli_t *cli;
    fsy_cursor_t since;
    bool follow;
    size_t limit, sent;
    unsigned poll_ms;
    bool oom, io;
} s_changes_t;

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static int
s_line(const fsy_change_t *c, const fsy_cursor_t *at, void *ctx)
{
    s_changes_t *x = ctx;
    char *line = fsy_feed_json(c, at);
    if (line == NULL) {
        x->oom = true;
        return 1;
    }
    x->io = fputs(line, stdout) == EOF || fputc('\n', stdout) == EOF;
    free(line);
    x->sent++;
    return x->io ? 1 : 0;
}

static void
s_sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Batches until the end (or the limit); with --follow, then polls. */
static int
s_run(s_changes_t *x, fsy_store_t *s)
{
    fsy_cursor_t at = x->since;
    for (;;) {
        size_t want = S_BATCH;
        if (x->limit > 0 && x->limit - x->sent < want)
            want = x->limit - x->sent;
        size_t before = x->sent;
        fsy_err_clear();
        int err = fsy_store_feed(s, &at, want, s_line, x, &at);
        if (x->oom)
            return fsy_cli_oom(x->cli);
        if (x->io || fflush(stdout) != 0)
            return fsy_cli_failf(x->cli, "cannot write the changes");
        if (err == FSY_EINVAL)
            return fsy_cli_badargf(x->cli, "%s", fsy_errdetail());
        if (err != FSY_OK)
            return fsy_cli_fail(x->cli, err);
        if (x->limit > 0 && x->sent >= x->limit)
            return FSY_EXIT_OK;
        if (x->sent - before == want)
            continue; /* more may be waiting */
        if (!x->follow || s_stop)
            return FSY_EXIT_OK;
        s_sleep_ms(x->poll_ms);
        if (s_stop)
            return FSY_EXIT_OK;
    }
}

static int
s_options(fsy_cli_t *cli, int argc, char **argv, s_changes_t *x)
{
    static const struct option opts[] = {
        {"since", required_argument, NULL, OPT_SINCE},
        {"follow", no_argument, NULL, OPT_FOLLOW},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    char *end;
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_SINCE && fsy_cursor_parse(optarg, &x->since) != FSY_OK)
            return fsy_cli_badargf(cli, "--since: %s", fsy_errdetail());
        else if (c == OPT_FOLLOW)
            x->follow = true;
        else if (c == OPT_LIMIT) {
            x->limit = (size_t)strtoull(optarg, &end, 10);
            if (optarg[0] < '1' || optarg[0] > '9' || *end != '\0')
                return fsy_cli_badargf(cli,
                                       "--limit: '%s' is not a number "
                                       "of changes (1 or more)",
                                       optarg);
        } else if (c == 'h')
            return fsy_cli_help(cli, s_changes_help);
        else if (c != OPT_JSON && c != OPT_SINCE)
            return fsy_cli_bad_option(cli, c, argv);
    }
    return fsy_cli_operands(cli, argc, argv, 0, "no operands");
}

int
fsy_cmd_changes(fsy_cli_t *cli, int argc, char **argv)
{
    s_changes_t x = {.cli = cli, .poll_ms = S_POLL_MS};
    fsy_store_t *s = NULL;
    cli->usage = s_changes_usage;
    int rc = s_options(cli, argc, argv, &x);
    if (rc == FSY_EXIT_OK)
        rc = fsy_cli_open(cli, &s);
    if (rc == FSY_EXIT_OK) {
        /* interrupted while following: finish the line, exit 0 */
        struct sigaction sa = {.sa_handler = s_on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        rc = s_run(&x, s);
    }
    fsy_store_close(&s);
    return rc;
}
