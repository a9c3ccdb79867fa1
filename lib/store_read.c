/*
 * fieldsync — reading the replica: documents, history, digest, vectors,
 * export and verification. Above the base layer (store.c), below the
 * apply and write layers (store_apply.c, store_write.c).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "fieldsync/ident.h"
#include "merge.h"
#include "store_internal.h"
#include "worker.h"

/* Copies a blob column into a fresh buffer (NULL for an empty blob). */
static int
s_col_blob(sqlite3_stmt *st, int col, uint8_t **out, size_t *len)
{
    const void *b = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    *out = NULL;
    *len = n;
    if (n == 0)
        return FSY_OK;
    if ((*out = malloc(n)) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    memcpy(*out, b, n);
    return FSY_OK;
}

int
fsy_sq_row_change(sqlite3_stmt *st, fsy_change_t *c)
{
    memset(c, 0, sizeof *c);
    fsy_sq_col_text(st, 0, c->scope, sizeof c->scope);
    c->version.seq = (uint64_t)sqlite3_column_int64(st, 1);
    c->version.hlc = (uint64_t)sqlite3_column_int64(st, 2);
    fsy_sq_col_text(st, 3, c->doc, sizeof c->doc);
    fsy_sq_col_text(st, 4, c->field, sizeof c->field);
    c->absent = sqlite3_column_type(st, 5) == SQLITE_NULL;
    c->txn_end = sqlite3_column_int(st, 7) != 0;
    c->ref = sqlite3_column_int(st, 12) != 0;
    fsy_sq_col_text(st, 13, c->author, sizeof c->author);
    fsy_sq_col_text(st, 9, c->version.origin.site,
                    sizeof c->version.origin.site);
    c->version.origin.incarnation = (uint64_t)sqlite3_column_int64(st, 10);
    if (sqlite3_column_bytes(st, 8) != FSY_CHECKSUM_LEN)
        return fsy_err_set(FSY_ECORRUPT,
                           "change %" PRId64 " has a damaged "
                           "checksum",
                           (int64_t)sqlite3_column_int64(st, 11));
    memcpy(c->checksum, sqlite3_column_blob(st, 8), FSY_CHECKSUM_LEN);
    int rc = FSY_OK;
    if (!c->absent)
        rc = s_col_blob(st, 5, &c->value, &c->value_len);
    if (rc == FSY_OK)
        rc = fsy_sq_bases_decode(sqlite3_column_blob(st, 6),
                                 (size_t)sqlite3_column_bytes(st, 6), &c->bases,
                                 &c->n_bases);
    if (rc != FSY_OK)
        fsy_change_clear(c);
    return rc;
}

/* ---- documents -------------------------------------------------------- */

void
fsy_doc_free(fsy_doc_t **dp)
{
    if (dp == NULL || *dp == NULL)
        return;
    fsy_doc_t *d = *dp;
    for (size_t i = 0; i < d->n_fields; i++) {
        for (size_t k = 0; k < d->fields[i].n_heads; k++)
            free(d->fields[i].heads[k].value);
        free(d->fields[i].heads);
        free(d->fields[i].merged.value);
        free(d->fields[i].merge_bases);
    }
    free(d->fields);
    free(d);
    *dp = NULL;
}

const fsy_field_t *
fsy_doc_field(const fsy_doc_t *d, const char *name)
{
    for (size_t i = 0; i < d->n_fields; i++)
        if (strcmp(d->fields[i].name, name) == 0)
            return &d->fields[i];
    return NULL;
}

const fsy_head_t *
fsy_field_shown(const fsy_field_t *f)
{
    return f->text_merge == FSY_TEXT_MERGE_CLEAN ? &f->merged
                                                 : &f->heads[f->winner];
}

/* The field row `name` of d, appended if it is not there. Searched from
 * the last: heads mostly come grouped by field. */
static int
s_doc_field_for(fsy_doc_t *d, const char *name, size_t *cap, fsy_field_t **f)
{
    for (size_t i = d->n_fields; i-- > 0;)
        if (strcmp(d->fields[i].name, name) == 0) {
            *f = &d->fields[i];
            return FSY_OK;
        }
    if (d->n_fields == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        fsy_field_t *v = realloc(d->fields, ncap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        d->fields = v;
        *cap = ncap;
    }
    *f = &d->fields[d->n_fields++];
    memset(*f, 0, sizeof **f);
    fsy_sq_copy((*f)->name, sizeof(*f)->name, name);
    return FSY_OK;
}

static int
s_field_cmp(const void *a, const void *b)
{
    return strcmp(((const fsy_field_t *)a)->name,
                  ((const fsy_field_t *)b)->name);
}

static int
s_head_lseq_cmp(const void *a, const void *b)
{
    uint64_t x = ((const fsy_head_t *)a)->lseq,
             y = ((const fsy_head_t *)b)->lseq;
    return (x > y) - (x < y);
}

/* Fields by name, each one's heads by log position: the order the docs
 * row's heads table gave before schema 10, which the loading statements
 * leave to this (a sort in SQL would copy every value once more). */
static void
s_doc_sort(fsy_doc_t *d)
{
    if (d->n_fields > 1)
        qsort(d->fields, d->n_fields, sizeof *d->fields, s_field_cmp);
    for (size_t i = 0; i < d->n_fields; i++)
        if (d->fields[i].n_heads > 1)
            qsort(d->fields[i].heads, d->fields[i].n_heads,
                  sizeof *d->fields[i].heads, s_head_lseq_cmp);
}

/* A new, zeroed head at the end of f's; NULL (error set) out of memory. */
static fsy_head_t *
s_field_new_head(fsy_field_t *f)
{
    fsy_head_t *v = realloc(f->heads, (f->n_heads + 1) * sizeof *v);
    if (v == NULL) {
        fsy_err_set(FSY_ENOMEM, "out of memory");
        return NULL;
    }
    f->heads = v;
    fsy_head_t *h = &f->heads[f->n_heads++];
    memset(h, 0, sizeof *h);
    return h;
}

static int
s_field_add_head(fsy_field_t *f, sqlite3_stmt *st)
{
    fsy_head_t *h = s_field_new_head(f);
    if (h == NULL)
        return FSY_ENOMEM;
    h->version.hlc = (uint64_t)sqlite3_column_int64(st, 1);
    fsy_sq_col_text(st, 2, h->version.origin.site,
                    sizeof h->version.origin.site);
    h->version.origin.incarnation = (uint64_t)sqlite3_column_int64(st, 3);
    h->version.seq = (uint64_t)sqlite3_column_int64(st, 4);
    h->absent = sqlite3_column_int(st, 6) != 0;
    h->ref = sqlite3_column_int(st, 7) != 0;
    fsy_sq_col_text(st, 8, h->author, sizeof h->author);
    h->lseq = (uint64_t)sqlite3_column_int64(st, 9);
    if (h->absent)
        return FSY_OK;
    return s_col_blob(st, 5, &h->value, &h->value_len);
}

/* The document whose heads st (bound) reads, one row a head in any
 * order. */
/* A document named (scope, doc) with no fields yet; NULL out of memory
 * (error set). */
static fsy_doc_t *
s_doc_new(const char *scope, const char *doc)
{
    fsy_doc_t *d = calloc(1, sizeof *d);
    if (d == NULL) {
        fsy_err_set(FSY_ENOMEM, "out of memory");
        return NULL;
    }
    fsy_sq_copy(d->scope, sizeof d->scope, scope);
    fsy_sq_copy(d->id, sizeof d->id, doc);
    return d;
}

/* d with its heads in place, merged into *out; freed on any error,
 * including err (the loading's). */
static int
s_doc_finish(fsy_store_t *s, fsy_doc_t *d, int err, fsy_doc_t **out)
{
    if (err == FSY_OK && d->n_fields == 0)
        err = fsy_err_set(FSY_ENOTFOUND, "no document %s in scope %s", d->id,
                          d->scope);
    if (err == FSY_OK) {
        s_doc_sort(d);
        fsy_merge_doc(d);
        err = fsy_sq_merge_text(s, d);
    }
    if (err != FSY_OK) {
        fsy_doc_free(&d);
        return err;
    }
    *out = d;
    return FSY_OK;
}

/* The document whose heads st (bound) reads, one row a head in any
 * order. */
static int
s_load_heads(fsy_store_t *s, sqlite3_stmt *st, const char *scope,
             const char *doc, fsy_doc_t **out)
{
    fsy_doc_t *d = s_doc_new(scope, doc);
    if (d == NULL) {
        sqlite3_reset(st);
        return FSY_ENOMEM;
    }
    size_t cap = 0;
    int rc, err = FSY_OK;
    while (err == FSY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        fsy_field_t *f = NULL;
        err = s_doc_field_for(d, (const char *)sqlite3_column_text(st, 0), &cap,
                              &f);
        if (err == FSY_OK)
            err = s_field_add_head(f, st);
    }
    sqlite3_reset(st);
    if (err == FSY_OK && rc != SQLITE_DONE)
        err = fsy_sq_err(s, rc, "reading a document");
    return s_doc_finish(s, d, err, out);
}

static int
s_field_add_change(fsy_field_t *f, const fsy_sq_run_head_t *r)
{
    fsy_head_t *h = s_field_new_head(f);
    if (h == NULL)
        return FSY_ENOMEM;
    h->version = r->c->version;
    h->absent = r->c->absent;
    h->ref = r->c->ref;
    fsy_sq_copy(h->author, sizeof h->author, r->c->author);
    h->lseq = (uint64_t)r->lseq;
    if (h->absent || r->c->value_len == 0)
        return FSY_OK;
    if ((h->value = malloc(r->c->value_len)) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    memcpy(h->value, r->c->value, r->c->value_len);
    h->value_len = r->c->value_len;
    return FSY_OK;
}

int
fsy_sq_doc_of_changes(fsy_store_t *s, const char *scope, const char *doc,
                      fsy_sq_run_head_t *heads, size_t n, fsy_doc_t **out)
{
    fsy_doc_t *d = s_doc_new(scope, doc);
    if (d == NULL)
        return FSY_ENOMEM;
    size_t cap = 0;
    int err = FSY_OK;
    for (size_t i = 0; err == FSY_OK && i < n; i++) {
        fsy_field_t *f = NULL;
        err = s_doc_field_for(d, heads[i].c->field, &cap, &f);
        if (err == FSY_OK)
            err = s_field_add_change(f, &heads[i]);
    }
    return s_doc_finish(s, d, err, out);
}

int
fsy_sq_load_doc(fsy_store_t *s, const char *scope, const char *doc,
                fsy_doc_t **out)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_DOC_HEADS);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
    return s_load_heads(s, st, scope, doc, out);
}

int
fsy_sq_load_doc_heads(fsy_store_t *s, const char *scope, const char *doc,
                      const char *heads, fsy_doc_t **out)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_HEADS_LOAD);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, heads, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, doc, -1, SQLITE_STATIC);
    return s_load_heads(s, st, scope, doc, out);
}

