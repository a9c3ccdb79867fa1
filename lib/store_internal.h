/*
 * fieldsync — what the store's layers share: store.c (base: open, schema,
 * statements, origins, transactions) <- store_read.c <- store_apply.c <-
 * store_write.c, and the tables beside them (store_peers.c,
 * store_sites.c). Nothing outside the store includes this.
 */
#ifndef FSY_STORE_INTERNAL_H
#define FSY_STORE_INTERNAL_H

#include <sqlite3.h>
#include <string.h>

#include "fieldsync/store.h"
#include "merge.h"

/* Copies src into dst of size (> 0) bytes, cut to fit and terminated: what
 * snprintf(dst, size, "%s", src) does, without the formatting (a few
 * per change in an apply: 2 % of an import went to vfprintf). */
static inline void
fsy_sq_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Prepared statements, prepared on first use and kept until close. */
enum fsy_stmt_id {
    ST_META_GET,
    ST_META_SET,
    ST_ORIGIN_GET,
    ST_ORIGIN_INS,
    ST_VV_GET,
    ST_VV_SET,
    ST_CHANGE_INS,
    ST_CHANGE_BY_ID,
    ST_BASE_FIND,
    ST_SUPERSEDED_INS,
    ST_SUPERSEDED_ANY,
    ST_SUPERSEDED_TAKE,
    ST_DOC_HEADS_OF,
    ST_DOC_HEADS,
    ST_HEADS_LOAD,
    ST_DOC_UPSERT,
    ST_DOC_HEADS_SET,
    ST_DOC_EDIT,
    ST_DOC_COUNTS_ADD,
    ST_TOUCH,
    ST_DOC_SCOPES,
    ST_BLOB_GET,
    ST_BLOB_PUT,
    ST_CHUNK_PUT,
    ST_CHUNKS,
    ST_CHUNK_DROP,
    ST_CHUNK_ADD,
    ST_BLOB_WANT,
    ST_BLOBS_WANTED,
    ST_CHUNK_IDX,
    ST_CHUNK_GET,
    ST_BLOB_FETCH,
    ST_URGENT_ADD,
    ST_URGENT_PRUNE,
    ST_INDEX_DROP,
    ST_INDEX_META,
    ST_INDEX_ADDED,
    ST_INDEX_TEXT,
    ST_INDEX_PEND,
    ST_INDEX_DONE,
    ST_MERGE_NODES,
    ST_MERGE_VALUE,
    ST__COUNT
};

/* A small cache of origin ids: origins never change their row id. */
typedef struct fsy_origin_slot {
    fsy_origin_t origin;
    int64_t id;
} fsy_origin_slot_t;

struct fsy_store {
    sqlite3 *db;
    char *path;
    fsy_origin_t origin; /* this site */
    int64_t origin_id;
    size_t max_value;
    char write_scopes[256]; /* "" = all */
    uint64_t max_skew_ms;
    char author[FSY_AUTHOR_MAX + 1]; /* of this handle's writes */
    /* the text merge rule the docs rows are derived with (store_merge.c) */
    char whole_fields[FSY_WHOLE_FIELDS_MAX + 1];
    char merge_rule[FSY_MERGE_RULE_MAX + 1];
    fsy_wallclock_fn wall;
    void *wall_ctx;
    bool in_group;       /* fsy_store_begin() transaction open */
    bool volatile_group; /* ... by fsy_store_begin_volatile() */
    bool group_failed;   /* a write in the open group failed */
    bool urgent;         /* local writes are marked urgent (store_urgent.c) */
    uint64_t log_epoch;  /* bumped when log positions may be reused */
    unsigned wal_pages;  /* in the WAL after the last commit (deferred) */
    unsigned wal_hard;   /* a commit checkpoints from here (0: SQLite) */
    unsigned page_size;  /* the replica's, in bytes */
    /* received changes committed without a disk sync (store_durable.c):
     * how many since the last synced commit, the vector before them, and
     * whether synchronous is NORMAL now */
    unsigned lazy_commits;
    uint64_t lazy_total; /* since the store was opened */
    fsy_vv_t *durable_vv;
    bool sync_normal;
    bool lazy_now;     /* the apply under way commits lazily */
    bool feed_end_set; /* meta "feed_end" holds the feed back */
    bool lazy_off;     /* a sync failed: no more lazy commits */
    bool sync_failed;  /* ... and the lazy ones are never taken as synced */
    /* a sync of the log asked of another thread (store_durable.c): the
     * lazy_total it covers (0: none asked), the vector and the feed's end
     * as of then; and where the next lazy apply moves the feed's end once
     * such a sync is done (0: nowhere) */
    uint64_t sync_point;
    fsy_vv_t *sync_vv;
    uint64_t sync_feed_end;
    uint64_t feed_end_next;
    sqlite3_stmt *stmt[ST__COUNT];
    fsy_origin_slot_t *origins;
    size_t n_origins, cap_origins;
    /* Streams refused in the open write group: a bundle applies batch by
     * batch in one group, and a refusal must hold for all its batches. */
    struct fsy_refused_stream *refused;
    size_t n_refused, cap_refused;
};

