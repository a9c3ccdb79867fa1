/*
 * fieldsync CLI — finding documents: list (every document a filter
 * selects) and search (full text, best match first). Both take the shared
 * filters and print a table, --json or --csv (query_opts.h).
 */
#include "common.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fieldsync/doc_json.h"
#include "fieldsync/error.h"
#include "query_opts.h"

enum { OPT_JSON = 256 };

/* A hit copied out of the borrowed document, for an aligned table. */
typedef struct s_row {
    char scope[FSY_SCOPE_MAX + 1];
    char id[FSY_DOC_MAX + 1];
    char kind[FSY_KIND_MAX + 1];
    fsy_stamp_t updated;
    size_t n_conflicts;
    char *title;   /* shown on one line; NULL if none */
    char *snippet; /* search only */
} s_row_t;

typedef struct s_find {
    const fsy_cli_t *cli;
    fsy_cli_filter_t f;
    bool json, search, oom;
    size_t limit;
    cJSON *arr;
    s_row_t *rows;
    size_t n, cap;
} s_find_t;

/* ---- the table ---------------------------------------------------------- */

static bool
s_row_add(s_find_t *x, const fsy_hit_t *h)
{
    const fsy_head_t *t = fsy_doc_title(h->doc);
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 64;
        s_row_t *r = realloc(x->rows, cap * sizeof *r);
        if (r == NULL)
            return false;
        x->rows = r;
        x->cap = cap;
    }
    s_row_t *r = &x->rows[x->n];
    memset(r, 0, sizeof *r);
    snprintf(r->scope, sizeof r->scope, "%s", h->doc->scope);
    snprintf(r->id, sizeof r->id, "%s", h->doc->id);
    snprintf(r->kind, sizeof r->kind, "%s", h->doc->kind);
    r->updated = h->updated;
    r->n_conflicts = h->doc->n_conflicts;
    x->n++;
    if (t != NULL &&
        (r->title = t->value_len > 0
                        ? strndup((const char *)t->value, t->value_len)
                        : strdup("")) == NULL)
        return false;
    return h->snippet == NULL || (r->snippet = strdup(h->snippet)) != NULL;
}

static int
s_hit_cb(const fsy_hit_t *h, void *ctx)
{
    s_find_t *x = ctx;
    bool ok;
    if (x->f.csv)
        ok = fsy_cli_csv_row(stdout, &x->f, h);
    else if (x->json)
        ok = fsy_cli_jpush(x->arr, fsy_hit_json(h));
    else
        ok = s_row_add(x, h);
    x->oom = !ok;
    return ok ? 0 : 1;
}

static void
s_print_row(const s_find_t *x, const s_row_t *r, const size_t w[4],
            bool conflicts)
{
    char t[FSY_CLI_TIME_LEN];
    fsy_cli_pad(stdout, r->scope, w[0]);
    fsy_cli_pad(stdout, r->id, w[1]);
    fsy_cli_pad(stdout, r->kind, w[2]);
    fsy_cli_pad(stdout, fsy_cli_time(r->updated.hlc, false, t), 20);
    if (x->search || conflicts || r->title != NULL)
        fsy_cli_pad(stdout, r->updated.site, w[3]);
    else
        fputs(r->updated.site, stdout);
    if (conflicts)
        fputs(r->n_conflicts > 0 ? "CONFLICT  " : "          ", stdout);
    if (!x->search && r->title != NULL)
        fsy_cli_print_oneline(stdout, (const uint8_t *)r->title,
                              strlen(r->title), false, false,
                              FSY_CLI_ONELINE_MAX);
    fputc('\n', stdout);
    if (x->search && r->title != NULL) {
        fputs("    ", stdout);
        fsy_cli_print_oneline(stdout, (const uint8_t *)r->title,
                              strlen(r->title), false, false,
                              FSY_CLI_ONELINE_MAX);
        fputc('\n', stdout);
    }
    if (x->search && r->snippet != NULL) {
        bool tty = isatty(STDOUT_FILENO);
        fputs("    ", stdout);
        fsy_cli_print_marked(stdout, r->snippet, tty ? "\033[1m" : "[",
                             tty ? "\033[0m" : "]");
        fputc('\n', stdout);
    }
}