int
fsy_store_get(fsy_store_t *s, const char *scope, const char *doc,
              fsy_doc_t **out)
{
    int rc = fsy_check_scope(scope);
    if (rc == FSY_OK)
        rc = fsy_check_doc_id(doc);
    if (rc != FSY_OK)
        return rc;
    return fsy_sq_load_doc(s, scope, doc, out);
}

static int
s_scopes_of(fsy_store_t *s, const char *doc, char *list, size_t size,
            size_t *count, char first[FSY_SCOPE_MAX + 1])
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_DOC_SCOPES);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
    int rc;
    size_t used = 0;
    *count = 0;
    list[0] = '\0';
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *sc = (const char *)sqlite3_column_text(st, 0);
        if ((*count)++ == 0)
            snprintf(first, FSY_SCOPE_MAX + 1, "%s", sc);
        if (used < size)
            used += (size_t)snprintf(list + used, size - used, "%s%s",
                                     used ? ", " : "", sc);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FSY_OK : fsy_sq_err(s, rc, "finding a document");
}

int
fsy_store_find_doc(fsy_store_t *s, const char *doc, const char *scope,
                   char scope_out[FSY_SCOPE_MAX + 1])
{
    int rc = fsy_check_doc_id(doc);
    if (rc == FSY_OK && scope != NULL)
        rc = fsy_check_scope(scope);
    if (rc != FSY_OK)
        return rc;
    if (scope != NULL) {
        fsy_doc_t *d;
        if ((rc = fsy_sq_load_doc(s, scope, doc, &d)) != FSY_OK)
            return rc;
        fsy_doc_free(&d);
        snprintf(scope_out, FSY_SCOPE_MAX + 1, "%s", scope);
        return FSY_OK;
    }
    char list[256];
    size_t count;
    if ((rc = s_scopes_of(s, doc, list, sizeof list, &count, scope_out)))
        return rc;
    if (count == 0)
        return fsy_err_set(FSY_ENOTFOUND, "no document %s", doc);
    if (count > 1)
        return fsy_err_set(FSY_EAMBIGUOUS,
                           "document %s exists in scopes %s: "
                           "give --scope",
                           doc, list);
    return FSY_OK;
}

