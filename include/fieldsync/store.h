/*
 * fieldsync — the site replica (one SQLite file per site).
 *
 * The store is the single source of truth for documents, the local change
 * log, the version vector, the hybrid logical clock and open conflicts. The
 * CLI and the daemon both use this API; several processes may open the same
 * replica (SQLite WAL, busy timeout), and every write runs in one
 * BEGIN IMMEDIATE transaction so the persisted clock is never minted twice.
 *
 * Threads: a store handle may be used by one thread at a time; open one
 * handle per thread that needs the replica.
 *
 * Ownership: fsy_store_t is opaque; fsy_store_close() frees it. Structures
 * returned through `**out` belong to the caller and have a matching _free().
 * Pointers handed to callbacks are borrowed and valid only during the call.
 *
 * Errors: every function returns FSY_OK or an fsy_err_t and records a
 * one-line detail (fsy_errdetail()). A failed write leaves the replica
 * exactly as it was (the transaction is rolled back).
 */
#ifndef FIELDSYNC_STORE_H
#define FIELDSYNC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/attachment.h"
#include "fieldsync/change.h"
#include "fieldsync/doc.h"
#include "fieldsync/text_merge.h"
#include "fieldsync/error.h"
#include "fieldsync/vv.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FSY_SCHEMA_VERSION 11

typedef struct fsy_store fsy_store_t;

/* ---- opening ---------------------------------------------------------- */

/*
 * Creates a new replica at `path` for site `site` with a fresh random
 * incarnation. FSY_EEXIST if the file exists; FSY_EINVAL for a bad site id.
 */
int fsy_store_create(fsy_store_t **out, const char *path, const char *site);

/*
 * Opens an existing replica. FSY_ENOTFOUND if there is no file,
 * FSY_EFORMAT if it is not a fieldsync replica, FSY_EVERSION if it was
 * written by a newer schema.
 *
 * The first open or create in a process turns SQLite's count of its
 * memory off (SQLITE_CONFIG_MEMSTATUS), a setting for the whole process:
 * call it before other threads use SQLite. Ignored if SQLite was set up
 * already.
 */
int fsy_store_open(fsy_store_t **out, const char *path);

/*
 * Told before and after fsy_store_open upgrades a replica written by an
 * older fieldsync (an upgrade rebuilds indexes: minutes on millions of
 * changes, when the tool or the daemon would otherwise seem to hang). msg
 * is one line of plain text, borrowed for the call. One hook for the
 * process, set before any thread opens a replica; NULL (the default)
 * tells no one.
 */
typedef void (*fsy_store_notice_fn)(const char *msg);
void fsy_store_on_notice(fsy_store_notice_fn fn);

/* Makes what the store is doing on another thread stop soon with an
 * error (sqlite3_interrupt); the store must stay open meanwhile. */
void fsy_store_interrupt(fsy_store_t *s);

/* Closes and frees; accepts NULL and sets *s to NULL. */
void fsy_store_close(fsy_store_t **s);

/* Writes and commits one small row durably (for health checks): FSY_OK if
 * the replica takes writes now, else the error (read-only, disk full, I/O
 * error) with SQLite's reason as detail. */
int fsy_store_probe_write(fsy_store_t *s);

/* This replica's own origin (site id and incarnation). Borrowed. */
const fsy_origin_t *fsy_store_origin(const fsy_store_t *s);

/* Largest value a local write may store (default FSY_VALUE_MAX). */
void fsy_store_set_max_value(fsy_store_t *s, size_t bytes);

/*
 * Checkpoints on the caller's schedule (the daemon's, when its links are
 * quiet) instead of SQLite's at every commit that leaves 1,000 pages in
 * the write-ahead log: a commit copies the log into the database itself
 * only once it holds hard_kib KiB (at least FSY_WAL_MIN_KIB). Sizes are in
 * KiB, not pages, because replicas differ in page size (4 KiB before
 * 2026-12, 8 KiB since). fsy_store_wal_kib says how much it holds;
 * fsy_store_checkpoint copies it. FSY_OK, or the error setting it.
 */
#define FSY_WAL_MIN_KIB 4000
int fsy_store_defer_checkpoints(fsy_store_t *s, unsigned hard_kib);

/* The same for every store this process opens from now on (all of a
 * daemon's connections: a write on any of them would otherwise copy the
 * log SQLite's way). Call it before any thread opens a store. */
void fsy_store_defer_checkpoints_all(unsigned hard_kib);

/* KiB in the write-ahead log as of this handle's last commit, copied or
 * not (the log starts again only once a writer finds it all copied); 0
 * after this handle's checkpoint copied it all, or unless deferred. */
unsigned fsy_store_wal_kib(const fsy_store_t *s);

/* Copies the write-ahead log into the database as far as readers allow
 * (a passive checkpoint: it waits for no one; another copy running is
 * not an error). FSY_OK or the error. */
int fsy_store_checkpoint(fsy_store_t *s);

/*
 * The scopes this site may write ("MLI, global"; "" or NULL: all). Local
 * writes outside them are refused (FSY_EINVAL), so the replica never holds
 * a change its parent would refuse. The list is copied.
 */
void fsy_store_set_write_scopes(fsy_store_t *s, const char *list);

