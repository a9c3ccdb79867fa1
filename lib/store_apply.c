/*
 * fieldsync — the store's apply layer: the one path every change takes
 * into the replica, from a peer, a bundle or this site's own writes, inside
 * the caller's transaction. Keeps the invariants listed in store.c: the
 * vector, heads and superseded versions, docs rows.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fieldsync/wallclock.h"
#include "merge.h"
#include "store_internal.h"

/* ---- applying changes ------------------------------------------------- */

/* Per-call state of one (scope, origin) stream. */
typedef struct s_stream {
    const char *scope;
    int64_t origin_id;
    uint64_t seq; /* highest contiguous applied */
    bool dirty;   /* seq must be written back */
    bool blocked; /* a gap was seen: drop the rest */
    bool refused; /* a conflicting duplicate: accept nothing more */
} s_stream_t;

/* Was (scope, origin) refused earlier in the open write group? */
static bool
s_group_refused(const fsy_store_t *s, const char *scope, int64_t origin_id)
{
    for (size_t i = 0; s->in_group && i < s->n_refused; i++)
        if (s->refused[i].origin_id == origin_id &&
            strcmp(s->refused[i].scope, scope) == 0)
            return true;
    return false;
}

typedef struct s_apply_ctx {
    fsy_store_t *store;
    s_stream_t *streams;
    size_t n, cap;
    size_t last; /* last hit: batches come in runs of one stream */
    uint64_t max_hlc;
    uint64_t now_ms; /* wall clock at the start of the call */
    /* The transaction being applied: at most one is open at a time, so
     * transactions lie whole and contiguous in every log. */
    bool txn_open;
    size_t txn_stream; /* index into streams */
    size_t txn_changes, txn_bytes;
    bool validated;              /* the caller validated every change already */
    bool remote;                 /* from another site (link or bundle) */
    bool superseded;             /* the superseded table may hold rows */
    const fsy_change_t *touched; /* the current run's document (s_run_to) */
    uint64_t touched_hlc;        /* the run's earliest clock */
    int64_t touched_lseq;        /* and where that change is logged (0:
                                    none stored yet) */
    fsy_sq_heads_t heads;        /* the run's document's heads */
    fsy_sq_run_head_t *run;      /* the run's changes, in log order */
    size_t run_n, run_cap;
    bool run_edits; /* each of them replaced one head (s_edits) */
    size_t removed; /* heads the change being stored ended */
    /* the documents refreshed in this call (s_seen_add), and whether a
     * later run of one was left to the end of the call */
    uint64_t *seen;
    size_t seen_n, seen_cap;
    bool deferred;
} s_apply_ctx_t;

static int
s_stream_get(fsy_store_t *s, s_apply_ctx_t *ax, const char *scope,
             int64_t origin_id, s_stream_t **out)
{
    if (ax->last < ax->n) {
        s_stream_t *t = &ax->streams[ax->last];
        if (t->origin_id == origin_id && strcmp(t->scope, scope) == 0) {
            *out = t;
            return FSY_OK;
        }
    }
    for (size_t i = 0; i < ax->n; i++) {
        s_stream_t *t = &ax->streams[i];
        if (t->origin_id == origin_id && strcmp(t->scope, scope) == 0) {
            ax->last = i;
            *out = t;
            return FSY_OK;
        }
    }
    if (ax->n == ax->cap) {
        size_t cap = ax->cap ? ax->cap * 2 : 8;
        s_stream_t *v = realloc(ax->streams, cap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        ax->streams = v;
        ax->cap = cap;
    }
    s_stream_t *t = &ax->streams[ax->n];
    memset(t, 0, sizeof *t);
    t->scope = scope; /* borrowed from the change, which outlives ax */
    t->origin_id = origin_id;
    t->refused = s_group_refused(s, scope, origin_id);
    int rc = fsy_sq_vv_get(s, scope, origin_id, &t->seq);
    if (rc != FSY_OK)
        return rc;
    ax->last = ax->n++;
    *out = t;
    return FSY_OK;
}

/*
 * A transaction's changes travel together; a call that would leave one
 * half applied (a cut batch, a sender bug) is refused as a whole, so no
 * replica ever shows half of a multi-field write.
 */
static int
s_check_closed(const s_apply_ctx_t *ax)
{
    if (!ax->txn_open)
        return FSY_OK;
    const s_stream_t *t = &ax->streams[ax->txn_stream];
    return fsy_err_set(FSY_EINVAL,
                       "changes of scope %s end inside a transaction (at seq "
                       "%" PRIu64 "): refusing a partial write",
                       t->scope, t->seq);
}

/* Remembers a refused stream for the rest of the open write group. */
static int
s_group_refuse(fsy_store_t *s, const s_stream_t *t)
{
    if (!s->in_group || s_group_refused(s, t->scope, t->origin_id))
        return FSY_OK;
    if (s->n_refused == s->cap_refused) {
        size_t cap = s->cap_refused ? s->cap_refused * 2 : 4;
        fsy_refused_stream_t *v = realloc(s->refused, cap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        s->refused = v;
        s->cap_refused = cap;
    }
    fsy_refused_stream_t *r = &s->refused[s->n_refused++];
    fsy_sq_copy(r->scope, sizeof r->scope, t->scope);
    r->origin_id = t->origin_id;
    return FSY_OK;
}

/*
 * Keeps transactions whole, contiguous and within the limits every site
 * writes by: so any log can be cut into bundle records after a txn_end,
 * and every transaction fits one record.
 */
static int
s_txn_shape(s_apply_ctx_t *ax, const s_stream_t *t, const fsy_change_t *c)
{
    size_t idx = (size_t)(t - ax->streams);
    char label[64];
    if (ax->txn_open && ax->txn_stream != idx)
        return fsy_err_set(FSY_EINVAL,
                           "change %s interleaves with another "
                           "site's transaction: refusing the batch",
                           fsy_version_label(&c->version, label, sizeof label));
    if (!ax->txn_open)
        ax->txn_changes = ax->txn_bytes = 0;
    ax->txn_changes++;
    ax->txn_bytes += c->value_len;
    if (ax->txn_changes > FSY_TXN_MAX || ax->txn_bytes > FSY_TXN_BYTES_MAX)
        return fsy_err_set(FSY_ETOOBIG,
                           "a transaction from %s is larger "
                           "than any site may write: refusing the batch",
                           c->version.origin.site);
    ax->txn_open = !c->txn_end;
    ax->txn_stream = idx;
    return FSY_OK;
}

static int
s_streams_flush(fsy_store_t *s, s_apply_ctx_t *ax)
{
    for (size_t i = 0; i < ax->n; i++) {
        s_stream_t *t = &ax->streams[i];
        if (!t->dirty)
            continue;
        sqlite3_stmt *st = fsy_sq_stmt(s, ST_VV_SET);
        if (st == NULL)
            return FSY_EINTERNAL;
        sqlite3_bind_text(st, 1, t->scope, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, t->origin_id);
        sqlite3_bind_int64(st, 3, (int64_t)t->seq);
        int rc = fsy_sq_step_done(s, st, "updating the version vector");
        if (rc != FSY_OK)
            return rc;
        t->dirty = false;
    }
    return FSY_OK;
}

/* A change at or below the vector: identical, or a hard error. */
static int
s_check_duplicate(fsy_store_t *s, const fsy_change_t *c, int64_t origin_id)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_CHANGE_BY_ID);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, c->scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, origin_id);
    sqlite3_bind_int64(st, 3, (int64_t)c->version.seq);
    int rc = sqlite3_step(st);
    bool same =
        rc == SQLITE_ROW && sqlite3_column_bytes(st, 4) == FSY_CHECKSUM_LEN &&
        memcmp(sqlite3_column_blob(st, 4), c->checksum, FSY_CHECKSUM_LEN) == 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fsy_sq_err(s, rc, "checking a duplicate");
    if (same)
        return FSY_OK;
    char label[64];
    if (rc == SQLITE_DONE)
        return fsy_err_set(FSY_ECORRUPT,
                           "change %s in scope %s is below the version "
                           "vector but not in the log: run 'fieldsync verify'",
                           fsy_version_label(&c->version, label, sizeof label),
                           c->scope);
    return fsy_err_set(FSY_ECONFLICT,
                       "change %s in scope %s differs from the one this "
                       "replica holds under the same identity: refusing "
                       "changes from that origin",
                       fsy_version_label(&c->version, label, sizeof label),
                       c->scope);
}

