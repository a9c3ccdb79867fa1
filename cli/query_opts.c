/*
 * fieldsync CLI — the filters `list`, `search` and `export` share, and the
 * CSV they write (query_opts.h).
 */
#include "query_opts.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fieldsync/ident.h"
#include "fieldsync/wallclock.h"

const char fsy_cli_filter_help[] =
    "Filters (combined with AND; a repeated option means any of them):\n"
    "  --scope S        documents of scope S (repeatable)\n"
    "  --kind K         documents of kind K (repeatable)\n"
    "  --site SITE      whose latest version was written at SITE\n"
    "  --any-version    with --site: any version written at SITE\n"
    "  --since WHEN     updated at or after WHEN: 2026-11-01,\n"
    "                   2026-11-01T08:30:00Z (UTC), or an age: 30d, 12h,\n"
    "                   45m, 2w\n"
    "  --until WHEN     updated before WHEN (a date alone: through that day)\n"
    "  --where F=VALUE  field F's value is exactly VALUE (repeatable)\n"
    "  --conflicts      only documents with an open conflict\n"
    "Output:\n"
    "  --csv            CSV (RFC 4180): scope, id, kind, created,\n"
    "                   created_site, created_author, updated,\n"
    "                   updated_site, updated_author, conflicts, then one\n"
    "                   column per field\n"
    "  --fields A,B     with --csv: these fields as the columns\n";

/* ---- options ------------------------------------------------------------ */

static int
s_push(const fsy_cli_t *cli, const char *opt, const char **list, size_t *n,
       const char *arg, int (*check)(const char *))
{
    if (*n == FSY_QUERY_LIST_MAX)
        return fsy_cli_badargf(cli, "at most %d --%s options",
                               FSY_QUERY_LIST_MAX, opt);
    if (check(arg) != FSY_OK)
        return fsy_cli_badargf(cli, "--%s: %s", opt, fsy_errdetail());
    list[(*n)++] = arg;
    return FSY_EXIT_OK;
}

static int
s_where(const fsy_cli_t *cli, fsy_cli_filter_t *f, const char *arg)
{
    char *field;
    const char *value;
    if (f->q.n_where == FSY_QUERY_LIST_MAX)
        return fsy_cli_badargf(cli, "at most %d --where options",
                               FSY_QUERY_LIST_MAX);
    int rc = fsy_cli_parse_assign(cli, "--where", arg, &field, &value);
    if (rc != FSY_EXIT_OK)
        return rc;
    f->where_fields[f->q.n_where] = field;
    f->where[f->q.n_where].field = field;
    f->where[f->q.n_where++].value = value;
    return FSY_EXIT_OK;
}

static bool
s_add_field(fsy_cli_filter_t *f, const char *name, size_t len)
{
    for (size_t i = 0; i < f->n_fields; i++)
        if (strlen(f->fields[i]) == len && memcmp(f->fields[i], name, len) == 0)
            return true;
    if (f->n_fields == f->cap_fields) {
        size_t cap = f->cap_fields ? f->cap_fields * 2 : 16;
        char **v = realloc(f->fields, cap * sizeof *v);
        if (v == NULL)
            return false;
        f->fields = v;
        f->cap_fields = cap;
    }
    if ((f->fields[f->n_fields] = strndup(name, len)) == NULL)
        return false;
    f->n_fields++;
    return true;
}

/* --fields a,b,c: each a valid field name. */
static int
s_fields(const fsy_cli_t *cli, fsy_cli_filter_t *f, const char *arg)
{
    for (const char *p = arg;; p++) {
        size_t len = strcspn(p, ",");
        char name[FSY_FIELD_MAX + 1];
        if (len == 0 || len > FSY_FIELD_MAX)
            return fsy_cli_badargf(cli,
                                   "--fields: '%s' is not a list of "
                                   "field names (title,status,...)",
                                   arg);
        memcpy(name, p, len);
        name[len] = '\0';
        if (fsy_check_field(name, false) != FSY_OK)
            return fsy_cli_badargf(cli, "--fields: %s", fsy_errdetail());
        if (!s_add_field(f, name, len))
            return fsy_cli_oom(cli);
        p += len;
        if (*p == '\0')
            return FSY_EXIT_OK;
    }
}

