/*
 * fieldsync — a site recovering by itself from a restore (store.h, "recovering
 * from a restore"; docs/RECOVERY.md has the why).
 *
 * What is known of this site's streams at its parent (delivery) is the
 * line below which a restored replica and the tree certainly agree: the
 * parent holds those changes because this replica sent them before the
 * copy was taken. Everything beyond it is set aside (displaced), the
 * tree's version of the stream comes back from the parent under the old
 * incarnation, and what the tree lacks is written again under a new one.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "store_internal.h"

/* meta "retired": the incarnation set aside while recovering, 0 if none. */
static int
s_retired(fsy_store_t *s, uint64_t *inc)
{
    return fsy_sq_meta_get_opt(s, "retired", inc);
}

/* Runs sql, binding ?1 scope, ?2 origin row, ?3 seq; *changed: rows. */
static int
s_exec_stream(fsy_store_t *s, const char *sql, const char *scope, int64_t oid,
              uint64_t seq, uint64_t *changed)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fsy_sq_err(s, sqlite3_errcode(s->db), "recovering");
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, oid);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    int rc = fsy_sq_step_done(s, st, "recovering");
    if (rc == FSY_OK && changed != NULL)
        *changed += (uint64_t)sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc;
}

int
fsy_store_delivered(fsy_store_t *s, const fsy_vv_t *parent_vv)
{
    static const char sql[] =
        "INSERT INTO delivery(scope, origin, at_parent) VALUES(?1, ?2, ?3) "
        "ON CONFLICT(scope, origin) DO UPDATE SET at_parent = "
        "excluded.at_parent WHERE excluded.at_parent > at_parent";
    int rc = FSY_OK;
    bool open = false;
    for (size_t i = 0; rc == FSY_OK && i < parent_vv->n; i++) {
        const fsy_vv_entry_t *e = &parent_vv->v[i];
        if (!fsy_origin_eq(&e->origin, &s->origin))
            continue;
        if (!open && (rc = fsy_sq_txn_begin(s)) == FSY_OK)
            open = true;
        if (rc == FSY_OK)
            rc = s_exec_stream(s, sql, e->scope, s->origin_id, e->seq, NULL);
    }
    return open ? fsy_sq_txn_end(s, rc) : rc;
}

int
fsy_store_recovery(fsy_store_t *s, fsy_recovery_t *out)
{
    memset(out, 0, sizeof *out);
    uint64_t inc;
    int rc = s_retired(s, &inc);
    if (rc != FSY_OK || inc == 0)
        return rc;
    out->active = true;
    out->retired = s->origin;
    out->retired.incarnation = inc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM displaced", -1, &st,
                           NULL) != SQLITE_OK)
        return fsy_sq_err(s, sqlite3_errcode(s->db), "reading a recovery");
    rc = sqlite3_step(st);
    out->displaced =
        rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? FSY_OK : fsy_sq_err(s, rc, "reading a recovery");
}

/* ---- setting aside ---------------------------------------------------- */

/* One of this site's streams: its length here and at the parent. */
typedef struct s_own_stream {
    char scope[FSY_SCOPE_MAX + 1];
    uint64_t seq, at_parent;
} s_own_stream_t;

static int
s_own_streams(fsy_store_t *s, s_own_stream_t **out, size_t *n)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT v.scope, v.seq, coalesce(d.at_parent, 0) FROM vv v "
            "LEFT JOIN delivery d ON d.scope = v.scope AND d.origin = "
            "v.origin WHERE v.origin = ?1",
            -1, &st, NULL) != SQLITE_OK)
        return fsy_sq_err(s, sqlite3_errcode(s->db), "recovering");
    sqlite3_bind_int64(st, 1, s->origin_id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            s_own_stream_t *v = realloc(*out, cap * sizeof *v);
            if (v == NULL) {
                sqlite3_finalize(st);
                return fsy_err_set(FSY_ENOMEM, "out of memory");
            }
            *out = v;
        }
        s_own_stream_t *o = &(*out)[(*n)++];
        fsy_sq_col_text(st, 0, o->scope, sizeof o->scope);
        o->seq = (uint64_t)sqlite3_column_int64(st, 1);
        o->at_parent = (uint64_t)sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FSY_OK : fsy_sq_err(s, rc, "recovering");
}

