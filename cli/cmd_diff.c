/*
 * fieldsync CLI — diff: two versions of a field as a unified diff, so the
 * three versions of an ISF body, or the two sides of a conflict, can be
 * compared without copying them out (the diff: lib/text_diff.c).
 */
#include "common.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/error.h"
#include "fieldsync/text_diff.h"

enum { OPT_SCOPE = 256, OPT_FROM, OPT_TO, OPT_JSON };

static const char s_diff_usage[] =
    "fieldsync diff DOC [FIELD] [--from VERSION] [--to VERSION] [--scope S] "
    "[--json]";
static const char s_diff_help[] =
    "Shows how a text field changed between two versions, as a unified\n"
    "diff: lines starting with '-' are only in the first version, '+' only\n"
    "in the second. Versions are labels SITE:SEQ, as 'log' shows them.\n"
    "\n"
    "Which versions, when not given:\n"
    "  - a field in conflict: each competing version against the one\n"
    "    everyone sees (marked '*' in 'conflicts');\n"
    "  - a field whose concurrent edits merged: each edit against the\n"
    "    merge (what the other edits added);\n"
    "  - otherwise its last two versions;\n"
    "  - --from only: that version against the current value;\n"
    "  - --to only: that version against the one before it.\n"
    "Without FIELD: every field in conflict, or else the field written\n"
    "last.\n"
    "\n"
    "  --from VERSION  the first (older) version\n"
    "  --to VERSION    the second version\n"
    "  --scope S       needed only when DOC exists in several scopes\n"
    "  --json          an array of {field, from, to, patch}\n"
    "\n"
    "Examples:\n"
    "  fieldsync diff isf-mli-2027 body\n"
    "  fieldsync diff isf-mli-2027 body --from bamako:4 --to hq:9\n";

/* One side of a comparison: a version of the field and its value. */
typedef struct s_side {
    fsy_version_t version;
    char author[FSY_AUTHOR_MAX + 1];
    const uint8_t *value;
    size_t len;
    bool absent, ref;
    bool merged; /* the merge of the field's heads, not one version */
} s_side_t;

typedef struct s_diff {
    const fsy_cli_t *cli;
    const char *doc, *field, *scope, *from, *to;
    bool json;
    fsy_change_list_t hist; /* the document's history, version order */
    fsy_doc_t *d;
    cJSON *arr;
    size_t shown;
} s_diff_t;

static void
s_side_change(s_side_t *s, const fsy_change_t *c)
{
    *s = (s_side_t){.version = c->version,
                    .value = c->value,
                    .len = c->value_len,
                    .absent = c->absent,
                    .ref = c->ref};
    memcpy(s->author, c->author, sizeof s->author);
}

static void
s_side_head(s_side_t *s, const fsy_head_t *h, bool merged)
{
    *s = (s_side_t){.merged = merged,
                    .version = h->version,
                    .value = h->value,
                    .len = h->value_len,
                    .absent = h->absent,
                    .ref = h->ref};
    memcpy(s->author, h->author, sizeof s->author);
}

/* ---- writing a patch ---------------------------------------------------- */

static void
s_side_line(FILE *f, const char *mark, const s_diff_t *x, const char *field,
            const s_side_t *s)
{
    char label[FSY_CLI_LABEL_LEN], t[FSY_CLI_TIME_LEN];
    fprintf(f, "%s %s %s  %s  %s", mark, x->d->id, field,
            s->merged ? "merged" : fsy_cli_label(&s->version, label),
            fsy_cli_time(s->version.hlc, false, t));
    if (s->author[0] != '\0') /* checked on every path in (ident.h) */
        fprintf(f, "  %s", s->author);
    fputc('\n', f);
}

typedef struct s_out {
    FILE *f;
    bool raw; /* JSON: as it is; else escaped for a terminal */
} s_out_t;

