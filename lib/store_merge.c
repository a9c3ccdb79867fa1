/*
 * fieldsync — concurrent text heads merged line by line (DESIGN: "Text
 * merge is a pure function"; docs/REPLICATION.md, "Text merge").
 *
 * When a field's heads are concurrent line-structured texts, its shown
 * value is their three-way merge: heads folded in version order, each over
 * the greatest maximal common ancestor of it and the heads folded before
 * it, found in the field's version graph (bases) as the log holds it. All
 * of that is a function of the set of changes held, so replicas holding
 * the same changes show the same bytes. A merge that overlaps, or heads
 * with no common version, stay an open conflict as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/text_merge.h"
#include "merge.h"
#include "store_internal.h"

/* Bounds on the work of one field's merge; beyond them the field is an
 * open conflict, as without text merge (the same everywhere: they depend
 * on the changes held only). */
#define HISTORY_MAX 200000

/* A version of the field and the versions it names that the log holds. */
typedef struct s_node {
    fsy_version_t v;
    int64_t lseq;
    fsy_version_t *raw; /* bases as named, until resolved */
    size_t n_raw;
    size_t *base; /* indices of the bases held */
    size_t n_base;
} s_node_t;

enum { ACC = 1, CUR = 2, DOM = 4 };

typedef struct s_graph {
    s_node_t *node;
    size_t n, cap;
    uint8_t *mark;
    size_t *stack;
} s_graph_t;

static void
s_graph_free(s_graph_t *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->node[i].raw);
        free(g->node[i].base);
    }
    free(g->node);
    free(g->mark);
    free(g->stack);
}

static int
s_node_cmp(const void *a, const void *b)
{
    return fsy_version_cmp(&((const s_node_t *)a)->v,
                           &((const s_node_t *)b)->v);
}

/* The node of version v, or g->n. Nodes are sorted by version. */
static size_t
s_find(const s_graph_t *g, const fsy_version_t *v)
{
    s_node_t key = {.v = *v};
    const s_node_t *n = bsearch(&key, g->node, g->n, sizeof key, s_node_cmp);
    return n != NULL ? (size_t)(n - g->node) : g->n;
}

static int
s_add_row(s_graph_t *g, sqlite3_stmt *st)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        s_node_t *v = realloc(g->node, cap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        g->node = v;
        g->cap = cap;
    }
    s_node_t *n = &g->node[g->n];
    memset(n, 0, sizeof *n);
    n->v.hlc = (uint64_t)sqlite3_column_int64(st, 0);
    fsy_sq_col_text(st, 1, n->v.origin.site, sizeof n->v.origin.site);
    n->v.origin.incarnation = (uint64_t)sqlite3_column_int64(st, 2);
    n->v.seq = (uint64_t)sqlite3_column_int64(st, 3);
    n->lseq = sqlite3_column_int64(st, 5);
    g->n++;
    return fsy_sq_bases_decode(sqlite3_column_blob(st, 4),
                               (size_t)sqlite3_column_bytes(st, 4), &n->raw,
                               &n->n_raw);
}

/* Each node's bases as indices of the nodes held (others are skipped:
 * a base not received yet is harmless, DESIGN). */
static int
s_resolve(s_graph_t *g)
{
    qsort(g->node, g->n, sizeof *g->node, s_node_cmp);
    for (size_t i = 0; i < g->n; i++) {
        s_node_t *n = &g->node[i];
        if (n->n_raw == 0)
            continue;
        if ((n->base = malloc(n->n_raw * sizeof *n->base)) == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        for (size_t k = 0; k < n->n_raw; k++) {
            size_t at = s_find(g, &n->raw[k]);
            if (at < g->n)
                n->base[n->n_base++] = at;
        }
    }
    g->mark = calloc(g->n ? g->n : 1, 1);
    g->stack = malloc((g->n ? g->n : 1) * sizeof *g->stack);
    return g->mark && g->stack ? FSY_OK
                               : fsy_err_set(FSY_ENOMEM, "out of memory");
}

/* The version graph of (scope, doc, field); *too_big if over the bound. */
static int
s_load_graph(fsy_store_t *s, const fsy_doc_t *d, const char *field,
             s_graph_t *g, bool *too_big)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_MERGE_NODES);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, d->scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, d->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, field, -1, SQLITE_STATIC);
    int rc, err = FSY_OK;
    *too_big = false;
    while (err == FSY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (g->n == HISTORY_MAX) {
            *too_big = true;
            break;
        }
        err = s_add_row(g, st);
    }
    sqlite3_reset(st);
    if (err == FSY_OK && !*too_big && rc != SQLITE_DONE)
        err = fsy_sq_err(s, rc, "reading a field's history");
    return err == FSY_OK && !*too_big ? s_resolve(g) : err;
}

