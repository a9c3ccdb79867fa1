/*
 * fieldsync — the write-ahead log copied into the replica on a thread.
 *
 * SQLite copies its log into the database inside the commit that leaves
 * 1,000 pages in it: inside the loop's turn that applies a batch, whose
 * sender then waits. The daemon's connections defer that copy
 * (fsy_store_defer_checkpoints_all); the loop asks this thread for it once
 * changes stop moving, or the log grows large (loop.c, s_job_checkpoint).
 * The copy runs on a connection of its own, beside the loop's writes (a
 * passive checkpoint waits for no one), so no turn waits for it, however
 * slow the disk.
 *
 * The same thread puts lazy commits on disk (fsy_checkpointer_sync): a
 * sync of the log file, asked after a batch committed without one
 * (lib/store_durable.c), so that the loop never waits for the disk while
 * a catch-up streams in (it spent a fifth of HQ's catch-up there).
 *
 * Ownership: fsy_checkpointer_start allocates *out; fsy_checkpointer_stop
 * interrupts a copy in progress, waits for the thread and frees it (NULL
 * is fine).
 */
#ifndef FSY_DAEMON_CHECKPOINT_H
#define FSY_DAEMON_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fsy_checkpointer fsy_checkpointer_t;

/* Starts the thread for the replica at db. FSY_ENOMEM, or FSY_EINTERNAL
 * if no thread could be made. */
int fsy_checkpointer_start(fsy_checkpointer_t **out, const char *db);

/* Asks for a copy soon; returns at once. */
void fsy_checkpointer_ask(fsy_checkpointer_t *c);

/* The copies that failed so far; why the last one's reason ("" if
 * none). */
uint64_t fsy_checkpointer_failures(fsy_checkpointer_t *c, char *why,
                                   size_t len);

/* Asks for the replica's write-ahead log to be synced to disk; point is
 * handed back by fsy_checkpointer_synced when done (one asked at a time:
 * a second replaces the first). Returns at once. */
void fsy_checkpointer_sync(fsy_checkpointer_t *c, uint64_t point);

typedef enum fsy_wal_sync {
    FSY_WAL_SYNCED,      /* the log is on disk up to the point */
    FSY_WAL_NOT_SYNCED,  /* not tried (the log could not be opened): ask
                            again later */
    FSY_WAL_SYNC_FAILED, /* the disk said no: the commits it held may be
                            lost, and no later sync proves them */
} fsy_wal_sync_t;

/* True once the sync asked is done: *point is the one asked, *out what
 * came of it (*why says why when not synced). False while none is done
 * (asked or not). */
bool fsy_checkpointer_synced(fsy_checkpointer_t *c, uint64_t *point,
                             fsy_wal_sync_t *out, char *why, size_t len);

void fsy_checkpointer_stop(fsy_checkpointer_t **c);

#endif
