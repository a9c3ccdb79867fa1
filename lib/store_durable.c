/*
 * fieldsync — received changes committed without a disk sync, and what
 * this replica may promise meanwhile.
 *
 * A catch-up commits a batch of received changes every few tens of
 * milliseconds; a disk sync at each took 15 % of HQ's catch-up. The daemon
 * commits a received batch lazily (synchronous=NORMAL: fsy_store_apply_lazy,
 * which sits with the other applies in store_apply.c), and its
 * checkpointer thread syncs the log file behind it (fsy_store_lazy_point,
 * then fsy_store_lazy_synced once done); without that thread, only when
 * another message is already waiting, so that a later commit, or
 * fsy_store_sync, puts it on disk soon. Until then a power loss may take
 * it back: nothing is lost (the sender still holds every change and sends
 * again from our vector), provided we never told anyone we hold it
 * (docs/REPLICATION.md, item 13):
 *   - every vector given away is fsy_store_durable_vv: the vector as of
 *     the last commit known on disk (a synced one, or the point of the
 *     last sync done elsewhere), this site's own streams excepted: its own
 *     writes always sync;
 *   - the change feed (store_feed.c) stops before the first position not
 *     known on disk: the first lazy commit of a run writes that position
 *     in meta ("feed_end"), the first after a sync done elsewhere moves it
 *     up to that sync's point, and the commit that syncs removes it, so no
 *     cursor ever names a position a power loss could give out again.
 *
 * Commits are watched by the WAL hook (store.c, s_wal_hook, which also
 * owns fsy_sq_synchronous and fsy_sq_durable_now): a commit made with
 * synchronous=FULL syncs the write-ahead log up to itself, and so every
 * lazy commit before it. Only a store whose checkpoints are deferred (the
 * daemon's) has that hook: elsewhere a lazy apply syncs as always. So does
 * every apply after a sync failed (sticky: an fsync error may not be
 * reported twice).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* The feed's end while lazy commits wait for the disk (meta, exclusive). */
#define S_FEED_END "feed_end"

/* Inside an apply's transaction, before its changes: a lazy commit makes
 * sure the feed stops before the first position not on disk (a record
 * already there is older: kept; another process's sync may have dropped
 * it), or moves it up to where a sync of the log on another thread got
 * (fsy_store_lazy_synced); a synced one (not in a group: its commit is the
 * sync) drops it. */
int
fsy_sq_durable_mark(fsy_store_t *s)
{
    /* never past the log's end: a recovery may have taken it back since */
    if (s->lazy_now && s->feed_end_next != 0) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "INSERT INTO meta(key, value) SELECT '" S_FEED_END
                 "', min(%" PRIu64 ", coalesce(max(lseq), 0) + 1) FROM "
                 "changes WHERE true ON CONFLICT(key) DO UPDATE SET "
                 "value = excluded.value",
                 s->feed_end_next);
        return fsy_sq_exec(s, sql);
    }
    /* the smaller of the two: a recovery may have taken the log's end
     * back below a record left from before it */
    if (s->lazy_now)
        return fsy_sq_exec(
            s, "INSERT INTO meta(key, value) SELECT '" S_FEED_END
               "', coalesce(max(lseq), 0) + 1 FROM changes WHERE true "
               "ON CONFLICT(key) DO UPDATE SET value = min(value, "
               "excluded.value)");
    if (s->in_group || !s->feed_end_set || s->sync_normal || s->sync_failed)
        return FSY_OK;
    return fsy_sq_exec(s, "DELETE FROM meta WHERE key = '" S_FEED_END "'");
}

/* After that apply committed. */
void
fsy_sq_durable_marked(fsy_store_t *s)
{
    if (s->in_group)
        return;
    s->feed_end_set = s->lazy_now;
    s->feed_end_next = 0;
}

unsigned
fsy_store_lazy_commits(const fsy_store_t *s)
{
    return s->lazy_commits;
}

uint64_t
fsy_store_lazy_total(const fsy_store_t *s)
{
    return s->lazy_total;
}

/* A commit with a disk sync that writes a page whatever else it does (a
 * commit that writes nothing syncs nothing) and drops the feed's end. */
static const char s_sql_sync[] =
    "INSERT OR REPLACE INTO meta(key, value) VALUES('" S_FEED_END "', 0);"
    "DELETE FROM meta WHERE key = '" S_FEED_END "';";

int
fsy_store_sync(fsy_store_t *s)
{
    if (s->lazy_commits == 0 && !s->feed_end_set)
        return FSY_OK;
    if (s->in_group)
        return fsy_err_set(FSY_EINVAL, "no disk sync inside a write group");
    if (s->sync_failed)
        return fsy_err_set(FSY_EIO, "an earlier disk sync of the replica "
                                    "failed: check the disk");
    int rc = fsy_sq_txn_begin(s); /* FULL again first, if need be */
    if (rc == FSY_OK)
        rc = fsy_sq_txn_end(s, fsy_sq_exec(s, s_sql_sync));
    if (rc == FSY_EIO) /* the disk said no: never again lazily */
        s->lazy_off = s->sync_failed = true;
    if (rc != FSY_OK)
        return rc;
    s->feed_end_set = false; /* the WAL hook did the rest */
    s->feed_end_next = 0;
    return FSY_OK;
}