typedef struct fsy_refused_stream {
    char scope[FSY_SCOPE_MAX + 1];
    int64_t origin_id;
} fsy_refused_stream_t;

/* Translates a SQLite result code into fsy_err_t with a detail. */
int fsy_sq_err(fsy_store_t *s, int rc, const char *what);

/* The reset, unbound statement `id`, or NULL (error detail set). */
sqlite3_stmt *fsy_sq_stmt(fsy_store_t *s, enum fsy_stmt_id id);

/* How long a statement waits for another process's lock (ms). */
#define FSY_BUSY_TIMEOUT_MS 10000

/* Runs SQL without results. */
int fsy_sq_exec(fsy_store_t *s, const char *sql);

/* Milliseconds of wall time by the store's clock source. */
uint64_t fsy_sq_now(fsy_store_t *s);

/* Steps a statement that returns no row; resets it. */
int fsy_sq_step_done(fsy_store_t *s, sqlite3_stmt *st, const char *what);

/* meta[key] := text, or num when text is NULL. */
int fsy_sq_meta_set(fsy_store_t *s, const char *key, const char *text,
                    uint64_t num);

/* meta[key] as a number into *out. */
int fsy_sq_meta_get_u64(fsy_store_t *s, const char *key, uint64_t *out);

/* The same for a key that may be missing: *out is 0 then. */
int fsy_sq_meta_get_opt(fsy_store_t *s, const char *key, uint64_t *out);

/* The row id of a known origin; *known false if there is none. */
int fsy_sq_origin_find(fsy_store_t *s, const fsy_origin_t *o, int64_t *id,
                       bool *known);

/* vv[(scope, origin_id)] into *seq (0 if none). */
int fsy_sq_vv_get(fsy_store_t *s, const char *scope, int64_t origin_id,
                  uint64_t *seq);

/* The local row id of origin o, added if new. */
int fsy_sq_origin_id(fsy_store_t *s, const fsy_origin_t *o, int64_t *id);

/* One write transaction, or a step inside the open group
 * (fsy_store_begin): begin; end commits on rc == FSY_OK, else rolls back
 * (a group is marked failed) and returns rc. */
int fsy_sq_txn_begin(fsy_store_t *s);

/* PRAGMA synchronous=FULL (full) or NORMAL, remembered for the WAL hook
 * (store_durable.c); the error of the pragma. */
int fsy_sq_synchronous(fsy_store_t *s, bool full);
/* A synced commit: every lazy one before it is on disk too. */
void fsy_sq_durable_now(fsy_store_t *s);
/* Inside an apply's transaction, and after it committed: the feed's end
 * while lazy commits wait for the disk (store_durable.c). */
int fsy_sq_durable_mark(fsy_store_t *s);
void fsy_sq_durable_marked(fsy_store_t *s);
/* At open: a feed's end left by a process that stopped before its sync
 * is synced and dropped. */
void fsy_sq_durable_check(fsy_store_t *s);
int fsy_sq_txn_end(fsy_store_t *s, int rc);
void fsy_sq_txn_rollback(fsy_store_t *s);
int fsy_sq_refuse(fsy_store_t *s, int rc);

