/*
 * fieldsync CLI — open conflicts: conflicts, resolve, and the rendering of a
 * document's conflicts that `get` shares.
 *
 * A field is in conflict when it has several heads with differing values;
 * the winner (greatest version, the last head) is what everyone sees until
 * someone resolves it. A document deleted at one site while edited at
 * another has a delete-versus-edit conflict, shown as the pseudo-field
 * "_deleted".
 */
#include "common.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"

enum { OPT_SCOPE = 256, OPT_KEEP, OPT_VALUE, OPT_FILE, OPT_JSON };

static const char s_deleted_note[] =
    "deleted at one site while edited at another: resolve a field to keep "
    "the document, or rm it again";

/* ---- rendering shared with get ------------------------------------------ */

static bool
s_is_deleted_field(const fsy_doc_t *d, const fsy_field_t *f)
{
    return d->deleted_conflict && strcmp(f->name, FSY_FIELD_DELETED) == 0;
}

/* Whether the delete-versus-edit conflict needs a line of its own: it has
 * none when the _deleted field itself is listed as a conflict. */
static bool
s_needs_deleted_line(const fsy_doc_t *d)
{
    const fsy_field_t *f = fsy_doc_field(d, FSY_FIELD_DELETED);
    return d->deleted_conflict && (f == NULL || !f->conflict);
}

static void
s_head_widths(const fsy_doc_t *d, size_t *wl, size_t *ws, size_t *wa)
{
    char label[FSY_CLI_LABEL_LEN];
    const fsy_field_t *f;
    size_t i, k;

    for (i = 0; i < d->n_fields; i++) {
        f = &d->fields[i];
        for (k = 0; f->conflict && k < f->n_heads; k++) {
            fsy_cli_widen(wl, fsy_cli_label(&f->heads[k].version, label));
            fsy_cli_widen(ws, f->heads[k].version.origin.site);
            fsy_cli_widen(wa, f->heads[k].author);
        }
    }
}

static void
s_print_head(FILE *f, const fsy_head_t *h, bool winner, const char *indent,
             const size_t w[3])
{
    char label[FSY_CLI_LABEL_LEN], t[FSY_CLI_TIME_LEN];

    fprintf(f, "%s  %s", indent, winner ? "* " : "  ");
    fsy_cli_pad(f, fsy_cli_label(&h->version, label), w[0]);
    fsy_cli_pad(f, h->version.origin.site, w[1]);
    fsy_cli_pad(f, fsy_cli_time(h->version.hlc, false, t), 20);
    if (w[2] > 0) /* authors are checked on every path in (ident.h) */
        fsy_cli_pad(f, h->author, w[2]);
    fsy_cli_print_oneline(f, h->value, h->value_len, h->absent, h->ref,
                          FSY_CLI_ONELINE_MAX);
    fputc('\n', f);
}

/* Why a text field did not merge, after its name. */
static const char *
s_merge_why(const fsy_field_t *fld)
{
    switch (fld->text_merge) {
    case FSY_TEXT_MERGE_OVERLAP:
        return "  the edits overlap: only the places below conflict";
    case FSY_TEXT_MERGE_NO_BASE:
        return "  written independently: no common version to merge from";
    default:
        return "";
    }
}

typedef struct s_overlaps {
    FILE *f;
    const char *indent;
} s_overlaps_t;

/* "hq:4" or "hq:4 + gao:2" for the heads merged into one side. */
static void
s_print_side(FILE *f, const char *indent, const fsy_head_t *heads, size_t n,
             const char *what)
{
    char label[FSY_CLI_LABEL_LEN];
    fprintf(f, "%s      ", indent);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? " + " : "",
                fsy_cli_label(&heads[i].version, label));
    fprintf(f, "%s\n", what);
}

static void
s_print_lines(FILE *f, const char *indent, const char *v, size_t n)
{
    fprintf(f, "%s        ", indent);
    if (n == 0)
        fputs("(no lines)", f);
    fsy_cli_print_value(f, (const uint8_t *)v, n, false, false,
                        strlen(indent) + 8);
    fputc('\n', f);
}

