/*
 * fieldsync — a session's next batch decoded while the current one is
 * applied (ahead.h says why and what keeps it safe).
 */
#include "ahead.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/error.h"
#include "wire.h"
#include "wire_zstream.h"
#include "worker.h"

/* A frame read before its turn, and where it came from. */
typedef struct s_frame {
    bool held;
    int from_parent;
    uint8_t rid[FSY_RID_MAX];
    size_t rid_len;
    fsy_frame_from_t from;
    uint8_t *buf;
    size_t len;
} s_frame_t;

/* A batch decoded on the worker: for which session, which frame of which
 * stream, and what came of it. The worker owns all of it from the submit
 * to the settle. */
typedef struct s_decode {
    bool made;
    fsy_zrx_t *zrx;
    fsy_msg_t m; /* the frame's message: its compressed payload */
    uint64_t now_ms;
    fsy_change_list_t changes;
    fsy_batch_rest_t rest;
    int rc;
    char detail[512];
} s_decode_t;

struct fsy_ahead {
    fsy_transport_t *tr;
    fsy_worker_t *w;
    bool running; /* a decode submitted and not settled */
    s_frame_t next;
    /* where the frame being handled came from */
    int cur_parent;
    uint8_t cur_rid[FSY_RID_MAX];
    size_t cur_rid_len;
    char cur_user[FSY_RID_MAX + 1];
    s_decode_t dec;
    uint64_t taken, deltas; /* batches decoded ahead and used, their deltas */
};

static void
s_frame_clear(s_frame_t *f)
{
    free(f->buf);
    memset(f, 0, sizeof *f);
}

static void
s_decode_clear(s_decode_t *d)
{
    fsy_msg_clear(&d->m);
    fsy_change_list_clear(&d->changes);
    fsy_batch_rest_clear(&d->rest);
    memset(d, 0, sizeof *d);
}

fsy_ahead_t *
fsy_ahead_new(fsy_transport_t *tr)
{
    fsy_ahead_t *a = calloc(1, sizeof *a);
    if (a == NULL || (a->w = fsy_worker_new()) == NULL) {
        free(a);
        return NULL;
    }
    a->tr = tr;
    return a;
}

void
fsy_ahead_free(fsy_ahead_t *a)
{
    if (a == NULL)
        return;
    fsy_worker_free(a->w); /* waits for a decode in hand */
    s_decode_clear(&a->dec);
    s_frame_clear(&a->next);
    free(a);
}

int
fsy_ahead_recv(fsy_ahead_t *a, fsy_transport_t *tr, int from_parent,
               uint8_t *rid, size_t *rid_len, uint8_t **buf, size_t *len,
               fsy_frame_from_t *from)
{
    if (a == NULL)
        return fsy_transport_recv(tr, from_parent, rid, rid_len, buf, len,
                                  from);
    int rc = FSY_OK;
    s_frame_t *f = &a->next;
    if (f->held && f->from_parent == from_parent) {
        memcpy(rid, f->rid, f->rid_len);
        *rid_len = f->rid_len;
        *from = f->from;
        *buf = f->buf; /* the caller's now */
        *len = f->len;
        f->buf = NULL;
        s_frame_clear(f);
    } else {
        rc = fsy_transport_recv(a->tr, from_parent, rid, rid_len, buf, len,
                                from);
    }
    a->cur_parent = from_parent;
    a->cur_rid_len = from_parent ? 0 : *rid_len;
    memcpy(a->cur_rid, rid, a->cur_rid_len);
    snprintf(a->cur_user, sizeof a->cur_user, "%s",
             rc == FSY_OK ? from->user : "");
    return rc;
}

bool
fsy_ahead_waiting(fsy_ahead_t *a, fsy_transport_t *tr, int from_parent)
{
    if (a == NULL)
        return fsy_transport_waiting(tr, from_parent);
    return (a->next.held && a->next.from_parent == from_parent) ||
           fsy_transport_waiting(a->tr, from_parent);
}

bool
fsy_ahead_held(const fsy_ahead_t *a)
{
    return a != NULL && a->next.held;
}

