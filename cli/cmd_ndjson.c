/*
 * fieldsync CLI — documents from NDJSON: import (cmd_export.c writes it).
 *
 * One JSON object a line:
 *
 *   {"scope":"MLI","id":"isf-mli-2027","kind":"plan",
 *    "fields":{"title":"Integrated Strategic Framework 2027",
 *              "annex":{"base64":"JVBERi0x..."}},
 *    "conflicts":["status"]}
 *
 * Export writes user fields with their winning values (a field whose winner
 * is absent is left out) and names the fields in conflict. Import reads the
 * same shape, ignoring "conflicts", and writes each line with one
 * fsy_store_put; lines are grouped in transactions of --batch lines, and a
 * bad line rolls back its whole batch, so a file is applied up to a batch
 * boundary, never up to an arbitrary line.
 */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"

enum { OPT_BATCH = 256, OPT_JSON };

#define S_LINE_MAX ((size_t)4 << 20) /* longest line import accepts */
#define S_BATCH_DEFAULT 500
#define S_BATCH_MAX 100000

/* ---- import ------------------------------------------------------------- */

static const char s_import_usage[] =
    "fieldsync import FILE.ndjson [--batch N] [--json]";
static const char s_import_help[] =
    "Creates or updates documents from NDJSON, one object a line, in the\n"
    "format 'fieldsync export' writes: \"scope\" and \"id\" (required),\n"
    "\"kind\" (required to create a document), \"fields\" (an object of\n"
    "text values or {\"base64\": ...} for other bytes); \"conflicts\" is\n"
    "ignored. \"urgent\": true sends that document's write ahead of\n"
    "every change waiting to go, like 'put --urgent'. Empty lines are\n"
    "skipped; FILE - reads standard input.\n"
    "\n"
    "Lines are written in transactions of N lines. A bad line is reported\n"
    "as FILE:LINE, nothing of its batch is applied, and the import stops;\n"
    "earlier batches stay committed (the message says how many lines).\n"
    "\n"
    "  --batch N   lines per transaction (default 500, at most 100000)\n"
    "  --json      print the counts as JSON\n"
    "\n"
    "Example:\n"
    "  fieldsync import mli-analysis.ndjson\n";

typedef struct s_import {
    const fsy_cli_t *cli;
    fsy_store_t *s;
    const char *path; /* as shown in messages */
    FILE *in;
    size_t batch;             /* document lines per transaction */
    size_t lineno;            /* physical line number, from 1 */
    size_t in_batch;          /* document lines in the open transaction */
    size_t committed;         /* document lines committed */
    size_t committed_through; /* physical line of the last commit */
    size_t skipped;           /* lines without fields: nothing to write */
    size_t unchanged;         /* lines whose values were all there already */
    size_t urgent;            /* lines written as urgent */
    size_t batches;
    bool open; /* a transaction is open */
    char *buf; /* the current line, NUL-terminated */
    size_t len, cap;
    char why[600]; /* what is wrong with the current line */
} s_import_t;

/* One line's write. Values point into the parsed JSON, or into owned[]
 * for decoded base64. */
typedef struct s_line {
    const char *scope, *id, *kind;
    fsy_field_set_t *sets;
    uint8_t **owned;
    size_t n;       /* sets to write */
    size_t n_owned; /* owned[] slots to free (sets may be dropped later) */
    bool urgent;
} s_line_t;