/* Sets bit on `from` and every version it descends from. */
static void
s_mark(s_graph_t *g, size_t from, uint8_t bit)
{
    size_t top = 0;
    if (g->mark[from] & bit)
        return;
    g->mark[from] |= bit;
    g->stack[top++] = from;
    while (top > 0) {
        const s_node_t *n = &g->node[g->stack[--top]];
        for (size_t k = 0; k < n->n_base; k++)
            if (!(g->mark[n->base[k]] & bit)) {
                g->mark[n->base[k]] |= bit;
                g->stack[top++] = n->base[k];
            }
    }
}

/* The greatest common version of ACC and CUR that no other common version
 * descends from, or g->n if they share none. */
static size_t
s_best_common(s_graph_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        g->mark[i] &= (uint8_t)~DOM;
    for (size_t i = 0; i < g->n; i++)
        if ((g->mark[i] & (ACC | CUR)) == (ACC | CUR))
            for (size_t k = 0; k < g->node[i].n_base; k++)
                s_mark(g, g->node[i].base[k], DOM);
    for (size_t i = g->n; i-- > 0;)
        if (g->mark[i] == (ACC | CUR))
            return i;
    return g->n;
}

/* The text of the change at lseq: absent is empty; *ok false if it is
 * not text (an attachment, bytes). The buffer is the caller's. */
static int
s_value_at(fsy_store_t *s, int64_t lseq, char **out, size_t *len, bool *ok)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_MERGE_VALUE);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_int64(st, 1, lseq);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return fsy_sq_err(s, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc,
                          "reading a merge base");
    }
    const uint8_t *v = sqlite3_column_blob(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    *ok = sqlite3_column_int(st, 2) == 0 &&
          (sqlite3_column_int(st, 1) != 0 || fsy_text_is_text(v, n));
    *out = *ok ? malloc(n + 1) : NULL;
    if (*out != NULL) {
        if (n > 0)
            memcpy(*out, v, n);
        (*out)[n] = '\0';
        *len = n;
    }
    sqlite3_reset(st);
    return !*ok || *out != NULL ? FSY_OK
                                : fsy_err_set(FSY_ENOMEM, "out of memory");
}

/* One merge in progress: the heads folded so far into `text`. */
typedef struct s_fold {
    fsy_store_t *s;
    const fsy_field_t *f;
    s_graph_t g;
    char *text;
    size_t len;
    fsy_version_t *bases;
    fsy_overlap_cb cb; /* NULL: only decide */
    void *ctx;
    size_t step, overlaps;
} s_fold_t;

static int
s_hunk(const fsy_text_hunk_t *h, void *ctx)
{
    s_fold_t *x = ctx;
    fsy_overlap_t o = {.heads = x->f->heads,
                       .n_a = x->step,
                       .base = &x->bases[x->step - 1],
                       .hunk = h};
    return x->cb(&o, x->ctx);
}