static int
s_line(const fsy_diff_line_t *l, void *ctx)
{
    const s_out_t *o = ctx;
    if (l->op == '@') {
        fprintf(o->f, "@@ -%d,%d +%d,%d @@\n", l->old_start, l->old_lines,
                l->new_start, l->new_lines);
        return 0;
    }
    if (l->op == '\\') {
        fputs("\\ No newline at end of value\n", o->f);
        return 0;
    }
    fputc(l->op, o->f);
    if (o->raw)
        fwrite(l->text, 1, l->len, o->f);
    else
        fsy_cli_print_oneline(o->f, (const uint8_t *)l->text, l->len, false,
                              false, SIZE_MAX);
    fputc('\n', o->f);
    return 0;
}

/* Values that are not text are compared by size, not line by line. */
static bool
s_is_text(const s_side_t *s)
{
    return s->absent || (!s->ref && fsy_cli_is_text(s->value, s->len));
}

static void
s_not_text(FILE *f, const s_side_t *a, const s_side_t *b)
{
    bool same = a->len == b->len && a->ref == b->ref &&
                (a->len == 0 || memcmp(a->value, b->value, a->len) == 0);
    fputs(same ? "(the same value)\n" : "(values that are not text: ", f);
    if (!same) {
        fsy_cli_print_oneline(f, a->value, a->len, a->absent, a->ref, 60);
        fputs(" -> ", f);
        fsy_cli_print_oneline(f, b->value, b->len, b->absent, b->ref, 60);
        fputs(")\n", f);
    }
}

/* The patch from a to b into f (headers included). */
static int
s_patch(const s_diff_t *x, FILE *f, const char *field, const s_side_t *a,
        const s_side_t *b, bool raw)
{
    s_side_line(f, "---", x, field, a);
    s_side_line(f, "+++", x, field, b);
    if (!s_is_text(a) || !s_is_text(b)) {
        s_not_text(f, a, b);
        return FSY_EXIT_OK;
    }
    s_out_t out = {f, raw};
    size_t hunks = 0;
    fsy_err_clear();
    int err = fsy_text_diff(a->absent ? "" : (const char *)a->value,
                            a->absent ? 0 : a->len,
                            b->absent ? "" : (const char *)b->value,
                            b->absent ? 0 : b->len, 3, s_line, &out, &hunks);
    if (err != FSY_OK)
        return fsy_cli_fail(x->cli, err);
    if (hunks == 0)
        fputs("(the same value)\n", f);
    return FSY_EXIT_OK;
}

static cJSON *
s_side_json(const s_side_t *s)
{
    char label[FSY_CLI_LABEL_LEN];
    cJSON *o = cJSON_CreateObject();
    bool ok = fsy_cli_jstr(o, "version",
                           s->merged ? "merged"
                                     : fsy_cli_label(&s->version, label)) &&
              fsy_cli_jstr(o, "site", s->version.origin.site) &&
              fsy_cli_jstr(o, "author", s->author) &&
              fsy_cli_jtime(o, "time", s->version.hlc);
    if (!ok)
        cJSON_Delete(o);
    return ok ? o : NULL;
}

/* Prints (or adds to the JSON array) the comparison of a with b. */
static int
s_show(s_diff_t *x, const char *field, const s_side_t *a, const s_side_t *b)
{
    x->shown++;
    if (!x->json) {
        if (x->shown > 1)
            fputc('\n', stdout);
        return s_patch(x, stdout, field, a, b, false);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (m == NULL)
        return fsy_cli_oom(x->cli);
    int rc = s_patch(x, m, field, a, b, true);
    bool ok = fclose(m) == 0 && text != NULL;
    cJSON *o = ok && rc == FSY_EXIT_OK ? cJSON_CreateObject() : NULL;
    ok = ok && rc == FSY_EXIT_OK && fsy_cli_jstr(o, "field", field) &&
         fsy_cli_jadd(o, "from", s_side_json(a)) &&
         fsy_cli_jadd(o, "to", s_side_json(b)) &&
         fsy_cli_jstr(o, "patch", text);
    free(text);
    if (!ok)
        cJSON_Delete(o);
    if (rc != FSY_EXIT_OK)
        return rc;
    return ok && fsy_cli_jpush(x->arr, o) ? FSY_EXIT_OK : fsy_cli_oom(x->cli);
}

/* ---- choosing the versions ---------------------------------------------- */

/* The versions of field in the history, in version order. */
static size_t
s_versions(const s_diff_t *x, const char *field, const fsy_change_t **out,
           size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < x->hist.n && n < max; i++)
        if (strcmp(x->hist.v[i].field, field) == 0)
            out[n++] = &x->hist.v[i];
    return n;
}