/* How long an open waits for the write lock to let the feed go on. */
#define S_CHECK_WAIT_MS 200

void
fsy_sq_durable_check(fsy_store_t *s)
{
    uint64_t end;
    if (fsy_sq_meta_get_opt(s, S_FEED_END, &end) != FSY_OK || end == 0)
        return;
    /* left by a daemon that stopped before its sync, or one syncing soon:
     * the commit below syncs whatever of its lazy commits is in the log,
     * and the feed goes on. Best effort: a replica this process cannot
     * write keeps its feed held back until one that can opens it. */
    s->feed_end_set = true;
    sqlite3_busy_timeout(s->db, S_CHECK_WAIT_MS); /* not a reason to wait */
    if (fsy_store_sync(s) != FSY_OK)
        fsy_err_clear();
    sqlite3_busy_timeout(s->db, FSY_BUSY_TIMEOUT_MS);
}

/* v[own] := the current vector's entry, for this site's own streams;
 * *cap is v's capacity. */
static int
s_own_entries(fsy_store_t *s, fsy_vv_t *v, size_t *cap)
{
    fsy_vv_t *now = NULL;
    int rc = fsy_store_vv(s, &now);
    for (size_t i = 0; rc == FSY_OK && i < now->n; i++)
        if (fsy_origin_eq(&now->v[i].origin, &s->origin))
            rc = fsy_vv_raise(v, cap, now->v[i].scope, &now->v[i].origin,
                              now->v[i].seq);
    fsy_vv_free(&now);
    return rc;
}

int
fsy_store_durable_vv(fsy_store_t *s, fsy_vv_t **out)
{
    if (s->durable_vv == NULL)
        return fsy_store_vv(s, out);
    size_t cap = 0;
    if ((*out = calloc(1, sizeof **out)) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    int rc = fsy_vv_copy(*out, &cap, s->durable_vv);
    /* this site's own writes always sync, made through any connection
     * (the tool, HTTP): leaving them out would look like a restore */
    if (rc == FSY_OK)
        rc = s_own_entries(s, *out, &cap);
    if (rc != FSY_OK)
        fsy_vv_free(out);
    return rc;
}

/* ---- the log put on disk by another thread ---------------------------- */

/* A sync of the log asked of another thread is forgotten (it is done,
 * or replaced; store.c forgets it when a synced commit comes first). */
static void
s_forget_point(fsy_store_t *s)
{
    s->sync_point = 0;
    fsy_vv_free(&s->sync_vv);
}

int
fsy_store_lazy_point(fsy_store_t *s, uint64_t *point)
{
    *point = 0;
    if (s->lazy_commits == 0 || s->sync_failed)
        return FSY_OK;
    fsy_vv_t *vv = NULL;
    uint64_t last = 0;
    int rc = fsy_store_vv(s, &vv);
    if (rc == FSY_OK)
        rc = fsy_store_log_last(s, &last);
    if (rc != FSY_OK) {
        fsy_vv_free(&vv);
        return rc;
    }
    s_forget_point(s);
    s->sync_vv = vv;
    s->sync_feed_end = last + 1;
    s->sync_point = *point = s->lazy_total;
    return FSY_OK;
}

bool
fsy_store_lazy_synced(fsy_store_t *s, uint64_t point, bool ok)
{
    if (!ok) { /* as for a synced commit that failed: never promised */
        s->lazy_off = s->sync_failed = true;
        s_forget_point(s);
        return false;
    }
    /* a synced commit since (it forgot the point) did more than this */
    if (point == 0 || point != s->sync_point || s->sync_failed)
        return false;
    unsigned since = (unsigned)(s->lazy_total - point);
    fsy_vv_free(&s->durable_vv);
    if (since > 0) { /* those still wait; the vector as of the point */
        s->durable_vv = s->sync_vv;
        s->sync_vv = NULL;
    }
    s->lazy_commits = since;
    s->feed_end_next = s->sync_feed_end;
    s_forget_point(s);
    return true;
}

const char *
fsy_store_wal_file(fsy_store_t *s)
{
    const char *db = sqlite3_db_filename(s->db, "main");
    const char *wal =
        db != NULL && db[0] != '\0' ? sqlite3_filename_wal(db) : NULL;
    if (wal == NULL || wal[0] == '\0')
        fsy_err_set(FSY_EINVAL, "the replica has no write-ahead log file");
    return wal != NULL && wal[0] != '\0' ? wal : NULL;
}