static int
s_print_overlap(const fsy_overlap_t *o, void *ctx)
{
    const s_overlaps_t *x = ctx;
    const fsy_text_hunk_t *h = o->hunk;
    char label[FSY_CLI_LABEL_LEN];

    fprintf(x->f, "%s    at line %zu:\n", x->indent, h->line);
    s_print_side(x->f, x->indent, o->heads, o->n_a, ":");
    s_print_lines(x->f, x->indent, h->a, h->a_len);
    s_print_side(x->f, x->indent, o->heads + o->n_a, 1, ":");
    s_print_lines(x->f, x->indent, h->b, h->b_len);
    fprintf(x->f, "%s      %s, the version both edited:\n", x->indent,
            fsy_cli_label(o->base, label));
    s_print_lines(x->f, x->indent, h->base, h->base_len);
    return 0;
}

static void
s_print_field(FILE *f, fsy_store_t *s, const fsy_doc_t *d,
              const fsy_field_t *fld, const char *indent, const size_t w[3])
{
    size_t k;

    fprintf(f, "%s%s", indent, fld->name);
    if (s_is_deleted_field(d, fld))
        fprintf(f, "  %s", s_deleted_note);
    fputs(s_merge_why(fld), f);
    fputc('\n', f);
    /* Heads are sorted with the greatest (the winner) last: show it first. */
    for (k = fld->n_heads; k-- > 0;)
        s_print_head(f, &fld->heads[k], k == fld->winner, indent, w);
    s_overlaps_t x = {f, indent};
    if (s != NULL &&
        fsy_store_overlaps(s, d, fld->name, s_print_overlap, &x, &k) != FSY_OK)
        fprintf(f, "%s    (the overlapping places cannot be shown: %s)\n",
                indent, fsy_errdetail());
}

void
fsy_cli_print_conflicts(FILE *f, fsy_store_t *s, const fsy_doc_t *d,
                        const char *indent)
{
    size_t w[3] = {0, 0, 0}, i;

    s_head_widths(d, &w[0], &w[1], &w[2]);
    if (s_needs_deleted_line(d))
        fprintf(f, "%s%s  %s\n", indent, FSY_FIELD_DELETED, s_deleted_note);
    for (i = 0; i < d->n_fields; i++)
        if (d->fields[i].conflict)
            s_print_field(f, s, d, &d->fields[i], indent, w);
}

static cJSON *
s_head_json(const fsy_head_t *h, bool winner)
{
    char label[FSY_CLI_LABEL_LEN];
    cJSON *obj = cJSON_CreateObject();
    bool ok = fsy_cli_jstr(obj, "version", fsy_cli_label(&h->version, label)) &&
              fsy_cli_jstr(obj, "site", h->version.origin.site) &&
              fsy_cli_jstr(obj, "author", h->author) &&
              fsy_cli_jtime(obj, "time", h->version.hlc) &&
              fsy_cli_jadd(obj, "value",
                           fsy_cli_json_value(h->value, h->value_len, h->absent,
                                              h->ref)) &&
              fsy_cli_jbool(obj, "winner", winner);

    if (!ok)
        cJSON_Delete(obj);
    return ok ? obj : NULL;
}

static cJSON *
s_heads_json(const fsy_field_t *fld)
{
    cJSON *arr = cJSON_CreateArray();
    bool ok = arr != NULL;
    size_t k;

    for (k = fld->n_heads; ok && k-- > 0;)
        ok = fsy_cli_jpush(arr, s_head_json(&fld->heads[k], k == fld->winner));
    if (!ok)
        cJSON_Delete(arr);
    return ok ? arr : NULL;
}

/* {"versions": [...], "text": ...} of one side of an overlap. */
static cJSON *
s_side_json(const fsy_head_t *heads, size_t n, const char *text, size_t len)
{
    char label[FSY_CLI_LABEL_LEN];
    cJSON *o = cJSON_CreateObject(), *v = o ? cJSON_CreateArray() : NULL;
    bool ok = o != NULL && fsy_cli_jadd(o, "versions", v);
    for (size_t i = 0; ok && i < n; i++)
        ok = fsy_cli_jpush(
            v, cJSON_CreateString(fsy_cli_label(&heads[i].version, label)));
    ok = ok && fsy_cli_jadd(o, "text",
                            fsy_cli_json_value((const uint8_t *)text, len,
                                               false, false));
    if (!ok)
        cJSON_Delete(o);
    return ok ? o : NULL;
}

