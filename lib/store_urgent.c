/*
 * fieldsync — urgent transactions: which ones, and reading a stream in
 * order so the sender can put them first.
 *
 * A mark names a transaction by its last change, (scope, origin, seq). It
 * is local: the live sender (daemon/peer.c) sends that stream up to the
 * mark before anything else in log order, flags the batch urgent, and the
 * receiver marks the same transactions, so each hop on the way up passes
 * them on first. Marks lapse after FSY_URGENT_TTL_MS, or when
 * FSY_URGENT_KEEP newer ones exist, so the table stays small whatever a
 * neighbour flags; a lapsed one changes nothing but the order.
 */
#include <string.h>

#include "store_internal.h"

/* Marks made before this are lapsed. */
static uint64_t
s_lapse_ms(uint64_t now)
{
    return now > FSY_URGENT_TTL_MS ? now - FSY_URGENT_TTL_MS : 0;
}

void
fsy_store_set_urgent(fsy_store_t *s, bool on)
{
    s->urgent = on;
}

/* Drops lapsed marks, and all but the FSY_URGENT_KEEP newest. */
static int
s_prune(fsy_store_t *s)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_URGENT_PRUNE);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_int64(st, 1, (int64_t)s_lapse_ms(fsy_sq_now(s)));
    sqlite3_bind_int64(st, 2, FSY_URGENT_KEEP);
    return fsy_sq_step_done(s, st, "dropping lapsed urgent marks");
}

/* Marks c's transaction, if this replica holds c. */
static int
s_mark(fsy_store_t *s, const fsy_change_t *c)
{
    int64_t oid;
    bool known;
    int rc = fsy_sq_origin_find(s, &c->version.origin, &oid, &known);
    if (rc != FSY_OK || !known)
        return rc;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_URGENT_ADD);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, c->scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, oid);
    sqlite3_bind_int64(st, 3, (int64_t)c->version.seq);
    sqlite3_bind_int64(st, 4, (int64_t)fsy_sq_now(s));
    return fsy_sq_step_done(s, st, "marking a transaction urgent");
}

int
fsy_sq_urgent_mark(fsy_store_t *s, const fsy_change_t *c)
{
    int rc = s_prune(s);
    return rc == FSY_OK ? s_mark(s, c) : rc;
}

/* Streams one urgent batch may mark: a sender's urgent batch holds one
 * stream, so more is a peer flagging everything. */
#define S_MARKS_MAX 16

/*
 * One mark per stream, at its last change: the sender sends the stream up
 * to there in order anyway, and a batch's earlier transactions would only
 * crowd out the marks of other streams. Walked from the end, remembering
 * at most S_MARKS_MAX streams, so a hostile batch costs O(n).
 */
int
fsy_store_mark_urgent(fsy_store_t *s, const fsy_change_t *v, size_t n)
{
    const fsy_change_t *seen[S_MARKS_MAX];
    size_t n_seen = 0;
    int rc = fsy_sq_txn_begin(s);
    if (rc == FSY_OK)
        rc = s_prune(s);
    for (size_t i = n; rc == FSY_OK && i-- > 0 && n_seen < S_MARKS_MAX;) {
        bool dup = !v[i].txn_end;
        for (size_t k = 0; k < n_seen && !dup; k++)
            dup = strcmp(seen[k]->scope, v[i].scope) == 0 &&
                  fsy_origin_eq(&seen[k]->version.origin, &v[i].version.origin);
        if (dup)
            continue;
        seen[n_seen++] = &v[i];
        rc = s_mark(s, &v[i]);
    }
    return fsy_sq_txn_end(s, rc);
}

int
fsy_store_urgent_list(fsy_store_t *s, uint64_t after, fsy_urgent_t *out,
                      size_t *n)
{
    *n = 0;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db,
        "SELECT u.id, u.scope, o.site, o.incarnation, u.seq FROM urgent u "
        "JOIN origins o ON o.id = u.origin WHERE u.id > ?1 AND "
        "u.created_ms >= ?2 ORDER BY u.id LIMIT ?3",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "reading urgent marks");
    sqlite3_bind_int64(st, 1, (int64_t)after);
    sqlite3_bind_int64(st, 2, (int64_t)s_lapse_ms(fsy_sq_now(s)));
    sqlite3_bind_int(st, 3, FSY_URGENT_MAX);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < FSY_URGENT_MAX) {
        fsy_urgent_t *u = &out[*n];
        memset(u, 0, sizeof *u);
        u->id = (uint64_t)sqlite3_column_int64(st, 0);
        fsy_sq_col_text(st, 1, u->scope, sizeof u->scope);
        fsy_sq_col_text(st, 2, u->origin.site, sizeof u->origin.site);
        u->origin.incarnation = (uint64_t)sqlite3_column_int64(st, 3);
        u->seq = (uint64_t)sqlite3_column_int64(st, 4);
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return fsy_sq_err(s, rc, "reading urgent marks");
    return FSY_OK;
}

int
fsy_store_stream_after(fsy_store_t *s, const char *scope,
                       const fsy_origin_t *origin, uint64_t after, size_t limit,
                       fsy_log_cb cb, void *ctx)
{
    int64_t oid;
    bool known;
    int rc = fsy_sq_origin_find(s, origin, &oid, &known);
    if (rc != FSY_OK || !known)
        return rc;
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(s->db,
                            "SELECT " FSY_SQ_CHANGE_COLS
                            " FROM " FSY_SQ_CHANGE_FROM
                            " WHERE c.scope = ?1 AND c.origin = ?2 AND "
                            "c.seq > ?3 ORDER BY c.seq LIMIT ?4",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "reading a stream");
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, oid);
    sqlite3_bind_int64(st, 3, (int64_t)after);
    sqlite3_bind_int64(st, 4, (int64_t)limit);
    return fsy_sq_log_rows(s, st, cb, ctx, "reading a stream");
}