/* Who this handle's writes are by (recorded on every change it writes):
 * "" for none (the default). FSY_EINVAL if not a valid author
 * (fsy_check_author), and the handle keeps its previous author. */
int fsy_store_set_author(fsy_store_t *s, const char *author);

/*
 * Text merge (docs/REPLICATION.md, "Text merge"): concurrent edits to a
 * multi-line text field merge line by line, except in the fields listed
 * here ("status, owner"; "" or NULL: none), which stay whole values. The
 * list is kept in the replica, so every process opening it shows the same
 * values; changing it derives the documents it affects again, in one
 * transaction. Every site of a tree must use the same list: peers compare
 * fsy_store_merge_rule() in HELLO and bundles. FSY_EINVAL (detail set) for
 * a list that is not user field names; I/O errors as writes.
 */
int fsy_store_set_whole_value_fields(fsy_store_t *s, const char *list);

/* The rule as peers compare it: "lines/1", or "lines/1 whole=owner,status"
 * with the canonical list (at most FSY_MERGE_RULE_MAX bytes,
 * fieldsync/text_merge.h), read again from the replica (another process
 * may have changed it). Borrowed from s until its next call. */
const char *fsy_store_merge_rule(fsy_store_t *s);

/* How far a received clock may pull ours ahead of wall time (default 1 h). */
void fsy_store_set_max_clock_skew(fsy_store_t *s, uint64_t ms);

/* Wall clock in ms since the epoch; tests replace it. NULL restores. */
typedef uint64_t (*fsy_wallclock_fn)(void *ctx);
void fsy_store_set_wallclock(fsy_store_t *s, fsy_wallclock_fn fn, void *ctx);

/* ---- local writes ----------------------------------------------------- */

/*
 * Groups several writes (put, delete, resolve, apply) in one transaction,
 * e.g. an NDJSON import batch. Without it each write commits on its own.
 * After any failed write inside the group, later writes are refused and
 * commit rolls back: the caller should roll back.
 * Nesting is not supported: FSY_EINVAL if a group is already open.
 */
int fsy_store_begin(fsy_store_t *s);
/* The same for writes that may be lost on a power cut without harm (the
 * daemon's status rows, rewritten a second later): committed without a
 * disk sync (synchronous=NORMAL for this group only). Never for changes. */
int fsy_store_begin_volatile(fsy_store_t *s);
/* Commits the group; on failure the group is rolled back and closed. */
int fsy_store_commit(fsy_store_t *s);

/* One consistent view across several reads (a read transaction: writers
 * go on, this handle sees none of their commits until the end). Not inside
 * a write group. FSY_OK or the store's errors. */
int fsy_store_read_begin(fsy_store_t *s);
void fsy_store_read_end(fsy_store_t *s);
/* Rolls back an open group; does nothing if none is open. */
void fsy_store_rollback(fsy_store_t *s);

typedef struct fsy_field_set {
    const char *field;    /* user field name (no leading '_') */
    const uint8_t *value; /* bytes; may be NULL when len is 0 */
    size_t len;
    bool ref; /* value is an attachment reference (fsy_ref_format) */
} fsy_field_set_t;

/*
 * Creates or updates document (scope, doc): one transaction writing every
 * field in `sets` (n >= 1, distinct names). `kind` is required when the
 * document has never existed; a deleted document keeps its kind when
 * re-created unless another `kind` is given; a visible document's kind is
 * fixed (`kind` must be NULL or equal to it). At most FSY_TXN_MAX changes. Each
 * write names the field's current winner as its base; a re-creation names every
 * head. Returns FSY_OK, FSY_EINVAL, FSY_ETOOBIG, FSY_EIO, FSY_EFULL, FSY_EBUSY.
 */
int fsy_store_put(fsy_store_t *s, const char *scope, const char *doc,
                  const char *kind, const fsy_field_set_t *sets, size_t n);

/*
 * Deletes a visible document: writes absent to every user field with a
 * non-absent head and _deleted = 1, in one transaction.
 * FSY_ENOTFOUND if the document is not visible.
 */
int fsy_store_delete(fsy_store_t *s, const char *scope, const char *doc);

/*
 * Resolves a field by writing a new version naming every current head:
 * with `keep` (a label "site:seq" of one head) its value is kept; otherwise
 * `value`/`len` is written. If the document is marked deleted while still
 * visible, keeping a value also clears _deleted (the document is kept).
 * FSY_ENOTFOUND for an unknown document, field or version.
 */
int fsy_store_resolve(fsy_store_t *s, const char *scope, const char *doc,
                      const char *field, const char *keep, const uint8_t *value,
                      size_t len);

/* ---- reading ---------------------------------------------------------- */

/*
 * Finds the scope of document `doc`. With `scope` non-NULL, checks the
 * document exists there. FSY_ENOTFOUND if no such document (visible or
 * not), FSY_EAMBIGUOUS if it exists in several scopes (detail lists them).
 */
int fsy_store_find_doc(fsy_store_t *s, const char *doc, const char *scope,
                       char scope_out[FSY_SCOPE_MAX + 1]);

/* fsy_head_t, fsy_field_t, fsy_doc_t: fieldsync/doc.h */

