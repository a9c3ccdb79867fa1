/*
 * fieldsync CLI — documents out: export as NDJSON (what `import` reads,
 * cmd_ndjson.c) or CSV, with the filters of `list` (query_opts.h).
 *
 * One JSON object a line:
 *
 *   {"scope":"MLI","id":"isf-mli-2027","kind":"plan",
 *    "created":"2026-09-01T08:00:00Z","created_site":"bamako",
 *    "created_author":"A. Traoré","updated":"2026-11-28T16:40:12Z",
 *    "updated_site":"gao","updated_author":"M. Diallo",
 *    "fields":{"title":"Integrated Strategic Framework 2027",
 *              "annex":{"base64":"JVBERi0x..."}},
 *    "conflicts":["status"]}
 */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/doc_json.h"
#include "fieldsync/error.h"
#include "query_opts.h"

enum { OPT_JSON = 256 };

static const char s_export_usage[] =
    "fieldsync export [FILTERS] [--csv [--fields A,B]] [-o FILE]";
static const char s_export_help[] =
    "Writes the documents this replica holds (deleted ones left out) as\n"
    "NDJSON, one object a line:\n"
    "  {\"scope\":..,\"id\":..,\"kind\":..,\"created\":..,"
    "\"created_site\":..,\"created_author\":..,\n"
    "   \"updated\":..,\"updated_site\":..,\"updated_author\":..,\n"
    "   \"fields\":{NAME: \"text\" | {\"base64\":..}},\n"
    "   \"conflicts\":[NAME, ...]}\n"
    "Fields carry their current (winning) values; \"conflicts\", present\n"
    "only when some field has competing values, names those fields.\n"
    "'fieldsync import' reads the same format. With --csv, one row a\n"
    "document and a column for every field any of them has (or --fields).\n"
    "\n"
    "  -o, --output FILE  write to FILE (atomically) instead of stdout\n"
    "  --json             accepted for symmetry: NDJSON is the default\n"
    "\n"
    "%s"
    "\n"
    "Examples:\n"
    "  fieldsync export --scope MLI --kind analysis -o mli-analysis.ndjson\n"
    "  fieldsync export --kind analysis --since 30d --csv -o recent.csv\n";

typedef struct s_export {
    const fsy_cli_t *cli;
    fsy_cli_filter_t f;
    const char *path;
    FILE *out;
    size_t n;
    bool oom, io;
} s_export_t;

static cJSON *
s_export_fields(const fsy_doc_t *d)
{
    cJSON *obj = cJSON_CreateObject();
    bool ok = obj != NULL;
    for (size_t i = 0; ok && i < d->n_fields; i++) {
        const fsy_head_t *h = fsy_field_shown(&d->fields[i]);
        if (d->fields[i].name[0] == '_' || h->absent)
            continue;
        ok = fsy_cli_jadd(
            obj, d->fields[i].name,
            fsy_cli_json_value(h->value, h->value_len, false, h->ref));
    }
    if (!ok)
        cJSON_Delete(obj);
    return ok ? obj : NULL;
}

/* Names of the fields in conflict; "_deleted" stands for a
 * delete-versus-edit conflict, as in 'fieldsync conflicts'. */
static cJSON *
s_export_conflicts(const fsy_doc_t *d)
{
    const fsy_field_t *del = fsy_doc_field(d, FSY_FIELD_DELETED);
    cJSON *arr = cJSON_CreateArray();
    bool ok = arr != NULL;
    if (ok && d->deleted_conflict && (del == NULL || !del->conflict))
        ok = fsy_cli_jpush(arr, cJSON_CreateString(FSY_FIELD_DELETED));
    for (size_t i = 0; ok && i < d->n_fields; i++)
        if (d->fields[i].conflict)
            ok = fsy_cli_jpush(arr, cJSON_CreateString(d->fields[i].name));
    if (!ok)
        cJSON_Delete(arr);
    return ok ? arr : NULL;
}

static cJSON *
s_export_doc(const fsy_hit_t *h)
{
    const fsy_doc_t *d = h->doc;
    cJSON *obj = cJSON_CreateObject();
    bool ok =
        fsy_cli_jstr(obj, "scope", d->scope) && fsy_cli_jstr(obj, "id", d->id);
    if (ok && d->kind[0] != '\0')
        ok = fsy_cli_jstr(obj, "kind", d->kind);
    ok = ok && fsy_stamps_json(obj, &h->created, &h->updated) &&
         fsy_cli_jadd(obj, "fields", s_export_fields(d));
    if (ok && d->n_conflicts > 0)
        ok = fsy_cli_jadd(obj, "conflicts", s_export_conflicts(d));
    if (!ok)
        cJSON_Delete(obj);
    return ok ? obj : NULL;
}