static int
s_when(const fsy_cli_t *cli, const char *opt, const char *arg, bool end,
       uint64_t *out)
{
    if (fsy_parse_when(arg, fsy_wall_ms(), end, out) != FSY_OK)
        return fsy_cli_badargf(cli, "--%s: %s", opt, fsy_errdetail());
    if (*out == 0)
        *out = 1; /* 0 means "no bound" */
    return FSY_EXIT_OK;
}

static int
s_site(const fsy_cli_t *cli, fsy_cli_filter_t *f, const char *arg)
{
    if (f->q.site != NULL)
        return fsy_cli_badargf(cli, "--site given twice: one site at a time");
    if (fsy_check_site(arg) != FSY_OK)
        return fsy_cli_badargf(cli, "--site: %s", fsy_errdetail());
    f->q.site = arg;
    return FSY_EXIT_OK;
}

int
fsy_cli_filter_opt(const fsy_cli_t *cli, fsy_cli_filter_t *f, int c,
                   const char *arg, bool *taken)
{
    *taken = true;
    f->q.scopes = f->scopes;
    f->q.kinds = f->kinds;
    f->q.where = f->where;
    switch (c) {
    case FSY_OPT_F_SCOPE:
        return s_push(cli, "scope", f->scopes, &f->q.n_scopes, arg,
                      fsy_check_scope);
    case FSY_OPT_F_KIND:
        return s_push(cli, "kind", f->kinds, &f->q.n_kinds, arg,
                      fsy_check_kind);
    case FSY_OPT_F_SITE:
        return s_site(cli, f, arg);
    case FSY_OPT_F_ANY:
        f->q.any_version = true;
        return FSY_EXIT_OK;
    case FSY_OPT_F_SINCE:
        return s_when(cli, "since", arg, false, &f->q.since_ms);
    case FSY_OPT_F_UNTIL:
        return s_when(cli, "until", arg, true, &f->q.until_ms);
    case FSY_OPT_F_WHERE:
        return s_where(cli, f, arg);
    case FSY_OPT_F_CONFLICTS:
        f->q.conflicts = true;
        return FSY_EXIT_OK;
    case FSY_OPT_F_CSV:
        f->csv = true;
        return FSY_EXIT_OK;
    case FSY_OPT_F_FIELDS:
        return s_fields(cli, f, arg);
    default:
        *taken = false;
        return FSY_EXIT_OK;
    }
}

int
fsy_cli_filter_done(const fsy_cli_t *cli, fsy_cli_filter_t *f, bool json)
{
    if (f->q.any_version && f->q.site == NULL)
        return fsy_cli_usagef(cli, "--any-version needs --site SITE");
    if (f->n_fields > 0 && !f->csv)
        return fsy_cli_usagef(cli, "--fields chooses CSV columns: add --csv");
    if (f->csv && json)
        return fsy_cli_usagef(cli, "--csv and --json: choose one");
    if (f->q.until_ms > 0 && f->q.since_ms >= f->q.until_ms)
        return fsy_cli_usagef(cli, "--since is not before --until: no "
                                   "document can match");
    return FSY_EXIT_OK;
}

void
fsy_cli_filter_free(fsy_cli_filter_t *f)
{
    for (size_t i = 0; i < f->q.n_where; i++)
        free(f->where_fields[i]);
    for (size_t i = 0; i < f->n_fields; i++)
        free(f->fields[i]);
    free(f->fields);
    memset(f, 0, sizeof *f);
}

/* ---- provenance --------------------------------------------------------- */

void
fsy_cli_print_stamp(FILE *f, const fsy_stamp_t *st)
{
    char t[FSY_CLI_TIME_LEN];
    fprintf(f, "%s at %s", fsy_cli_time(st->hlc, false, t), st->site);
    if (st->author[0] != '\0')
        fprintf(f, " by %s", st->author);
}

/* ---- CSV ---------------------------------------------------------------- */

/* A cell: quoted when it holds a separator, a quote or a line break (RFC
 * 4180), quotes doubled. A value starting with = + - @ or a tab would be
 * run as a formula by a spreadsheet (text from any site could then fetch
 * or compute what its writer wants): it gets a leading apostrophe, which
 * spreadsheets show as text. */