/* Loads (scope, doc), visible or not. FSY_ENOTFOUND if unknown. */
int fsy_store_get(fsy_store_t *s, const char *scope, const char *doc,
                  fsy_doc_t **out);
/* Frees a document; accepts NULL and sets *d to NULL. */
void fsy_doc_free(fsy_doc_t **d);

/* The winning field named `name`, or NULL. Borrowed from d. */
const fsy_field_t *fsy_doc_field(const fsy_doc_t *d, const char *name);

/* What field f shows: its text merge when its heads merged, else its
 * winner. Borrowed from f. */
const fsy_head_t *fsy_field_shown(const fsy_field_t *f);

/* "merged gao:12 and bamako:9 over hq:7" for a field whose heads merged
 * (text_merge FSY_TEXT_MERGE_CLEAN), else "". Into buf (FSY_MERGE_NOTE_LEN
 * holds any); returns buf. */
#define FSY_MERGE_NOTE_LEN (64 * (FSY_SITE_MAX + 24))
const char *fsy_field_merge_note(const fsy_field_t *f, char *buf, size_t size);

/*
 * One place where the concurrent text heads of a field overlap
 * (fsy_store_overlaps): heads[0 .. n_a) were merged into side a, heads[n_a]
 * is side b, both edits of version *base; hunk holds the three texts.
 * Borrowed for the callback only.
 */
typedef struct fsy_overlap {
    const fsy_head_t *heads;
    size_t n_a;
    const fsy_version_t *base;
    const fsy_text_hunk_t *hunk;
} fsy_overlap_t;
typedef int (*fsy_overlap_cb)(const fsy_overlap_t *o, void *ctx);

/*
 * Calls cb for each overlap of field `field` of d (as loaded from s) whose
 * text merge stopped there (text_merge FSY_TEXT_MERGE_OVERLAP); *n counts
 * them (0 for any other field). Errors reading the log are returned.
 */
int fsy_store_overlaps(fsy_store_t *s, const fsy_doc_t *d, const char *field,
                       fsy_overlap_cb cb, void *ctx, size_t *n);

/* Callbacks return 0 to go on, non-zero to stop (that value is returned). */
typedef int (*fsy_doc_cb)(const fsy_doc_t *d, void *ctx);
typedef int (*fsy_change_cb)(const fsy_change_t *c, void *ctx);

/*
 * Calls cb for every visible document, ordered by (scope, id), optionally
 * filtered by kind and scope (NULL = any). With `conflicted_only`, only
 * documents with an open conflict (visible or not).
 */
int fsy_store_each_doc(fsy_store_t *s, const char *kind, const char *scope,
                       bool conflicted_only, fsy_doc_cb cb, void *ctx);

/* Every change of (scope, doc) in version order: the document's history. */
int fsy_store_history(fsy_store_t *s, const char *scope, const char *doc,
                      fsy_change_cb cb, void *ctx);

/*
 * BLAKE2b-256 over the visible state (documents, winning values, open
 * conflicts with their heads), optionally limited to one scope. Replicas
 * holding the same set of changes have equal digests.
 */
#define FSY_DIGEST_LEN 32
int fsy_store_digest(fsy_store_t *s, const char *scope,
                     uint8_t out[FSY_DIGEST_LEN]);

/* ---- version vectors and replication ---------------------------------- */

/* Vectors themselves (compare, raise, text and file forms): fieldsync/vv.h */

/* This replica's version vector, sorted by (scope, site, incarnation);
 * free with fsy_vv_free. */
int fsy_store_vv(fsy_store_t *s, fsy_vv_t **out);

/*
 * Streams, in local-log order, every change the holder of `other` lacks
 * (seq > other[(scope, origin)]); other == NULL means everything.
 */
int fsy_store_export(fsy_store_t *s, const fsy_vv_t *other, fsy_change_cb cb,
                     void *ctx);

/*
 * Streams up to `limit` changes of the local log after position `after`
 * (0: from the start), in log order, with each one's position. The live
 * sync sender keeps its place per peer with this.
 */
typedef int (*fsy_log_cb)(const fsy_change_t *c, uint64_t lseq, void *ctx);
int fsy_store_log_after(fsy_store_t *s, uint64_t after, size_t limit,
                        fsy_log_cb cb, void *ctx);

/* The bytes of version v of (scope, doc, field), when held and a plain
 * value (not absent, not an attachment reference): *value allocated (the
 * caller frees; NULL for an empty value). FSY_ENOTFOUND otherwise. */
int fsy_store_version_value(fsy_store_t *s, const char *scope, const char *doc,
                            const char *field, const fsy_version_t *v,
                            uint8_t **value, size_t *len);

/* The same, the whole version checked against its stored checksum first:
 * FSY_ECORRUPT (naming it) when it fails (a sender's delta base: the
 * receiver rebuilds from its own copy, so a damaged one here would fail
 * the batch's hash there at every resend, never named). */
int fsy_store_version_value_checked(fsy_store_t *s, const char *scope,
                                    const char *doc, const char *field,
                                    const fsy_version_t *v, uint8_t **value,
                                    size_t *len);

/* The log's last position (0: the log is empty). */
int fsy_store_log_last(fsy_store_t *s, uint64_t *lseq);