int
fsy_store_each_doc(fsy_store_t *s, const char *kind, const char *scope,
                   bool conflicted_only, fsy_doc_cb cb, void *ctx)
{
    const char *sql =
        conflicted_only
            ? "SELECT scope, doc FROM docs WHERE n_conflicts > 0 AND "
              "(?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR scope = ?2) "
              "ORDER BY scope, doc"
            : "SELECT scope, doc FROM docs WHERE visible = 1 AND "
              "(?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR scope = ?2) "
              "ORDER BY scope, doc";
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "listing documents");
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
    int err = FSY_OK;
    while (err == FSY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        fsy_doc_t *d;
        err = fsy_sq_load_doc(s, (const char *)sqlite3_column_text(st, 0),
                              (const char *)sqlite3_column_text(st, 1), &d);
        if (err == FSY_OK) {
            err = cb(d, ctx);
            fsy_doc_free(&d);
        }
    }
    sqlite3_finalize(st);
    if (err == FSY_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = fsy_sq_err(s, rc, "listing documents");
    return err;
}

/* Runs a change query, calling cb for each row. */
static int
s_each_change(fsy_store_t *s, sqlite3_stmt *st, fsy_change_cb cb, void *ctx)
{
    int rc, err = FSY_OK;
    while (err == FSY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        fsy_change_t c;
        err = fsy_sq_row_change(st, &c);
        if (err == FSY_OK) {
            err = cb(&c, ctx);
            fsy_change_clear(&c);
        }
    }
    if (err == FSY_OK && rc != SQLITE_DONE)
        err = fsy_sq_err(s, rc, "reading changes");
    return err;
}