static void
s_print_table(const s_find_t *x)
{
    size_t w[4] = {5, 2, 4, 4}; /* at least the headers' widths */
    bool conflicts = false;
    if (x->n == 0) {
        puts(x->search ? "no documents match" : "no documents");
        return;
    }
    for (size_t i = 0; i < x->n; i++) {
        fsy_cli_widen(&w[0], x->rows[i].scope);
        fsy_cli_widen(&w[1], x->rows[i].id);
        fsy_cli_widen(&w[2], x->rows[i].kind);
        fsy_cli_widen(&w[3], x->rows[i].updated.site);
        conflicts = conflicts || x->rows[i].n_conflicts > 0;
    }
    printf("%-*s  %-*s  %-*s  %-20s  %-*s  %s%s\n", (int)w[0], "SCOPE",
           (int)w[1], "ID", (int)w[2], "KIND", "UPDATED", (int)w[3], "SITE",
           conflicts ? "STATE     " : "", x->search ? "" : "TITLE");
    for (size_t i = 0; i < x->n; i++)
        s_print_row(x, &x->rows[i], w, conflicts);
}

/* ---- running a query ---------------------------------------------------- */

static void
s_find_free(s_find_t *x)
{
    for (size_t i = 0; i < x->n; i++) {
        free(x->rows[i].title);
        free(x->rows[i].snippet);
    }
    free(x->rows);
    cJSON_Delete(x->arr);
    fsy_cli_filter_free(&x->f);
}

static int
s_find_run(s_find_t *x)
{
    fsy_store_t *s = NULL;
    int rc = fsy_cli_open(x->cli, &s), err;
    if (rc != 0)
        return rc;
    if (x->json && (x->arr = cJSON_CreateArray()) == NULL) {
        fsy_store_close(&s);
        return fsy_cli_oom(x->cli);
    }
    if (x->f.csv)
        fsy_cli_csv_header(stdout, &x->f);
    x->f.q.limit = x->limit;
    fsy_err_clear();
    err = fsy_store_query(s, &x->f.q, s_hit_cb, x);
    fsy_store_close(&s);
    if (x->oom)
        return fsy_cli_oom(x->cli);
    if (err == FSY_EINVAL)
        return fsy_cli_badargf(x->cli, "%s", fsy_errdetail());
    if (err != FSY_OK)
        return fsy_cli_fail(x->cli, err);
    if (x->json) {
        rc = fsy_cli_json_print(x->cli, x->arr, true);
        x->arr = NULL;
        return rc;
    }
    if (!x->f.csv)
        s_print_table(x);
    return fflush(stdout) == 0 ? FSY_EXIT_OK
                               : fsy_cli_failf(x->cli, "cannot write output");
}

static int
s_parse_limit(const fsy_cli_t *cli, const char *arg, size_t *out)
{
    char *end;
    unsigned long long n = strtoull(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || n > 1000000)
        return fsy_cli_badargf(cli,
                               "--limit: '%s' is not a number from 0 "
                               "(no limit) to 1000000",
                               arg);
    *out = (size_t)n;
    return FSY_EXIT_OK;
}