/*
 * Streams up to `limit` changes of one stream (scope, origin) with
 * seq > after, in seq order, with each one's log position.
 */
int fsy_store_stream_after(fsy_store_t *s, const char *scope,
                           const fsy_origin_t *origin, uint64_t after,
                           size_t limit, fsy_log_cb cb, void *ctx);

/* ---- this site's own stream, as a neighbour holds it (store_rollback.c) */

/* The last change a neighbour holds of one of our streams. */
typedef struct fsy_tip {
    char scope[FSY_SCOPE_MAX + 1];
    uint64_t seq;
    uint8_t checksum[FSY_CHECKSUM_LEN];
} fsy_tip_t;

#define FSY_TIPS_MAX 256 /* tips one HELLO carries */

/*
 * Tips of `owner`'s streams as this replica holds them: for each entry of
 * vv whose origin is owner, the checksum of the change at its seq. Fills
 * out[0..FSY_TIPS_MAX); *n is how many.
 */
int fsy_store_tips(fsy_store_t *s, const fsy_vv_t *vv,
                   const fsy_origin_t *owner, fsy_tip_t *out, size_t *n);

/*
 * Is this replica behind what a neighbour holds of its own current
 * stream? `theirs` is the neighbour's vector, tips its checksums of our
 * streams (may be NULL/0). *behind is set, with the first place it shows
 * in why (size len): the neighbour holds more of a stream than we do, or
 * other content at a seq we hold: this replica was restored from an
 * older copy, or another machine runs as this site.
 */
int fsy_store_rolled_back(fsy_store_t *s, const fsy_vv_t *theirs,
                          const fsy_tip_t *tips, size_t n, bool *behind,
                          char *why, size_t len);

/* ---- recovering from a restore (store_recover.c) ----------------------
 *
 * A site whose replica went back in time (restored from a backup, a VM
 * snapshot) may have reused seqs the tree already holds under other
 * content. It recovers by itself (docs/RECOVERY.md):
 *   1. fsy_store_recover_begin: every change of its stream beyond what the
 *      parent is known to hold (fsy_store_delivered) is set aside, the
 *      stream's vector drops back to there, and the site takes a new
 *      incarnation: the old one is retired, written by nobody any more.
 *   2. the parent sends the retired stream back as it holds it (any
 *      origin's changes travel this way).
 *   3. fsy_store_recover_finish, once this replica holds all of the
 *      retired stream the parent has: each set-aside transaction the tree
 *      holds identically is dropped; every other one is written again
 *      under the new incarnation, with its bases following it.
 */

/* This site's streams the parent holds: for each entry of the parent's
 * vector whose origin is this site's current one, remembers its seq as
 * delivered (never lowered). Its own write transaction; returns FSY_OK or
 * an fsy_err_t. */
int fsy_store_delivered(fsy_store_t *s, const fsy_vv_t *parent_vv);

/* A recovery under way: the retired incarnation and how many changes are
 * set aside. active is false when there is none. */
typedef struct fsy_recovery {
    bool active;
    fsy_origin_t retired;
    uint64_t displaced;
} fsy_recovery_t;

int fsy_store_recovery(fsy_store_t *s, fsy_recovery_t *out);

/*
 * Step 1 above, in one transaction; fills *out. FSY_EINVAL if a recovery
 * is already under way. After it, fsy_store_origin() is the new
 * incarnation.
 */
int fsy_store_recover_begin(fsy_store_t *s, fsy_recovery_t *out);

/* Log positions (lseq) a reader saw before this number changed may be
 * given to other changes (a recovery took the log's tail away): a reader
 * that keeps its place in the log starts over when it changes. */
uint64_t fsy_store_log_epoch(const fsy_store_t *s);

typedef struct fsy_recover_result {
    bool done;         /* the recovery ended in this call */
    uint64_t reissued; /* changes written again under the new incarnation */
    uint64_t dropped;  /* changes the tree held identically */
    bool waiting;      /* one is under way, still waiting for the tree */
} fsy_recover_result_t;

/*
 * Step 3 above, if a recovery is under way and this replica holds every
 * change of the retired stream that theirs (the parent's vector, as far
 * as it is known) names; otherwise nothing (done false). One transaction.
 */
int fsy_store_recover_finish(fsy_store_t *s, const fsy_vv_t *theirs,
                             fsy_recover_result_t *out);

/* ---- how far up the tree this site's changes are (store_delivery.c) ---
 *
 * The root (HQ) holds what its vector says; each parent passes down what
 * it knows the root holds (HELLO and ACK), so a site learns per stream how
 * far its own changes got.
 */

/* Marks this replica as the root's (a site with no parent: everything
 * here is at the root) or not. Writes only on a change. */
int fsy_store_set_root(fsy_store_t *s, bool is_root);

/* What the root holds, as the parent relayed it: remembered per entry
 * (never lowered). One transaction. */
int fsy_store_root_delivered(fsy_store_t *s, const fsy_vv_t *root);

/* What this replica knows the root holds, of every stream: at the root,
 * its own vector. *out is the caller's (fsy_vv_free). */
int fsy_store_root_vv(fsy_store_t *s, fsy_vv_t **out);

