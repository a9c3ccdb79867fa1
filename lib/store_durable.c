/*
 * fieldsync — received changes committed without a disk sync, and what
 * this replica may promise meanwhile.
 *
 * A catch-up commits a batch of received changes every few tens of
 * milliseconds; a disk sync at each took 15 % of HQ's catch-up. The daemon
 * commits a batch lazily (synchronous=NORMAL) when another message is
 * already waiting, so that a later commit, or fsy_store_sync, puts it on
 * disk soon. Until then a power loss may take it back: nothing is lost
 * (the sender still holds every change and sends again from our vector),
 * provided we never told anyone we hold it. So every vector this replica
 * gives away (ACK, HELLO, what the root holds) is fsy_store_durable_vv:
 * the vector as it was before the first lazy commit since the last synced
 * one (docs/REPLICATION.md, "Acknowledged means on disk").
 *
 * Commits are watched by the WAL hook (store.c, s_wal_hook, which also
 * owns fsy_sq_synchronous and fsy_sq_durable_now): a commit made
 * with synchronous=FULL syncs the write-ahead log up to itself, and so
 * every lazy commit before it. Only a store whose checkpoints are deferred
 * (the daemon's) has that hook: elsewhere a lazy apply syncs as always.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_internal.h"

int
fsy_store_apply_lazy(fsy_store_t *s, const fsy_change_t *changes, size_t n,
                     fsy_apply_stats_t *stats)
{
    if (s->in_group || s->wal_hard == 0)
        return fsy_store_apply_validated(s, changes, n, stats);
    /* the vector before the first lazy commit: still all on disk */
    if (s->durable_vv == NULL && fsy_store_vv(s, &s->durable_vv) != FSY_OK) {
        fsy_vv_free(&s->durable_vv);
        return fsy_store_apply_validated(s, changes, n, stats);
    }
    int rc = fsy_sq_synchronous(s, false);
    if (rc == FSY_OK) {
        rc = fsy_store_apply_validated(s, changes, n, stats);
        if (rc == FSY_OK) {
            s->lazy_commits++;
            s->lazy_total++;
        }
    }
    /* a failure to set it back leaves sync_normal true: the next commit
     * is then not taken for a synced one */
    fsy_sq_synchronous(s, true);
    if (s->lazy_commits == 0)
        fsy_vv_free(&s->durable_vv);
    return rc;
}

unsigned
fsy_store_lazy_commits(const fsy_store_t *s)
{
    return s->lazy_commits;
}

uint64_t
fsy_store_unsynced_total(const fsy_store_t *s)
{
    return s->lazy_total;
}

int
fsy_store_sync(fsy_store_t *s)
{
    if (s->lazy_commits == 0)
        return FSY_OK;
    const char *wal = sqlite3_filename_wal(sqlite3_db_filename(s->db, "main"));
    int fd = wal != NULL ? open(wal, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0 && (wal == NULL || errno != ENOENT))
        return fsy_err_set(FSY_EIO, "cannot open %s to put it on disk: %s",
                           wal ? wal : "the write-ahead log", strerror(errno));
    /* no log at all: a checkpoint copied it into the database, synced */
    if (fd >= 0) {
        int r = fdatasync(fd), e = errno;
        close(fd);
        if (r != 0)
            return fsy_err_set(FSY_EIO, "cannot put %s on disk: %s", wal,
                               strerror(e));
    }
    fsy_sq_durable_now(s);
    return FSY_OK;
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
    if (rc != FSY_OK)
        fsy_vv_free(out);
    return rc;
}