/* Where changes come from: a peer (validate them), a peer through a
 * decoder that validated them already, or this site's own write (which
 * persists its clock itself). */
typedef enum fsy_sq_source {
    FSY_SQ_FROM_PEER,
    FSY_SQ_FROM_VALIDATED,
    FSY_SQ_FROM_LOCAL
} fsy_sq_source_t;

/* The one path every change takes into the replica (store_apply.c), inside
 * the caller's transaction. */
int fsy_sq_apply_changes(fsy_store_t *s, const fsy_change_t *changes, size_t n,
                         fsy_sq_source_t from, fsy_apply_stats_t *stats);

/* A reference arrived (store_blobs.c): its blob is wanted, unless known. */
int fsy_sq_blob_want(fsy_store_t *s, const fsy_change_t *c);

/* Reads this site's identity (site, incarnation, origin row) from meta
 * into s: at open, and after a new incarnation. */
int fsy_sq_load_identity(fsy_store_t *s);

/*
 * Derives heads, superseded versions and the docs row of every document
 * in temp.touched again from its changes in the log, as their applies
 * did, and empties temp.touched: after changes left the log
 * (store_recover.c). Inside the caller's transaction.
 */
int fsy_sq_rebuild_touched(fsy_store_t *s);

/* The checksum of (scope, origin, seq) in the log; *found false if the
 * log does not hold it (store_rollback.c). */
int fsy_sq_checksum_at(fsy_store_t *s, const char *scope, const fsy_origin_t *o,
                       uint64_t seq, uint8_t out[FSY_CHECKSUM_LEN],
                       bool *found);

/* Marks urgent the transaction ending with c, if this replica holds c. */
int fsy_sq_urgent_mark(fsy_store_t *s, const fsy_change_t *c);

/* Bases are stored as one blob: see fsy_sq_bases_encode(). */
int fsy_sq_bases_encode(const fsy_version_t *b, size_t n, uint8_t **out,
                        size_t *len);
int fsy_sq_bases_decode(const uint8_t *buf, size_t len, fsy_version_t **out,
                        size_t *n);

/*
 * Loads every head of (scope, doc) and merges (merge.h). FSY_ENOTFOUND if
 * the document has no heads at all.
 */
int fsy_sq_load_doc(fsy_store_t *s, const char *scope, const char *doc,
                    fsy_doc_t **out);
/* The same with the heads given as their log positions, a JSON array (an
 * apply's, before its docs row holds them). */
int fsy_sq_load_doc_heads(fsy_store_t *s, const char *scope, const char *doc,
                          const char *heads, fsy_doc_t **out);
/* A head among the changes an apply has in hand, and where it is logged. */
typedef struct fsy_sq_run_head {
    const fsy_change_t *c;
    int64_t lseq;
} fsy_sq_run_head_t;

/* fsy_sq_load_doc for a document all of whose n heads are in hand (none
 * read back from the log), in any order. */
int fsy_sq_doc_of_changes(fsy_store_t *s, const char *scope, const char *doc,
                          fsy_sq_run_head_t *heads, size_t n, fsy_doc_t **out);

/*
 * A document's heads as its docs row keeps them (store_heads.c): log
 * positions, in no order until written. Zero-initialise; free with
 * fsy_sq_heads_free. Functions returning int give FSY_OK or an error
 * (FSY_ENOMEM, FSY_ECORRUPT for a row that does not parse).
 */
typedef struct fsy_sq_heads {
    int64_t *v;
    size_t n, cap;
    /* what the docs row counted in doc_counts when loaded (0: no row) */
    int64_t counted_visible, counted_conflicts;
    /* and the rest of it: its greatest clock, the fields with heads (0:
     * not known) and how many heads it held */
    int64_t updated_hlc, head_fields;
    size_t n_row;
    char *json; /* the last fsy_sq_heads_json, owned */
    size_t json_cap;
} fsy_sq_heads_t;