/* One document with changes written here and not yet at the root. */
typedef struct fsy_pending_doc {
    char scope[FSY_SCOPE_MAX + 1];
    char doc[FSY_DOC_MAX + 1];
    uint64_t changes;       /* not yet at the root */
    uint64_t not_at_parent; /* of those, not even at the parent */
    uint64_t oldest_ms;     /* when the oldest was written (its hlc) */
} fsy_pending_doc_t;

typedef struct fsy_pending {
    bool is_root;           /* this is the root: nothing is pending */
    uint64_t docs, changes; /* not yet at the root */
    uint64_t docs_not_at_parent, changes_not_at_parent;
    uint64_t oldest_ms; /* 0 when none */
} fsy_pending_t;

typedef int (*fsy_pending_cb)(const fsy_pending_doc_t *d, void *ctx);

/* This site's documents with changes not yet at the root, oldest first,
 * to cb (may be NULL), and the totals in *out. cb's non-zero return stops
 * the walk and is returned. */
int fsy_store_pending(fsy_store_t *s, fsy_pending_cb cb, void *ctx,
                      fsy_pending_t *out);

/* The same for one document (out->docs is 0 or 1). */
int fsy_store_pending_doc(fsy_store_t *s, const char *scope, const char *doc,
                          fsy_pending_t *out);

/* ---- urgent transactions (store_urgent.c) ------------------------------ */

/* A mark lapses after a week, or once FSY_URGENT_KEEP newer ones exist:
 * the change then travels in log order. */
#define FSY_URGENT_TTL_MS (7ull * 24 * 3600 * 1000)
#define FSY_URGENT_KEEP 4096
#define FSY_URGENT_MAX 64 /* marks one fsy_store_urgent_list() returns */

/*
 * While on, each local write of this handle (put, delete, resolve) is
 * marked urgent in the same transaction: fieldsyncd sends it ahead of
 * every other queued change, together with the earlier changes of its own
 * (scope, origin) stream, which must precede it (a stream has no holes).
 */
void fsy_store_set_urgent(fsy_store_t *s, bool on);

/*
 * Marks urgent the last transaction of each stream in v[0..n) (received
 * in an urgent batch), so it is passed on first in turn. Changes this
 * replica does not hold are skipped. FSY_OK or FSY_EIO/FSY_EBUSY.
 */
int fsy_store_mark_urgent(fsy_store_t *s, const fsy_change_t *v, size_t n);

/* One urgent transaction: the (scope, origin, seq) of its last change;
 * `id` numbers marks in the order they were made. */
typedef struct fsy_urgent {
    uint64_t id;
    char scope[FSY_SCOPE_MAX + 1];
    fsy_origin_t origin;
    uint64_t seq;
} fsy_urgent_t;

/*
 * The live marks with id > after, in id order, at most FSY_URGENT_MAX,
 * into out[] (the caller's array of FSY_URGENT_MAX); *n is how many. A
 * sender keeps `after` as its place: marks before it are done for its peer.
 */
int fsy_store_urgent_list(fsy_store_t *s, uint64_t after, fsy_urgent_t *out,
                          size_t *n);

/* What one fsy_store_apply() did. */
typedef struct fsy_apply_stats {
    size_t applied;    /* new changes stored */
    size_t duplicates; /* already held, identical: skipped */
    size_t gapped;     /* dropped: beyond a gap in their (scope, origin) */
    /* First gap seen, for the message "have N, got M". */
    char gap_scope[FSY_SCOPE_MAX + 1];
    fsy_origin_t gap_origin;
    uint64_t gap_have;
    uint64_t gap_got;
    /* Refused: a change differing from the one held under its identity.
     * Nothing more of that (scope, origin) is accepted in the call. */
    size_t refused;
    fsy_origin_t refused_origin; /* of the first refusal */
    char refused_why[256];
    /* The change stamped furthest ahead of this machine's clock: its
     * writer's clock is probably wrong (the change is accepted anyway). */
    uint64_t ahead_ms;
    fsy_origin_t ahead_origin;
    /* Attachments' chunks taken (bundles), and blobs they completed. */
    size_t chunks;
    size_t blobs;
} fsy_apply_stats_t;

/*
 * Applies remote changes in one transaction; correct in any delivery order
 * that is contiguous per (scope, origin), idempotent. Each change is
 * validated (fsy_change_validate). A change at or below the vector is a
 * duplicate: skipped if identical; if its checksum differs it is refused
 * with the rest of its (scope, origin) in this call (stats->refused, with
 * the reason), and the other streams still apply. A change beyond a gap
 * is dropped with the rest of its (scope, origin) in this call
 * (stats->gapped). A call that would leave a transaction half applied is
 * refused whole (FSY_EINVAL). Any error rolls the whole call back; inside
 * a write group the group must then be rolled back. stats may be NULL.
 */
int fsy_store_apply(fsy_store_t *s, const fsy_change_t *changes, size_t n,
                    fsy_apply_stats_t *stats);

/*
 * fsy_store_apply() for changes that already passed fsy_change_validate(),
 * as every change from fsy_bundle_read() and the wire decoder has: skips
 * checking (and hashing) each one a second time.
 */
int fsy_store_apply_validated(fsy_store_t *s, const fsy_change_t *changes,
                              size_t n, fsy_apply_stats_t *stats);