static int
s_overlap_json(const fsy_overlap_t *o, void *ctx)
{
    const fsy_text_hunk_t *h = o->hunk;
    const fsy_head_t base = {.version = *o->base};
    cJSON *obj = cJSON_CreateObject();
    bool ok =
        fsy_cli_jnum(obj, "line", (double)h->line) &&
        fsy_cli_jadd(obj, "a", s_side_json(o->heads, o->n_a, h->a, h->a_len)) &&
        fsy_cli_jadd(obj, "b",
                     s_side_json(o->heads + o->n_a, 1, h->b, h->b_len)) &&
        fsy_cli_jadd(obj, "base", s_side_json(&base, 1, h->base, h->base_len));
    return fsy_cli_jpush(ctx, ok ? obj : (cJSON_Delete(obj), NULL)) ? 0 : 1;
}

/* "why": overlap | no_base, and "overlaps": [...] for a text field. */
static bool
s_merge_json(cJSON *obj, fsy_store_t *s, const fsy_doc_t *d,
             const fsy_field_t *fld)
{
    size_t n;
    if (fld->text_merge == FSY_TEXT_MERGE_NO_BASE)
        return fsy_cli_jstr(obj, "why", "no_base");
    if (fld->text_merge != FSY_TEXT_MERGE_OVERLAP)
        return true;
    if (!fsy_cli_jstr(obj, "why", "overlap"))
        return false;
    cJSON *arr = cJSON_CreateArray();
    if (!fsy_cli_jadd(obj, "overlaps", arr)) /* takes arr, even failing */
        return false;
    return s == NULL || fsy_store_overlaps(s, d, fld->name, s_overlap_json, arr,
                                           &n) == FSY_OK;
}

/* {"field": NAME, ["note": TEXT,] "heads": [...]}; fld NULL: the note only. */
static cJSON *
s_conflict_json(fsy_store_t *s, const fsy_doc_t *d, const fsy_field_t *fld)
{
    cJSON *obj = cJSON_CreateObject();
    bool note = fld == NULL || s_is_deleted_field(d, fld);
    bool ok = fsy_cli_jstr(obj, "field", fld ? fld->name : FSY_FIELD_DELETED);

    if (ok && note)
        ok = fsy_cli_jstr(obj, "note", s_deleted_note);
    if (ok)
        ok = fsy_cli_jadd(obj, "heads",
                          fld ? s_heads_json(fld) : cJSON_CreateArray());
    if (ok && fld != NULL)
        ok = s_merge_json(obj, s, d, fld);
    if (!ok)
        cJSON_Delete(obj);
    return ok ? obj : NULL;
}

cJSON *
fsy_cli_json_conflicts(fsy_store_t *s, const fsy_doc_t *d)
{
    cJSON *arr = cJSON_CreateArray();
    bool ok = arr != NULL;
    size_t i;

    if (ok && s_needs_deleted_line(d))
        ok = fsy_cli_jpush(arr, s_conflict_json(s, d, NULL));
    for (i = 0; ok && i < d->n_fields; i++)
        if (d->fields[i].conflict)
            ok = fsy_cli_jpush(arr, s_conflict_json(s, d, &d->fields[i]));
    if (!ok)
        cJSON_Delete(arr);
    return ok ? arr : NULL;
}

/* ---- conflicts ---------------------------------------------------------- */

static const char s_conflicts_usage[] =
    "fieldsync conflicts [--scope S] [--json]";
static const char s_conflicts_help[] =
    "Lists every open conflict: for each document, each field edited\n"
    "concurrently at several sites, with every competing version (label,\n"
    "site, time, value). '*' marks the version everyone currently sees.\n"
    "Settle one with 'fieldsync resolve'.\n"
    "\n"
    "  --scope S   only documents in scope S\n"
    "  --json      print an array of documents with their conflicts\n"
    "\n"
    "Example:\n"
    "  fieldsync conflicts --scope MLI\n";

typedef struct s_conflicts {
    fsy_store_t *store;
    bool json;
    bool oom;
    cJSON *arr;
    size_t n;
} s_conflicts_t;

