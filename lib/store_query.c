/*
 * fieldsync — finding documents (fieldsync/query.h): one SQL statement
 * built from the filters, every value bound, over docs, doc_meta and the
 * FTS5 index doc_text (schema 7, store.c); `where` filters are checked on
 * the loaded document, against the same winner `get` shows. Above the read
 * layer (store_read.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fieldsync/ident.h"
#include "fieldsync/query.h"
#include "store_internal.h"

/* Columns: 0 scope, 1 doc, 2 the doc_meta row. A text query ranks the
 * matches in FTS5 alone (s_rank_sql: title matches weigh five times), then
 * checks the filters match by match, best first, with this statement and
 * "m.id = ?1": the joins run for the hits taken, not for every match of a
 * common word. Stamps and snippets are looked up per hit (s_stamps_sql,
 * s_snippet_sql) for the same reason. */
static const char s_select[] =
    "SELECT d.scope, d.doc, m.id FROM docs d "
    "JOIN doc_meta m ON m.scope = d.scope AND m.doc = d.doc";
static const char s_rank_sql[] =
    "SELECT rowid, bm25(doc_text, 5.0, 1.0) AS r FROM doc_text "
    "WHERE doc_text MATCH ?1 ORDER BY r, rowid";
static const char s_stamps_sql[] =
    "SELECT cc.hlc, co.site, cc.author, uc.hlc, uo.site, uc.author "
    "FROM doc_meta m"
    " LEFT JOIN changes cc ON cc.lseq = m.created_lseq"
    " LEFT JOIN origins co ON co.id = cc.origin"
    " LEFT JOIN changes uc ON uc.lseq = m.updated_lseq"
    " LEFT JOIN origins uo ON uo.id = uc.origin WHERE m.id = ?1";
static const char s_snippet_sql[] =
    "SELECT snippet(doc_text, -1, char(2), char(3), '…', 24) FROM doc_text "
    "WHERE doc_text MATCH ?1 AND rowid = ?2";
static const char s_latest_site[] =
    " AND EXISTS (SELECT 1 FROM changes c JOIN origins o ON o.id = c.origin"
    " WHERE c.lseq = m.updated_lseq AND o.site = ?)";
static const char s_any_version[] =
    " AND EXISTS (SELECT 1 FROM changes c JOIN origins o ON o.id = c.origin"
    " WHERE c.scope = d.scope AND c.doc = d.doc AND o.site = ?)";

/* " AND col IN (?, ?, ...)" for n values. */
static void
s_in(sqlite3_str *q, const char *col, size_t n)
{
    if (n == 0)
        return;
    sqlite3_str_appendf(q, " AND %s IN (?", col);
    for (size_t i = 1; i < n; i++)
        sqlite3_str_appendall(q, ", ?");
    sqlite3_str_appendall(q, ")");
}

static char *
s_sql(const fsy_query_t *q)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    sqlite3_str_appendall(b, s_select);
    sqlite3_str_appendall(b, q->conflicts ? " WHERE d.n_conflicts > 0"
                                          : " WHERE d.visible = 1");
    /* a document waiting for its text rows is never found by its old
     * ones (they are written before the search unless the replica is
     * busy: then it is missed for now, never found by stale text) */
    if (q->text != NULL)
        sqlite3_str_appendall(b, " AND m.id = ? AND NOT EXISTS (SELECT 1 "
                                 "FROM index_pending p WHERE p.scope = "
                                 "d.scope AND p.doc = d.doc)");
    s_in(b, "d.scope", q->n_scopes);
    s_in(b, "d.kind", q->n_kinds);
    if (q->site != NULL)
        sqlite3_str_appendall(b,
                              q->any_version ? s_any_version : s_latest_site);
    if (q->since_ms > 0)
        sqlite3_str_appendall(b, " AND d.updated_hlc >= ?");
    if (q->until_ms > 0)
        sqlite3_str_appendall(b, " AND d.updated_hlc < ?");
    if (q->text == NULL)
        sqlite3_str_appendall(b, " ORDER BY d.scope, d.doc");
    return sqlite3_str_finish(b);
}