/* Setting aside one stream's tail: ?1 scope, ?2 origin row, ?3 the line. */
#define S_TAIL " WHERE scope = ?1 AND origin = ?2 AND seq > ?3"
static const char s_sql_displace[] =
    "INSERT INTO displaced(lseq, scope, origin, seq, hlc, doc, field, value,"
    " bases, txn_end, checksum, ref, author) SELECT lseq, scope, origin,"
    " seq, hlc, doc, field, value, bases, txn_end, checksum, ref, author"
    " FROM changes" S_TAIL;
/* The change feed's epoch (query.h, fsy_store_feed): positions from the
 * first one set aside on may be given out again, so cursors of earlier
 * epochs resume at most from just before it: the new epoch's floor, in
 * meta "feed_floor.EPOCH". When nothing was set aside, no position is
 * reused: the floor is the log's end. */
static const char s_sql_feed_epoch[] =
    "INSERT INTO meta(key, value) VALUES('feed_epoch', 1) ON CONFLICT(key) "
    "DO UPDATE SET value = value + 1;"
    "INSERT OR REPLACE INTO meta(key, value) SELECT 'feed_floor.' || "
    "(SELECT value FROM meta WHERE key = 'feed_epoch'), "
    "coalesce((SELECT min(lseq) - 1 FROM displaced), "
    "(SELECT coalesce(max(lseq), 0) FROM changes));";
static const char s_sql_touch[] =
    "INSERT OR IGNORE INTO temp.touched(scope, doc)"
    " SELECT DISTINCT scope, doc FROM changes" S_TAIL;
static const char s_sql_unmark[] = "DELETE FROM urgent" S_TAIL;
static const char s_sql_drop[] = "DELETE FROM changes" S_TAIL;
static const char s_sql_vv_lower[] =
    "UPDATE vv SET seq = ?3 WHERE scope = ?1 AND origin = ?2 AND ?3 > 0";
static const char s_sql_vv_none[] =
    "DELETE FROM vv WHERE scope = ?1 AND origin = ?2 AND ?3 = 0";

/* Sets aside the changes of one stream beyond w: its vector drops to w. */
static int
s_set_aside_stream(fsy_store_t *s, const char *scope, uint64_t w,
                   uint64_t *moved)
{
    static const char *const sql[] = {s_sql_displace, s_sql_touch,
                                      s_sql_unmark,   s_sql_drop,
                                      s_sql_vv_lower, s_sql_vv_none};
    int rc = FSY_OK;
    for (size_t i = 0; rc == FSY_OK && i < sizeof sql / sizeof sql[0]; i++)
        rc = s_exec_stream(s, sql[i], scope, s->origin_id, w,
                           i == 0 ? moved : NULL);
    return rc;
}

/* A fresh incarnation, recorded with the retired one (not yet loaded). */
static int
s_reincarnate(fsy_store_t *s)
{
    fsy_origin_t next = s->origin;
    do
        randombytes_buf(&next.incarnation, sizeof next.incarnation);
    while (next.incarnation == 0 || next.incarnation == s->origin.incarnation);
    int64_t id;
    int rc = fsy_sq_meta_set(s, "retired", NULL, s->origin.incarnation);
    if (rc == FSY_OK)
        rc = fsy_sq_meta_set(s, "incarnation", NULL, next.incarnation);
    return rc == FSY_OK ? fsy_sq_origin_id(s, &next, &id) : rc;
}

int
fsy_store_recover_begin(fsy_store_t *s, fsy_recovery_t *out)
{
    memset(out, 0, sizeof *out);
    s_own_stream_t *own = NULL;
    size_t n = 0;
    uint64_t retired = 0, moved = 0;
    int rc = fsy_sq_txn_begin(s);
    if (rc != FSY_OK)
        return rc;
    rc = s_retired(s, &retired);
    if (rc == FSY_OK && retired != 0)
        rc = fsy_err_set(FSY_EINVAL, "a recovery from a restore is already "
                                     "under way");
    if (rc == FSY_OK)
        rc = s_own_streams(s, &own, &n);
    for (size_t i = 0; rc == FSY_OK && i < n; i++)
        if (own[i].at_parent < own[i].seq)
            rc = s_set_aside_stream(s, own[i].scope, own[i].at_parent, &moved);
    free(own);
    if (rc == FSY_OK)
        rc = fsy_sq_rebuild_touched(s);
    if (rc == FSY_OK)
        rc = s_reincarnate(s);
    if (rc == FSY_OK) /* positions past the log's end will be new rows */
        rc = fsy_sq_exec(s, "UPDATE meta SET value = min(value, (SELECT "
                            "coalesce(max(lseq), 0) FROM changes)) WHERE "
                            "key = 'verified_lseq'");
    if (rc == FSY_OK) /* change feeds resume below what was set aside */
        rc = fsy_sq_exec(s, s_sql_feed_epoch);
    fsy_origin_t old = s->origin;
    rc = fsy_sq_txn_end(s, rc);
    int id_rc = fsy_sq_load_identity(s); /* the new one, or still the old */
    if (rc != FSY_OK || id_rc != FSY_OK)
        return rc != FSY_OK ? rc : id_rc;
    out->active = true;
    out->retired = old;
    out->displaced = moved;
    s->log_epoch++; /* the tail's lseqs will be given out again */
    return FSY_OK;
}