/* Index of label among vs, or -1. */
static long
s_find(const fsy_change_t *const *vs, size_t n, const char *label)
{
    char l[FSY_CLI_LABEL_LEN];
    for (size_t i = 0; i < n; i++)
        if (strcmp(fsy_cli_label(&vs[i]->version, l), label) == 0)
            return (long)i;
    return -1;
}

static int
s_unknown_version(const s_diff_t *x, const char *field, const char *label)
{
    return fsy_cli_failf(x->cli,
                         "%s has no version %s of field %s: the versions "
                         "are listed by 'fieldsync log %s'",
                         x->doc, label, field, x->doc);
}

/* --from and/or --to given. */
static int
s_given(s_diff_t *x, const char *field, const fsy_change_t **vs, size_t n)
{
    long a = x->from ? s_find(vs, n, x->from) : -1;
    long b = x->to ? s_find(vs, n, x->to) : -1;
    if (x->from != NULL && a < 0)
        return s_unknown_version(x, field, x->from);
    if (x->to != NULL && b < 0)
        return s_unknown_version(x, field, x->to);
    s_side_t sa, sb;
    if (x->to == NULL) { /* against what is shown now */
        const fsy_field_t *f = fsy_doc_field(x->d, field);
        s_side_change(&sa, vs[a]);
        s_side_head(&sb, fsy_field_shown(f),
                    f->text_merge == FSY_TEXT_MERGE_CLEAN);
        return s_show(x, field, &sa, &sb);
    }
    if (x->from == NULL && b == 0)
        return fsy_cli_failf(x->cli,
                             "%s is the first version of %s: there "
                             "is nothing before it",
                             x->to, field);
    s_side_change(&sa, vs[x->from ? a : b - 1]);
    s_side_change(&sb, vs[b]);
    return s_show(x, field, &sa, &sb);
}

/* Neither given: the sides of a conflict, or the last two versions. */
static int
s_default(s_diff_t *x, const fsy_field_t *f, const fsy_change_t **vs, size_t n)
{
    s_side_t sa, sb;
    bool merged = f->text_merge == FSY_TEXT_MERGE_CLEAN;
    if (f->conflict || merged) {
        s_side_head(&sb, fsy_field_shown(f), merged);
        int rc = FSY_EXIT_OK;
        for (size_t k = f->n_heads; rc == FSY_EXIT_OK && k-- > 0;) {
            if (k == f->winner && !merged)
                continue;
            s_side_head(&sa, &f->heads[k], false);
            rc = s_show(x, f->name, &sa, &sb);
        }
        return rc;
    }
    if (n < 2)
        return fsy_cli_failf(x->cli,
                             "field %s of %s has one version: "
                             "nothing to compare it with",
                             f->name, x->doc);
    s_side_change(&sa, vs[n - 2]);
    s_side_change(&sb, vs[n - 1]);
    return s_show(x, f->name, &sa, &sb);
}