static int
s_insert_change(fsy_store_t *s, const fsy_change_t *c, int64_t origin_id,
                int64_t *lseq)
{
    uint8_t *bases;
    size_t blen;
    int rc = fsy_sq_bases_encode(c->bases, c->n_bases, &bases, &blen);
    if (rc != FSY_OK)
        return rc;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_CHANGE_INS);
    if (st == NULL) {
        free(bases);
        return FSY_EINTERNAL;
    }
    sqlite3_bind_text(st, 1, c->scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, origin_id);
    sqlite3_bind_int64(st, 3, (int64_t)c->version.seq);
    sqlite3_bind_int64(st, 4, (int64_t)c->version.hlc);
    sqlite3_bind_text(st, 5, c->doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, c->field, -1, SQLITE_STATIC);
    if (!c->absent) /* an empty value is a zero-length blob, not NULL */
        sqlite3_bind_blob(st, 7, c->value_len ? (const void *)c->value : "",
                          (int)c->value_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, bases, (int)blen, SQLITE_STATIC);
    sqlite3_bind_int(st, 9, c->txn_end ? 1 : 0);
    sqlite3_bind_blob(st, 10, c->checksum, FSY_CHECKSUM_LEN, SQLITE_STATIC);
    sqlite3_bind_int(st, 11, c->ref ? 1 : 0);
    if (c->author[0] != '\0')
        sqlite3_bind_text(st, 12, c->author, -1, SQLITE_STATIC);
    rc = fsy_sq_step_done(s, st, "storing a change");
    free(bases);
    if (rc == FSY_OK)
        *lseq = sqlite3_last_insert_rowid(s->db);
    return rc;
}

/* Binds a superseded row: version v of c's (scope, doc, field). */
static void
s_bind_superseded(sqlite3_stmt *st, const fsy_change_t *c,
                  const fsy_version_t *v)
{
    sqlite3_bind_text(st, 1, c->scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->field, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, v->origin.site, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (int64_t)v->origin.incarnation);
    sqlite3_bind_int64(st, 6, (int64_t)v->seq);
    sqlite3_bind_int64(st, 7, (int64_t)v->hlc);
}

/* Remembers base b of c, whose target has not arrived (yet). */
static int
s_supersede(fsy_store_t *s, s_apply_ctx_t *ax, const fsy_change_t *c,
            const fsy_version_t *b)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_SUPERSEDED_INS);
    if (st == NULL)
        return FSY_EINTERNAL;
    s_bind_superseded(st, c, b);
    ax->superseded = true;
    return fsy_sq_step_done(s, st, "recording a base");
}

/* Steps st, which reads a log row's lseq first, for one row: *lseq (0:
 * none). */
static int
s_lookup(fsy_store_t *s, sqlite3_stmt *st, int64_t *lseq)
{
    int rc = sqlite3_step(st);
    *lseq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? FSY_OK
               : fsy_sq_err(s, rc, "looking up a base");
}

/* The log row of base b of c if it is here as a version of c's field
 * (*lseq 0: not here as such). */