/* Folds head `i` into the text: *state stays CLEAN while it merges. */
static int
s_fold_step(s_fold_t *x, size_t i, fsy_text_merge_state_t *state)
{
    const fsy_head_t *h = &x->f->heads[i];
    size_t at = s_find(&x->g, &h->version);
    if (at == x->g.n)
        return fsy_err_set(FSY_ECORRUPT, "a head is not in the log");
    for (size_t k = 0; k < x->g.n; k++)
        x->g.mark[k] &= (uint8_t)~CUR;
    s_mark(&x->g, at, CUR);
    size_t b = s_best_common(&x->g);
    char *base = NULL, *out = NULL;
    size_t base_len = 0, out_len;
    bool ok = b < x->g.n, clean = false;
    int rc = ok ? s_value_at(x->s, x->g.node[b].lseq, &base, &base_len, &ok)
                : FSY_OK;
    if (rc != FSY_OK || !ok) {
        *state = FSY_TEXT_MERGE_NO_BASE;
        return rc;
    }
    x->bases[i - 1] = x->g.node[b].v;
    x->step = i;
    rc =
        fsy_text_merge3(base, base_len, x->text, x->len, (const char *)h->value,
                        h->value_len, &clean, &out, &out_len);
    if (rc == FSY_EIO || (rc == FSY_OK && clean && out_len > FSY_VALUE_MAX)) {
        /* libgit2 refused these texts, or the merge is longer than a value
         * may be: the same everywhere, so the field stays a conflict */
        free(base);
        free(out);
        *state = FSY_TEXT_MERGE_NONE;
        return FSY_OK;
    }
    if (rc == FSY_OK && !clean && x->cb != NULL)
        rc = fsy_text_merge_hunks(base, base_len, x->text, x->len,
                                  (const char *)h->value, h->value_len, s_hunk,
                                  x, &x->overlaps);
    free(base);
    if (rc == FSY_OK && clean) {
        free(x->text);
        x->text = out;
        x->len = out_len;
        for (size_t k = 0; k < x->g.n; k++)
            x->g.mark[k] |= (uint8_t)(x->g.mark[k] & CUR ? ACC : 0);
    }
    if (!clean)
        *state = FSY_TEXT_MERGE_OVERLAP;
    return rc;
}

/* Folds every head of x->f; *state says how it ended. */
static int
s_fold(s_fold_t *x, const fsy_doc_t *d, fsy_text_merge_state_t *state)
{
    const fsy_field_t *f = x->f;
    bool too_big;
    *state = FSY_TEXT_MERGE_NONE;
    int rc = s_load_graph(x->s, d, f->name, &x->g, &too_big);
    if (rc != FSY_OK || too_big)
        return rc;
    size_t first = s_find(&x->g, &f->heads[0].version);
    x->bases = calloc(f->n_heads, sizeof *x->bases);
    x->text = malloc(f->heads[0].value_len + 1);
    if (x->bases == NULL || x->text == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    if (first == x->g.n)
        return fsy_err_set(FSY_ECORRUPT, "a head is not in the log");
    memcpy(x->text, f->heads[0].value, f->heads[0].value_len);
    x->text[x->len = f->heads[0].value_len] = '\0';
    s_mark(&x->g, first, ACC);
    *state = FSY_TEXT_MERGE_CLEAN;
    for (size_t i = 1;
         rc == FSY_OK && *state == FSY_TEXT_MERGE_CLEAN && i < f->n_heads; i++)
        rc = s_fold_step(x, i, state);
    return rc;
}

static void
s_fold_free(s_fold_t *x)
{
    s_graph_free(&x->g);
    free(x->text);
    free(x->bases);
}

/* Merges field f of d, if its heads are concurrent text. */
static int
s_merge_field(fsy_store_t *s, const fsy_doc_t *d, fsy_field_t *f)
{
    if (!fsy_merge_text_candidate(f, s->whole_fields))
        return FSY_OK;
    s_fold_t x = {.s = s, .f = f};
    fsy_text_merge_state_t state;
    int rc = s_fold(&x, d, &state);
    f->text_merge = rc == FSY_OK ? state : FSY_TEXT_MERGE_NONE;
    if (rc == FSY_OK && state == FSY_TEXT_MERGE_CLEAN) {
        f->conflict = false;
        f->merged = f->heads[f->winner];
        f->merged.author[0] = '\0'; /* nobody wrote the merge */
        f->merged.value = (uint8_t *)x.text;
        f->merged.value_len = x.len;
        f->merge_bases = x.bases;
        x.text = NULL;
        x.bases = NULL;
    }
    s_fold_free(&x);
    return rc;
}

int
fsy_sq_merge_text(fsy_store_t *s, fsy_doc_t *d)
{
    if (!d->visible || d->n_conflicts == 0)
        return FSY_OK;
    /* Another process (a tool with [merge]) may have changed the rule:
     * every derivation follows the replica's, never a stale copy. */
    fsy_sq_merge_rule_refresh(s);
    int rc = FSY_OK;
    for (size_t i = 0; rc == FSY_OK && i < d->n_fields; i++)
        rc = s_merge_field(s, d, &d->fields[i]);
    fsy_merge_count_conflicts(d);
    return rc;
}

int
fsy_store_overlaps(fsy_store_t *s, const fsy_doc_t *d, const char *field,
                   fsy_overlap_cb cb, void *ctx, size_t *n)
{
    const fsy_field_t *f = NULL;
    for (size_t i = 0; i < d->n_fields && f == NULL; i++)
        if (strcmp(d->fields[i].name, field) == 0)
            f = &d->fields[i];
    *n = 0;
    if (f == NULL || f->text_merge != FSY_TEXT_MERGE_OVERLAP)
        return FSY_OK;
    s_fold_t x = {.s = s, .f = f, .cb = cb, .ctx = ctx};
    fsy_text_merge_state_t state;
    int rc = s_fold(&x, d, &state);
    *n = x.overlaps;
    s_fold_free(&x);
    return rc;
}

/* ---- the rule, as the replica records it ---------------------------- */

#define MERGE_RULE "lines/1"

void
fsy_sq_merge_rule_set(fsy_store_t *s, const char *whole)
{
    snprintf(s->whole_fields, sizeof s->whole_fields, "%s", whole);
    snprintf(s->merge_rule, sizeof s->merge_rule, "%s%s%s", MERGE_RULE,
             whole[0] ? " whole=" : "", whole);
}

int
fsy_sq_merge_rule_read(fsy_store_t *s, char buf[FSY_WHOLE_FIELDS_MAX + 1],
                       bool *found)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_META_GET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, "merge_whole", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    buf[0] = '\0';
    if (*found)
        fsy_sq_col_text(st, 0, buf, FSY_WHOLE_FIELDS_MAX + 1);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? FSY_OK
               : fsy_sq_err(s, rc, "reading the merge rule");
}