static void
s_bind(sqlite3_stmt *st, const fsy_query_t *q)
{
    int i = q->text != NULL ? 2 : 1; /* ?1: the match's id, bound per row */
    for (size_t k = 0; k < q->n_scopes; k++)
        sqlite3_bind_text(st, i++, q->scopes[k], -1, SQLITE_STATIC);
    for (size_t k = 0; k < q->n_kinds; k++)
        sqlite3_bind_text(st, i++, q->kinds[k], -1, SQLITE_STATIC);
    if (q->site != NULL)
        sqlite3_bind_text(st, i++, q->site, -1, SQLITE_STATIC);
    if (q->since_ms > 0)
        sqlite3_bind_int64(st, i++, (int64_t)fsy_hlc_from_ms(q->since_ms));
    if (q->until_ms > 0)
        sqlite3_bind_int64(st, i++, (int64_t)fsy_hlc_from_ms(q->until_ms));
}

static int
s_check(const fsy_query_t *q)
{
    if (q->text != NULL) {
        size_t n = strlen(q->text);
        if (n == 0 || n > FSY_QUERY_TEXT_MAX)
            return fsy_err_set(FSY_EINVAL,
                               "a search query has 1 to %d bytes (this one "
                               "has %zu)",
                               FSY_QUERY_TEXT_MAX, n);
        if (!fsy_utf8_valid((const uint8_t *)q->text, n))
            return fsy_err_set(FSY_EINVAL, "the search query is not UTF-8");
    }
    if (q->n_scopes > FSY_QUERY_LIST_MAX || q->n_kinds > FSY_QUERY_LIST_MAX ||
        q->n_where > FSY_QUERY_LIST_MAX)
        return fsy_err_set(FSY_EINVAL, "at most %d values of one filter",
                           FSY_QUERY_LIST_MAX);
    if (q->until_ms > 0 && q->since_ms >= q->until_ms)
        return fsy_err_set(FSY_EINVAL, "the time range is empty: since must "
                                       "come before until");
    if (q->any_version && q->site == NULL)
        return fsy_err_set(FSY_EINVAL, "any-version needs a site");
    return FSY_OK;
}

/* Whether every `where` filter holds for d's winning values. */
static bool
s_where_holds(const fsy_query_t *q, const fsy_doc_t *d)
{
    for (size_t i = 0; i < q->n_where; i++) {
        const fsy_field_t *f = fsy_doc_field(d, q->where[i].field);
        if (f == NULL)
            return false;
        const fsy_head_t *h = fsy_field_shown(f);
        size_t n = strlen(q->where[i].value);
        if (h->absent || h->ref || h->value_len != n ||
            (n > 0 && memcmp(h->value, q->where[i].value, n) != 0))
            return false;
    }
    return true;
}

static void
s_row_stamp(sqlite3_stmt *st, int col, fsy_stamp_t *out)
{
    out->hlc = (uint64_t)sqlite3_column_int64(st, col);
    fsy_sq_col_text(st, col + 1, out->site, sizeof out->site);
    fsy_sq_col_text(st, col + 2, out->author, sizeof out->author);
}

/* Runs a one-row lookup by the doc_meta row `id`: the hit's stamps, or its
 * snippet (malloc'd into *snippet) when text is given. */
static int
s_lookup(fsy_store_t *s, const char *text, int64_t id, fsy_hit_t *h,
         char **snippet)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, text ? s_snippet_sql : s_stamps_sql, -1,
                                &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "reading a document's provenance");
    if (text != NULL)
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, text != NULL ? 2 : 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && text == NULL) {
        s_row_stamp(st, 0, &h->created);
        s_row_stamp(st, 3, &h->updated);
    } else if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        *snippet = strdup(v != NULL ? v : "");
        rc = *snippet != NULL ? rc : SQLITE_NOMEM;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return FSY_OK;
    return fsy_sq_err(s, rc, "reading a document's provenance");
}