static int
s_base_find(fsy_store_t *s, const fsy_change_t *c, const fsy_version_t *b,
            int64_t oid, int64_t *lseq)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_BASE_FIND);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, c->scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->field, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)b->hlc);
    sqlite3_bind_int64(st, 5, oid);
    sqlite3_bind_int64(st, 6, (int64_t)b->seq);
    return s_lookup(s, st, lseq);
}

/* The log row of (scope, origin, seq) of b, whatever it is (0: none): a
 * base that is not a version of c's field, yet names a change that
 * exists, is bogus. */
static int
s_base_logged(fsy_store_t *s, const fsy_change_t *c, const fsy_version_t *b,
              int64_t oid, int64_t *lseq)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_CHANGE_BY_ID);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, c->scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, oid);
    sqlite3_bind_int64(st, 3, (int64_t)b->seq);
    return s_lookup(s, st, lseq);
}

/*
 * A base names a version of the same field. If that version is here, it
 * stops being a head; if not yet, remember it so it never becomes one. A
 * base whose (scope, origin, seq) exists but names another field, document
 * or clock is bogus and ignored: every replica ignores it the same way.
 */
static int
s_apply_base(fsy_store_t *s, s_apply_ctx_t *ax, const fsy_change_t *c,
             const fsy_version_t *b)
{
    /* An origin never seen cannot have stored the target: no lookup, and
     * no origins row for a name that may be made up. */
    int64_t oid, lseq;
    bool known;
    int rc = fsy_sq_origin_find(s, &b->origin, &oid, &known);
    if (rc != FSY_OK)
        return rc;
    if (!known)
        return s_supersede(s, ax, c, b);
    if ((rc = s_base_find(s, c, b, oid, &lseq)) != FSY_OK)
        return rc;
    if (lseq != 0) {
        ax->removed += fsy_sq_heads_del(&ax->heads, lseq);
        return FSY_OK;
    }
    if ((rc = s_base_logged(s, c, b, oid, &lseq)) != FSY_OK)
        return rc;
    return lseq != 0 ? FSY_OK : s_supersede(s, ax, c, b);
}

/* Becomes a head unless an earlier arrival already named it as a base. */
static int
s_apply_head(fsy_store_t *s, s_apply_ctx_t *ax, const fsy_change_t *c,
             int64_t lseq)
{
    if (!ax->superseded) /* the common case: bases arrived in order */
        return fsy_sq_heads_add(&ax->heads, lseq);
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_SUPERSEDED_TAKE);
    if (st == NULL)
        return FSY_EINTERNAL;
    s_bind_superseded(st, c, &c->version);
    int rc = fsy_sq_step_done(s, st, "updating heads");
    if (rc != FSY_OK || sqlite3_changes(s->db) > 0)
        return rc;
    return fsy_sq_heads_add(&ax->heads, lseq);
}

/* The document's earliest change among those a call just logged (the
 * refresh of a call that only added changes), or none (NULL: its first
 * is found again in the log). */
typedef struct s_first {
    int64_t hlc, lseq;
} s_first_t;

static int s_refresh_heads(fsy_store_t *s, const char *scope, const char *doc,
                           fsy_sq_heads_t *heads, const s_first_t *first,
                           const s_apply_ctx_t *run);

/* A document's key in the call's set of refreshed ones (never 0). */
static uint64_t
s_doc_key(const char *scope, const char *doc)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = scope; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull; /* no byte of a name: a separator */
    for (const char *p = doc; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h != 0 ? h : 1;
}

/* Where key is in the open-addressed set v of cap slots, or the free
 * slot it would take. */
static size_t
s_seen_slot(const uint64_t *v, size_t cap, uint64_t key)
{
    size_t k = key & (cap - 1);
    while (v[k] != 0 && v[k] != key)
        k = (k + 1) & (cap - 1);
    return k;
}

/* Adds key to ax->seen (kept at most half full); *added false if it was
 * there already. Another document with the same key counts as seen: its
 * next run is left to the end of the call, which is only later. */
static int
s_seen_add(s_apply_ctx_t *ax, uint64_t key, bool *added)
{
    if (2 * (ax->seen_n + 1) > ax->seen_cap) {
        size_t cap = ax->seen_cap ? 2 * ax->seen_cap : 256;
        uint64_t *v = calloc(cap, sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        for (size_t i = 0; i < ax->seen_cap; i++)
            if (ax->seen[i] != 0)
                v[s_seen_slot(v, cap, ax->seen[i])] = ax->seen[i];
        free(ax->seen);
        ax->seen = v;
        ax->seen_cap = cap;
    }
    size_t k = s_seen_slot(ax->seen, ax->seen_cap, key);
    *added = ax->seen[k] == 0;
    if (*added) {
        ax->seen[k] = key;
        ax->seen_n++;
    }
    return FSY_OK;
}

/* Leaves the document of c to the refresh at the end of the call, with
 * the earliest of its changes since (clock, then log order). */
static int
s_defer(fsy_store_t *s, s_apply_ctx_t *ax, const fsy_change_t *c,
        const s_first_t *first)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_TOUCH);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, c->scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, first->hlc);
    sqlite3_bind_int64(st, 4, first->lseq);
    ax->deferred = true;
    return fsy_sq_step_done(s, st, "recording a touched document");
}

static int s_index_doc_at(fsy_store_t *s, const char *scope, const char *doc,
                          int64_t latest, const s_first_t *first);
static bool s_run_holds(const s_apply_ctx_t *ax, int64_t lseq);

/*
 * The run's latest head if the run only edited the document: a visible
 * document without conflicts, each of whose fields had one head, and each
 * change a live value of a user field that ended its one base, a head,
 * the latest at a later clock than any head before. Then what the
 * document shows, its kind and its counts stay as they were, and its
 * docs row needs only its heads and clock: no head is read back (an edit
 * of two fields of a report of nine read seven rows of the log, cold in
 * a daemon just started). NULL: derive it all.
 */