int
fsy_store_history(fsy_store_t *s, const char *scope, const char *doc,
                  fsy_change_cb cb, void *ctx)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db,
        "SELECT " FSY_SQ_CHANGE_COLS " FROM " FSY_SQ_CHANGE_FROM
        " WHERE c.scope = ?1 AND c.doc = ?2"
        /* unsigned order, as fsy_version_cmp(): SQLite's are signed */
        " ORDER BY c.hlc, o.site, o.incarnation < 0, o.incarnation, c.seq",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "reading history");
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
    rc = s_each_change(s, st, cb, ctx);
    sqlite3_finalize(st);
    return rc;
}

/* ---- digest ----------------------------------------------------------- */

static void
s_hash_head(fsy_canon_t *h, const fsy_head_t *x, bool version)
{
    if (version) {
        fsy_canon_u64(h, x->version.hlc);
        fsy_canon_str(h, x->version.origin.site);
        fsy_canon_u64(h, x->version.origin.incarnation);
        fsy_canon_u64(h, x->version.seq);
    }
    fsy_canon_u64(h, x->absent ? 1 : x->ref ? 2 : 0); /* as the checksum */
    if (!x->absent)
        fsy_canon_bytes(h, x->value, x->value_len);
}

/* The visible state only: winners, plus every head of an open conflict. */
static int
s_digest_doc(const fsy_doc_t *d, void *ctx)
{
    fsy_canon_t *h = ctx;
    fsy_canon_str(h, d->scope);
    fsy_canon_str(h, d->id);
    fsy_canon_u64(h, d->deleted_conflict);
    for (size_t i = 0; i < d->n_fields; i++) {
        const fsy_field_t *f = &d->fields[i];
        if (strcmp(f->name, FSY_FIELD_DELETED) == 0)
            continue;
        fsy_canon_str(h, f->name);
        fsy_canon_u64(h, f->conflict);
        if (!f->conflict) {
            s_hash_head(h, fsy_field_shown(f), false);
            continue;
        }
        fsy_canon_u64(h, f->n_heads);
        for (size_t k = 0; k < f->n_heads; k++)
            s_hash_head(h, &f->heads[k], true);
    }
    return 0;
}

int
fsy_store_digest(fsy_store_t *s, const char *scope, uint8_t out[FSY_DIGEST_LEN])
{
    fsy_canon_t h;
    fsy_canon_init(&h, FSY_DIGEST_LEN, "fieldsync digest v1");
    int rc = fsy_sq_exec(s, "BEGIN");
    if (rc != FSY_OK)
        return rc;
    rc = fsy_store_each_doc(s, NULL, scope, false, s_digest_doc, &h);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc == FSY_OK)
        fsy_canon_final(&h, out);
    return rc;
}

/* ---- version vectors and export --------------------------------------- */

