/*
 * fieldsync CLI — status: this site, its neighbours and (--all-sites)
 * every site heard of below them, with how far apart they are.
 *
 * The daemon records its neighbours and the health summaries it hears in
 * the replica; this command reads them, so it works whether or not the
 * daemon runs (a daemon that stopped shows its neighbours as disconnected
 * since then). The figures are those of the daemon's /status
 * (status_view.c).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "fieldsync/health.h"
#include "fieldsync/status_view.h"
#include "fieldsync/wallclock.h"

static const char s_status_usage[] = "fieldsync status [--all-sites] [--json]";

static const char s_status_help[] =
    "Shows this site (replica, changes, documents, open conflicts) and\n"
    "each neighbour its daemon syncs with; with --all-sites, every site\n"
    "below them too, as their health summaries reached this site. For\n"
    "each: its state, when it was last heard from, BEHIND (changes held\n"
    "here that it lacks, in the scopes it receives), AHEAD (changes it\n"
    "holds that are not here yet), its open conflicts, its clock against\n"
    "this site's, AS OF (how old its newest change here is), and its\n"
    "last error. Sites heard of by bundle only have the role courier.\n"
    "HEALTH is green, amber or red by\n"
    "the [status] thresholds of the configuration (-c), and WHY says\n"
    "what made it so. Colours only when stdout is a terminal.\n"
    "\n"
    "  --all-sites   every site heard of, not only the neighbours\n"
    "  --json        print one JSON object (the daemon's /status)\n"
    "\n"
    "Examples:\n"
    "  fieldsync -c /etc/fieldsync/hq.conf status --all-sites\n"
    "  fieldsync --db gao.db status --json\n";

static const char s_pending_usage[] = "fieldsync pending [--json]";

static const char s_pending_help[] =
    "Lists the documents with changes written at this site that are not\n"
    "yet stored at HQ (the root of the tree), oldest first: how many\n"
    "changes each, how many of them are not even at this site's parent\n"
    "yet, and when the oldest was written. Each parent passes down what\n"
    "HQ holds, hop by hop, so this works at every level and offline (it\n"
    "shows what was known when the link was last up). At HQ nothing is\n"
    "pending.\n"
    "\n"
    "  --json   one JSON object: the totals and a \"documents\" array\n"
    "\n"
    "Examples:\n"
    "  fieldsync -c /etc/fieldsync/gao.conf pending\n"
    "  fieldsync --db gao.db pending --json | jq '.documents[].id'\n";

static const char *
s_colour(fsy_level_t l)
{
    return l == FSY_LEVEL_RED     ? "\033[31m"
           : l == FSY_LEVEL_AMBER ? "\033[33m"
                                  : "\033[32m";
}

/* "+3h00m", "-1.2s", "-": its clock against ours. */
static const char *
s_offset(const fsy_site_row_t *r, char *buf, size_t len)
{
    if (!r->offset_known || strcmp(r->role, "self") == 0)
        return "-";
    int64_t ms = r->clock_offset_ms;
    uint64_t a = fsy_abs_ms(ms);
    char sign = ms < 0 ? '-' : '+';
    if (a < 60000)
        snprintf(buf, len, "%c%" PRIu64 ".%" PRIu64 "s", sign, a / 1000,
                 a % 1000 / 100);
    else /* to the nearest minute: the estimate is low by the delay */
        snprintf(buf, len, "%c%" PRIu64 "h%02" PRIu64 "m", sign,
                 (a + 30000) / 3600000, (a + 30000) / 60000 % 60);
    return buf;
}

/* "3d02h" (age, one word), or "-" for none. */
static const char *
s_short_age(uint64_t then_ms, uint64_t now, char *buf, size_t len)
{
    if (then_ms == 0)
        return "-";
    fsy_age(then_ms, now, buf, len);
    char *sp = strchr(buf, ' ');
    if (sp != NULL)
        *sp = '\0';
    return buf;
}

