/* fieldsync — the write-ahead log copied on a thread. See checkpoint.h. */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fieldsync/error.h"
#include "fieldsync/store.h"

struct fsy_checkpointer {
    char *db;
    pthread_t thread;
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t wake;
    bool asked, stopping;
    uint64_t failed;
    char why[256];
    /* a sync of the log: asked for point sync_asked (0: none), done for
     * sync_done (0: not yet), with its outcome */
    uint64_t sync_asked, sync_done;
    fsy_wal_sync_t sync_outcome;
    char sync_why[256];
    /* the log file, open for the thread's life (thread only) */
    int wal_fd;
    dev_t wal_dev;
    ino_t wal_ino;
    fsy_store_t *store; /* while a copy runs: fsy_checkpointer_stop
                           interrupts it */
};

/* One copy, on the thread's own connection (opened at the first). */
static void
s_copy(fsy_checkpointer_t *c, fsy_store_t **s)
{
    int rc = *s != NULL ? FSY_OK : fsy_store_open(s, c->db);
    pthread_mutex_lock(&c->lock);
    c->store = *s;
    bool stopping = c->stopping;
    pthread_mutex_unlock(&c->lock);
    if (rc == FSY_OK && !stopping)
        rc = fsy_store_checkpoint(*s);
    pthread_mutex_lock(&c->lock);
    c->store = NULL;
    if (rc != FSY_OK) {
        c->failed++;
        snprintf(c->why, sizeof c->why, "%s", fsy_errdetail());
    }
    pthread_mutex_unlock(&c->lock);
}

/* The log file, opened once and kept: Linux reports a failed write-back
 * to each descriptor open when it happened, but not to one opened after
 * another saw it. Opened again only if the file was replaced (every
 * connection closed: the daemon's own never is). */
static bool
s_wal_open(fsy_checkpointer_t *c, fsy_store_t **s, char *why, size_t len)
{
    const char *path = NULL;
    struct stat now;
    if ((*s == NULL && fsy_store_open(s, c->db) != FSY_OK) ||
        (path = fsy_store_wal_file(*s)) == NULL) {
        snprintf(why, len, "%s", fsy_errdetail());
        return false;
    }
    if (stat(path, &now) != 0) {
        snprintf(why, len, "cannot find the write-ahead log %s: %s", path,
                 strerror(errno));
        return false;
    }
    if (c->wal_fd >= 0 &&
        (now.st_dev != c->wal_dev || now.st_ino != c->wal_ino)) {
        close(c->wal_fd);
        c->wal_fd = -1;
    }
    if (c->wal_fd < 0 && (c->wal_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(why, len, "cannot open the write-ahead log %s: %s", path,
                 strerror(errno));
        return false;
    }
    if (fstat(c->wal_fd, &now) != 0) { /* the file opened, not the name */
        snprintf(why, len, "cannot read the write-ahead log %s: %s", path,
                 strerror(errno));
        close(c->wal_fd);
        c->wal_fd = -1;
        return false;
    }
    c->wal_dev = now.st_dev;
    c->wal_ino = now.st_ino;
    return true;
}

/* The log file's data on disk: the sync covers whatever any descriptor of
 * the file wrote before it. */
static void
s_sync(fsy_checkpointer_t *c, fsy_store_t **s, uint64_t point)
{
    char why[256] = "";
    fsy_wal_sync_t out =
        s_wal_open(c, s, why, sizeof why) ? FSY_WAL_SYNCED : FSY_WAL_NOT_SYNCED;
    if (out == FSY_WAL_SYNCED && fdatasync(c->wal_fd) != 0) {
        snprintf(why, sizeof why, "cannot sync the write-ahead log: %s",
                 strerror(errno));
        out = FSY_WAL_SYNC_FAILED;
    }
    pthread_mutex_lock(&c->lock);
    c->sync_outcome = out;
    snprintf(c->sync_why, sizeof c->sync_why, "%s", why);
    c->sync_done = point;
    pthread_mutex_unlock(&c->lock);
}

static void *
s_run(void *arg)
{
    fsy_checkpointer_t *c = arg;
    fsy_store_t *s = NULL;
    char why[256];
    /* the log's descriptor from the start, before any lazy commit */
    (void)s_wal_open(c, &s, why, sizeof why);
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->asked && c->sync_asked == 0 && !c->stopping)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->stopping)
            break;
        /* both if both were asked: a stream of syncs (one asked as the
         * last ends) must not starve the copy, or the loop's own commit
         * copies the log once it is large, and waits for the disk */
        uint64_t point = c->sync_asked;
        bool copy = c->asked;
        c->sync_asked = 0;
        c->asked = false;
        pthread_mutex_unlock(&c->lock);
        if (point != 0) /* first: lazy commits wait on it */
            s_sync(c, &s, point);
        if (copy)
            s_copy(c, &s);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    if (c->wal_fd >= 0)
        close(c->wal_fd);
    fsy_store_close(&s);
    return NULL;
}

int
fsy_checkpointer_start(fsy_checkpointer_t **out, const char *db)
{
    fsy_checkpointer_t *c = calloc(1, sizeof *c);
    if (c == NULL || (c->db = strdup(db)) == NULL) {
        free(c);
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    }
    c->wal_fd = -1;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, s_run, c) != 0) {
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c->db);
        free(c);
        return fsy_err_set(FSY_EINTERNAL, "cannot start a thread");
    }
    *out = c;
    return FSY_OK;
}

void
fsy_checkpointer_ask(fsy_checkpointer_t *c)
{
    pthread_mutex_lock(&c->lock);
    c->asked = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

void
fsy_checkpointer_sync(fsy_checkpointer_t *c, uint64_t point)
{
    pthread_mutex_lock(&c->lock);
    c->sync_asked = point;
    c->sync_done = 0;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

bool
fsy_checkpointer_synced(fsy_checkpointer_t *c, uint64_t *point,
                        fsy_wal_sync_t *out, char *why, size_t len)
{
    pthread_mutex_lock(&c->lock);
    bool done = c->sync_done != 0;
    if (done) {
        *point = c->sync_done;
        *out = c->sync_outcome;
        snprintf(why, len, "%s", c->sync_why);
        c->sync_done = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return done;
}

uint64_t
fsy_checkpointer_failures(fsy_checkpointer_t *c, char *why, size_t len)
{
    pthread_mutex_lock(&c->lock);
    uint64_t failed = c->failed;
    snprintf(why, len, "%s", c->why);
    pthread_mutex_unlock(&c->lock);
    return failed;
}

void
fsy_checkpointer_stop(fsy_checkpointer_t **cp)
{
    fsy_checkpointer_t *c = *cp;
    if (c == NULL)
        return;
    /* a copy in progress stops at its next page (what it copied stays
     * copied; closing the loop's connection copies the rest) */
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    if (c->store != NULL)
        fsy_store_interrupt(c->store);
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c->db);
    free(c);
    *cp = NULL;
}