static int
s_vv_push(fsy_vv_t *vv, size_t *cap, sqlite3_stmt *st)
{
    if (vv->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        fsy_vv_entry_t *v = realloc(vv->v, ncap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        vv->v = v;
        *cap = ncap;
    }
    fsy_vv_entry_t *e = &vv->v[vv->n++];
    fsy_sq_col_text(st, 0, e->scope, sizeof e->scope);
    fsy_sq_col_text(st, 1, e->origin.site, sizeof e->origin.site);
    e->origin.incarnation = (uint64_t)sqlite3_column_int64(st, 2);
    e->seq = (uint64_t)sqlite3_column_int64(st, 3);
    return FSY_OK;
}

int
fsy_store_vv(fsy_store_t *s, fsy_vv_t **out)
{
    fsy_vv_t *vv = calloc(1, sizeof *vv);
    if (vv == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db,
        "SELECT v.scope, o.site, o.incarnation, v.seq FROM vv v "
        "JOIN origins o ON o.id = v.origin ORDER BY v.scope, o.site, "
        "o.incarnation < 0, o.incarnation", /* unsigned order */
        -1, &st, NULL);
    if (rc != SQLITE_OK) {
        free(vv);
        return fsy_sq_err(s, rc, "reading the version vector");
    }
    size_t cap = 0;
    int err = FSY_OK;
    while (err == FSY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        err = s_vv_push(vv, &cap, st);
    sqlite3_finalize(st);
    if (err == FSY_OK && rc != SQLITE_DONE)
        err = fsy_sq_err(s, rc, "reading the version vector");
    if (err != FSY_OK) {
        fsy_vv_free(&vv);
        return err;
    }
    *out = vv;
    return FSY_OK;
}

static int
s_load_other_vv(fsy_store_t *s, const fsy_vv_t *other)
{
    int rc = fsy_sq_exec(s, "CREATE TEMP TABLE IF NOT EXISTS other_vv("
                            "scope TEXT, site TEXT, incarnation INTEGER, "
                            "seq INTEGER, PRIMARY KEY(scope, site, "
                            "incarnation)) WITHOUT ROWID;"
                            "DELETE FROM temp.other_vv;");
    if (rc != FSY_OK || other == NULL)
        return rc;
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(s->db,
                            "INSERT OR REPLACE INTO temp.other_vv VALUES("
                            "?1, ?2, ?3, ?4)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "loading a version vector");
    for (size_t i = 0; rc == SQLITE_OK && i < other->n; i++) {
        sqlite3_bind_text(st, 1, other->v[i].scope, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, other->v[i].origin.site, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)other->v[i].origin.incarnation);
        sqlite3_bind_int64(st, 4, (int64_t)other->v[i].seq);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK
                                             : sqlite3_errcode(s->db);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? FSY_OK : fsy_sq_err(s, rc, "loading a vector");
}

int
fsy_store_export(fsy_store_t *s, const fsy_vv_t *other, fsy_change_cb cb,
                 void *ctx)
{
    int rc = s_load_other_vv(s, other);
    if (rc != FSY_OK)
        return rc;
    /* One read transaction: a consistent snapshot of the log. */
    if ((rc = fsy_sq_exec(s, "BEGIN")) != FSY_OK)
        return rc;
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(
        s->db,
        "SELECT " FSY_SQ_CHANGE_COLS " FROM " FSY_SQ_CHANGE_FROM
        " LEFT JOIN temp.other_vv t ON t.scope = c.scope AND "
        "t.site = o.site AND t.incarnation = o.incarnation "
        "WHERE c.seq > coalesce(t.seq, 0) ORDER BY c.lseq",
        -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = fsy_sq_err(s, src, "exporting changes");
    } else {
        rc = s_each_change(s, st, cb, ctx);
        sqlite3_finalize(st);
    }
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

int
fsy_sq_log_rows(fsy_store_t *s, sqlite3_stmt *st, fsy_log_cb cb, void *ctx,
                const char *what)
{
    int rc, err = FSY_OK;
    while (err == FSY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        fsy_change_t c;
        err = fsy_sq_row_change(st, &c);
        if (err == FSY_OK) {
            err = cb(&c, (uint64_t)sqlite3_column_int64(st, 11), ctx);
            fsy_change_clear(&c);
        }
    }
    sqlite3_finalize(st);
    if (err == FSY_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = fsy_sq_err(s, rc, what);
    return err;
}

int
fsy_store_log_after(fsy_store_t *s, uint64_t after, size_t limit, fsy_log_cb cb,
                    void *ctx)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT " FSY_SQ_CHANGE_COLS
                                " FROM " FSY_SQ_CHANGE_FROM
                                " WHERE c.lseq > ?1 ORDER BY c.lseq LIMIT ?2",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "reading the log");
    sqlite3_bind_int64(st, 1, (int64_t)after);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
    return fsy_sq_log_rows(s, st, cb, ctx, "reading the log");
}

/* Version v of (scope, doc, field) as a plain value, the columns given:
 * *st stepped to it (SQLITE_ROW), or done; the caller finalizes *st. */
static int
s_version_step(fsy_store_t *s, const char *cols, const char *scope,
               const char *doc, const char *field, const fsy_version_t *v,
               sqlite3_stmt **st)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM " FSY_SQ_CHANGE_FROM
             " WHERE o.site = ?1 AND o.incarnation = ?2 AND c.scope = ?3 AND "
             "c.seq = ?4 AND c.doc = ?5 AND c.field = ?6 AND c.ref = 0 AND "
             "c.value IS NOT NULL",
             cols);
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(*st, 1, v->origin.site, -1, SQLITE_STATIC);
    sqlite3_bind_int64(*st, 2, (int64_t)v->origin.incarnation);
    sqlite3_bind_text(*st, 3, scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(*st, 4, (int64_t)v->seq);
    sqlite3_bind_text(*st, 5, doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(*st, 6, field, -1, SQLITE_STATIC);
    return sqlite3_step(*st);
}

int
fsy_store_version_value(fsy_store_t *s, const char *scope, const char *doc,
                        const char *field, const fsy_version_t *v,
                        uint8_t **value, size_t *len)
{
    *value = NULL;
    *len = 0;
    sqlite3_stmt *st = NULL;
    int rc = s_version_step(s, "c.value", scope, doc, field, v, &st);
    int err = rc == SQLITE_ROW ? s_col_blob(st, 0, value, len)
              : rc == SQLITE_DONE
                  ? fsy_err_set(FSY_ENOTFOUND, "no such version held")
                  : fsy_sq_err(s, rc, "reading a version");
    sqlite3_finalize(st);
    return err;
}

int
fsy_store_version_value_checked(fsy_store_t *s, const char *scope,
                                const char *doc, const char *field,
                                const fsy_version_t *v, uint8_t **value,
                                size_t *len)
{
    *value = NULL;
    *len = 0;
    sqlite3_stmt *st = NULL;
    int rc = s_version_step(s, FSY_SQ_CHANGE_COLS, scope, doc, field, v, &st);
    fsy_change_t c;
    int err = rc == SQLITE_ROW ? fsy_sq_row_change(st, &c)
              : rc == SQLITE_DONE
                  ? fsy_err_set(FSY_ENOTFOUND, "no such version held")
                  : fsy_sq_err(s, rc, "reading a version");
    uint64_t lseq =
        rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 11) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return err;
    if (err == FSY_OK && !fsy_change_sound(&c))
        err = fsy_err_set(
            FSY_ECORRUPT,
            "the change at log position %" PRIu64 " fails its checksum", lseq);
    if (err == FSY_OK) {
        *value = c.value; /* moved */
        *len = c.value_len;
        c.value = NULL;
    }
    fsy_change_clear(&c); /* also after running out of memory part way */
    return err;
}

int
fsy_store_log_last(fsy_store_t *s, uint64_t *lseq)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT coalesce(max(lseq), 0) FROM changes", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "reading the log");
    rc = sqlite3_step(st);
    *lseq = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? FSY_OK : fsy_sq_err(s, rc, "reading the log");
}

/* ---- integrity -------------------------------------------------------- */

/* Checks up to limit changes (all: -1) after log position after and up
 * to upto; *last is the last position checked. */
static int
s_verify_changes(fsy_store_t *s, uint64_t after, uint64_t upto, int64_t limit,
                 fsy_verify_report_t *r, uint64_t *last)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db,
        "SELECT " FSY_SQ_CHANGE_COLS " FROM " FSY_SQ_CHANGE_FROM
        " WHERE c.lseq > ?1 AND c.lseq <= ?3 ORDER BY c.lseq LIMIT ?2",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "verifying");
    sqlite3_bind_int64(st, 1, (int64_t)after);
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, upto > INT64_MAX ? INT64_MAX : (int64_t)upto);
    *last = after;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fsy_change_t c;
        r->changes_checked++;
        *last = (uint64_t)sqlite3_column_int64(st, 11);
        int err = fsy_sq_row_change(st, &c);
        if (err == FSY_OK)
            err = fsy_change_validate(&c);
        fsy_change_clear(&c);
        if (err == FSY_ENOMEM) {
            sqlite3_finalize(st);
            return err;
        }
        if (err != FSY_OK && r->bad_checksums++ == 0)
            r->first_bad_lseq = *last;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FSY_OK : fsy_sq_err(s, rc, "verifying");
}

