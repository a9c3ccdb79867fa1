/*
 * fieldsync — how far up the tree this site's changes are stored.
 *
 * The root (HQ) holds what its vector says. Every parent passes down, with
 * each HELLO and ACK, what it knows the root holds of the streams of the
 * child and the sites below it, so each site learns hop by hop how far its
 * own changes got (table delivery, column at_root). With at_parent (what
 * the parent itself holds: store_recover.c) that answers "has my report
 * reached HQ?" per document (fieldsync pending).
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "store_internal.h"

static int
s_is_root(fsy_store_t *s, bool *is_root)
{
    uint64_t v;
    int rc = fsy_sq_meta_get_opt(s, "is_root", &v);
    *is_root = rc == FSY_OK && v == 1;
    return rc;
}

int
fsy_store_set_root(fsy_store_t *s, bool is_root)
{
    bool now = false;
    int rc = s_is_root(s, &now);
    if (rc != FSY_OK || now == is_root)
        return rc; /* no write (and no fsync) when nothing changes */
    if ((rc = fsy_sq_txn_begin(s)) != FSY_OK)
        return rc;
    rc = fsy_sq_meta_set(s, "is_root", NULL, is_root ? 1 : 0);
    return fsy_sq_txn_end(s, rc);
}

int
fsy_store_root_delivered(fsy_store_t *s, const fsy_vv_t *root)
{
    if (root->n == 0)
        return FSY_OK;
    int rc = fsy_sq_txn_begin(s);
    if (rc != FSY_OK)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "INSERT INTO delivery(scope, origin, at_root) VALUES(?1, ?2, ?3) "
            "ON CONFLICT(scope, origin) DO UPDATE SET at_root = "
            "excluded.at_root WHERE excluded.at_root > at_root",
            -1, &st, NULL) != SQLITE_OK)
        return fsy_sq_txn_end(
            s, fsy_sq_err(s, sqlite3_errcode(s->db), "recording delivery"));
    for (size_t i = 0; rc == FSY_OK && i < root->n; i++) {
        const fsy_vv_entry_t *e = &root->v[i];
        int64_t oid;
        rc = fsy_sq_origin_id(s, &e->origin, &oid);
        if (rc != FSY_OK)
            break;
        sqlite3_bind_text(st, 1, e->scope, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, oid);
        sqlite3_bind_int64(st, 3, (int64_t)e->seq);
        rc = fsy_sq_step_done(s, st, "recording delivery");
    }
    sqlite3_finalize(st);
    return fsy_sq_txn_end(s, rc);
}

int
fsy_store_root_vv(fsy_store_t *s, fsy_vv_t **out)
{
    bool is_root;
    int rc = s_is_root(s, &is_root);
    if (rc != FSY_OK || is_root)
        return rc != FSY_OK ? rc : fsy_store_durable_vv(s, out);
    if ((*out = calloc(1, sizeof **out)) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT d.scope, o.site, o.incarnation, d.at_root "
                           "FROM delivery d JOIN origins o ON o.id = d.origin "
                           "WHERE d.at_root > 0",
                           -1, &st, NULL) != SQLITE_OK)
        rc = fsy_sq_err(s, sqlite3_errcode(s->db), "reading delivery");
    size_t cap = 0;
    while (rc == FSY_OK && sqlite3_step(st) == SQLITE_ROW) {
        char scope[FSY_SCOPE_MAX + 1];
        fsy_origin_t o = {0};
        fsy_sq_col_text(st, 0, scope, sizeof scope);
        fsy_sq_col_text(st, 1, o.site, sizeof o.site);
        o.incarnation = (uint64_t)sqlite3_column_int64(st, 2);
        rc = fsy_vv_raise(*out, &cap, scope, &o,
                          (uint64_t)sqlite3_column_int64(st, 3));
    }
    if (rc == FSY_OK)
        rc = sqlite3_finalize(st) == SQLITE_OK
                 ? FSY_OK
                 : fsy_sq_err(s, sqlite3_errcode(s->db), "reading delivery");
    else
        sqlite3_finalize(st);
    if (rc != FSY_OK)
        fsy_vv_free(out);
    return rc;
}