static void
s_print_row(const fsy_site_row_t *r, uint64_t now, bool colour)
{
    char age[32], off[32], conf[24], asof[32];
    snprintf(conf, sizeof conf, "%" PRIu64, r->conflicts);
    printf("%s%-7s%s %-16s %-7s %-12s %-13s %8" PRIu64 " %8" PRIu64
           " %9s %-8s %-8s %s%s%s\n",
           colour ? s_colour(r->level) : "", fsy_level_name(r->level),
           colour ? "\033[0m" : "", r->site, r->role, r->state,
           strcmp(r->role, "self") == 0
               ? "-"
               : fsy_age(r->last_contact_ms, now, age, sizeof age),
           r->behind, r->ahead,
           r->reported || strcmp(r->role, "self") == 0 ? conf : "?",
           s_short_age(r->as_of_ms, now, asof, sizeof asof),
           s_offset(r, off, sizeof off), r->why[0] ? r->why : "-",
           r->last_error[0] ? ": " : "", r->last_error);
    char moving[160];
    if (fsy_transfer_text(r, moving, sizeof moving)[0] != '\0')
        printf("%-7s attachments: %s\n", "", moving);
    if (r->courier_ms != 0 && strcmp(r->role, "courier") != 0)
        printf("%-7s by courier too: last bundle imported %s\n", "",
               fsy_age(r->courier_ms, now, age, sizeof age));
}

static void
s_print_text(const fsy_status_view_t *v)
{
    bool colour = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
    printf("site %s (incarnation %s): %" PRIu64 " changes, %" PRIu64
           " documents, %" PRIu64 " open conflict%s\n",
           v->site, v->incarnation, v->counts.changes, v->counts.documents,
           v->counts.conflicts, v->counts.conflicts == 1 ? "" : "s");
    char pending[256];
    if (fsy_pending_text(&v->pending, v->now_ms, pending, sizeof pending)[0])
        printf("%s\n", pending);
    if (fsy_index_pending_text(&v->counts, pending, sizeof pending)[0])
        printf("%s\n", pending);
    if (v->n == 1) {
        printf("no neighbours recorded: fieldsyncd has not synced yet\n");
        return;
    }
    printf("%-7s %-16s %-7s %-12s %-13s %8s %8s %9s %-8s %-8s %s\n", "HEALTH",
           "SITE", "ROLE", "STATE", "LAST CONTACT", "BEHIND", "AHEAD",
           "CONFLICTS", "AS OF", "CLOCK", "WHY: LAST ERROR");
    for (size_t i = 0; i < v->n; i++)
        s_print_row(&v->rows[i], v->now_ms, colour);
}

static int
s_options(fsy_cli_t *cli, int argc, char **argv, bool *json, bool *all)
{
    enum { OPT_JSON = 256, OPT_ALL };
    static const struct option opts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"all-sites", no_argument, NULL, OPT_ALL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_JSON)
            *json = true;
        else if (c == OPT_ALL)
            *all = true;
        else if (c == 'h')
            return fsy_cli_help(cli, s_status_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    return fsy_cli_operands(cli, argc, argv, 0, "no operands");
}

int
fsy_cmd_status(fsy_cli_t *cli, int argc, char **argv)
{
    fsy_store_t *s = NULL;
    fsy_status_view_t v = {0};
    bool json = false, all = false;

    cli->usage = s_status_usage;
    int rc = s_options(cli, argc, argv, &json, &all);
    if (rc == 0)
        rc = fsy_cli_open(cli, &s);
    if (rc == 0) {
        fsy_err_clear();
        rc = fsy_cli_check(
            cli, fsy_status_view_load(s, &cli->cfg, all, fsy_wall_ms(), &v));
    }
    if (rc == 0 && json) {
        char *text = fsy_status_view_json(&v);
        if (text == NULL)
            rc = fsy_cli_oom(cli);
        else
            printf("%s\n", text);
        free(text);
    } else if (rc == 0) {
        s_print_text(&v);
    }
    fsy_status_view_free(&v);
    fsy_store_close(&s);
    return rc;
}