void fsy_sq_heads_free(fsy_sq_heads_t *h);
int fsy_sq_heads_add(fsy_sq_heads_t *h, int64_t lseq);
/* Whether lseq was there (and is no more). */
bool fsy_sq_heads_del(fsy_sq_heads_t *h, int64_t lseq);
/* Replaces h's positions with those (scope, doc)'s docs row holds (none
 * without a row). */
int fsy_sq_heads_load(fsy_store_t *s, const char *scope, const char *doc,
                      fsy_sq_heads_t *h);
/* h as the docs row holds it, sorted; owned by h, valid until the next
 * call on h. NULL (error set) out of memory. */
const char *fsy_sq_heads_json(fsy_sq_heads_t *h);
/* Statement id with (scope, doc, h as JSON) bound to ?1-?3, or NULL with
 * *rc the error. The text is h's: valid until the next call on h. */
sqlite3_stmt *fsy_sq_heads_bind(fsy_store_t *s, enum fsy_stmt_id id,
                                const char *scope, const char *doc,
                                fsy_sq_heads_t *h, int *rc);
/* Writes h into (scope, doc)'s docs row, leaving the rest of it. */
int fsy_sq_heads_store(fsy_store_t *s, const char *scope, const char *doc,
                       fsy_sq_heads_t *h);

/*
 * Reads a change from a row of
 *   SELECT scope, seq, hlc, doc, field, value, bases, txn_end, checksum,
 *          site, incarnation, lseq, ref, author ...
 * (the column list of FSY_SQ_CHANGE_COLS).
 */
#define FSY_SQ_CHANGE_COLS                                                     \
    "c.scope, c.seq, c.hlc, c.doc, c.field, c.value, c.bases, c.txn_end, "     \
    "c.checksum, o.site, o.incarnation, c.lseq, c.ref, c.author"
#define FSY_SQ_CHANGE_FROM "changes c JOIN origins o ON o.id = c.origin"
int fsy_sq_row_change(sqlite3_stmt *st, fsy_change_t *out);

/* Steps st (selecting FSY_SQ_CHANGE_COLS), handing each change and its
 * log position to cb, then finalizes st; cb's non-zero return stops. */
int fsy_sq_log_rows(fsy_store_t *s, sqlite3_stmt *st, fsy_log_cb cb, void *ctx,
                    const char *what);

/*
 * The search index (schema 7): doc_meta (a document's first and latest
 * change) and doc_text (FTS5 over its text values), derived like docs rows.
 * One definition serves a document's refresh (store_apply.c, W selects it
 * by ?1 scope, ?2 doc) and the migration that builds the index for every
 * document (store.c, W "1"), so both produce the same index. Text is every
 * head's value that is UTF-8 text (fsy_text(), store.c): both sides of an
 * open conflict are found. Field "title" has its own column (ranked
 * higher); reserved fields are not text.
 */
#define FSY_SQ_INDEX_W1 "d.scope = ?1 AND d.doc = ?2"
/* doc_meta of every document (the schema-7 rebuild). An apply's refresh
 * takes the latest head from the heads it loaded, by fsy_version_cmp
 * (store_apply.c); this statement orders incarnations as SQLite's signed
 * integers: the two differ only for heads of equal clock and site whose
 * incarnations straddle 2^63, and a later refresh of the document sets the
 * apply's answer. */
#define FSY_SQ_INDEX_META(W)                                                   \
    "INSERT INTO doc_meta(scope, doc, created_lseq, updated_lseq) "            \
    "SELECT d.scope, d.doc, coalesce((SELECT c.lseq FROM changes c "           \
    "WHERE c.scope = d.scope AND c.doc = d.doc ORDER BY c.hlc, c.lseq "        \
    "LIMIT 1), 0), coalesce((SELECT c.lseq FROM json_each(d.heads) h JOIN "    \
    "changes c ON c.lseq = h.value JOIN origins o ON o.id = c.origin "         \
    "ORDER BY c.hlc DESC, o.site DESC, "                                       \
    "o.incarnation DESC, c.seq DESC LIMIT 1), 0) FROM docs d WHERE " W         \
    " ON CONFLICT(scope, doc) DO UPDATE SET created_lseq = "                   \
    "excluded.created_lseq, updated_lseq = excluded.updated_lseq"