static int s_why(s_import_t *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
s_why(s_import_t *x, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(x->why, sizeof x->why, fmt, ap);
    va_end(ap);
    return FSY_EXIT_FAIL;
}

static int
s_why_err(s_import_t *x, int err)
{
    const char *d = fsy_errdetail();
    return s_why(x, "%s", d != NULL && d[0] ? d : fsy_strerror(err));
}

static bool
s_grow(s_import_t *x)
{
    size_t cap = x->cap ? x->cap * 2 : 65536;
    char *p;

    if (cap > S_LINE_MAX + 1)
        cap = S_LINE_MAX + 1;
    if ((p = realloc(x->buf, cap)) == NULL)
        return false;
    x->buf = p;
    x->cap = cap;
    return true;
}

/* 1: a line is in x->buf; 0: end of input; -1: error (x->why set). */
static int
s_read_line(s_import_t *x)
{
    int ch;

    x->len = 0;
    x->lineno++;
    while ((ch = getc_unlocked(x->in)) != EOF && ch != '\n') {
        if (x->len == S_LINE_MAX) {
            s_why(x, "line is longer than %zu bytes", S_LINE_MAX);
            return -1;
        }
        if (x->len + 1 >= x->cap && !s_grow(x)) {
            s_why(x, "out of memory");
            return -1;
        }
        x->buf[x->len++] = (char)ch;
    }
    if (ferror(x->in)) {
        s_why(x, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (ch == EOF && x->len == 0) {
        x->lineno--; /* no line there: keep the last one for messages */
        return 0;
    }
    if (x->len > 0 && x->buf[x->len - 1] == '\r')
        x->len--;
    if (x->cap == 0 && !s_grow(x)) {
        s_why(x, "out of memory");
        return -1;
    }
    x->buf[x->len] = '\0';
    return 1;
}

static bool
s_blank(const char *s, size_t len)
{
    return strspn(s, " \t\r") == len;
}

static void
s_line_free(s_line_t *l)
{
    size_t i;

    for (i = 0; l->owned != NULL && i < l->n_owned; i++)
        free(l->owned[i]);
    free(l->owned);
    free(l->sets);
}

static int
s_string(s_import_t *x, const cJSON *root, const char *key, bool required,
         const char **out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);

    *out = NULL;
    if (j == NULL && required)
        return s_why(x, "missing \"%s\"", key);
    if (j != NULL && !cJSON_IsString(j))
        return s_why(x, "\"%s\" must be a string", key);
    *out = j != NULL ? j->valuestring : NULL;
    return FSY_EXIT_OK;
}

static int
s_base64(s_import_t *x, const cJSON *f, uint8_t **out, size_t *len)
{
    static const char *const keys[] = {"base64", NULL};
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(f, "base64");
    size_t limit = fsy_cli_value_limit(x->cli), blen, max;
    const char *bad;
    bool rep;

    if (cJSON_GetObjectItemCaseSensitive(f, "attachment") != NULL)
        return s_why(x,
                     "field \"%s\" is an attachment: NDJSON carries "
                     "references, not files; attach it with 'fieldsync put "
                     "DOC --attach %s=PATH', or carry it by bundle",
                     f->string, f->string);
    if (!fsy_json_keys_ok(f, keys, &bad, &rep) || !cJSON_IsString(b))
        return s_why(x,
                     "field \"%s\": expected a string or "
                     "{\"base64\": \"...\"}",
                     f->string);
    blen = strlen(b->valuestring);
    max = blen / 4 * 3 + 3;
    if (max > limit + 3) /* refuse before decoding all of it */
        return s_why(x, "field \"%s\": over the %zu-byte value limit",
                     f->string, limit);
    if ((*out = malloc(max)) == NULL)
        return s_why(x, "out of memory");
    if (sodium_base642bin(*out, max, b->valuestring, blen, NULL, len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return s_why(x, "field \"%s\": invalid base64", f->string);
    return FSY_EXIT_OK;
}

static int
s_field(s_import_t *x, const cJSON *f, s_line_t *l)
{
    fsy_field_set_t *set = &l->sets[l->n];
    size_t limit = fsy_cli_value_limit(x->cli);
    int rc = FSY_EXIT_OK;

    if (fsy_check_field(f->string, false) != FSY_OK)
        return s_why_err(x, FSY_EINVAL);
    set->field = f->string;
    if (cJSON_IsString(f)) {
        set->value = (const uint8_t *)f->valuestring;
        set->len = strlen(f->valuestring);
    } else if (cJSON_IsObject(f)) {
        rc = s_base64(x, f, &l->owned[l->n], &set->len);
        set->value = l->owned[l->n];
    } else {
        rc = s_why(x,
                   "field \"%s\": expected a string or "
                   "{\"base64\": \"...\"}",
                   f->string);
    }
    l->n_owned = ++l->n; /* counted even on failure: owned[] is freed */
    if (rc == FSY_EXIT_OK && set->len > limit)
        rc = s_why(x, "field \"%s\": %zu bytes, over the %zu-byte value limit",
                   f->string, set->len, limit);
    return rc;
}

static int
s_fields(s_import_t *x, const cJSON *fields, s_line_t *l)
{
    const cJSON *f;
    size_t n = 0, i, k;
    int rc = FSY_EXIT_OK;

    if (fields == NULL)
        return s_why(x, "missing \"fields\"");
    if (!cJSON_IsObject(fields))
        return s_why(x, "\"fields\" must be an object");
    for (f = fields->child; f != NULL; f = f->next)
        n++;
    if (n > FSY_TXN_MAX) /* also bounds the quadratic repeat check */
        return s_why(x, "%zu fields, more than the %d one write may hold", n,
                     FSY_TXN_MAX);
    l->sets = calloc(n + 1, sizeof *l->sets);
    l->owned = calloc(n + 1, sizeof *l->owned);
    if (l->sets == NULL || l->owned == NULL)
        return s_why(x, "out of memory");
    for (f = fields->child; f != NULL && rc == FSY_EXIT_OK; f = f->next)
        rc = s_field(x, f, l);
    for (i = 0; rc == FSY_EXIT_OK && i < l->n; i++)
        for (k = 0; k < i; k++)
            if (strcmp(l->sets[i].field, l->sets[k].field) == 0)
                return s_why(x, "field \"%s\" appears twice", l->sets[i].field);
    return rc;
}

static int
s_check(s_import_t *x, int err)
{
    return err == FSY_OK ? FSY_EXIT_OK : s_why_err(x, err);
}

static int
s_line_parse(s_import_t *x, const cJSON *root, s_line_t *l)
{
    /* provenance an export carries is the replica's to say: ignored */
    static const char *const keys[] = {
        "scope",   "id",           "kind",
        "fields",  "conflicts",    "urgent",
        "created", "created_site", "created_author",
        "updated", "updated_site", "updated_author",
        NULL};
    const cJSON *conflicts =
        cJSON_GetObjectItemCaseSensitive(root, "conflicts");
    const cJSON *urgent = cJSON_GetObjectItemCaseSensitive(root, "urgent");
    const char *bad;
    bool rep;
    int rc;

    if (!cJSON_IsObject(root))
        return s_why(x, "expected a JSON object");
    if (!fsy_json_keys_ok(root, keys, &bad, &rep))
        return s_why(x, "%s key \"%s\"", rep ? "repeated" : "unknown", bad);
    if ((rc = s_string(x, root, "scope", true, &l->scope)) != 0 ||
        (rc = s_string(x, root, "id", true, &l->id)) != 0 ||
        (rc = s_string(x, root, "kind", false, &l->kind)) != 0)
        return rc;
    if (conflicts != NULL && !cJSON_IsArray(conflicts))
        return s_why(x, "\"conflicts\" must be an array");
    if (urgent != NULL && !cJSON_IsBool(urgent))
        return s_why(x, "\"urgent\" must be true or false");
    l->urgent = cJSON_IsTrue(urgent);
    if ((rc = s_check(x, fsy_check_scope(l->scope))) != 0 ||
        (rc = s_check(x, fsy_check_doc_id(l->id))) != 0)
        return rc;
    if (l->kind != NULL && (rc = s_check(x, fsy_check_kind(l->kind))) != 0)
        return rc;
    return s_fields(x, cJSON_GetObjectItemCaseSensitive(root, "fields"), l);
}

static int
s_commit(s_import_t *x)
{
    int err;

    if (!x->open)
        return FSY_EXIT_OK;
    fsy_err_clear();
    err = fsy_store_commit(x->s);
    if (err != FSY_OK)
        return s_why(x, "cannot commit the batch: %s",
                     fsy_errdetail()[0] ? fsy_errdetail() : fsy_strerror(err));
    x->open = false;
    x->committed += x->in_batch;
    x->committed_through = x->lineno;
    x->in_batch = 0;
    x->batches++;
    return FSY_EXIT_OK;
}

/* True if field f already shows exactly this value, with no conflict. */
static bool
s_same_value(const fsy_field_t *f, const fsy_field_set_t *set)
{
    const fsy_head_t *w;

    if (f == NULL || f->conflict)
        return false;
    w = fsy_field_shown(f);
    return !w->absent && w->value_len == set->len &&
           (set->len == 0 || memcmp(w->value, set->value, set->len) == 0);
}

/*
 * Leaves out fields that already hold the imported value, so importing the
 * same file twice (or an export back into its replica) writes nothing new
 * rather than a new version of every field.
 */
static int
s_drop_unchanged(s_import_t *x, s_line_t *l)
{
    fsy_doc_t *d = NULL;
    size_t i, k = 0;
    int err = fsy_store_get(x->s, l->scope, l->id, &d);

    if (err == FSY_ENOTFOUND)
        return FSY_EXIT_OK;
    if (err != FSY_OK)
        return s_why_err(x, err);
    if (d->visible) {
        for (i = 0; i < l->n; i++)
            if (!s_same_value(fsy_doc_field(d, l->sets[i].field), &l->sets[i]))
                l->sets[k++] = l->sets[i];
        l->n = k; /* owned[] is freed by n_owned */
    }
    fsy_doc_free(&d);
    return FSY_EXIT_OK;
}

static int
s_line_put(s_import_t *x, s_line_t *l)
{
    int rc;

    if (!x->open) {
        fsy_err_clear();
        if ((rc = s_check(x, fsy_store_begin(x->s))) != 0)
            return rc;
        x->open = true;
    }
    fsy_err_clear();
    if ((rc = s_drop_unchanged(x, l)) != FSY_EXIT_OK)
        return rc;
    fsy_store_set_urgent(x->s, l->urgent);
    if (l->n == 0)
        x->unchanged++;
    else
        rc = s_check(
            x, fsy_store_put(x->s, l->scope, l->id, l->kind, l->sets, l->n));
    if (rc == FSY_EXIT_OK && l->n > 0 && l->urgent)
        x->urgent++;
    if (rc == FSY_EXIT_OK && ++x->in_batch == x->batch)
        rc = s_commit(x);
    return rc;
}

static cJSON *
s_parse_json(s_import_t *x)
{
    const char *end = NULL;
    cJSON *root;

    if (strlen(x->buf) != x->len) {
        s_why(x, "contains a NUL byte");
        return NULL;
    }
    if (!fsy_utf8_valid((const uint8_t *)x->buf, x->len)) {
        s_why(x, "not valid UTF-8");
        return NULL;
    }
    if (fsy_json_has_nul_escape(x->buf)) {
        s_why(x, "\\u0000 in a string: give such a value as "
                 "{\"base64\": \"...\"}");
        return NULL;
    }
    root = cJSON_ParseWithOpts(x->buf, &end, true);
    if (root == NULL)
        s_why(x, "invalid JSON at column %zu",
              end != NULL ? (size_t)(end - x->buf) + 1 : (size_t)1);
    return root;
}

static int
s_import_line(s_import_t *x)
{
    s_line_t l = {0};
    cJSON *root;
    int rc;

    if (s_blank(x->buf, x->len))
        return FSY_EXIT_OK;
    if ((root = s_parse_json(x)) == NULL)
        return FSY_EXIT_FAIL;
    rc = s_line_parse(x, root, &l);
    if (rc == FSY_EXIT_OK && l.n == 0)
        x->skipped++; /* e.g. exported mid delete-versus-edit conflict */
    else if (rc == FSY_EXIT_OK)
        rc = s_line_put(x, &l);
    s_line_free(&l);
    cJSON_Delete(root);
    return rc;
}

static int
s_import_fail(s_import_t *x)
{
    if (x->open)
        fsy_store_rollback(x->s);
    x->open = false;
    if (x->committed == 0)
        return fsy_cli_failf(x->cli, "%s:%zu: %s (nothing was imported)",
                             x->path, x->lineno, x->why);
    return fsy_cli_failf(x->cli,
                         "%s:%zu: %s (batch rolled back; %zu earlier "
                         "line%s committed, through line %zu)",
                         x->path, x->lineno, x->why, x->committed,
                         x->committed == 1 ? "" : "s", x->committed_through);
}

static int
s_import_run(s_import_t *x)
{
    int r;

    while ((r = s_read_line(x)) > 0)
        if (s_import_line(x) != FSY_EXIT_OK)
            return s_import_fail(x);
    if (r < 0 || s_commit(x) != FSY_EXIT_OK)
        return s_import_fail(x);
    return FSY_EXIT_OK;
}

static int
s_import_print(const s_import_t *x, bool json)
{
    cJSON *root;
    bool ok;

    if (!json) {
        printf("imported %zu document%s from %s in %zu batch%s", x->committed,
               x->committed == 1 ? "" : "s", x->path, x->batches,
               x->batches == 1 ? "" : "es");
        if (x->skipped > 0)
            printf(" (%zu line%s without fields skipped)", x->skipped,
                   x->skipped == 1 ? "" : "s");
        if (x->unchanged > 0)
            printf(" (%zu already up to date)", x->unchanged);
        if (x->urgent > 0)
            printf(" (%zu urgent)", x->urgent);
        fputc('\n', stdout);
        return FSY_EXIT_OK;
    }
    root = cJSON_CreateObject();
    ok = fsy_cli_jstr(root, "path", x->path) &&
         fsy_cli_jnum(root, "documents", (double)x->committed) &&
         fsy_cli_jnum(root, "skipped", (double)x->skipped) &&
         fsy_cli_jnum(root, "unchanged", (double)x->unchanged) &&
         fsy_cli_jnum(root, "urgent", (double)x->urgent) &&
         fsy_cli_jnum(root, "batches", (double)x->batches);
    return fsy_cli_json_print(x->cli, root, ok);
}

static int
s_batch_arg(const fsy_cli_t *cli, const char *arg, size_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || v < 1 ||
        v > S_BATCH_MAX)
        return fsy_cli_usagef(cli,
                              "--batch '%s': expected a whole number "
                              "from 1 to %d",
                              arg, S_BATCH_MAX);
    *out = (size_t)v;
    return FSY_EXIT_OK;
}

static int
s_import_options(fsy_cli_t *cli, int argc, char **argv, s_import_t *x,
                 bool *json)
{
    static const struct option opts[] = {
        {"batch", required_argument, NULL, OPT_BATCH},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, rc = FSY_EXIT_OK;

    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_BATCH)
            rc = s_batch_arg(cli, optarg, &x->batch);
        else if (c == OPT_JSON)
            *json = true;
        else if (c == 'h')
            return fsy_cli_help(cli, s_import_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
        if (rc != FSY_EXIT_OK)
            return rc;
    }
    return fsy_cli_operands(cli, argc, argv, 1, "FILE");
}

static int
s_import_open(const fsy_cli_t *cli, const char *arg, s_import_t *x)
{
    if (strcmp(arg, "-") == 0) {
        x->in = stdin;
        x->path = "<stdin>";
        return FSY_EXIT_OK;
    }
    x->path = arg;
    if ((x->in = fopen(arg, "rb")) == NULL)
        return fsy_cli_failf(cli, "cannot open %s: %s", arg, strerror(errno));
    return FSY_EXIT_OK;
}

int
fsy_cmd_import(fsy_cli_t *cli, int argc, char **argv)
{
    s_import_t x = {.cli = cli, .batch = S_BATCH_DEFAULT};
    bool json = false;
    int rc;

    cli->usage = s_import_usage;
    rc = s_import_options(cli, argc, argv, &x, &json);
    if (rc == 0)
        rc = fsy_cli_open(cli, &x.s);
    if (rc == 0)
        rc = s_import_open(cli, argv[optind], &x);
    if (rc == 0)
        rc = s_import_run(&x);
    if (rc == 0)
        rc = s_import_print(&x, json);
    if (x.in != NULL && x.in != stdin)
        fclose(x.in);
    fsy_store_close(&x.s);
    free(x.buf);
    return rc;
}