static const fsy_sq_run_head_t *
s_edits(const s_apply_ctx_t *ax)
{
    const fsy_sq_heads_t *h = &ax->heads;
    if (!ax->run_edits || ax->run_n == 0 || h->counted_visible != 1 ||
        h->counted_conflicts != 0 || h->head_fields <= 0 ||
        (size_t)h->head_fields != h->n_row || h->n != h->n_row)
        return NULL;
    const fsy_sq_run_head_t *best = NULL;
    for (size_t i = 0; i < ax->run_n; i++) {
        const fsy_sq_run_head_t *r = &ax->run[i];
        if (s_run_holds(ax, r->lseq) &&
            (best == NULL ||
             fsy_version_cmp(&r->c->version, &best->c->version) > 0))
            best = r;
    }
    return best != NULL && best->c->version.hlc > (uint64_t)h->updated_hlc
               ? best
               : NULL;
}

/* The docs row and provenance of a document the run only edited. */
static int
s_refresh_edits(fsy_store_t *s, const fsy_change_t *p, s_apply_ctx_t *ax,
                const fsy_sq_run_head_t *latest, const s_first_t *first)
{
    int rc;
    sqlite3_stmt *st =
        fsy_sq_heads_bind(s, ST_DOC_EDIT, p->scope, p->doc, &ax->heads, &rc);
    if (st == NULL)
        return rc;
    sqlite3_bind_int64(st, 4, (int64_t)latest->c->version.hlc);
    rc = fsy_sq_step_done(s, st, "updating a document");
    return rc == FSY_OK
               ? s_index_doc_at(s, p->scope, p->doc, latest->lseq, first)
               : rc;
}

/* Refreshes the derived state of the document whose run of changes just
 * ended, with the earliest of them (what may become its first:
 * s_index_doc). A transaction's changes are consecutive and share a
 * document, so a document is mostly one run: refreshed as it ends, its
 * heads, rows and index pages are still in SQLite's cache, where a
 * refresh at the end of the call read them again once a batch had gone
 * through more pages than the cache holds (an edit of a document is a
 * random page of each). A document met again later in the call is
 * refreshed once more, at the end of the call: a refresh of a document
 * with an open conflict walks its versions, which once a run would be
 * the history times the transactions. */
static int
s_run_end(fsy_store_t *s, s_apply_ctx_t *ax)
{
    const fsy_change_t *p = ax->touched;
    if (p == NULL)
        return FSY_OK;
    ax->touched = NULL;
    s_first_t first = {(int64_t)ax->touched_hlc, ax->touched_lseq};
    bool added = false;
    int rc = s_seen_add(ax, s_doc_key(p->scope, p->doc), &added);
    if (rc != FSY_OK)
        return rc;
    const fsy_sq_run_head_t *latest = added ? s_edits(ax) : NULL;
    if (latest != NULL)
        return s_refresh_edits(s, p, ax, latest, &first);
    if (added)
        return s_refresh_heads(s, p->scope, p->doc, &ax->heads, &first, ax);
    rc = fsy_sq_heads_store(s, p->scope, p->doc, &ax->heads);
    return rc == FSY_OK ? s_defer(s, ax, p, &first) : rc;
}

static int s_rebuild_doc(fsy_store_t *s, const char *scope, const char *doc,
                         const s_first_t *first);

/* The heads (scope, doc)'s docs row holds. A row that does not parse
 * (damage: no fieldsync writes one) is derived again from the log first,
 * so that the changes of one document do not stop every apply. */
static int
s_heads_of(fsy_store_t *s, const char *scope, const char *doc,
           fsy_sq_heads_t *h, bool *rebuilt)
{
    int rc = fsy_sq_heads_load(s, scope, doc, h);
    if (rc != FSY_ECORRUPT)
        return rc;
    *rebuilt = true;
    if ((rc = s_rebuild_doc(s, scope, doc, NULL)) != FSY_OK)
        return rc;
    return fsy_sq_heads_load(s, scope, doc, h);
}

/* c continues the current run of its document, or ends it and starts
 * one, with the document's heads as its docs row holds them. */
static int
s_run_to(fsy_store_t *s, s_apply_ctx_t *ax, const fsy_change_t *c)
{
    const fsy_change_t *p = ax->touched;
    if (p != NULL && strcmp(p->doc, c->doc) == 0 &&
        strcmp(p->scope, c->scope) == 0)
        return FSY_OK;
    int rc = s_run_end(s, ax);
    bool rebuilt = false;
    if (rc == FSY_OK)
        rc = s_heads_of(s, c->scope, c->doc, &ax->heads, &rebuilt);
    if (rebuilt) /* it may have recorded bases still waiting */
        ax->superseded = true;
    if (rc == FSY_OK) {
        ax->touched = c;
        ax->touched_lseq = 0;
        ax->run_n = 0;
        ax->run_edits = true;
    }
    return rc;
}

/* c, logged at lseq, in the current run: an earlier clock makes an
 * earlier first; a tie keeps the change logged first. */