static int
s_verify_vv(fsy_store_t *s, fsy_verify_report_t *r)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db,
        /* entries disagreeing with the log, plus streams with no entry */
        "SELECT (SELECT count(*) FROM vv v WHERE v.seq != (SELECT count(*) "
        "FROM changes c WHERE c.scope = v.scope AND c.origin = v.origin AND "
        "c.seq BETWEEN 1 AND v.seq) OR EXISTS (SELECT 1 FROM changes c "
        "WHERE c.scope = v.scope AND c.origin = v.origin AND c.seq > v.seq))"
        " + (SELECT count(*) FROM (SELECT DISTINCT scope, origin FROM changes"
        " c WHERE NOT EXISTS (SELECT 1 FROM vv v WHERE v.scope = c.scope AND"
        " v.origin = c.origin)))",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "verifying");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        r->vv_holes = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? FSY_OK : fsy_sq_err(s, rc, "verifying");
}

static int
s_verify_sqlite(fsy_store_t *s, fsy_verify_report_t *r)
{
    sqlite3_stmt *st;
    int rc =
        sqlite3_prepare_v2(s->db, "PRAGMA integrity_check(1)", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "verifying");
    rc = sqlite3_step(st);
    r->sqlite_ok = rc == SQLITE_ROW &&
                   strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW || (rc & 0xff) == SQLITE_CORRUPT)
        return FSY_OK;
    return fsy_sq_err(s, rc, "verifying");
}