static cJSON *
s_doc_conflicts_json(fsy_store_t *s, const fsy_doc_t *d)
{
    cJSON *obj = cJSON_CreateObject();
    bool ok = fsy_cli_jstr(obj, "scope", d->scope) &&
              fsy_cli_jstr(obj, "id", d->id) &&
              fsy_cli_jstr(obj, "kind", d->kind) &&
              fsy_cli_jbool(obj, "visible", d->visible) &&
              fsy_cli_jadd(obj, "conflicts", fsy_cli_json_conflicts(s, d));

    if (!ok)
        cJSON_Delete(obj);
    return ok ? obj : NULL;
}

static int
s_conflicts_cb(const fsy_doc_t *d, void *ctx)
{
    s_conflicts_t *c = ctx;

    if (c->json) {
        c->oom = !fsy_cli_jpush(c->arr, s_doc_conflicts_json(c->store, d));
        return c->oom ? 1 : 0;
    }
    printf("%s%s in %s (%s)%s: %zu open conflict%s\n", c->n ? "\n" : "", d->id,
           d->scope, d->kind[0] ? d->kind : "no kind",
           d->visible ? "" : ", deleted", d->n_conflicts,
           d->n_conflicts == 1 ? "" : "s");
    fsy_cli_print_conflicts(stdout, c->store, d, "  ");
    c->n++;
    return 0;
}

static int
s_conflicts_run(const fsy_cli_t *cli, const char *scope, s_conflicts_t *c)
{
    fsy_store_t *s = NULL;
    int rc = fsy_cli_open(cli, &s), err;

    if (rc != 0)
        return rc;
    fsy_err_clear();
    c->store = s;
    err = fsy_store_each_doc(s, NULL, scope, true, s_conflicts_cb, c);
    fsy_store_close(&s);
    if (c->oom)
        return fsy_cli_oom(cli);
    if (err != FSY_OK)
        return fsy_cli_fail(cli, err);
    if (c->json) {
        rc = fsy_cli_json_print(cli, c->arr, true);
        c->arr = NULL;
        return rc;
    }
    if (c->n == 0)
        puts("no open conflicts");
    return FSY_EXIT_OK;
}

int
fsy_cmd_conflicts(fsy_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *scope = NULL;
    s_conflicts_t c = {0};
    int ch, rc;

    cli->usage = s_conflicts_usage;
    fsy_cli_getopt_reset();
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (ch == OPT_SCOPE)
            scope = optarg;
        else if (ch == OPT_JSON)
            c.json = true;
        else if (ch == 'h')
            return fsy_cli_help(cli, s_conflicts_help);
        else
            return fsy_cli_bad_option(cli, ch, argv);
    }
    rc = fsy_cli_operands(cli, argc, argv, 0, "no operands");
    if (rc == 0 && scope != NULL)
        rc = fsy_cli_check(cli, fsy_check_scope(scope));
    if (rc == 0 && c.json && (c.arr = cJSON_CreateArray()) == NULL)
        rc = fsy_cli_oom(cli);
    if (rc == 0)
        rc = s_conflicts_run(cli, scope, &c);
    cJSON_Delete(c.arr);
    return rc;
}

/* ---- resolve ------------------------------------------------------------ */

static const char s_resolve_usage[] =
    "fieldsync resolve DOC FIELD (--keep VERSION | --value VALUE | "
    "--file PATH) [--scope S]";
static const char s_resolve_help[] =
    "Settles a conflict on FIELD of document DOC by writing a new version\n"
    "that replaces every competing one, at every site once exchanged.\n"
    "\n"
    "  --keep VERSION  keep the value of one competing version, named by\n"
    "                  its label SITE:SEQ as 'get' or 'conflicts' show it\n"
    "  --value VALUE   write VALUE (UTF-8 text) instead\n"
    "  --file PATH     write the contents of PATH instead (a merged text\n"
    "                  prepared with 'fieldsync diff', for example)\n"
    "  --scope S       needed only when DOC exists in several scopes\n"
    "\n"
    "For a document deleted at one site while edited at another, keeping\n"
    "a value of any field keeps the document. A text field whose concurrent\n"
    "edits merged is no conflict, but resolve takes the merge back: --keep\n"
    "one of its versions (as 'get' names them) and the others are dropped.\n"
    "\n"
    "Examples:\n"
    "  fieldsync resolve isf-mli-2027 status --keep bamako:4\n"
    "  fieldsync resolve isf-mli-2027 status --value \"approved by SRSG\"\n"
    "  fieldsync resolve isf-mli-2027 body --file isf-body-merged.md\n";