void
fsy_sq_merge_rule_refresh(fsy_store_t *s)
{
    char whole[FSY_WHOLE_FIELDS_MAX + 1];
    bool found;
    if (fsy_sq_merge_rule_read(s, whole, &found) == FSY_OK && found &&
        strcmp(whole, s->whole_fields) != 0)
        fsy_sq_merge_rule_set(s, whole);
}

/* ---- describing a merge ----------------------------------------------- */

/* Whether vs[i] repeats an earlier one. */
static bool
s_seen(const fsy_version_t *vs, size_t i)
{
    for (size_t k = 0; k < i; k++)
        if (fsy_version_cmp(&vs[k], &vs[i]) == 0)
            return true;
    return false;
}

/* Appends "a, b and c" for the n labels of vs (skipping repeats). */
static size_t
s_labels(char *buf, size_t size, size_t used, const fsy_version_t *vs, size_t n)
{
    size_t shown = 0, last = 0;
    for (size_t i = 0; i < n; i++)
        if (!s_seen(vs, i))
            last = i;
    for (size_t i = 0; i < n && used < size; i++) {
        if (s_seen(vs, i))
            continue;
        char l[FSY_SITE_MAX + 24];
        used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                 shown == 0  ? ""
                                 : i == last ? " and "
                                             : ", ",
                                 fsy_version_label(&vs[i], l, sizeof l));
        shown++;
    }
    return used;
}

const char *
fsy_field_merge_note(const fsy_field_t *f, char *buf, size_t size)
{
    buf[0] = '\0';
    if (f->text_merge != FSY_TEXT_MERGE_CLEAN || size == 0)
        return buf;
    fsy_version_t v[FSY_MERGE_HEADS_MAX];
    for (size_t i = 0; i < f->n_heads; i++)
        v[i] = f->heads[i].version;
    size_t used = (size_t)snprintf(buf, size, "merged ");
    used = s_labels(buf, size, used < size ? used : size, v, f->n_heads);
    if (used < size)
        used += (size_t)snprintf(buf + used, size - used, " over ");
    if (used < size)
        s_labels(buf, size, used, f->merge_bases, f->n_heads - 1);
    return buf;
}