/* ---- received changes committed without a disk sync (store_durable.c) --
 *
 * A power loss may take back such a commit, with every other one since the
 * last synced commit; the sender still holds the changes and sends them
 * again from this replica's vector, as long as that vector never promised
 * them. docs/REPLICATION.md, "Acknowledged means on disk".
 */

/*
 * fsy_store_apply_validated() whose commit skips the disk sync
 * (synchronous=NORMAL). Inside a write group, or on a store whose
 * checkpoints are not deferred (fsy_store_defer_checkpoints: the daemon's
 * are), it syncs as fsy_store_apply_validated() does. The same errors.
 */
int fsy_store_apply_lazy(fsy_store_t *s, const fsy_change_t *changes, size_t n,
                         fsy_apply_stats_t *stats);

/* Lazy commits since the last synced one (0: everything is on disk). */
unsigned fsy_store_lazy_commits(const fsy_store_t *s);

/* Lazy commits since the store was opened (the daemon's stop line). */
uint64_t fsy_store_lazy_total(const fsy_store_t *s);

/* Puts every commit on disk: a small commit with a disk sync, which also
 * lets the change feed past the lazy ones. FSY_OK at once when nothing
 * waits; FSY_EINVAL inside a write group; SQLite's error if the commit
 * fails, after which this handle makes no more lazy commits. */
int fsy_store_sync(fsy_store_t *s);

/* The vector to give away: fsy_store_vv() as of the last synced commit
 * (before any lazy one since), with this site's own streams as they are
 * (its own writes always sync). *out is the caller's (fsy_vv_free). */
int fsy_store_durable_vv(fsy_store_t *s, fsy_vv_t **out);

/*
 * Lazy commits put on disk by another thread (the daemon's checkpointer),
 * so that the thread that commits never waits for the disk: that thread
 * syncs this replica's write-ahead log file (fdatasync of "<db>-wal"),
 * which holds every commit made before the sync began.
 *
 * fsy_store_lazy_point, before asking for such a sync: *point names the
 * commits made so far (0: none waits for the disk, nothing to ask); the
 * vector and the change feed's end as of now are kept for it (one point at
 * a time: a new one replaces the last). FSY_ENOMEM or SQLite's error.
 *
 * fsy_store_lazy_synced, once it is done: ok, and every commit up to
 * point is on disk (the vector given away and the feed move up to the
 * point; the commits since still wait); !ok, the sync failed: as when a
 * synced commit fails, no lazy commit is ever promised and none is made
 * again. A point a synced commit has overtaken is ignored. True if the
 * point moved anything up.
 */
int fsy_store_lazy_point(fsy_store_t *s, uint64_t *point);
/* The write-ahead log file's path, as SQLite names it (valid while s is
 * open); NULL with the error detail set if there is none. */
const char *fsy_store_wal_file(fsy_store_t *s);
bool fsy_store_lazy_synced(fsy_store_t *s, uint64_t point, bool ok);

/* ---- integrity -------------------------------------------------------- */

typedef struct fsy_verify_report {
    uint64_t changes_checked;
    uint64_t bad_checksums; /* rows whose content no longer matches */
    uint64_t first_bad_lseq;
    uint64_t vv_holes; /* vector entries with missing changes */
    bool sqlite_ok;    /* PRAGMA integrity_check said "ok" */
} fsy_verify_report_t;

/*
 * Checks every stored change against its checksum, the version vector
 * against the log, and SQLite's integrity_check. FSY_OK if all is well,
 * FSY_ECORRUPT (report filled in) on damage.
 */
int fsy_store_verify(fsy_store_t *s, fsy_verify_report_t *report);

/*
 * A slice of fsy_store_verify, for a daemon that checks its replica while
 * it runs: up to `limit` changes after log position `after` against their
 * checksums; *last is the last position checked (`after` when none was
 * left). FSY_ECORRUPT on damage, as fsy_store_verify. The vector and
 * SQLite's integrity check, which take the whole file at once, are left
 * to fsy_store_verify (SQLite reports a damaged page on any read).
 */
int fsy_store_verify_slice(fsy_store_t *s, uint64_t after, size_t limit,
                           fsy_verify_report_t *report, uint64_t *last);

/* The rest of fsy_store_verify: the vector against the log and SQLite's
 * integrity check (the whole file at once). */
int fsy_store_verify_structure(fsy_store_t *s, fsy_verify_report_t *report);

/* The log position up to which a check last found every change sound
 * (0: none yet), as recorded with fsy_store_set_verified (a whole pass, or
 * fsy_store_verify_new). A recovery that gives positions out again lowers
 * it. */
int fsy_store_verified(fsy_store_t *s, uint64_t *lseq);
int fsy_store_set_verified(fsy_store_t *s, uint64_t lseq);

/* The changes after that position checked as fsy_store_verify_slice does,
 * and the position moved to the last of them when all are sound, so the
 * next call (a daemon's next start) checks only what came after. The
 * check's result: FSY_OK, FSY_ECORRUPT (report filled in, the position
 * left), or the store's errors. Moving the position is best effort: if
 * that write fails (a full disk, a busy replica) the result is still the
 * check's, *unmarked is set and fsy_errdetail() says why. */