typedef struct s_resolve {
    const char *doc;
    const char *field;
    const char *scope;
    const char *keep;
    const char *value;
    const char *file;
    uint8_t *bytes; /* the value to write: --value's or the file's */
    size_t len;
} s_resolve_t;

static int
s_resolve_options(fsy_cli_t *cli, int argc, char **argv, s_resolve_t *r)
{
    static const struct option opts[] = {
        {"keep", required_argument, NULL, OPT_KEEP},
        {"value", required_argument, NULL, OPT_VALUE},
        {"file", required_argument, NULL, OPT_FILE},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, rc;

    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_KEEP)
            r->keep = optarg;
        else if (c == OPT_VALUE)
            r->value = optarg;
        else if (c == OPT_FILE)
            r->file = optarg;
        else if (c == OPT_SCOPE)
            r->scope = optarg;
        else if (c == 'h')
            return fsy_cli_help(cli, s_resolve_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    if ((rc = fsy_cli_operands(cli, argc, argv, 2, "DOC FIELD")) != 0)
        return rc;
    r->doc = argv[optind];
    r->field = argv[optind + 1];
    if ((r->keep != NULL) + (r->value != NULL) + (r->file != NULL) != 1)
        return fsy_cli_usagef(cli, "give one of --keep VERSION, --value "
                                   "VALUE or --file PATH");
    return FSY_EXIT_OK;
}

/* The new value, if one is given: --value (UTF-8) or --file (bytes). */
static int
s_resolve_check(const fsy_cli_t *cli, s_resolve_t *r)
{
    size_t limit = fsy_cli_value_limit(cli);

    /* Reserved fields are allowed: a _kind conflict is resolved too. */
    if (fsy_cli_check(cli, fsy_check_field(r->field, true)) != 0)
        return FSY_EXIT_FAIL;
    if (r->file != NULL)
        return fsy_cli_read_file(cli, r->file, limit,
                                 "a value ([limits] max_value_bytes)",
                                 &r->bytes, &r->len);
    if (r->value == NULL)
        return FSY_EXIT_OK;
    r->len = strlen(r->value);
    r->bytes = (uint8_t *)r->value;
    if (!fsy_utf8_valid(r->bytes, r->len))
        return fsy_cli_failf(cli, "--value is not valid UTF-8 text");
    if (r->len > limit)
        return fsy_cli_failf(cli,
                             "--value is %zu bytes, over the %zu-byte "
                             "limit ([limits] max_value_bytes)",
                             r->len, limit);
    return FSY_EXIT_OK;
}

static int
s_resolve_write(const fsy_cli_t *cli, fsy_store_t *s, const char *scope,
                const s_resolve_t *r)
{
    int err;

    fsy_err_clear();
    err = fsy_store_resolve(s, scope, r->doc, r->field, r->keep, r->bytes,
                            r->len);
    if (err != FSY_OK)
        return fsy_cli_failerr(cli, err, "cannot resolve %s of %s", r->field,
                               r->doc);
    if (r->keep != NULL)
        printf("resolved %s of %s in %s: kept %s\n", r->field, r->doc, scope,
               r->keep);
    else
        printf("resolved %s of %s in %s with the new value\n", r->field, r->doc,
               scope);
    return FSY_EXIT_OK;
}

int
fsy_cmd_resolve(fsy_cli_t *cli, int argc, char **argv)
{
    char scope[FSY_SCOPE_MAX + 1];
    fsy_store_t *s = NULL;
    s_resolve_t r = {0};
    int rc;

    cli->usage = s_resolve_usage;
    rc = s_resolve_options(cli, argc, argv, &r);
    if (rc == 0)
        rc = s_resolve_check(cli, &r);
    if (rc == 0)
        rc = fsy_cli_open_doc(cli, r.doc, r.scope, &s, scope);
    if (rc == 0)
        rc = s_resolve_write(cli, s, scope, &r);
    fsy_store_close(&s);
    if (r.file != NULL)
        free(r.bytes);
    return rc;
}