/* What a report found, as an error (FSY_OK: nothing). */
static int
s_verify_verdict(const fsy_verify_report_t *r)
{
    if (r->bad_checksums > 0)
        return fsy_err_set(FSY_ECORRUPT,
                           "%" PRIu64 " of %" PRIu64
                           " changes fail their checksum (first at log "
                           "position %" PRIu64 ")",
                           r->bad_checksums, r->changes_checked,
                           r->first_bad_lseq);
    if (r->vv_holes > 0)
        return fsy_err_set(FSY_ECORRUPT,
                           "%" PRIu64 " version vector entries "
                           "disagree with the log",
                           r->vv_holes);
    if (!r->sqlite_ok)
        return fsy_err_set(FSY_ECORRUPT, "SQLite integrity check failed");
    return FSY_OK;
}

/*
 * A whole check that found every change sound moves the mark a start
 * checks from (fsy_store_verify_new) to the last it read, unless a
 * recovery gave positions out again since (the feed's epoch moved: the
 * rows there now are not the ones read). One statement, so a recovery
 * cannot come between the test and the write. Best effort: a replica
 * that cannot be written (a read-only copy, a busy one) is still checked.
 */
static void
s_mark_whole_check(fsy_store_t *s, uint64_t last, uint64_t epoch)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            s->db,
            "INSERT INTO meta(key, value) SELECT 'verified_lseq', ?1 WHERE "
            "coalesce((SELECT value FROM meta WHERE key = 'feed_epoch'), 0) = "
            "?2 ON CONFLICT(key) DO UPDATE SET value = max(value, "
            "excluded.value)",
            -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_bind_int64(st, 1, (int64_t)last);
    sqlite3_bind_int64(st, 2, (int64_t)epoch);
    sqlite3_busy_timeout(s->db, 0); /* a busy daemon: left for next time */
    sqlite3_step(st);
    sqlite3_busy_timeout(s->db, FSY_BUSY_TIMEOUT_MS);
    sqlite3_finalize(st);
}

int
fsy_store_verify(fsy_store_t *s, fsy_verify_report_t *r)
{
    memset(r, 0, sizeof *r);
    uint64_t last = 0, epoch = 0;
    int rc = fsy_sq_exec(s, "BEGIN");
    if (rc != FSY_OK)
        return rc;
    rc = fsy_sq_meta_get_opt(s, "feed_epoch", &epoch);
    if (rc == FSY_OK)
        rc = s_verify_sqlite(s, r);
    if (rc == FSY_OK)
        rc = s_verify_changes(s, 0, UINT64_MAX, -1, r, &last);
    if (rc == FSY_OK)
        rc = s_verify_vv(s, r);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc == FSY_OK && (rc = s_verify_verdict(r)) == FSY_OK && last > 0)
        s_mark_whole_check(s, last, epoch);
    return rc;
}

int
fsy_store_verify_structure(fsy_store_t *s, fsy_verify_report_t *r)
{
    memset(r, 0, sizeof *r);
    int rc = s_verify_sqlite(s, r);
    if (rc == FSY_OK)
        rc = s_verify_vv(s, r);
    return rc != FSY_OK ? rc : s_verify_verdict(r);
}

int
fsy_store_verify_slice(fsy_store_t *s, uint64_t after, size_t limit,
                       fsy_verify_report_t *r, uint64_t *last)
{
    memset(r, 0, sizeof *r);
    r->sqlite_ok = true; /* not asked: SQLite says so on any read */
    int rc = s_verify_changes(s, after, UINT64_MAX,
                              limit > INT64_MAX ? -1 : (int64_t)limit, r, last);
    return rc != FSY_OK ? rc : s_verify_verdict(r);
}

/*
 * A check of more changes than this is split in two, the second half on a
 * thread with a connection of its own: a start after a large import, or
 * after days of work offline, checks with two cores (90,000 changes: about
 * 150 ms on one core of this machine, 95-120 on two).
 */
#define S_VERIFY_SPLIT 20000

static _Atomic uint64_t s_halves; /* checked on a thread: for the tests */

uint64_t
fsy_sq_verify_halves(void)
{
    return atomic_load(&s_halves);
}

typedef struct s_verify_half {
    const char *path;
    uint64_t incarnation; /* the replica's: the thread's must be the same */
    uint64_t after, upto, last;
    fsy_verify_report_t r;
    int rc; /* not FSY_OK: the half is checked again by the caller */
} s_verify_half_t;

/* A worker's job (worker.h): the result is h->rc. */
static int
s_verify_half(void *arg)
{
    s_verify_half_t *h = arg;
    fsy_store_t *s = NULL;
    uint64_t incarnation = 0;
    h->rc = fsy_sq_open_reader(&s, h->path, &incarnation);
    if (h->rc == FSY_OK && incarnation != h->incarnation) /* another file */
        h->rc = fsy_err_set(FSY_EBUSY, "%s was replaced", h->path);
    if (h->rc == FSY_OK)
        h->rc = s_verify_changes(s, h->after, h->upto, -1, &h->r, &h->last);
    if (h->rc == FSY_OK && h->last != h->upto) /* rows gone meanwhile */
        h->rc = fsy_err_set(FSY_EBUSY, "%s changed", h->path);
    if (h->rc == FSY_OK)
        atomic_fetch_add(&s_halves, 1);
    fsy_store_close(&s);
    return FSY_OK;
}