uint64_t
fsy_store_log_epoch(const fsy_store_t *s)
{
    return s->log_epoch;
}

/* ---- writing again ---------------------------------------------------- */

/* Where a re-issued change went: bases naming it follow it. */
typedef struct s_moved {
    char scope[FSY_SCOPE_MAX + 1];
    uint64_t old_seq;
    fsy_version_t now;
} s_moved_t;

typedef struct s_reissue {
    fsy_store_t *s;
    fsy_origin_t retired;
    fsy_change_list_t txn; /* the set-aside transaction being read */
    s_moved_t *moved;      /* in (scope, old_seq) order, as read */
    size_t n_moved, cap_moved;
    uint64_t clock;
    fsy_recover_result_t *out;
} s_reissue_t;

static const fsy_version_t *
s_moved_to(const s_reissue_t *r, const char *scope, uint64_t seq)
{
    size_t lo = 0, hi = r->n_moved;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const s_moved_t *m = &r->moved[mid];
        int c = strcmp(m->scope, scope);
        if (c == 0 && m->old_seq == seq)
            return &m->now;
        if (c < 0 || (c == 0 && m->old_seq < seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int
s_remember(s_reissue_t *r, const fsy_change_t *c, uint64_t old_seq)
{
    if (r->n_moved == r->cap_moved) {
        size_t cap = r->cap_moved ? r->cap_moved * 2 : 64;
        s_moved_t *v = realloc(r->moved, cap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        r->moved = v;
        r->cap_moved = cap;
    }
    s_moved_t *m = &r->moved[r->n_moved++];
    snprintf(m->scope, sizeof m->scope, "%s", c->scope);
    m->old_seq = old_seq;
    m->now = c->version;
    return FSY_OK;
}

/* Does the log hold every change of the transaction, identical? */
static int
s_held_identically(s_reissue_t *r, bool *same)
{
    *same = true;
    for (size_t i = 0; *same && i < r->txn.n; i++) {
        const fsy_change_t *c = &r->txn.v[i];
        uint8_t sum[FSY_CHECKSUM_LEN];
        bool found;
        int rc = fsy_sq_checksum_at(r->s, c->scope, &r->retired, c->version.seq,
                                    sum, &found);
        if (rc != FSY_OK)
            return rc;
        *same = found && sodium_memcmp(sum, c->checksum, FSY_CHECKSUM_LEN) == 0;
    }
    return FSY_OK;
}

/* Writes the transaction again under this site's current incarnation. */
static int
s_write_again(s_reissue_t *r)
{
    fsy_store_t *s = r->s;
    uint64_t seq;
    int rc = fsy_sq_vv_get(s, r->txn.v[0].scope, s->origin_id, &seq);
    for (size_t i = 0; rc == FSY_OK && i < r->txn.n; i++) {
        fsy_change_t *c = &r->txn.v[i];
        uint64_t old_seq = c->version.seq;
        for (size_t b = 0; b < c->n_bases; b++) {
            const fsy_version_t *to =
                fsy_origin_eq(&c->bases[b].origin, &r->retired)
                    ? s_moved_to(r, c->scope, c->bases[b].seq)
                    : NULL;
            if (to != NULL)
                c->bases[b] = *to;
        }
        r->clock = fsy_clock_tick(r->clock, fsy_sq_now(s));
        c->version.origin = s->origin;
        c->version.seq = ++seq;
        c->version.hlc = r->clock;
        c->txn_end = i + 1 == r->txn.n;
        fsy_change_seal(c);
        rc = s_remember(r, c, old_seq);
    }
    fsy_apply_stats_t st = {0};
    if (rc == FSY_OK)
        rc =
            fsy_sq_apply_changes(s, r->txn.v, r->txn.n, FSY_SQ_FROM_LOCAL, &st);
    if (rc == FSY_OK && st.applied != r->txn.n)
        rc = fsy_err_set(FSY_EINTERNAL, "a set-aside write was not applied "
                                        "in full");
    if (rc == FSY_OK)
        r->out->reissued += r->txn.n;
    return rc;
}

/* A whole set-aside transaction: dropped if the tree holds it, else
 * written again. */
static int
s_settle(s_reissue_t *r)
{
    bool same = false;
    int rc = r->txn.n == 0 ? FSY_OK : s_held_identically(r, &same);
    if (rc == FSY_OK && r->txn.n > 0) {
        if (same)
            r->out->dropped += r->txn.n;
        else
            rc = s_write_again(r);
    }
    fsy_change_list_clear(&r->txn);
    return rc;
}

static int
s_take_displaced(const fsy_change_t *c, uint64_t lseq, void *ctx)
{
    (void)lseq;
    s_reissue_t *r = ctx;
    if (r->txn.n > 0 && strcmp(r->txn.v[0].scope, c->scope) != 0) {
        int rc = s_settle(r); /* a stream's end ends its transaction */
        if (rc != FSY_OK)
            return rc;
    }
    fsy_change_t *slot;
    int rc = fsy_change_list_push(&r->txn, &slot);
    if (rc == FSY_OK && (rc = fsy_change_copy(slot, c)) != FSY_OK)
        r->txn.n--;
    if (rc == FSY_OK && c->txn_end)
        rc = s_settle(r);
    return rc;
}

/* Does this replica hold all of the retired stream that theirs names? */
static int
s_caught_up(fsy_store_t *s, const fsy_origin_t *retired, const fsy_vv_t *theirs,
            bool *ready)
{
    int64_t oid;
    bool known;
    *ready = true;
    int rc = fsy_sq_origin_find(s, retired, &oid, &known);
    for (size_t i = 0; rc == FSY_OK && *ready && i < theirs->n; i++) {
        const fsy_vv_entry_t *e = &theirs->v[i];
        uint64_t mine = 0;
        if (!fsy_origin_eq(&e->origin, retired))
            continue;
        if (known)
            rc = fsy_sq_vv_get(s, e->scope, oid, &mine);
        *ready = mine >= e->seq;
    }
    return rc;
}

static int
s_reissue_all(fsy_store_t *s, const fsy_origin_t *retired,
              fsy_recover_result_t *out)
{
    s_reissue_t r = {.s = s, .retired = *retired, .out = out};
    int rc = fsy_sq_meta_get_u64(s, "clock", &r.clock);
    sqlite3_stmt *st = NULL;
    if (rc == FSY_OK &&
        sqlite3_prepare_v2(s->db,
                           "SELECT " FSY_SQ_CHANGE_COLS " FROM displaced c "
                           "JOIN origins o ON o.id = c.origin "
                           "ORDER BY c.scope, c.seq",
                           -1, &st, NULL) != SQLITE_OK)
        rc = fsy_sq_err(s, sqlite3_errcode(s->db), "recovering");
    if (rc == FSY_OK)
        rc = fsy_sq_log_rows(s, st, s_take_displaced, &r, "recovering");
    if (rc == FSY_OK)
        rc = s_settle(&r); /* a last transaction cut short, if any */
    fsy_change_list_clear(&r.txn);
    free(r.moved);
    if (rc == FSY_OK)
        rc = fsy_sq_meta_set(s, "clock", NULL, r.clock);
    return rc;
}

int
fsy_store_recover_finish(fsy_store_t *s, const fsy_vv_t *theirs,
                         fsy_recover_result_t *out)
{
    memset(out, 0, sizeof *out);
    fsy_recovery_t rec;
    bool ready = false;
    int rc = fsy_store_recovery(s, &rec);
    if (rc == FSY_OK && rec.active)
        rc = s_caught_up(s, &rec.retired, theirs, &ready);
    out->waiting = rc == FSY_OK && rec.active && !ready;
    if (rc != FSY_OK || !ready)
        return rc;
    if ((rc = fsy_sq_txn_begin(s)) != FSY_OK)
        return rc;
    rc = s_reissue_all(s, &rec.retired, out);
    if (rc == FSY_OK)
        rc = fsy_sq_exec(s, "DELETE FROM displaced");
    if (rc == FSY_OK)
        rc = fsy_sq_meta_set(s, "retired", NULL, 0);
    rc = fsy_sq_txn_end(s, rc);
    if (rc != FSY_OK)
        memset(out, 0, sizeof *out);
    out->done = rc == FSY_OK;
    return rc;
}