static void
s_cell(FILE *out, const char *v, size_t n, bool first)
{
    if (!first)
        fputc(',', out);
    if (n > 0 && strchr("=+-@\t\r", v[0]) != NULL) {
        fputs("\"'", out);
        for (size_t i = 0; i < n; i++) {
            if (v[i] == '"')
                fputc('"', out);
            fputc(v[i], out);
        }
        fputc('"', out);
        return;
    }
    if (strcspn(v, ",\"\r\n") >= n &&
        (n == 0 || (v[0] != ' ' && v[n - 1] != ' '))) {
        fwrite(v, 1, n, out);
        return;
    }
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"')
            fputc('"', out);
        fputc(v[i], out);
    }
    fputc('"', out);
}

static void
s_cell_str(FILE *out, const char *v, bool first)
{
    s_cell(out, v, strlen(v), first);
}

bool
fsy_cli_csv_collect(fsy_cli_filter_t *f, const fsy_doc_t *d)
{
    for (size_t i = 0; i < d->n_fields; i++) {
        const fsy_field_t *fld = &d->fields[i];
        if (fld->name[0] != '_' && !fsy_field_shown(fld)->absent &&
            !s_add_field(f, fld->name, strlen(fld->name)))
            return false;
    }
    return true;
}

void
fsy_cli_csv_header(FILE *out, const fsy_cli_filter_t *f)
{
    fputs("scope,id,kind,created,created_site,created_author,updated,"
          "updated_site,updated_author,conflicts",
          out);
    for (size_t i = 0; i < f->n_fields; i++)
        s_cell_str(out, f->fields[i], false);
    fputs("\r\n", out);
}

/* A value as a cell: text as is, an attachment as its reference line,
 * other bytes as "base64:...", a removed or missing field empty. */
static bool
s_value_cell(FILE *out, const fsy_field_t *fld)
{
    const fsy_head_t *h = fld != NULL ? fsy_field_shown(fld) : NULL;
    if (h == NULL || h->absent) {
        s_cell(out, "", 0, false);
        return true;
    }
    char *buf = NULL;
    size_t len = 0;
    bool nomem = false;
    FILE *m = open_memstream(&buf, &len);
    if (m == NULL)
        return false;
    if (h->ref) {
        fsy_cli_print_ref(m, h->value, h->value_len);
    } else if (fsy_cli_is_text(h->value, h->value_len)) {
        fwrite(h->value, 1, h->value_len, m);
    } else {
        size_t n = sodium_base64_ENCODED_LEN(h->value_len,
                                             sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(n);
        if (b64 != NULL)
            fprintf(m, "base64:%s",
                    sodium_bin2base64(b64, n, h->value, h->value_len,
                                      sodium_base64_VARIANT_ORIGINAL));
        nomem = b64 == NULL;
        free(b64);
    }
    bool ok = fclose(m) == 0 && buf != NULL && !nomem;
    if (ok)
        s_cell(out, buf, len, false);
    free(buf);
    return ok;
}

bool
fsy_cli_csv_row(FILE *out, const fsy_cli_filter_t *f, const fsy_hit_t *h)
{
    char t[FSY_CLI_TIME_LEN], n[24];
    const fsy_doc_t *d = h->doc;
    s_cell_str(out, d->scope, true);
    s_cell_str(out, d->id, false);
    s_cell_str(out, d->kind, false);
    s_cell_str(out, fsy_cli_time(h->created.hlc, false, t), false);
    s_cell_str(out, h->created.site, false);
    s_cell_str(out, h->created.author, false);
    s_cell_str(out, fsy_cli_time(h->updated.hlc, false, t), false);
    s_cell_str(out, h->updated.site, false);
    s_cell_str(out, h->updated.author, false);
    snprintf(n, sizeof n, "%zu", d->n_conflicts);
    s_cell_str(out, n, false);
    for (size_t i = 0; i < f->n_fields; i++)
        if (!s_value_cell(out, fsy_doc_field(d, f->fields[i])))
            return false;
    fputs("\r\n", out);
    return true;
}
