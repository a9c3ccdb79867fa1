/*
 * fieldsync — the change feed (fieldsync/query.h): the local log in commit
 * order with cursors that survive a restart, and a recovery (whose epochs
 * store_recover.c keeps in meta). Above the read layer (store_read.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/query.h"
#include "store_internal.h"

int
fsy_cursor_parse(const char *text, fsy_cursor_t *out)
{
    char *end;
    *out = (fsy_cursor_t){0};
    if (strcmp(text, "0") == 0)
        return FSY_OK;
    if (text[0] < '0' || text[0] > '9')
        goto bad;
    out->epoch = strtoull(text, &end, 10);
    if (*end != '.' || end[1] < '0' || end[1] > '9')
        goto bad;
    out->lseq = strtoull(end + 1, &end, 10);
    if (*end == '\0' && out->epoch < INT64_MAX && out->lseq < INT64_MAX)
        return FSY_OK;
bad:
    return fsy_err_set(FSY_EINVAL,
                       "'%.40s' is not a cursor: give 0 for the start, or "
                       "the \"cursor\" of the last change handled "
                       "(EPOCH.POSITION, e.g. 0.1234)",
                       text);
}

void
fsy_cursor_format(const fsy_cursor_t *c, char buf[FSY_CURSOR_LEN])
{
    snprintf(buf, FSY_CURSOR_LEN, "%" PRIu64 ".%" PRIu64, c->epoch, c->lseq);
}

typedef struct s_feed {
    fsy_feed_cb cb;
    void *ctx;
    fsy_cursor_t *next;
    uint64_t end; /* positions from here are not served (0: none) */
} s_feed_t;

/* s_row's "stop here": not an error. */
#define S_FEED_END 0x7ee0

static int
s_row(const fsy_change_t *c, uint64_t lseq, void *ctx)
{
    s_feed_t *f = ctx;
    if (f->end != 0 && lseq >= f->end)
        return S_FEED_END;
    f->next->lseq = lseq;
    return f->cb(c, f->next, f->ctx);
}

/* Where a cursor resumes in this replica's log, given its epoch. */
static int
s_start(fsy_store_t *s, const fsy_cursor_t *after, fsy_cursor_t *start)
{
    fsy_cursor_t from = *after; /* after and start may be one object */
    uint64_t epoch;
    int rc = fsy_sq_meta_get_opt(s, "feed_epoch", &epoch);
    if (rc != FSY_OK)
        return rc;
    if (from.epoch > epoch)
        return fsy_err_set(FSY_EINVAL,
                           "the cursor is of epoch %" PRIu64 " and this "
                           "replica is at %" PRIu64 ": it comes from another "
                           "replica; start again from 0",
                           from.epoch, epoch);
    /* every recovery since the cursor's epoch may have reused positions
     * above its floor (store_recover.c records one per epoch) */
    for (uint64_t e = from.epoch + 1; rc == FSY_OK && e <= epoch; e++) {
        char key[48];
        uint64_t floor;
        snprintf(key, sizeof key, "feed_floor.%" PRIu64, e);
        rc = fsy_sq_meta_get_opt(s, key, &floor);
        if (rc == FSY_OK && floor < from.lseq)
            from.lseq = floor;
    }
    *start = (fsy_cursor_t){.epoch = epoch, .lseq = from.lseq};
    return rc;
}

int
fsy_store_feed(fsy_store_t *s, const fsy_cursor_t *after, size_t limit,
               fsy_feed_cb cb, void *ctx, fsy_cursor_t *next)
{
    /* one read transaction: the epoch and the rows agree */
    int rc = fsy_store_read_begin(s);
    if (rc != FSY_OK)
        return rc;
    rc = s_start(s, after, next);
    s_feed_t f = {.cb = cb, .ctx = ctx, .next = next};
    /* changes committed without a disk sync are not served yet: a power
     * loss could give their positions to others (store_durable.c) */
    if (rc == FSY_OK)
        rc = fsy_sq_meta_get_opt(s, "feed_end", &f.end);
    if (rc == FSY_OK && limit > 0)
        rc = fsy_store_log_after(s, next->lseq, limit, s_row, &f);
    fsy_store_read_end(s);
    return rc == S_FEED_END ? FSY_OK : rc;
}