static int
s_export_line(const fsy_hit_t *h, void *ctx)
{
    s_export_t *x = ctx;
    if (x->f.csv) {
        x->oom = !fsy_cli_csv_row(x->out, &x->f, h);
    } else {
        cJSON *line = s_export_doc(h);
        char *text = line != NULL ? cJSON_PrintUnformatted(line) : NULL;
        cJSON_Delete(line);
        x->oom = text == NULL;
        x->io = text != NULL &&
                (fputs(text, x->out) == EOF || fputc('\n', x->out) == EOF);
        cJSON_free(text);
    }
    x->io = x->io || ferror(x->out);
    x->n++;
    return x->oom || x->io ? 1 : 0;
}

/* CSV without --fields: a first pass names the columns. */
static int
s_collect(const fsy_hit_t *h, void *ctx)
{
    s_export_t *x = ctx;
    x->oom = !fsy_cli_csv_collect(&x->f, h->doc);
    return x->oom ? 1 : 0;
}

static int
s_export_run(s_export_t *x, fsy_store_t *s)
{
    fsy_err_clear();
    /* the columns and the rows from one view of the replica */
    int err = fsy_store_read_begin(s);
    if (err == FSY_OK && x->f.csv && x->f.n_fields == 0)
        err = fsy_store_query(s, &x->f.q, s_collect, x);
    if (err == FSY_OK && x->f.csv)
        fsy_cli_csv_header(x->out, &x->f);
    if (err == FSY_OK && !x->oom)
        err = fsy_store_query(s, &x->f.q, s_export_line, x);
    fsy_store_read_end(s);
    if (x->oom)
        return fsy_cli_oom(x->cli);
    if (x->io || fflush(x->out) != 0)
        return fsy_cli_failf(x->cli, "cannot write the export: %s",
                             strerror(errno));
    if (err == FSY_EINVAL)
        return fsy_cli_badargf(x->cli, "%s", fsy_errdetail());
    return fsy_cli_check(x->cli, err);
}

/* To a file: written beside it and renamed only when complete, so a
 * failed export never leaves a truncated file that looks whole. */
static int
s_export_to(s_export_t *x, fsy_store_t *s)
{
    fsy_cli_out_t o;
    int rc = fsy_cli_out_open(x->cli, x->path, &o);
    if (rc != FSY_EXIT_OK)
        return rc;
    x->out = o.f;
    rc = s_export_run(x, s);
    if (rc != FSY_EXIT_OK) {
        fsy_cli_out_abort(&o);
        return rc;
    }
    if ((rc = fsy_cli_out_commit(x->cli, &o)) == FSY_EXIT_OK)
        printf("exported %zu document%s to %s\n", x->n, x->n == 1 ? "" : "s",
               x->path);
    return rc;
}

static int
s_export_options(fsy_cli_t *cli, int argc, char **argv, s_export_t *x)
{
    static const struct option opts[] = {
        FSY_CLI_FILTER_OPTIONS,
        {"output", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    char help[4096];
    int c, rc = FSY_EXIT_OK;
    bool taken;
    fsy_cli_getopt_reset();
    while (rc == FSY_EXIT_OK &&
           (c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        rc = fsy_cli_filter_opt(cli, &x->f, c, optarg, &taken);
        if (taken)
            continue;
        if (c == 'o') {
            x->path = optarg;
        } else if (c == 'h') {
            snprintf(help, sizeof help, s_export_help, fsy_cli_filter_help);
            return fsy_cli_help(cli, help);
        } else if (c != OPT_JSON) {
            return fsy_cli_bad_option(cli, c, argv);
        }
    }
    if (rc == FSY_EXIT_OK)
        rc = fsy_cli_filter_done(cli, &x->f, false);
    return rc == FSY_EXIT_OK
               ? fsy_cli_operands(cli, argc, argv, 0, "no operands")
               : rc;
}

int
fsy_cmd_export(fsy_cli_t *cli, int argc, char **argv)
{
    s_export_t x = {.cli = cli, .out = stdout};
    fsy_store_t *s = NULL;
    cli->usage = s_export_usage;
    int rc = s_export_options(cli, argc, argv, &x);
    if (rc == 0)
        rc = fsy_cli_open(cli, &s);
    if (rc == 0 && x.path != NULL)
        rc = s_export_to(&x, s);
    else if (rc == 0)
        rc = s_export_run(&x, s);
    fsy_store_close(&s);
    fsy_cli_filter_free(&x.f);
    return rc;
}