#define FSY_SQ_INDEX_VALUES(COND)                                              \
    "(SELECT group_concat(t, char(10)) FROM (SELECT fsy_text(c.value, c.ref) " \
    "AS t FROM json_each(d.heads) h JOIN changes c ON c.lseq = h.value "       \
    "WHERE " COND " ORDER BY c.field, c.lseq) "                                \
    "WHERE t IS NOT NULL)"
/* clang-format off: SQL text reads better as written */
#define FSY_SQ_INDEX_TITLE FSY_SQ_INDEX_VALUES("c.field = 'title'")
#define FSY_SQ_INDEX_BODY                                                      \
    FSY_SQ_INDEX_VALUES("c.field <> 'title' AND substr(c.field, 1, 1) <> '_'")
#define FSY_SQ_INDEX_TEXT(W)                                                   \
    "INSERT INTO doc_text(rowid, title, body) SELECT "                         \
    "m.id, " FSY_SQ_INDEX_TITLE ", " FSY_SQ_INDEX_BODY                         \
    " FROM docs d JOIN doc_meta m ON m.scope = d.scope AND m.doc = d.doc "     \
    "WHERE d.visible = 1 AND " W
/* clang-format on */

/*
 * Derives the docs row (and search rows) of every document in
 * temp.touched again, then empties it (store_apply.c). Inside the caller's
 * transaction.
 */
int fsy_sq_refresh_touched(fsy_store_t *s);

/* Writes the text index rows of up to max documents waiting in
 * index_pending (schema 9), and for at most about budget_ms (0: no limit;
 * at least one document), inside the caller's transaction; *more: some
 * are still waiting. */
int fsy_sq_index_pending(fsy_store_t *s, size_t max, unsigned budget_ms,
                         bool *more);

/*
 * Merges the concurrent text heads of d's fields (store_merge.c), after
 * fsy_merge_doc(): a field that merges cleanly is no longer a conflict and
 * shows the merge. Errors reading the log are returned.
 */
int fsy_sq_merge_text(fsy_store_t *s, fsy_doc_t *d);

/* The text merge rule (store_merge.c): set in s from a canonical
 * whole_value_fields list; read from meta.merge_whole (*found false if the
 * replica has none yet); refreshed from it when another process changed
 * it (errors leave s as it was). */
void fsy_sq_merge_rule_set(fsy_store_t *s, const char *whole);
int fsy_sq_merge_rule_read(fsy_store_t *s, char buf[FSY_WHOLE_FIELDS_MAX + 1],
                           bool *found);
void fsy_sq_merge_rule_refresh(fsy_store_t *s);

/* fsy_store_open() and fsy_store_create() of the base layer (store.c):
 * schema, migration, identity; store_open.c completes them. */
int fsy_sq_open(fsy_store_t **out, const char *path);
/* The VFS a replica is opened with (store_vfs.c: the default's, with each
 * write-ahead log frame written in one system call); NULL if it could not
 * be set up (SQLite's default, as it is). */
const char *fsy_sq_vfs(void);
int fsy_sq_create(fsy_store_t **out, const char *path, const char *site);
/* A second handle on a replica another handle has opened (and upgraded),
 * for reading its tables only: opened read-only, no schema work, no write
 * of any kind, no identity loaded; *incarnation is the replica's, to tell
 * it is the same one. Freed by fsy_store_close. FSY_EVERSION if the file
 * is not at this build's schema, or the store's errors. */
int fsy_sq_open_reader(fsy_store_t **out, const char *path,
                       uint64_t *incarnation);
/* How many halves of fsy_store_verify_new's checks a thread has done in
 * this process (store_read.c; the tests tell the thread worked). */
uint64_t fsy_sq_verify_halves(void);

/* At open: reads the merge rule the replica's docs rows follow; a replica
 * derived without it (before text merge existed, or created but not yet
 * opened) is derived again, once, in one transaction
 * (store_merge_rule.c). */
int fsy_sq_merge_open(fsy_store_t *s);

/* Copies at most max bytes of a text column into a NUL-terminated buffer. */
void fsy_sq_col_text(sqlite3_stmt *st, int col, char *buf, size_t size);

#endif