static int
s_touch(s_apply_ctx_t *ax, const fsy_change_t *c, int64_t lseq)
{
    if (ax->touched_lseq == 0 || c->version.hlc < ax->touched_hlc) {
        ax->touched_hlc = c->version.hlc;
        ax->touched_lseq = lseq;
    }
    if (ax->run_n == ax->run_cap) {
        size_t cap = ax->run_cap ? 2 * ax->run_cap : 16;
        fsy_sq_run_head_t *v = realloc(ax->run, cap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        ax->run = v;
        ax->run_cap = cap;
    }
    ax->run[ax->run_n++] = (fsy_sq_run_head_t){c, lseq};
    return FSY_OK;
}

static int
s_store_one(fsy_store_t *s, s_apply_ctx_t *ax, const fsy_change_t *c,
            int64_t origin_id)
{
    int64_t lseq = 0;
    int rc = s_run_to(s, ax, c);
    if (rc == FSY_OK)
        rc = s_insert_change(s, c, origin_id, &lseq);
    if (rc == FSY_OK && c->ref) /* the bytes are wanted from now on */
        rc = fsy_sq_blob_want(s, c);
    ax->removed = 0;
    for (size_t i = 0; rc == FSY_OK && i < c->n_bases; i++)
        rc = s_apply_base(s, ax, c, &c->bases[i]);
    if (rc == FSY_OK)
        rc = s_apply_head(s, ax, c, lseq);
    /* a live value of a user field in place of its one base, a head:
     * what the document shows and counts stays (s_edits) */
    if (c->n_bases != 1 || ax->removed != 1 || ax->superseded || c->absent ||
        !fsy_merge_is_user_field(c->field))
        ax->run_edits = false;
    if (rc == FSY_OK)
        rc = s_touch(ax, c, lseq);
    return rc;
}

static void
s_note_gap(fsy_apply_stats_t *st, const fsy_change_t *c, uint64_t have)
{
    if (st->gapped++ > 0)
        return;
    snprintf(st->gap_scope, sizeof st->gap_scope, "%s", c->scope);
    st->gap_origin = c->version.origin;
    st->gap_have = have;
    st->gap_got = c->version.seq;
}

/* Counts a refused change; why (the first reason) may be NULL. */
static int
s_note_refused(fsy_apply_stats_t *st, const fsy_change_t *c, const char *why)
{
    if (st->refused++ == 0) {
        snprintf(st->refused_why, sizeof st->refused_why, "%s",
                 why ? why : "refused");
        st->refused_origin = c->version.origin;
    }
    return FSY_OK;
}

/*
 * A new change of this site's own stream from elsewhere: only this replica
 * writes its stream, so it is a forgery, or this replica was restored from
 * a backup older than what its neighbours hold. Never applied: the stream
 * is refused for the rest of the call (and the open group).
 */
static int
s_refuse_own(fsy_store_t *s, s_stream_t *t, const fsy_change_t *c,
             fsy_apply_stats_t *stats)
{
    char why[256];
    snprintf(why, sizeof why,
             "%s:%llu is this site's own change, yet came from elsewhere "
             "(this replica holds up to %s:%llu): a forgery, or a replica "
             "restored from an older backup",
             c->version.origin.site, (unsigned long long)c->version.seq,
             c->version.origin.site, (unsigned long long)t->seq);
    t->refused = true;
    int rc = s_group_refuse(s, t);
    return rc != FSY_OK ? rc : s_note_refused(stats, c, why);
}

/* One change: validate, then skip, drop or store it by the vector. */
static int
s_apply_change(fsy_store_t *s, s_apply_ctx_t *ax, const fsy_change_t *c,
               fsy_apply_stats_t *stats)
{
    int rc = ax->validated ? FSY_OK : fsy_change_validate(c);
    if (rc != FSY_OK)
        return rc;
    int64_t oid;
    s_stream_t *t = NULL;
    if ((rc = fsy_sq_origin_id(s, &c->version.origin, &oid)) != FSY_OK ||
        (rc = s_stream_get(s, ax, c->scope, oid, &t)) != FSY_OK)
        return rc;
    if (t->refused)
        return s_note_refused(stats, c, NULL);
    if (c->version.seq <= t->seq) {
        rc = s_check_duplicate(s, c, oid);
        if (rc == FSY_ECONFLICT) { /* stop accepting this stream */
            t->refused = true;
            if ((rc = s_group_refuse(s, t)) != FSY_OK)
                return rc;
            return s_note_refused(stats, c, fsy_errdetail());
        }
        stats->duplicates += rc == FSY_OK;
        return rc;
    }
    if (ax->remote && oid == s->origin_id)
        return s_refuse_own(s, t, c, stats);
    if (t->blocked || c->version.seq != t->seq + 1) {
        t->blocked = true;
        s_note_gap(stats, c, t->seq);
        return FSY_OK;
    }
    if ((rc = s_txn_shape(ax, t, c)) != FSY_OK ||
        (rc = s_store_one(s, ax, c, oid)) != FSY_OK)
        return rc;
    t->seq = c->version.seq;
    t->dirty = true;
    if (c->version.hlc > ax->max_hlc)
        ax->max_hlc = c->version.hlc;
    uint64_t ahead = fsy_clock_ahead_ms(c->version.hlc, ax->now_ms);
    if (ahead > stats->ahead_ms) {
        stats->ahead_ms = ahead;
        stats->ahead_origin = c->version.origin;
    }
    stats->applied++;
    return FSY_OK;
}

/* Runs one of the search index statements for (scope, doc), and for a
 * number as ?3 if it takes one (n not NULL). */
static int
s_index_run(fsy_store_t *s, enum fsy_stmt_id id, const char *scope,
            const char *doc, const int64_t *n)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, id);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
    if (n != NULL)
        sqlite3_bind_int64(st, 3, *n);
    return fsy_sq_step_done(s, st, "updating the search index");
}

static int
s_index_step(fsy_store_t *s, enum fsy_stmt_id id, const char *scope,
             const char *doc)
{
    return s_index_run(s, id, scope, doc, NULL);
}

/* The log row of d's latest head, in the order of versions (0: none). */
static uint64_t
s_latest_lseq(const fsy_doc_t *d)
{
    const fsy_head_t *best = NULL;
    for (size_t i = 0; d != NULL && i < d->n_fields; i++)
        for (size_t k = 0; k < d->fields[i].n_heads; k++) {
            const fsy_head_t *h = &d->fields[i].heads[k];
            if (best == NULL ||
                fsy_version_cmp(&h->version, &best->version) > 0)
                best = h;
        }
    return best != NULL ? best->lseq : 0;
}