/* Loads the row's document and hands it to cb if it passes; *taken says
 * whether it counted against the limit. */
static int
s_hit(fsy_store_t *s, const fsy_query_t *q, sqlite3_stmt *st, double rank,
      fsy_hit_cb cb, void *ctx, bool *taken)
{
    fsy_doc_t *d = NULL;
    int rc = fsy_sq_load_doc(s, (const char *)sqlite3_column_text(st, 0),
                             (const char *)sqlite3_column_text(st, 1), &d);
    *taken = false;
    if (rc == FSY_ENOTFOUND)
        return FSY_OK; /* every head named as a base: nothing to show */
    if (rc != FSY_OK || !s_where_holds(q, d)) {
        fsy_doc_free(&d);
        return rc;
    }
    fsy_hit_t h = {.doc = d};
    char *snippet = NULL;
    int64_t id = sqlite3_column_int64(st, 2);
    rc = s_lookup(s, NULL, id, &h, NULL);
    if (rc == FSY_OK && q->text != NULL) {
        rc = s_lookup(s, q->text, id, &h, &snippet);
        h.snippet = snippet != NULL ? snippet : "";
        h.rank = rank;
    }
    *taken = rc == FSY_OK;
    if (rc == FSY_OK)
        rc = cb(&h, ctx);
    free(snippet);
    fsy_doc_free(&d);
    return rc;
}

/* SQLite's error for a bad FTS5 query, in the user's terms. */
static int
s_step_err(fsy_store_t *s, const fsy_query_t *q, int rc)
{
    const char *msg = sqlite3_errmsg(s->db);
    /* a plain SQLITE_ERROR from a fixed statement is the query's text */
    if (q->text != NULL && (rc & 0xff) == SQLITE_ERROR)
        return fsy_err_set(FSY_EINVAL,
                           "cannot read the search query (%s): use words, "
                           "\"a phrase\", prefix*, AND, OR, NOT and "
                           "parentheses; quote words with punctuation",
                           msg);
    return fsy_sq_err(s, rc, "searching documents");
}