int fsy_store_verify_new(fsy_store_t *s, fsy_verify_report_t *report,
                         bool *unmarked);

/* Damage was found while running: until a whole check passes, a start
 * checks everything, not only what is new (fieldsyncd). Recording it is
 * best effort on a damaged file. */
int fsy_store_suspect(fsy_store_t *s, bool *suspect);
int fsy_store_set_suspect(fsy_store_t *s, bool suspect);

/* ---- sync status (written by fieldsyncd, read by `fieldsync status`) -- */

/*
 * What this site knows of one neighbour. `vv` is the neighbour's vector as
 * last heard (HELLO or acknowledgement), one entry a line:
 * "scope site incarnation-hex seq".
 */
typedef struct fsy_peer_status {
    char name[FSY_SITE_MAX + 1];
    char role[8]; /* "parent" or "child" */
    bool connected;
    uint64_t last_contact_ms;
    uint64_t changes_sent, changes_received;
    uint64_t bytes_sent, bytes_received;
    uint64_t refused;
    char *vv; /* owned; fsy_peer_status_free */
    char last_error[256];
    uint64_t updated_ms;
    bool offset_known;
    int64_t clock_offset_ms; /* its clock minus ours, if offset_known */
    /* attachments: bytes still to come from it and to go to it, and the
     * rates (bytes/s over the last minute) */
    uint64_t att_in_waiting, att_in_rate, att_out_waiting, att_out_rate;
} fsy_peer_status_t;

/* Records (insert or replace) one neighbour's status. */
int fsy_store_peer_put(fsy_store_t *s, const fsy_peer_status_t *p);

/* A neighbour that could not even say hello (a refused key): its last
 * error goes on the recorded row(s) of that role, shown disconnected. */
int fsy_store_peer_note(fsy_store_t *s, const char *role,
                        const char *last_error);

/* Every recorded neighbour, by name; free with fsy_peer_status_free. */
int fsy_store_peers(fsy_store_t *s, fsy_peer_status_t **out, size_t *n);
void fsy_peer_status_free(fsy_peer_status_t *v, size_t n);

/* `fieldsync sync` asks the daemon running on this replica to connect to
 * its parent now: a request is a number, later than any before, written
 * into *token; the daemon reads the last one asked (fsy_store_sync_requests:
 * 0 when none) and answers it once acted on, with what it found. FSY_OK or
 * a store error. */
typedef enum fsy_sync_outcome {
    FSY_SYNC_UNANSWERED = 0,
    FSY_SYNC_NO_PARENT = 1,  /* the daemon has no [parent] */
    FSY_SYNC_CONNECTING = 2, /* a connection is made or on its way */
    FSY_SYNC_LIVE = 3,       /* the session was live already */
} fsy_sync_outcome_t;
int fsy_store_sync_request(fsy_store_t *s, uint64_t *token);
int fsy_store_sync_requests(fsy_store_t *s, uint64_t *asked, uint64_t *answered,
                            fsy_sync_outcome_t *outcome);
int fsy_store_sync_answer(fsy_store_t *s, uint64_t token,
                          fsy_sync_outcome_t outcome);

/* ---- health summaries of every site (fieldsync/health.h) -------------- */

struct fsy_site_health;

/* Records (insert or replace, by site) n summaries in one transaction. */
int fsy_store_sites_put(fsy_store_t *s, const struct fsy_site_health *v,
                        size_t n);

/* Every recorded site, by name; free with fsy_site_health_free. A row
 * whose vector does not parse is returned with an empty vector. */
int fsy_store_sites(fsy_store_t *s, struct fsy_site_health **out, size_t *n);

/* A neighbour's session ended: its row shows it disconnected, last heard
 * at heard_ms. Nothing happens if there is no row. */
int fsy_store_site_disconnected(fsy_store_t *s, const char *site,
                                uint64_t heard_ms);

/* ---- the roster: sites known otherwise (store_roster.c) -------------- */

/* A site heard of by courier: bundles from it imported here. */
typedef struct fsy_courier {
    char site[FSY_SITE_MAX + 1];
    uint64_t imported_ms; /* the last import */
    uint64_t created_ms;  /* when the newest of them was written */
    uint64_t bundles;     /* how many were imported */
} fsy_courier_t;

/* Records a bundle from site imported now (not our own), inside the
 * caller's transaction or group. */
int fsy_store_courier_seen(fsy_store_t *s, const char *site,
                           uint64_t created_ms);

/* Every courier site, by name; *out is the caller's (free()). */
int fsy_store_couriers(fsy_store_t *s, fsy_courier_t **out, size_t *n);

/* How recent each site's data is here: its newest change (any scope,
 * any incarnation). *out is the caller's (free()). */
typedef struct fsy_as_of {
    char site[FSY_SITE_MAX + 1];
    uint64_t newest_ms;
} fsy_as_of_t;

int fsy_store_as_of(fsy_store_t *s, fsy_as_of_t **out, size_t *n);

/* Decommissioning: forgets what the roster holds of site (neighbour
 * record, health reports, couriers), never its data. *known: there was
 * something to forget. One transaction. */
int fsy_store_forget_site(fsy_store_t *s, const char *site, bool *known);