static int
s_field(s_diff_t *x, const char *name)
{
    const fsy_field_t *f = fsy_doc_field(x->d, name);
    if (f == NULL || name[0] == '_')
        return fsy_cli_failf(x->cli, "%s has no field '%s'", x->doc, name);
    const fsy_change_t **vs = calloc(x->hist.n ? x->hist.n : 1, sizeof *vs);
    if (vs == NULL)
        return fsy_cli_oom(x->cli);
    size_t n = s_versions(x, name, vs, x->hist.n);
    int rc =
        x->from || x->to ? s_given(x, name, vs, n) : s_default(x, f, vs, n);
    free(vs);
    return rc;
}

/* No FIELD: every field in conflict, or else the one written last. */
static int
s_fields(s_diff_t *x)
{
    const fsy_field_t *last = NULL;
    int rc = FSY_EXIT_OK;
    for (size_t i = 0; rc == FSY_EXIT_OK && i < x->d->n_fields; i++) {
        const fsy_field_t *f = &x->d->fields[i];
        if (f->name[0] == '_')
            continue;
        if ((f->conflict || f->text_merge == FSY_TEXT_MERGE_CLEAN) &&
            !x->from && !x->to)
            rc = s_field(x, f->name);
        if (last == NULL ||
            fsy_version_cmp(&fsy_field_shown(f)->version,
                            &fsy_field_shown(last)->version) > 0)
            last = f;
    }
    if (rc != FSY_EXIT_OK || x->shown > 0)
        return rc;
    if (last == NULL)
        return fsy_cli_failf(x->cli, "%s has no fields to compare", x->doc);
    return s_field(x, last->name);
}

/* ---- the command -------------------------------------------------------- */

static int
s_options(fsy_cli_t *cli, int argc, char **argv, s_diff_t *x)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_FROM)
            x->from = optarg;
        else if (c == OPT_TO)
            x->to = optarg;
        else if (c == OPT_SCOPE)
            x->scope = optarg;
        else if (c == OPT_JSON)
            x->json = true;
        else if (c == 'h')
            return fsy_cli_help(cli, s_diff_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    if (optind >= argc || argc - optind > 2)
        return fsy_cli_usagef(cli, "give DOC and at most one FIELD");
    x->doc = argv[optind];
    x->field = argc - optind == 2 ? argv[optind + 1] : NULL;
    if (x->from != NULL && x->to != NULL && strcmp(x->from, x->to) == 0)
        return fsy_cli_usagef(cli, "--from and --to name the same version");
    return FSY_EXIT_OK;
}

static int
s_run(s_diff_t *x, fsy_store_t *s, const char *scope)
{
    fsy_err_clear();
    int err = fsy_store_get(s, scope, x->doc, &x->d);
    if (err == FSY_OK)
        err = fsy_store_history(s, scope, x->doc, fsy_change_list_collect,
                                &x->hist);
    if (err != FSY_OK)
        return fsy_cli_fail(x->cli, err);
    if (x->json && (x->arr = cJSON_CreateArray()) == NULL)
        return fsy_cli_oom(x->cli);
    int rc = x->field != NULL ? s_field(x, x->field) : s_fields(x);
    if (rc == FSY_EXIT_OK && x->json) {
        rc = fsy_cli_json_print(x->cli, x->arr, true);
        x->arr = NULL;
    }
    return rc;
}

int
fsy_cmd_diff(fsy_cli_t *cli, int argc, char **argv)
{
    char scope[FSY_SCOPE_MAX + 1];
    fsy_store_t *s = NULL;
    s_diff_t x = {.cli = cli};
    cli->usage = s_diff_usage;
    int rc = s_options(cli, argc, argv, &x);
    if (rc == FSY_EXIT_OK)
        rc = fsy_cli_open_doc(cli, x.doc, x.scope, &s, scope);
    if (rc == FSY_EXIT_OK)
        rc = s_run(&x, s, scope);
    fsy_store_close(&s);
    fsy_doc_free(&x.d);
    fsy_change_list_clear(&x.hist);
    cJSON_Delete(x.arr);
    return rc;
}