/* doc_meta's row kept up to date from the changes just added, or made
 * for a new document: the first stays unless one of them is earlier (0
 * rows: the row's first has left the log; *done false). Finding
 * the first in the log reads every version of the document, which made
 * each write of a document with 5,000 versions 80 % slower than its
 * first. */
static int
s_index_added(fsy_store_t *s, const char *scope, const char *doc,
              int64_t latest, const s_first_t *first, bool *done)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_INDEX_ADDED);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, latest);
    sqlite3_bind_int64(st, 4, first->hlc);
    sqlite3_bind_int64(st, 5, first->lseq);
    int rc = fsy_sq_step_done(s, st, "updating the search index");
    *done = rc == FSY_OK && sqlite3_changes(s->db) > 0;
    return rc;
}

/* After its docs row: the document's provenance (doc_meta: created, and
 * updated: its latest head, from d as loaded) at once, in the same
 * transaction as the change; its text rows are marked to be written later
 * (schema 9, fsy_sq_index_pending): they cost more than the rest of the
 * apply, and every search writes what waits before it reads. */
static int
s_index_doc_at(fsy_store_t *s, const char *scope, const char *doc,
               int64_t latest, const s_first_t *first)
{
    bool done = false;
    int rc = first != NULL ? s_index_added(s, scope, doc, latest, first, &done)
                           : FSY_OK;
    if (rc == FSY_OK && !done)
        rc = s_index_run(s, ST_INDEX_META, scope, doc, &latest);
    return rc == FSY_OK ? s_index_step(s, ST_INDEX_PEND, scope, doc) : rc;
}

static int
s_index_doc(fsy_store_t *s, const char *scope, const char *doc,
            const fsy_doc_t *d, const s_first_t *first)
{
    return s_index_doc_at(s, scope, doc, (int64_t)s_latest_lseq(d), first);
}

int
fsy_sq_index_pending(fsy_store_t *s, size_t max, unsigned budget_ms, bool *more)
{
    uint64_t until = budget_ms ? fsy_mono_us() + budget_ms * 1000u : 0;
    sqlite3_stmt *st;
    *more = false;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT scope, doc FROM index_pending "
                                "LIMIT 1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "reading the text index's queue");
    int err = FSY_OK;
    for (size_t n = 0; err == FSY_OK; n++) {
        char scope[FSY_SCOPE_MAX + 1], doc[FSY_DOC_MAX + 1];
        /* one at a time, copied: the queue shrinks as it is read */
        if ((rc = sqlite3_step(st)) != SQLITE_ROW)
            break;
        if (n == max || (until != 0 && n > 0 && fsy_mono_us() >= until)) {
            *more = true;
            break;
        }
        fsy_sq_col_text(st, 0, scope, sizeof scope);
        fsy_sq_col_text(st, 1, doc, sizeof doc);
        sqlite3_reset(st);
        err = s_index_step(s, ST_INDEX_DROP, scope, doc);
        if (err == FSY_OK)
            err = s_index_step(s, ST_INDEX_TEXT, scope, doc);
        if (err == FSY_OK)
            err = s_index_step(s, ST_INDEX_DONE, scope, doc);
        /* a row that cannot be named back (damage) would come again
         * forever */
        if (err == FSY_OK && sqlite3_changes(s->db) != 1)
            err = fsy_err_set(FSY_ECORRUPT,
                              "the text index's queue holds a damaged row");
    }
    if (err == FSY_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = fsy_sq_err(s, rc, "reading the text index's queue");
    sqlite3_finalize(st);
    return err;
}

/* Whether the run's document's heads hold lseq. */
static bool
s_run_holds(const s_apply_ctx_t *ax, int64_t lseq)
{
    for (size_t i = 0; i < ax->heads.n; i++)
        if (ax->heads.v[i] == lseq)
            return true;
    return false;
}

/* The change logged at lseq if the run holds it (its positions ascend). */
static const fsy_change_t *
s_run_find(const s_apply_ctx_t *ax, int64_t lseq)
{
    size_t lo = 0, hi = ax->run_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ax->run[mid].lseq < lseq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ax->run_n && ax->run[lo].lseq == lseq ? ax->run[lo].c : NULL;
}

/* The document with heads (sorted), from the changes in hand when the run
 * holds them all (a document that arrived whole: nothing to read back),
 * else from the log. */
static int
s_doc_load(fsy_store_t *s, const char *scope, const char *doc,
           fsy_sq_heads_t *heads, const char *json, const s_apply_ctx_t *run,
           fsy_doc_t **d)
{
    fsy_sq_run_head_t *in_hand = NULL;
    size_t n = 0;
    if (run != NULL && heads->n > 0 && heads->n <= run->run_n &&
        (in_hand = malloc(heads->n * sizeof *in_hand)) != NULL)
        for (; n < heads->n; n++) {
            const fsy_change_t *c = s_run_find(run, heads->v[n]);
            if (c == NULL)
                break;
            in_hand[n] = (fsy_sq_run_head_t){c, heads->v[n]};
        }
    int rc = in_hand != NULL && n == heads->n
                 ? fsy_sq_doc_of_changes(s, scope, doc, in_hand, n, d)
                 : fsy_sq_load_doc_heads(s, scope, doc, json, d);
    free(in_hand);
    return rc;
}

/* Moves doc_counts by what the docs row counts now against what it did
 * when heads was loaded. */
static int
s_count(fsy_store_t *s, fsy_sq_heads_t *heads, int64_t visible,
        int64_t conflicts)
{
    int64_t dv = visible - heads->counted_visible;
    int64_t dc = conflicts - heads->counted_conflicts;
    if (dv == 0 && dc == 0)
        return FSY_OK;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_DOC_COUNTS_ADD);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_int64(st, 1, dv);
    sqlite3_bind_int64(st, 2, dc);
    int rc = fsy_sq_step_done(s, st, "counting documents");
    if (rc == FSY_OK) {
        heads->counted_visible = visible;
        heads->counted_conflicts = conflicts;
    }
    return rc;
}