/* Options of list and search; operands are left for the caller. */
static int
s_find_opts(fsy_cli_t *cli, int argc, char **argv, const char *help,
            s_find_t *x)
{
    static const struct option opts[] = {
        FSY_CLI_FILTER_OPTIONS,
        {"limit", required_argument, NULL, FSY_OPT_F_LIMIT},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, rc = FSY_EXIT_OK;
    bool taken;
    fsy_cli_getopt_reset();
    while (rc == FSY_EXIT_OK &&
           (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        rc = fsy_cli_filter_opt(cli, &x->f, c, optarg, &taken);
        if (taken)
            continue;
        if (c == FSY_OPT_F_LIMIT)
            rc = s_parse_limit(cli, optarg, &x->limit);
        else if (c == OPT_JSON)
            x->json = true;
        else if (c == 'h')
            return fsy_cli_help(cli, help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    return rc == FSY_EXIT_OK ? fsy_cli_filter_done(cli, &x->f, x->json) : rc;
}

/* ---- list --------------------------------------------------------------- */

static const char s_list_usage[] =
    "fieldsync list [FILTERS] [--limit N] [--json | --csv [--fields A,B]]";
static const char s_list_help[] =
    "Lists the documents this replica holds (deleted ones left out), one\n"
    "a line: scope, id, kind, last update (UTC), the site that wrote it,\n"
    "CONFLICT when a field has competing values, and the title field if\n"
    "there is one. Ordered by scope and id.\n"
    "\n"
    "  --limit N   at most N documents (default: all)\n"
    "  --json      print an array of objects (with created and updated\n"
    "              times and sites)\n"
    "\n"
    "%s"
    "\n"
    "Examples:\n"
    "  fieldsync list --scope MLI --kind plan\n"
    "  fieldsync list --scope MLI --scope SSD --since 30d --site gao\n"
    "  fieldsync list --kind analysis --csv --fields title,status > a.csv\n";

static int
s_find_cmd(fsy_cli_t *cli, int argc, char **argv, s_find_t *x,
           const char *usage, const char *help_fmt)
{
    char help[4096];
    snprintf(help, sizeof help, help_fmt, fsy_cli_filter_help);
    cli->usage = usage;
    x->cli = cli;
    int rc = s_find_opts(cli, argc, argv, help, x);
    if (rc == FSY_EXIT_OK && x->search)
        rc = fsy_cli_operands(cli, argc, argv, 1, "one QUERY");
    else if (rc == FSY_EXIT_OK)
        rc = fsy_cli_operands(cli, argc, argv, 0, "no operands");
    if (rc == FSY_EXIT_OK && x->search)
        x->f.q.text = argv[optind];
    if (rc == FSY_EXIT_OK && x->f.csv && x->f.n_fields == 0 &&
        fsy_cli_filter_opt(cli, &x->f, FSY_OPT_F_FIELDS, "title",
                           &(bool){false}) != FSY_EXIT_OK)
        rc = FSY_EXIT_FAIL;
    if (rc == FSY_EXIT_OK)
        rc = s_find_run(x);
    s_find_free(x);
    return rc;
}

int
fsy_cmd_list(fsy_cli_t *cli, int argc, char **argv)
{
    s_find_t x = {0};
    return s_find_cmd(cli, argc, argv, &x, s_list_usage, s_list_help);
}

/* ---- search ------------------------------------------------------------- */

static const char s_search_usage[] =
    "fieldsync search QUERY [FILTERS] [--limit N] [--json | --csv]";
static const char s_search_help[] =
    "Finds documents by the words of their text fields, best match first:\n"
    "each with its scope, id, kind, last update, the site that wrote it,\n"
    "its title and the passage that matched. Both sides of an open\n"
    "conflict are searched. Accents and case do not matter.\n"
    "\n"
    "QUERY (SQLite FTS5): words (all must appear), \"a phrase\", prefix*,\n"
    "OR, NOT, AND, parentheses, and title:word for the title only.\n"
    "\n"
    "  --limit N   at most N documents (default 20; 0: all)\n"
    "  --json      print an array of objects (rank, snippet, matches)\n"
    "\n"
    "%s"
    "\n"
    "Examples:\n"
    "  fieldsync search displacement --scope MLI --since 30d\n"
    "  fieldsync search '\"armed group\" AND (Menaka OR Gao)'\n"
    "  fieldsync search 'cholera NOT vaccination' --kind analysis --json\n";

int
fsy_cmd_search(fsy_cli_t *cli, int argc, char **argv)
{
    s_find_t x = {.search = true, .limit = 20};
    return s_find_cmd(cli, argc, argv, &x, s_search_usage, s_search_help);
}