/* ---- attachments' blobs (fieldsync/attachment.h) --------------------- */

typedef struct fsy_blob_state {
    bool known;    /* a row exists for the hash */
    bool complete; /* every byte is here and the hash was checked */
    uint64_t size; /* as the reference says */
    uint64_t have; /* bytes held */
} fsy_blob_state_t;

/*
 * Stores the regular file at path as a blob, in its own transaction (or
 * the open group), reading it twice with a bounded buffer: once to hash
 * it, once to store it (skipped when the blob is complete already: the
 * same content is kept once, whatever refers to it). Sets ref->hash and
 * ref->size; the caller names and types it.
 * Errors: FSY_ENOTFOUND / FSY_EIO (the file, detail names it),
 * FSY_ETOOBIG (over max bytes), FSY_EIO (the file changed while read).
 */
int fsy_store_blob_put_file(fsy_store_t *s, const char *path, uint64_t max,
                            fsy_ref_t *ref);

/* What this replica holds of a blob (a zeroed state if nothing). */
int fsy_store_blob_state(fsy_store_t *s, const uint8_t hash[FSY_BLOB_HASH_LEN],
                         fsy_blob_state_t *out);

/*
 * Writes a complete blob's bytes to fd, checking its hash on the way (the
 * caller discards what was written on error). FSY_ENOTFOUND if the blob
 * is not complete here; FSY_ECORRUPT if what is held does not match its
 * hash; FSY_EIO if fd refuses the bytes.
 */
int fsy_store_blob_write(fsy_store_t *s, const uint8_t hash[FSY_BLOB_HASH_LEN],
                         int fd);

/* Calls cb for each chunk of a complete blob, in order (data borrowed for
 * the call); a non-zero return stops and is returned. FSY_ENOTFOUND if the
 * blob is not complete here; FSY_ECORRUPT, after the last chunk, if what
 * is held does not match its hash (the caller discards what it made). */
typedef int (*fsy_chunk_cb)(uint64_t idx, const uint8_t *data, size_t len,
                            void *ctx);
int fsy_store_blob_chunks(fsy_store_t *s, const uint8_t hash[FSY_BLOB_HASH_LEN],
                          fsy_chunk_cb cb, void *ctx);

/*
 * Stores chunk c->idx of the blob (c->hash, c->size), whose place and
 * length the caller has checked (fsy_wire_decode_chunk), in its own
 * transaction or the open group. Once the blob is whole, its bytes are
 * read back and hashed: it becomes complete, or, not matching its hash,
 * its chunks are dropped (in a group, only when the group commits) and
 * FSY_ECORRUPT returned. Nothing is done for a blob complete already;
 * FSY_ENOTFOUND for one no reference here names (nothing kept), FSY_EINVAL
 * for a size other than the reference's.
 * *complete (may be NULL) tells whether this chunk completed the blob.
 */
int fsy_store_blob_chunk_put(fsy_store_t *s, const fsy_chunk_t *c,
                             bool *complete);

/* A blob this replica wants (referred to, not complete here). */
typedef struct fsy_blob_wanted {
    uint8_t hash[FSY_BLOB_HASH_LEN];
    uint64_t size, have;
    bool fetch; /* asked for by a person or a site below (on demand) */
} fsy_blob_wanted_t;

/* The wanted blobs, oldest first, from the from-th on, at most max (into
 * out[], *n); with fetched_only, those asked for (fsy_store_blob_fetch). */
int fsy_store_blobs_wanted(fsy_store_t *s, bool fetched_only, uint64_t from,
                           fsy_blob_wanted_t *out, size_t max, size_t *n);

/* Up to max chunk indexes from `from` on that are not here, in order. */
int fsy_store_blob_missing(fsy_store_t *s,
                           const uint8_t hash[FSY_BLOB_HASH_LEN], uint64_t size,
                           uint64_t from, uint64_t *out, size_t max, size_t *n);

/* Chunk idx, if held (complete blob or not): *data malloc'd (free it).
 * FSY_ENOTFOUND if not held. */
int fsy_store_blob_chunk_get(fsy_store_t *s,
                             const uint8_t hash[FSY_BLOB_HASH_LEN],
                             uint64_t idx, uint8_t **data, size_t *len);

/* Marks a wanted blob as asked for (fieldsync fetch, or a site below
 * asking): fetched even where attachments come on demand. FSY_ENOTFOUND
 * if no reference here names it or it is complete. */
int fsy_store_blob_fetch(fsy_store_t *s, const uint8_t hash[FSY_BLOB_HASH_LEN]);

/* Counts for status displays. */
typedef struct fsy_store_counts {
    uint64_t changes;
    uint64_t documents; /* visible */
    uint64_t conflicts; /* open, as in fsy_doc_t.n_conflicts, summed */
    uint64_t clock;     /* persisted hlc */
    /* documents whose search rows wait to be written (schema 9), counted
     * up to FSY_INDEX_PENDING_COUNTED (more: that figure plus one) */
    uint64_t index_pending;
} fsy_store_counts_t;
#define FSY_INDEX_PENDING_COUNTED 10000
int fsy_store_counts(fsy_store_t *s, fsy_store_counts_t *out);

#ifdef __cplusplus
}
#endif
#endif