/* Recomputes the derived docs row of one document with these heads, and
 * its search rows; run: the apply whose current run of changes is this
 * document's, or NULL. */
static int
s_refresh_heads(fsy_store_t *s, const char *scope, const char *doc,
                fsy_sq_heads_t *heads, const s_first_t *first,
                const s_apply_ctx_t *run)
{
    const char *json = fsy_sq_heads_json(heads);
    if (json == NULL)
        return FSY_ENOMEM;
    fsy_doc_t *d = NULL, none = {0};
    int rc = s_doc_load(s, scope, doc, heads, json, run, &d);
    /* Every head can be named as a base (two changes naming each other):
     * a document with no heads is legal, and simply not visible. */
    if (rc == FSY_ENOTFOUND)
        rc = FSY_OK;
    if (rc != FSY_OK)
        return rc;
    const fsy_doc_t *v = d != NULL ? d : &none;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_DOC_UPSERT);
    if (st == NULL) {
        fsy_doc_free(&d);
        return FSY_EINTERNAL;
    }
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, v->kind, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, v->visible ? 1 : 0);
    sqlite3_bind_int64(st, 5, (int64_t)v->n_conflicts);
    sqlite3_bind_int64(st, 6, (int64_t)v->updated_hlc);
    sqlite3_bind_text(st, 7, json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (int64_t)v->n_fields);
    rc = fsy_sq_step_done(s, st, "updating a document");
    if (rc == FSY_OK)
        rc = s_count(s, heads, v->visible ? 1 : 0, (int64_t)v->n_conflicts);
    if (rc == FSY_OK)
        rc = s_index_doc(s, scope, doc, d, first);
    fsy_doc_free(&d);
    return rc;
}

/* The same with the heads its docs row holds (a document left to the end
 * of a call, or marked by another path). */
static int
s_refresh_doc(fsy_store_t *s, const char *scope, const char *doc,
              const s_first_t *first)
{
    fsy_sq_heads_t heads = {0};
    bool rebuilt = false;
    int rc = s_heads_of(s, scope, doc, &heads, &rebuilt);
    if (rc == FSY_OK)
        rc = s_refresh_heads(s, scope, doc, &heads, first, NULL);
    fsy_sq_heads_free(&heads);
    return rc;
}

/* Rebuilding, first pass: every logged change of the document is a head. */
static int
s_replay_head(const fsy_change_t *c, uint64_t lseq, void *ctx)
{
    (void)c;
    s_apply_ctx_t *ax = ctx;
    return fsy_sq_heads_add(&ax->heads, (int64_t)lseq);
}

/* Second pass: each base ends its target's headship, or waits for it.
 * In two passes, so a base logged before its target counts as well. */
static int
s_replay_bases(const fsy_change_t *c, uint64_t lseq, void *ctx)
{
    (void)lseq;
    s_apply_ctx_t *ax = ctx;
    int rc = FSY_OK;
    for (size_t i = 0; rc == FSY_OK && i < c->n_bases; i++)
        rc = s_apply_base(ax->store, ax, c, &c->bases[i]);
    return rc;
}

/* Derives one document's heads and superseded versions again from the
 * changes of it the log holds, then its docs row (changes may have left
 * the log: its first is found again). */
static int
s_rebuild_doc(fsy_store_t *s, const char *scope, const char *doc,
              const s_first_t *first)
{
    (void)first;
    static const char sel[] =
        "SELECT " FSY_SQ_CHANGE_COLS " FROM " FSY_SQ_CHANGE_FROM
        " WHERE c.scope = ?1 AND c.doc = ?2";
    static const char *const sql[] = {
        "DELETE FROM superseded WHERE scope = ?1 AND doc = ?2", sel, sel};
    fsy_log_cb pass[] = {NULL, s_replay_head, s_replay_bases};
    s_apply_ctx_t ax = {.store = s, .superseded = true};
    /* what its row counts now (heads that do not parse are derived
     * afresh all the same) */
    int rc = fsy_sq_heads_load(s, scope, doc, &ax.heads);
    if (rc == FSY_ECORRUPT)
        rc = FSY_OK;
    ax.heads.n = 0;
    for (size_t i = 0; rc == FSY_OK && i < 3; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL) != SQLITE_OK) {
            rc = fsy_sq_err(s, sqlite3_errcode(s->db), "rebuilding heads");
            break;
        }
        sqlite3_bind_text(st, 1, scope, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, doc, -1, SQLITE_TRANSIENT);
        if (pass[i] != NULL) {
            rc = fsy_sq_log_rows(s, st, pass[i], &ax, "rebuilding heads");
        } else {
            rc = fsy_sq_step_done(s, st, "rebuilding heads");
            sqlite3_finalize(st);
        }
    }
    if (rc == FSY_OK)
        rc = s_refresh_heads(s, scope, doc, &ax.heads, NULL, NULL);
    fsy_sq_heads_free(&ax.heads);
    return rc;
}

typedef int (*s_doc_fn)(fsy_store_t *, const char *, const char *,
                        const s_first_t *);

/* Runs fn on every document in temp.touched, then empties it. A row
 * without a clock (marked by another path than an apply) has no first. */