static int
s_decode_job(void *arg)
{
    s_decode_t *d = arg;
    const fsy_msg_t *m = &d->m;
    d->rc = fsy_zrx_batch_defer(d->zrx, m->zpayload, m->zlen, m->raw_len,
                                m->zstream, m->zseq, FSY_MSG_MAX, d->now_ms,
                                &d->rest, &d->changes);
    if (d->rc != FSY_OK)
        snprintf(d->detail, sizeof d->detail, "%s", fsy_errdetail());
    return FSY_OK; /* the decode's own result is taken from d */
}

/* The frame read ahead, if it comes from the same connection as the frame
 * being handled and is the next of zrx's stream: its message in m. */
static bool
s_continues(fsy_ahead_t *a, const fsy_zrx_t *zrx, fsy_msg_t *m)
{
    const s_frame_t *f = &a->next;
    if (f->from_parent != a->cur_parent ||
        strcmp(f->from.user, a->cur_user) != 0 ||
        (!f->from_parent && (f->rid_len != a->cur_rid_len ||
                             memcmp(f->rid, a->cur_rid, f->rid_len) != 0)))
        return false;
    if (fsy_wire_decode_msg(f->buf, f->len, m) != FSY_OK)
        return false; /* said and counted when its turn comes */
    return m->type == FSY_MSG_BATCH && m->zstream != 0 &&
           m->zstream == zrx->id && m->zseq == zrx->next && zrx->dctx != NULL;
}

void
fsy_ahead_start(fsy_ahead_t *a, int from_parent, fsy_zrx_t *zrx,
                uint64_t now_ms)
{
    if (a == NULL || a->next.held || a->running ||
        a->cur_parent != (from_parent ? 1 : 0))
        return;
    s_decode_clear(&a->dec); /* one not taken is stale by now */
    s_frame_t *f = &a->next;
    if (!fsy_transport_waiting(a->tr, a->cur_parent) ||
        fsy_transport_recv(a->tr, a->cur_parent, f->rid, &f->rid_len, &f->buf,
                           &f->len, &f->from) != FSY_OK ||
        f->buf == NULL) {
        s_frame_clear(f); /* nothing, or an empty message: dropped */
        return;
    }
    f->held = true;
    f->from_parent = a->cur_parent;
    s_decode_t *d = &a->dec;
    if (!s_continues(a, zrx, &d->m)) {
        fsy_msg_clear(&d->m);
        return;
    }
    d->made = true;
    d->zrx = zrx;
    d->now_ms = now_ms;
    a->running = true;
    fsy_worker_submit(a->w, s_decode_job, d);
}

void
fsy_ahead_settle(fsy_ahead_t *a)
{
    if (a == NULL || !a->running)
        return;
    fsy_worker_wait(a->w, FSY_OK); /* the job itself never fails */
    a->running = false;
}

bool
fsy_ahead_take(fsy_ahead_t *a, const fsy_zrx_t *zrx, const fsy_msg_t *m,
               fsy_change_list_t *out, fsy_batch_rest_t *rest, int *rc)
{
    if (a == NULL || !a->dec.made || a->dec.zrx != zrx)
        return false; /* another session's, kept for its frame */
    s_decode_t *d = &a->dec;
    /* this very frame, the stream where the decode left it */
    bool same = d->m.zstream == m->zstream && d->m.zseq == m->zseq &&
                d->m.zlen == m->zlen && d->m.raw_len == m->raw_len &&
                memcmp(d->m.zpayload, m->zpayload, m->zlen) == 0 &&
                (d->rc != FSY_OK ||
                 (zrx->id == m->zstream && zrx->next == m->zseq + 1));
    if (!same) {
        s_decode_clear(d);
        return false;
    }
    *rc = d->rc == FSY_OK ? FSY_OK : fsy_err_set(d->rc, "%s", d->detail);
    a->taken++;
    if (d->rc == FSY_OK) {
        a->deltas += d->rest.n;
        *out = d->changes; /* moved */
        *rest = d->rest;
        memset(&d->changes, 0, sizeof d->changes);
        memset(&d->rest, 0, sizeof d->rest);
    }
    s_decode_clear(d);
    return true;
}

void
fsy_ahead_counts(const fsy_ahead_t *a, uint64_t *taken, uint64_t *deltas)
{
    *taken = a ? a->taken : 0;
    *deltas = a ? a->deltas : 0;
}