/* r and *last after checking (from, mid] here and h's (mid, upto]. */
static void
s_verify_join(fsy_verify_report_t *r, uint64_t *last, const s_verify_half_t *h)
{
    if (r->bad_checksums == 0 && h->r.bad_checksums > 0)
        r->first_bad_lseq = h->r.first_bad_lseq;
    r->bad_checksums += h->r.bad_checksums;
    r->changes_checked += h->r.changes_checked;
    if (h->r.changes_checked > 0)
        *last = h->last;
}

/* Every change after from into r (cleared by the caller), in two halves when
 * there are many; *last is the last position checked. A half the worker could
 * not check (no memory, no connection) is checked here. */
static int
s_verify_from(fsy_store_t *s, uint64_t from, fsy_verify_report_t *r,
              uint64_t *last)
{
    uint64_t end = 0;
    int rc = fsy_store_log_last(s, &end);
    if (rc != FSY_OK)
        return rc;
    if (end <= from || end - from < S_VERIFY_SPLIT)
        return s_verify_changes(s, from, UINT64_MAX, -1, r, last);
    uint64_t mid = from + (end - from) / 2;
    s_verify_half_t h = {.path = s->path,
                         .incarnation = s->origin.incarnation,
                         .after = mid,
                         .upto = end,
                         .last = mid,
                         .rc = FSY_ENOMEM};
    fsy_worker_t *w = fsy_worker_new();
    if (w != NULL)
        fsy_worker_submit(w, s_verify_half, &h);
    rc = s_verify_changes(s, from, mid, -1, r, last);
    fsy_worker_free(w);   /* waits for the half */
    if (h.rc != FSY_OK) { /* not damage: checked here */
        memset(&h.r, 0, sizeof h.r);
        if (rc == FSY_OK)
            rc = s_verify_changes(s, mid, end, -1, &h.r, &h.last);
    }
    s_verify_join(r, last, &h);
    return rc;
}

int
fsy_store_verify_new(fsy_store_t *s, fsy_verify_report_t *r, bool *unmarked)
{
    uint64_t from = 0, last = 0;
    *unmarked = false;
    memset(r, 0, sizeof *r);
    r->sqlite_ok = true; /* not asked: SQLite says so on any read */
    int rc = fsy_store_verified(s, &from);
    if (rc == FSY_OK && (rc = s_verify_from(s, from, r, &last)) == FSY_OK)
        rc = s_verify_verdict(r);
    /* a mark not moved costs the next start a check, never this one */
    if (rc == FSY_OK && last > from)
        *unmarked = fsy_store_set_verified(s, last) != FSY_OK;
    return rc;
}

int
fsy_store_verified(fsy_store_t *s, uint64_t *lseq)
{
    return fsy_sq_meta_get_opt(s, "verified_lseq", lseq);
}

int
fsy_store_set_verified(fsy_store_t *s, uint64_t lseq)
{
    return fsy_sq_meta_set(s, "verified_lseq", NULL, lseq);
}

int
fsy_store_suspect(fsy_store_t *s, bool *suspect)
{
    uint64_t v = 0;
    int rc = fsy_sq_meta_get_opt(s, "suspect", &v);
    *suspect = v != 0;
    return rc;
}

int
fsy_store_set_suspect(fsy_store_t *s, bool suspect)
{
    return fsy_sq_meta_set(s, "suspect", NULL, suspect ? 1 : 0);
}

int
fsy_store_counts(fsy_store_t *s, fsy_store_counts_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                /* the log is every stream's changes 1..seq
                                 * (fsy_store_verify checks it): no scan */
                                "SELECT (SELECT coalesce(sum(seq), 0) FROM vv),"
                                " visible, conflicts,"
                                " (SELECT value FROM meta WHERE key = 'clock'),"
                                /* bounded: read every second */
                                " (SELECT count(*) FROM (SELECT 1 FROM"
                                " index_pending LIMIT ?1))"
                                " FROM doc_counts",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "counting");
    sqlite3_bind_int64(st, 1, FSY_INDEX_PENDING_COUNTED + 1);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->index_pending = (uint64_t)sqlite3_column_int64(st, 4);
        out->changes = (uint64_t)sqlite3_column_int64(st, 0);
        out->documents = (uint64_t)sqlite3_column_int64(st, 1);
        out->conflicts = (uint64_t)sqlite3_column_int64(st, 2);
        out->clock = (uint64_t)sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? FSY_OK : fsy_sq_err(s, rc, "counting");
}