/* ---- pending: has my report reached HQ? -------------------------------- */

typedef struct s_pending_out {
    bool json;
    cJSON *docs; /* --json */
    uint64_t now;
    bool header;
} s_pending_out_t;

static int
s_pending_row(const fsy_pending_doc_t *d, void *ctx)
{
    s_pending_out_t *o = ctx;
    char age[32];
    fsy_age(d->oldest_ms, o->now, age, sizeof age);
    if (!o->json) {
        if (!o->header)
            printf("%-10s %-32s %8s %14s  %s\n", "SCOPE", "DOCUMENT", "CHANGES",
                   "NOT AT PARENT", "OLDEST WRITTEN");
        o->header = true;
        printf("%-10s %-32s %8" PRIu64 " %14" PRIu64 "  %s\n", d->scope, d->doc,
               d->changes, d->not_at_parent, age);
        return 0;
    }
    cJSON *r = cJSON_CreateObject();
    bool ok =
        fsy_cli_jstr(r, "scope", d->scope) && fsy_cli_jstr(r, "id", d->doc) &&
        fsy_cli_jnum(r, "changes_not_at_hq", (double)d->changes) &&
        fsy_cli_jnum(r, "changes_not_at_parent", (double)d->not_at_parent) &&
        fsy_cli_jnum(r, "oldest_ms", (double)d->oldest_ms) &&
        fsy_cli_jstr(r, "oldest", age);
    if (!ok)
        cJSON_Delete(r);
    return ok && fsy_cli_jpush(o->docs, r) ? 0 : FSY_ENOMEM;
}

static int
s_pending_json(const fsy_cli_t *cli, const fsy_pending_t *p, cJSON *docs,
               uint64_t now)
{
    char text[256];
    cJSON *root = cJSON_CreateObject();
    bool ok = fsy_cli_jbool(root, "root", p->is_root) &&
              fsy_cli_jnum(root, "documents_not_at_hq", (double)p->docs) &&
              fsy_cli_jnum(root, "changes_not_at_hq", (double)p->changes) &&
              fsy_cli_jnum(root, "documents_not_at_parent",
                           (double)p->docs_not_at_parent) &&
              fsy_cli_jnum(root, "changes_not_at_parent",
                           (double)p->changes_not_at_parent) &&
              fsy_cli_jstr(root, "text",
                           fsy_pending_text(p, now, text, sizeof text)) &&
              fsy_cli_jadd(root, "documents", docs);
    return fsy_cli_json_print(cli, root, ok);
}

int
fsy_cmd_pending(fsy_cli_t *cli, int argc, char **argv)
{
    fsy_store_t *s = NULL;
    bool json = false;
    cli->usage = s_pending_usage;
    int rc = fsy_cli_json_only(cli, argc, argv, s_pending_help, &json);
    if (rc == 0)
        rc = fsy_cli_open(cli, &s);
    s_pending_out_t o = {.json = json, .now = fsy_wall_ms()};
    if (rc == 0 && json && (o.docs = cJSON_CreateArray()) == NULL)
        rc = fsy_cli_oom(cli);
    fsy_pending_t p;
    char text[256];
    fsy_err_clear();
    if (rc == 0 && !json) /* the totals first, then the documents */
        rc = fsy_cli_check(cli, fsy_store_pending(s, NULL, NULL, &p));
    if (rc == 0 && !json)
        printf("%s\n", p.is_root
                           ? "this site is HQ: everything written "
                             "here is at HQ"
                           : fsy_pending_text(&p, o.now, text, sizeof text));
    if (rc == 0)
        rc = fsy_cli_check(cli, fsy_store_pending(s, s_pending_row, &o, &p));
    if (rc == 0 && json) {
        rc = s_pending_json(cli, &p, o.docs, o.now);
        o.docs = NULL;
    }
    cJSON_Delete(o.docs);
    fsy_store_close(&s);
    return rc;
}