/* ---- pending ---------------------------------------------------------- */

/* This site's changes not yet at the root, per document, oldest first;
 * ?1 is this site's origin row; ?2/?3 narrow to one document (or NULL). */
/* This site's changes not yet at the root, per document, oldest first:
 * its current stream above what the root holds, and what a recovery set
 * aside (at neither until written again). ?1 is this site's origin row;
 * ?2/?3 narrow to one document (or NULL). */
static const char s_pending_sql[] =
    "WITH own AS (SELECT v.scope AS scope, v.origin AS origin,"
    "  coalesce(d.at_parent, 0) AS ap, coalesce(d.at_root, 0) AS ar"
    "  FROM vv v LEFT JOIN delivery d ON d.scope = v.scope"
    "  AND d.origin = v.origin WHERE v.origin = ?1),"
    " pend AS (SELECT c.scope AS scope, c.doc AS doc,"
    "  c.seq > max(own.ap, own.ar) AS np, c.hlc AS hlc"
    "  FROM own JOIN changes c ON c.scope = own.scope"
    "  AND c.origin = own.origin AND c.seq > own.ar"
    "  UNION ALL SELECT scope, doc, 1, hlc FROM displaced)"
    " SELECT scope, doc, count(*), sum(np), min(hlc) FROM pend"
    " WHERE (?2 IS NULL OR scope = ?2) AND (?3 IS NULL OR doc = ?3)"
    " GROUP BY scope, doc ORDER BY min(hlc), scope, doc";

static void
s_count(fsy_pending_t *out, const fsy_pending_doc_t *d)
{
    out->docs++;
    out->changes += d->changes;
    out->docs_not_at_parent += d->not_at_parent > 0;
    out->changes_not_at_parent += d->not_at_parent;
    if (out->oldest_ms == 0 || d->oldest_ms < out->oldest_ms)
        out->oldest_ms = d->oldest_ms;
}

static int
s_pending(fsy_store_t *s, const char *scope, const char *doc, fsy_pending_cb cb,
          void *ctx, fsy_pending_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = s_is_root(s, &out->is_root);
    if (rc != FSY_OK || out->is_root)
        return rc; /* everything here is at the root */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, s_pending_sql, -1, &st, NULL) != SQLITE_OK)
        return fsy_sq_err(s, sqlite3_errcode(s->db), "listing pending");
    sqlite3_bind_int64(st, 1, s->origin_id);
    if (scope != NULL)
        sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
    if (doc != NULL)
        sqlite3_bind_text(st, 3, doc, -1, SQLITE_STATIC);
    int step = SQLITE_DONE, err = FSY_OK;
    while (err == FSY_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        fsy_pending_doc_t d = {0};
        fsy_sq_col_text(st, 0, d.scope, sizeof d.scope);
        fsy_sq_col_text(st, 1, d.doc, sizeof d.doc);
        d.changes = (uint64_t)sqlite3_column_int64(st, 2);
        d.not_at_parent = (uint64_t)sqlite3_column_int64(st, 3);
        d.oldest_ms = fsy_hlc_ms((uint64_t)sqlite3_column_int64(st, 4));
        s_count(out, &d);
        if (cb != NULL)
            err = cb(&d, ctx);
    }
    sqlite3_finalize(st);
    if (err == FSY_OK && step != SQLITE_DONE && step != SQLITE_ROW)
        err = fsy_sq_err(s, step, "listing pending");
    return err;
}

int
fsy_store_pending(fsy_store_t *s, fsy_pending_cb cb, void *ctx,
                  fsy_pending_t *out)
{
    return s_pending(s, NULL, NULL, cb, ctx, out);
}

int
fsy_store_pending_doc(fsy_store_t *s, const char *scope, const char *doc,
                      fsy_pending_t *out)
{
    return s_pending(s, scope, doc, NULL, NULL, out);
}