/* Every document the filter statement st passes, in its order. */
static int
s_run_list(fsy_store_t *s, const fsy_query_t *q, sqlite3_stmt *st,
           fsy_hit_cb cb, void *ctx)
{
    size_t n = 0;
    int rc, err = FSY_OK;
    while (err == FSY_OK && (q->limit == 0 || n < q->limit) &&
           (rc = sqlite3_step(st)) == SQLITE_ROW) {
        bool taken;
        err = s_hit(s, q, st, 0, cb, ctx, &taken);
        n += taken ? 1 : 0;
    }
    if (err == FSY_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = s_step_err(s, q, rc);
    return err;
}

/* The matches of the text, best first, each through the filters. */
static int
s_run_text(fsy_store_t *s, const fsy_query_t *q, sqlite3_stmt *filter,
           fsy_hit_cb cb, void *ctx)
{
    sqlite3_stmt *rank;
    int rc = sqlite3_prepare_v2(s->db, s_rank_sql, -1, &rank, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "searching documents");
    sqlite3_bind_text(rank, 1, q->text, -1, SQLITE_STATIC);
    size_t n = 0;
    int err = FSY_OK;
    while (err == FSY_OK && (q->limit == 0 || n < q->limit) &&
           (rc = sqlite3_step(rank)) == SQLITE_ROW) {
        sqlite3_reset(filter); /* bindings stay: only the id changes */
        sqlite3_bind_int64(filter, 1, sqlite3_column_int64(rank, 0));
        int frc = sqlite3_step(filter);
        bool taken = false;
        if (frc == SQLITE_ROW)
            err = s_hit(s, q, filter, sqlite3_column_double(rank, 1), cb, ctx,
                        &taken);
        else if (frc != SQLITE_DONE)
            err = fsy_sq_err(s, frc, "searching documents");
        n += taken ? 1 : 0;
    }
    if (err == FSY_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = s_step_err(s, q, rc);
    sqlite3_finalize(rank);
    return err;
}

/* How long a search waits for the write lock to bring the index up to
 * date before it reads what is there (a long import holds the lock). */
#define S_INDEX_WAIT_MS 500

/* Documents indexed a transaction: other writers (the daemon's loop, an
 * import) get the lock between two. */
#define S_INDEX_CHUNK 500

int
fsy_store_index_catch_up(fsy_store_t *s, size_t max_docs, unsigned budget_ms,
                         bool *more)
{
    bool left = true;
    if (more != NULL)
        *more = false;
    while (max_docs > 0 && left) {
        sqlite3_stmt *st;
        /* nothing waiting (most calls): no write transaction at all */
        int rc = sqlite3_prepare_v2(
            s->db, "SELECT 1 FROM index_pending LIMIT 1", -1, &st, NULL);
        if (rc != SQLITE_OK)
            return fsy_sq_err(s, rc, "reading the text index's queue");
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE)
            return FSY_OK;
        if (rc != SQLITE_ROW)
            return fsy_sq_err(s, rc, "reading the text index's queue");
        size_t n = max_docs < S_INDEX_CHUNK ? max_docs : S_INDEX_CHUNK;
        rc = fsy_sq_txn_begin(s);
        if (rc == FSY_OK)
            rc =
                fsy_sq_txn_end(s, fsy_sq_index_pending(s, n, budget_ms, &left));
        if (rc != FSY_OK)
            return rc;
        max_docs -= n;
        if (budget_ms != 0) /* one transaction within the budget */
            break;
    }
    if (more != NULL)
        *more = left;
    return FSY_OK;
}

/* Before a text query: the waiting text rows, written in the caller's
 * group if one is open (its writer sees its own writes), else in chunks
 * of their own, waiting at most a moment for the lock; inside a read
 * snapshot, or when the replica is busy or read-only, not at all (the
 * query then skips the waiting documents: s_sql). */
static void
s_index_before_query(fsy_store_t *s)
{
    bool more;
    if (s->in_group) {
        if (!s->group_failed)
            s->group_failed =
                fsy_sq_index_pending(s, SIZE_MAX, 0, &more) != FSY_OK;
        return;
    }
    if (!sqlite3_get_autocommit(s->db))
        return;
    sqlite3_busy_timeout(s->db, S_INDEX_WAIT_MS);
    (void)fsy_store_index_catch_up(s, SIZE_MAX, 0, NULL);
    sqlite3_busy_timeout(s->db, FSY_BUSY_TIMEOUT_MS);
    fsy_err_clear();
}

int
fsy_store_query(fsy_store_t *s, const fsy_query_t *q, fsy_hit_cb cb, void *ctx)
{
    int rc = s_check(q);
    if (rc != FSY_OK)
        return rc;
    if (q->text != NULL)
        s_index_before_query(s);
    char *sql = s_sql(q);
    if (sql == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "searching documents");
    s_bind(st, q);
    int err = q->text != NULL ? s_run_text(s, q, st, cb, ctx)
                              : s_run_list(s, q, st, cb, ctx);
    sqlite3_finalize(st);
    return err;
}

int
fsy_store_stamps(fsy_store_t *s, const char *scope, const char *doc,
                 fsy_stamp_t *created, fsy_stamp_t *updated)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT id FROM doc_meta WHERE scope = ?1 AND doc = ?2", -1, &st,
        NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "reading a document's provenance");
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return fsy_err_set(FSY_ENOTFOUND, "no document %s in scope %s", doc,
                           scope);
    if (rc != SQLITE_ROW)
        return fsy_sq_err(s, rc, "reading a document's provenance");
    fsy_hit_t h = {0};
    rc = s_lookup(s, NULL, id, &h, NULL);
    *created = h.created;
    *updated = h.updated;
    return rc;
}