static int
s_each_touched(fsy_store_t *s, s_doc_fn fn)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT scope, doc, hlc, lseq FROM temp.touched", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "listing touched documents");
    int err = FSY_OK;
    while (err == FSY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        s_first_t first = {sqlite3_column_int64(st, 2),
                           sqlite3_column_int64(st, 3)};
        bool known = sqlite3_column_type(st, 2) != SQLITE_NULL;
        err =
            fn(s, (const char *)sqlite3_column_text(st, 0),
               (const char *)sqlite3_column_text(st, 1), known ? &first : NULL);
    }
    sqlite3_finalize(st);
    if (err != FSY_OK)
        return err;
    if (rc != SQLITE_DONE)
        return fsy_sq_err(s, rc, "listing touched documents");
    return fsy_sq_exec(s, "DELETE FROM temp.touched");
}

int
fsy_sq_rebuild_touched(fsy_store_t *s)
{
    return s_each_touched(s, s_rebuild_doc);
}

int
fsy_sq_refresh_touched(fsy_store_t *s)
{
    return s_each_touched(s, s_refresh_doc);
}

/* Advances the persisted clock past what was just applied (bounded). */
static int
s_clock_receive(fsy_store_t *s, uint64_t max_hlc)
{
    if (max_hlc == 0)
        return FSY_OK;
    uint64_t clock;
    int rc = fsy_sq_meta_get_u64(s, "clock", &clock);
    if (rc != FSY_OK)
        return rc;
    uint64_t next =
        fsy_clock_receive(clock, max_hlc, fsy_sq_now(s), s->max_skew_ms);
    return next == clock ? FSY_OK : fsy_sq_meta_set(s, "clock", NULL, next);
}

/* Whether any base is still waiting for its target (usually none). */
static int
s_superseded_any(fsy_store_t *s, bool *any)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_SUPERSEDED_ANY);
    if (st == NULL)
        return FSY_EINTERNAL;
    int rc = sqlite3_step(st);
    *any = rc != SQLITE_ROW || sqlite3_column_int(st, 0) != 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? FSY_OK : fsy_sq_err(s, rc, "reading bases");
}

/*
 * The one path every change takes into the replica, local or remote.
 * Runs inside the caller's transaction.
 */
int
fsy_sq_apply_changes(fsy_store_t *s, const fsy_change_t *changes, size_t n,
                     fsy_sq_source_t from, fsy_apply_stats_t *stats)
{
    s_apply_ctx_t ax = {.validated = from == FSY_SQ_FROM_VALIDATED,
                        .remote = from != FSY_SQ_FROM_LOCAL,
                        .now_ms = fsy_sq_now(s)};
    int rc = s_superseded_any(s, &ax.superseded);
    for (size_t i = 0; rc == FSY_OK && i < n; i++)
        rc = s_apply_change(s, &ax, &changes[i], stats);
    if (rc == FSY_OK)
        rc = s_run_end(s, &ax);
    if (rc == FSY_OK)
        rc = s_check_closed(&ax);
    if (rc == FSY_OK)
        rc = s_streams_flush(s, &ax);
    if (rc == FSY_OK && ax.deferred)
        rc = fsy_sq_refresh_touched(s);
    if (rc == FSY_OK)
        rc = from == FSY_SQ_FROM_LOCAL ? FSY_OK /* the writer sets the clock */
                                       : s_clock_receive(s, ax.max_hlc);
    free(ax.streams);
    free(ax.seen);
    fsy_sq_heads_free(&ax.heads);
    free(ax.run);
    return rc;
}

static int
s_apply(fsy_store_t *s, const fsy_change_t *changes, size_t n, bool validated,
        fsy_apply_stats_t *stats)
{
    fsy_apply_stats_t local;
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    int rc = fsy_sq_txn_begin(s);
    if (rc != FSY_OK)
        return rc;
    rc = fsy_sq_durable_mark(s);
    if (rc == FSY_OK)
        rc = fsy_sq_apply_changes(
            s, changes, n, validated ? FSY_SQ_FROM_VALIDATED : FSY_SQ_FROM_PEER,
            stats);
    rc = fsy_sq_txn_end(s, rc);
    if (rc == FSY_OK)
        fsy_sq_durable_marked(s);
    if (rc != FSY_OK)
        memset(stats, 0, sizeof *stats);
    return rc;
}

int
fsy_store_apply(fsy_store_t *s, const fsy_change_t *changes, size_t n,
                fsy_apply_stats_t *stats)
{
    return s_apply(s, changes, n, false, stats);
}

int
fsy_store_apply_validated(fsy_store_t *s, const fsy_change_t *changes, size_t n,
                          fsy_apply_stats_t *stats)
{
    return s_apply(s, changes, n, true, stats);
}

/* Committed without a disk sync: store_durable.c says why and what it
 * promises meanwhile; here only because it is an apply. */
int
fsy_store_apply_lazy(fsy_store_t *s, const fsy_change_t *changes, size_t n,
                     fsy_apply_stats_t *stats)
{
    if (s->in_group || s->wal_hard == 0 || s->lazy_off || s->sync_normal)
        return fsy_store_apply_validated(s, changes, n, stats);
    /* the vector before the first lazy commit: still all on disk */
    if (s->durable_vv == NULL && fsy_store_vv(s, &s->durable_vv) != FSY_OK) {
        fsy_vv_free(&s->durable_vv);
        return fsy_store_apply_validated(s, changes, n, stats);
    }
    int rc = FSY_OK;
    if (fsy_sq_synchronous(s, false) != FSY_OK) {
        rc = fsy_store_apply_validated(s, changes, n, stats);
    } else {
        s->lazy_now = true;
        rc = fsy_store_apply_validated(s, changes, n, stats);
        s->lazy_now = false;
        if (rc == FSY_OK) {
            s->lazy_commits++;
            s->lazy_total++;
        }
        /* should it fail, sync_normal stays true: no later commit of this
         * connection is taken for a synced one, nor made lazily */
        if (fsy_sq_synchronous(s, true) != FSY_OK)
            s->lazy_off = true;
    }
    if (s->lazy_commits == 0)
        fsy_vv_free(&s->durable_vv);
    return rc;
}
