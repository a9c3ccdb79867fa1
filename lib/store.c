/*
 * fieldsync — the site replica, its base layer: opening, schema,
 * migration, statements, origins and transactions. Above it, in layers:
 * store_read.c (reading), store_apply.c (every change into the replica)
 * and store_write.c (this site's own writes).
 *
 * Tables (schema version 7; s_migrate() upgrades older replicas):
 *
 *   meta        key/value: site, incarnation, clock (persisted hlc)
 *   origins     (site, incarnation) -> small local row id
 *   changes     the local log, in the order this replica applied changes
 *               (lseq); UNIQUE(scope, origin, seq) is the index export and
 *               duplicate detection use
 *   vv          (scope, origin) -> highest contiguous seq applied
 *   superseded  versions named as bases that have not arrived yet: when
 *               one arrives it is not a head (bases may overtake targets)
 *   docs        derived per-document state (kind, visible, conflicts) so
 *               list and conflicts need not merge every document, and its
 *               heads: the changes no received change names as a base
 *   peers       what fieldsyncd knows of each neighbour (store_peers.c)
 *   sites       health summaries of every site heard of (store_sites.c)
 *   blobs       attachments' contents by hash: size, bytes held, complete
 *   blob_chunks the bytes, FSY_CHUNK_BYTES a row (store_blobs.c)
 *   urgent      transactions to send ahead of the log order, this site's
 *               and received ones (store_urgent.c); local, never sent as such
 *   delivery    (scope, origin) -> how far the parent holds this site's
 *               own streams (store_recover.c), and how far the root (HQ)
 *               holds any stream, as the parent relayed it (store_delivery.c)
 *   couriers    sites heard of by bundle: last import, newest bundle
 *               (store_roster.c)
 *   displaced   this site's changes set aside while it recovers from a
 *               restore: the rows of `changes` as they were (store_recover.c)
 *   doc_counts  documents visible and conflicts open, kept as docs rows
 *               change (store_apply.c)
 *   doc_meta    per document: a row id, its first and latest change
 *   doc_text    FTS5 index of the documents' text (store_query.c reads it)
 *   index_pending  documents whose doc_text rows are still to be written
 *
 * Invariants, all kept inside one transaction per call:
 *  - vv[(scope, origin)] = n exactly when changes 1..n of that stream are in
 *    `changes`; the vector never moves past a change that is not stored.
 *  - heads = received versions minus versions named as bases by any
 *    received change, per (scope, doc, field); kept as docs.heads, the
 *    log positions of each document's heads. Both local and remote writes
 *    go through fsy_sq_apply_changes() (store_apply.c): one code path.
 *  - docs rows are recomputed (merge.c) for every document a call touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fieldsync/ident.h"
#include "fieldsync/wallclock.h"
#include "store_internal.h"

/* Past this many origins the cache stops growing; SQLite's index serves. */
#define FSY_ORIGIN_CACHE_MAX 1024
#define FSY_DEFAULT_SKEW_MS (3600u * 1000u)

/* A document's heads, one row each, from the positions FROM names as
 * h.value; the condition follows. */
#define S_HEAD_ROWS(FROM)                                                      \
    "SELECT c.field, c.hlc, o.site, o.incarnation, c.seq, c.value, "           \
    "c.value IS NULL, c.ref, c.author, c.lseq FROM " FROM                      \
    " JOIN changes c ON c.lseq = h.value "                                     \
    "JOIN origins o ON o.id = c.origin WHERE "

static const char *const s_sql[ST__COUNT] = {
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_ORIGIN_GET] =
        "SELECT id FROM origins WHERE site = ?1 AND incarnation = ?2",
    [ST_ORIGIN_INS] = "INSERT INTO origins(site, incarnation) VALUES(?1, ?2)",
    [ST_VV_GET] = "SELECT seq FROM vv WHERE scope = ?1 AND origin = ?2",
    [ST_VV_SET] = "INSERT INTO vv(scope, origin, seq) VALUES(?1, ?2, ?3) "
                  "ON CONFLICT(scope, origin) DO UPDATE SET seq = excluded.seq",
    [ST_CHANGE_INS] =
        "INSERT INTO changes(scope, origin, seq, hlc, doc, field, value, "
        "bases, txn_end, checksum, ref, author) "
        "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
    [ST_CHANGE_BY_ID] = "SELECT lseq, hlc, doc, field, checksum FROM changes "
                        "WHERE scope = ?1 AND origin = ?2 AND seq = ?3",
    /* A base, found among its field's versions: the index entries a
     * change of that field writes anyway, no row read (INDEXED BY: the
     * planner would take the unique index, then read the row to compare
     * the field, a random page for each base of an edit). */
    [ST_BASE_FIND] = "SELECT lseq FROM changes INDEXED BY changes_by_field "
                     "WHERE scope = ?1 AND doc = ?2 AND field = ?3 AND "
                     "hlc = ?4 AND origin = ?5 AND seq = ?6",
    [ST_SUPERSEDED_INS] =
        "INSERT OR IGNORE INTO superseded(scope, doc, field, site, "
        "incarnation, seq, hlc) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_SUPERSEDED_ANY] = "SELECT EXISTS (SELECT 1 FROM superseded)",
    [ST_SUPERSEDED_TAKE] =
        "DELETE FROM superseded WHERE scope = ?1 AND doc = ?2 AND field = ?3 "
        "AND site = ?4 AND incarnation = ?5 AND seq = ?6 AND hlc = ?7",
    /* A document's heads: the log positions of its versions that no
     * received change names as a base, kept in its docs row (schema 10).
     * The loads go from the positions to the rows; the unary + keeps the
     * check that a row is the document's from using an index instead
     * (every version of a long history, read for each head). */
    [ST_DOC_HEADS_OF] = "SELECT heads, visible, n_conflicts, updated_hlc, "
                        "head_fields FROM docs WHERE scope = ?1 AND doc = ?2",
    /* each statement's condition reads as written */
    /* clang-format off */
    [ST_DOC_HEADS] = S_HEAD_ROWS("docs d, json_each(d.heads) h")
        "d.scope = ?1 AND d.doc = ?2 AND +c.scope = ?1 AND +c.doc = ?2",
    [ST_HEADS_LOAD] = S_HEAD_ROWS("json_each(?1) h")
        "+c.scope = ?2 AND +c.doc = ?3",
    /* clang-format on */
    [ST_DOC_UPSERT] =
        "INSERT INTO docs(scope, doc, kind, visible, n_conflicts, "
        "updated_hlc, heads, head_fields) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "?8) ON CONFLICT(scope, doc) DO UPDATE SET kind = excluded.kind, "
        "visible = excluded.visible, n_conflicts = excluded.n_conflicts, "
        "updated_hlc = excluded.updated_hlc, heads = excluded.heads, "
        "head_fields = excluded.head_fields",
    /* an edit that changes neither what the document shows nor counts */
    [ST_DOC_EDIT] = "UPDATE docs SET heads = ?3, updated_hlc = ?4 "
                    "WHERE scope = ?1 AND doc = ?2",
    [ST_DOC_COUNTS_ADD] = "UPDATE doc_counts SET visible = visible + ?1, "
                          "conflicts = conflicts + ?2",
    /* the heads of a document whose derived state waits for the end of
     * the call (its first run wrote its row, unless its key in the call's
     * set of refreshed documents was another's: then a row to be derived) */
    [ST_DOC_HEADS_SET] =
        "INSERT INTO docs(scope, doc, kind, visible, n_conflicts, "
        "updated_hlc, heads) VALUES(?1, ?2, '', 0, 0, 0, ?3) "
        "ON CONFLICT(scope, doc) DO UPDATE SET heads = excluded.heads, "
        "head_fields = 0",
    /* a document's run left to the end of the call: the earliest (clock,
     * then log order) of its runs since */
    [ST_TOUCH] = "INSERT INTO temp.touched(scope, doc, hlc, lseq) "
                 "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(scope, doc) DO UPDATE "
                 "SET hlc = excluded.hlc, lseq = excluded.lseq "
                 "WHERE touched.hlc IS NOT NULL AND excluded.hlc < touched.hlc",
    [ST_DOC_SCOPES] = "SELECT scope FROM docs WHERE doc = ?1 ORDER BY scope",
    [ST_BLOB_GET] = "SELECT size, have, complete FROM blobs WHERE hash = ?1",
    [ST_BLOB_PUT] =
        "INSERT INTO blobs(hash, size, have, complete, created_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(hash) DO UPDATE SET "
        "size = excluded.size, have = excluded.have, "
        "complete = excluded.complete",
    [ST_CHUNK_PUT] = "INSERT OR REPLACE INTO blob_chunks(hash, idx, data) "
                     "VALUES(?1, ?2, ?3)",
    [ST_CHUNKS] = "SELECT idx, data FROM blob_chunks WHERE hash = ?1 "
                  "ORDER BY idx",
    [ST_CHUNK_DROP] = "DELETE FROM blob_chunks WHERE hash = ?1",
    [ST_CHUNK_ADD] = "INSERT OR IGNORE INTO blob_chunks(hash, idx, data) "
                     "VALUES(?1, ?2, ?3)",
    [ST_BLOB_WANT] = "INSERT OR IGNORE INTO blobs(hash, size, have, complete, "
                     "created_ms) VALUES(?1, ?2, 0, ?4, ?3)",
    [ST_BLOBS_WANTED] = "SELECT hash, size, have, fetch FROM blobs "
                        "WHERE complete = 0 AND fetch >= ?1 "
                        "ORDER BY created_ms, hash LIMIT -1 OFFSET ?2",
    [ST_CHUNK_IDX] = "SELECT idx FROM blob_chunks WHERE hash = ?1 AND "
                     "idx >= ?2 ORDER BY idx",
    [ST_CHUNK_GET] = "SELECT data FROM blob_chunks WHERE hash = ?1 AND "
                     "idx = ?2",
    [ST_BLOB_FETCH] = "UPDATE blobs SET fetch = 1 WHERE hash = ?1 AND "
                      "complete = 0 AND fetch = 0",
    [ST_URGENT_ADD] =
        "INSERT OR IGNORE INTO urgent(scope, origin, seq, created_ms) "
        "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM changes "
        "WHERE scope = ?1 AND origin = ?2 AND seq = ?3)",
    [ST_URGENT_PRUNE] = "DELETE FROM urgent WHERE created_ms < ?1 OR "
                        "id <= (SELECT max(id) FROM urgent) - ?2",
    [ST_INDEX_DROP] = "DELETE FROM doc_text WHERE rowid = (SELECT id FROM "
                      "doc_meta WHERE scope = ?1 AND doc = ?2)",
    /* the latest head (?3) is known to the caller, who has just loaded
     * the document's heads: only the first change is looked up */
    [ST_INDEX_META] =
        "INSERT INTO doc_meta(scope, doc, created_lseq, updated_lseq) "
        "VALUES(?1, ?2, coalesce((SELECT c.lseq FROM changes c WHERE "
        "c.scope = ?1 AND c.doc = ?2 ORDER BY c.hlc, c.lseq LIMIT 1), 0), ?3) "
        "ON CONFLICT(scope, doc) DO UPDATE SET created_lseq = "
        "excluded.created_lseq, updated_lseq = excluded.updated_lseq",
    /* ST_INDEX_META's row after changes were added (?4, ?5: the earliest
     * of them): a change logged later is the first only if its clock is
     * earlier (ties go to the log's order); a first no longer in the log
     * leaves the row to ST_INDEX_META, which finds it again. A document
     * without a row has no earlier change (every document that has one
     * has its row): the earliest added is its first, and a new document
     * costs one insert, not a failed update and a search of its log */
    [ST_INDEX_ADDED] =
        "INSERT INTO doc_meta(scope, doc, created_lseq, updated_lseq) "
        "VALUES(?1, ?2, ?5, ?3) ON CONFLICT(scope, doc) DO UPDATE SET "
        "updated_lseq = ?3, created_lseq = CASE WHEN created_lseq = 0 OR "
        "?4 < (SELECT c.hlc FROM changes c WHERE c.lseq = "
        "doc_meta.created_lseq) THEN ?5 ELSE created_lseq END "
        "WHERE created_lseq = 0 OR EXISTS (SELECT 1 FROM changes c WHERE "
        "c.lseq = doc_meta.created_lseq AND c.scope = ?1 AND c.doc = ?2)",
    [ST_INDEX_TEXT] = FSY_SQ_INDEX_TEXT(FSY_SQ_INDEX_W1),
    [ST_INDEX_PEND] =
        "INSERT OR IGNORE INTO index_pending(scope, doc) VALUES(?1, ?2)",
    [ST_INDEX_DONE] = "DELETE FROM index_pending WHERE scope = ?1 AND doc = ?2",
    [ST_MERGE_NODES] =
        "SELECT c.hlc, o.site, o.incarnation, c.seq, c.bases, c.lseq "
        "FROM changes c JOIN origins o ON o.id = c.origin "
        "WHERE c.scope = ?1 AND c.doc = ?2 AND c.field = ?3",
    [ST_MERGE_VALUE] = "SELECT value, value IS NULL, ref FROM changes "
                       "WHERE lseq = ?1",
};

static const char s_schema[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE origins(id INTEGER PRIMARY KEY, site TEXT NOT NULL,"
    "  incarnation INTEGER NOT NULL, UNIQUE(site, incarnation));"
    "CREATE TABLE changes(lseq INTEGER PRIMARY KEY, scope TEXT NOT NULL,"
    "  origin INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  doc TEXT NOT NULL, field TEXT NOT NULL, value BLOB,"
    "  bases BLOB NOT NULL, txn_end INTEGER NOT NULL,"
    "  checksum BLOB NOT NULL, UNIQUE(scope, origin, seq));"
    "CREATE INDEX changes_by_doc ON changes(scope, doc);"
    "CREATE TABLE vv(scope TEXT NOT NULL, origin INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL, PRIMARY KEY(scope, origin)) WITHOUT ROWID;"
    "CREATE TABLE superseded(scope TEXT NOT NULL, doc TEXT NOT NULL,"
    "  field TEXT NOT NULL, site TEXT NOT NULL, incarnation INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  PRIMARY KEY(scope, doc, field, site, incarnation, seq, hlc))"
    "  WITHOUT ROWID;"
    "CREATE TABLE docs(scope TEXT NOT NULL, doc TEXT NOT NULL,"
    "  kind TEXT NOT NULL, visible INTEGER NOT NULL,"
    "  n_conflicts INTEGER NOT NULL, updated_hlc INTEGER NOT NULL,"
    "  heads TEXT NOT NULL DEFAULT '[]',"
    "  head_fields INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(scope, doc))"
    "  WITHOUT ROWID;"
    "CREATE INDEX docs_by_id ON docs(doc);"
    "CREATE TABLE peers(name TEXT PRIMARY KEY, role TEXT NOT NULL,"
    "  connected INTEGER NOT NULL, last_contact_ms INTEGER NOT NULL,"
    "  changes_sent INTEGER NOT NULL, changes_received INTEGER NOT NULL,"
    "  bytes_sent INTEGER NOT NULL, bytes_received INTEGER NOT NULL,"
    "  refused INTEGER NOT NULL, vv TEXT NOT NULL, last_error TEXT NOT NULL,"
    "  updated_ms INTEGER NOT NULL, clock_offset_ms INTEGER) WITHOUT ROWID;";

/* Version 3 added attachments: changes.ref (the value is a reference) and
 * the blobs they refer to, in chunks (store_blobs.c). Blobs are not
 * changes: they never enter the log or the vector. */
static const char s_schema_blobs[] =
    "ALTER TABLE changes ADD COLUMN ref INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE peers ADD COLUMN att_in_waiting INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE peers ADD COLUMN att_in_rate INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE peers ADD COLUMN att_out_waiting INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE peers ADD COLUMN att_out_rate INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE blobs(hash BLOB PRIMARY KEY, size INTEGER NOT NULL,"
    "  have INTEGER NOT NULL, complete INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL, fetch INTEGER NOT NULL DEFAULT 0)"
    "  WITHOUT ROWID;"
    "CREATE INDEX blobs_wanted ON blobs(complete, created_ms);"
    "CREATE TABLE blob_chunks(hash BLOB NOT NULL, idx INTEGER NOT NULL,"
    "  data BLOB NOT NULL, PRIMARY KEY(hash, idx));";

/* Version 4 added urgent transactions: (scope, origin, seq) of each one's
 * last change, numbered in the order marked (a sender's cursor), and when
 * (marks lapse: store_urgent.c). */
static const char s_schema_urgent[] =
    "CREATE TABLE urgent(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  scope TEXT NOT NULL,"
    "  origin INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL, UNIQUE(scope, origin, seq));";

/* Version 5 added recovery from a restore: how far the parent holds each
 * of this site's own streams, and the changes set aside meanwhile. */
static const char s_schema_recovery[] =
    "CREATE TABLE delivery(scope TEXT NOT NULL, origin INTEGER NOT NULL,"
    "  at_parent INTEGER NOT NULL DEFAULT 0,"
    "  at_root INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(scope, origin)) WITHOUT ROWID;"
    "CREATE TABLE displaced(lseq INTEGER PRIMARY KEY, scope TEXT NOT NULL,"
    "  origin INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  doc TEXT NOT NULL, field TEXT NOT NULL, value BLOB,"
    "  bases BLOB NOT NULL, txn_end INTEGER NOT NULL,"
    "  checksum BLOB NOT NULL, ref INTEGER NOT NULL,"
    "  UNIQUE(scope, origin, seq));";

/* Version 5 also added the sites heard of by courier (store_roster.c). */
static const char s_schema_roster[] =
    "CREATE TABLE couriers(site TEXT PRIMARY KEY, imported_ms INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL, bundles INTEGER NOT NULL) WITHOUT ROWID;";

/* Version 6: the documents visible and the open conflicts, kept counted
 * as `docs` changes, so status and health reports read two numbers
 * instead of scanning every document (a hub of a million changes spent
 * 0.2 s of its loop on that). Kept by triggers until version 10, by the
 * one statement that changes what a docs row counts since (store_apply.c:
 * a trigger made SQLite keep a statement journal for every write of a
 * docs row, in a temporary file once one statement's outgrew 64 KiB). */
static const char s_schema_counts[] =
    "CREATE TABLE doc_counts(visible INTEGER NOT NULL,"
    "  conflicts INTEGER NOT NULL);"
    "INSERT INTO doc_counts SELECT count(*) FILTER (WHERE visible = 1),"
    "  coalesce(sum(n_conflicts), 0) FROM docs;";
static const char s_schema_counts_by_code[] =
    "DROP TRIGGER IF EXISTS docs_counted_in;"
    "DROP TRIGGER IF EXISTS docs_counted_up;"
    "DROP TRIGGER IF EXISTS docs_counted_out;";

/* Version 7: search and provenance. changes.author is who wrote a change
 * (NULL: not recorded, as for every change written before). doc_meta gives
 * each document a row id for the text index and the log positions of its
 * first and latest change (created and updated, by whom); doc_text is the
 * FTS5 index of its text values. Built here for every document by the same
 * statements a refresh runs for one (store_internal.h). Diacritics are
 * folded: "deplaces" finds "déplacés". */
static const char s_schema_search[] =
    "ALTER TABLE changes ADD COLUMN author TEXT;"
    "ALTER TABLE displaced ADD COLUMN author TEXT;"
    "CREATE TABLE doc_meta(id INTEGER PRIMARY KEY, scope TEXT NOT NULL,"
    "  doc TEXT NOT NULL, created_lseq INTEGER NOT NULL,"
    "  updated_lseq INTEGER NOT NULL, UNIQUE(scope, doc));"
    "CREATE VIRTUAL TABLE doc_text USING fts5(title, body,"
    "  tokenize = 'unicode61 remove_diacritics 2');" FSY_SQ_INDEX_META(
        "1") ";" FSY_SQ_INDEX_TEXT("1") ";";

/* Version 8: a field's version graph without its values. A text merge
 * (store_merge.c) walks every version of a field by its bases, which the
 * rows store after the value: reading them through the table meant
 * reading each value's overflow pages (54 ms for 1,000 versions of a
 * 100 KB body). This index holds what the walk reads, and serves the
 * per-document queries the one it replaces did. */
static const char s_schema_graph[] =
    "DROP INDEX IF EXISTS changes_by_doc;"
    "CREATE INDEX changes_by_field ON changes(scope, doc, field, hlc, origin,"
    "  seq, bases);";

/* Version 9: the documents whose text index rows wait to be written. The
 * text index costs more than the rest of an apply together (tokenising
 * every field): a catch-up or an import marks documents here and goes on;
 * the daemon writes the rows when the link is quiet, and any search writes
 * what is still waiting first, so no search misses a document. */
static const char s_schema_index_pending[] =
    "CREATE TABLE IF NOT EXISTS index_pending(scope TEXT NOT NULL,"
    "  doc TEXT NOT NULL, PRIMARY KEY(scope, doc)) WITHOUT ROWID;";

/* Version 10: a document's heads in its docs row, as a JSON array of log
 * positions in ascending order, instead of a table of their own. A table
 * keyed by (scope, doc, field, lseq) held a B-tree entry per field of
 * every document: nine writes for each report of nine fields that
 * arrived, and an edit of one document wrote a random page of it on top
 * of its docs row, which the same edit rewrites anyway
 * (docs/REPLICATION.md, docs/PERFORMANCE.md).
 * Run first in an upgrade from any older version: the later steps read
 * heads where they are now. */
static const char s_schema_heads_in_docs[] =
    "ALTER TABLE docs ADD COLUMN heads TEXT NOT NULL DEFAULT '[]';"
    "UPDATE docs SET heads = (SELECT json_group_array(lseq) FROM (SELECT "
    "  h.lseq FROM heads h WHERE h.scope = docs.scope AND h.doc = docs.doc"
    "  ORDER BY h.lseq));"
    "DROP TABLE heads;";

/* Version 11: how many fields have heads, beside the heads. Where it
 * equals the heads' number, each field has one, and an apply that only
 * replaces heads one for one can keep the rest of the row without reading
 * a head back (store_apply.c, s_edits). 0 is "not known": a damaged row
 * (derived again when a change of it arrives) or heads written ahead of
 * the row's derivation (ST_DOC_HEADS_SET). */
static const char s_schema_head_fields[] =
    "ALTER TABLE docs ADD COLUMN head_fields INTEGER NOT NULL DEFAULT 0;"
    "UPDATE docs SET head_fields = CASE WHEN json_valid(heads) THEN (SELECT"
    "  count(DISTINCT c.field) FROM json_each(docs.heads) h JOIN changes c"
    "  ON c.lseq = h.value WHERE +c.scope = docs.scope AND"
    "  +c.doc = docs.doc) ELSE 0 END;";

/* Version 2 added the sites table (and peers.clock_offset_ms). */
static const char s_schema_sites[] =
    "CREATE TABLE sites(site TEXT PRIMARY KEY, parent TEXT NOT NULL,"
    "  via TEXT NOT NULL, connected INTEGER NOT NULL,"
    "  heard_ms INTEGER NOT NULL, reported_ms INTEGER NOT NULL,"
    "  clock_offset_ms INTEGER NOT NULL, uptime_s INTEGER NOT NULL,"
    "  conflicts INTEGER NOT NULL, pending INTEGER NOT NULL,"
    "  version TEXT NOT NULL, last_error TEXT NOT NULL,"
    "  read_scopes TEXT NOT NULL, vv TEXT NOT NULL,"
    "  updated_ms INTEGER NOT NULL) WITHOUT ROWID;";

/* ---- SQLite plumbing -------------------------------------------------- */

int
fsy_sq_err(fsy_store_t *s, int rc, const char *what)
{
    const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return fsy_err_set(FSY_EFULL, "%s: disk full: free space and retry",
                           what);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return fsy_err_set(
            FSY_EBUSY, "%s: replica locked by another process; retry", what);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return fsy_err_set(FSY_EIO, "%s: %s", what, msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return fsy_err_set(FSY_ECORRUPT, "%s: replica damaged: %s", what, msg);
    case SQLITE_NOMEM:
        return fsy_err_set(FSY_ENOMEM, "%s: out of memory", what);
    case SQLITE_READONLY:
        return fsy_err_set(FSY_EREADONLY, "%s: replica is read-only: %s", what,
                           msg);
    default:
        return fsy_err_set(FSY_EINTERNAL, "%s: %s", what, msg);
    }
}

sqlite3_stmt *
fsy_sq_stmt(fsy_store_t *s, enum fsy_stmt_id id)
{
    sqlite3_stmt *st = s->stmt[id];
    if (st == NULL) {
        int rc = sqlite3_prepare_v3(s->db, s_sql[id], -1,
                                    SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK) {
            fsy_sq_err(s, rc, "preparing a query");
            return NULL;
        }
        s->stmt[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int
fsy_sq_exec(fsy_store_t *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? FSY_OK : fsy_sq_err(s, rc, "replica");
}

static uint64_t
s_system_ms(void *ctx)
{
    (void)ctx;
    return fsy_wall_ms();
}

uint64_t
fsy_sq_now(fsy_store_t *s)
{
    return s->wall(s->wall_ctx);
}

/* Runs a statement expected to finish without rows. */
int
fsy_sq_step_done(fsy_store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FSY_OK : fsy_sq_err(s, rc, what);
}

int
fsy_sq_meta_get_u64(fsy_store_t *s, const char *key, uint64_t *out)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_META_GET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return FSY_OK;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return fsy_err_set(FSY_EFORMAT, "replica has no '%s' entry", key);
    return fsy_sq_err(s, rc, "reading replica metadata");
}

int
fsy_sq_meta_get_opt(fsy_store_t *s, const char *key, uint64_t *out)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_META_GET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fsy_sq_err(s, rc, "reading replica metadata");
    return FSY_OK;
}

int
fsy_sq_meta_set(fsy_store_t *s, const char *key, const char *text, uint64_t num)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_META_SET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (text != NULL)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, (int64_t)num);
    return fsy_sq_step_done(s, st, "writing replica metadata");
}

void
fsy_sq_col_text(sqlite3_stmt *st, int col, char *buf, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
    if (n >= size)
        n = size - 1; /* damaged rows are caught by their checksum */
    if (n > 0)
        memcpy(buf, t, n);
    buf[n] = '\0';
}

/* ---- bases blob ------------------------------------------------------- */

/* Each base: hlc u64 | incarnation u64 | seq u64 | site length u8 | site. */
int
fsy_sq_bases_encode(const fsy_version_t *b, size_t n, uint8_t **out,
                    size_t *len)
{
    size_t size = 0;
    for (size_t i = 0; i < n; i++)
        size += 25 + strlen(b[i].origin.site);
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        uint64_t v[3] = {b[i].hlc, b[i].origin.incarnation, b[i].seq};
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 8; j++)
                *p++ = (uint8_t)(v[k] >> (8 * j));
        size_t sl = strlen(b[i].origin.site);
        *p++ = (uint8_t)sl;
        memcpy(p, b[i].origin.site, sl);
        p += sl;
    }
    *out = buf;
    *len = size;
    return FSY_OK;
}

static uint64_t
s_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int j = 7; j >= 0; j--)
        v = (v << 8) | p[j];
    return v;
}

int
fsy_sq_bases_decode(const uint8_t *buf, size_t len, fsy_version_t **out,
                    size_t *n)
{
    fsy_version_t tmp[FSY_BASES_MAX];
    size_t count = 0, off = 0;
    while (off < len) {
        if (count == FSY_BASES_MAX || len - off < 25 ||
            buf[off + 24] > FSY_SITE_MAX || len - off - 25 < buf[off + 24])
            return fsy_err_set(FSY_ECORRUPT, "damaged bases in replica");
        fsy_version_t *v = &tmp[count++];
        v->hlc = s_get_u64(buf + off);
        v->origin.incarnation = s_get_u64(buf + off + 8);
        v->seq = s_get_u64(buf + off + 16);
        size_t sl = buf[off + 24];
        memcpy(v->origin.site, buf + off + 25, sl);
        v->origin.site[sl] = '\0';
        off += 25 + sl;
    }
    *out = NULL;
    *n = count;
    if (count == 0)
        return FSY_OK;
    *out = malloc(count * sizeof **out);
    if (*out == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    memcpy(*out, tmp, count * sizeof **out);
    return FSY_OK;
}

/* ---- opening ---------------------------------------------------------- */

static int
s_store_alloc(fsy_store_t **out, const char *path)
{
    fsy_store_t *s = calloc(1, sizeof *s);
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    }
    s->max_value = FSY_VALUE_MAX;
    s->max_skew_ms = FSY_DEFAULT_SKEW_MS;
    s->wall = s_system_ms;
    *out = s;
    return FSY_OK;
}

/* A new replica's page size, set before its first page is written (an
 * existing one keeps its own: WAL mode cannot change it). 8 KiB pages
 * took an import of 10,000 reports (2.4 KB each, nine changes) from 0.81
 * to 0.66 s and their catch-up from 1.76 to 1.40 s against 4 KiB:
 * half the page writes and reads, each a system call; 16 KiB did less
 * well (0.74 s, 1.79 s; docs/PERFORMANCE.md). */
#define S_PAGE_SIZE "PRAGMA page_size=8192"

/* The replica's page size, for the write-ahead log's size in bytes. */
static int
s_read_page_size(fsy_store_t *s)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        s->page_size = (unsigned)sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "reading the page size");
    if (s->page_size < 512 || s->page_size > 65536)
        s->page_size = 4096; /* SQLite guarantees the range; not worth a stop */
    return FSY_OK;
}

static int
s_configure(fsy_store_t *s)
{
    /* FULL: a change this site acknowledged must survive power loss. */
    int rc = fsy_sq_exec(s, "PRAGMA journal_mode=WAL;"
                            "PRAGMA synchronous=FULL;"
                            "PRAGMA foreign_keys=OFF;");
    if (rc != FSY_OK || (rc = s_read_page_size(s)) != FSY_OK)
        return rc;
    return fsy_sq_exec(s, "CREATE TEMP TABLE IF NOT EXISTS touched("
                          "scope TEXT, doc TEXT, hlc INTEGER, lseq INTEGER,"
                          " PRIMARY KEY(scope, doc)) WITHOUT ROWID;");
}

/* fsy_text(value, ref): the value as text for the search index, or NULL
 * when it is absent, an attachment reference or not UTF-8 text (binary
 * values are not searched). */
static void
s_sql_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const uint8_t *v = sqlite3_value_blob(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
        sqlite3_value_int(argv[1]) != 0 ||
        (n > 0 && (memchr(v, 0, n) != NULL || !fsy_utf8_valid(v, n)))) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_text(ctx, n > 0 ? (const char *)v : "", (int)n,
                        SQLITE_TRANSIENT);
}

/* Before SQLite's first use in the process: no count of the memory it
 * holds (nothing here reads it), whose mutex every allocation takes and
 * which each of the daemon's threads with a connection (the loop, the
 * checks, the checkpoints) otherwise waits on: the start's check of 90,000
 * changes in two halves took 130 ms with it, 95 without. Refused harmlessly
 * (SQLITE_MISUSE) if something initialised SQLite first.
 * And libsodium's set-up, which every change's checksum uses: it asks for
 * sodium_init() before any other call (it picks the code for this
 * processor and readies its random source), and a tool that imports an
 * unsigned bundle loads no key, where it was called before. */
static pthread_once_t s_libs_once = PTHREAD_ONCE_INIT;

static void
s_libs_setup(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* a failure is said by the first key or replica made, which call it
     * again; checksums are right without it */
    (void)!sodium_init();
}

static int
s_open_db(fsy_store_t *s, int flags)
{
    pthread_once(&s_libs_once, s_libs_setup);
    /* NOMUTEX: a store handle belongs to one thread at a time (store.h),
     * so SQLite's per-call mutexes would be pure cost (~6% of an import). */
    int rc = sqlite3_open_v2(s->path, &s->db, flags | SQLITE_OPEN_NOMUTEX,
                             fsy_sq_vfs());
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, s->path);
    /* Before the first statement: even reading the schema version can meet
     * another process's checkpoint, and must wait for it, not fail. */
    sqlite3_busy_timeout(s->db, FSY_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(s->db, 1);
    rc = sqlite3_create_function_v2(s->db, "fsy_text", 2,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                    s_sql_text, NULL, NULL, NULL);
    return rc == SQLITE_OK ? FSY_OK : fsy_sq_err(s, rc, s->path);
}

/* Looks up (or creates) the local row id of an origin. */

int
fsy_sq_load_identity(fsy_store_t *s)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_META_GET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, "site", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return fsy_err_set(FSY_EFORMAT, "%s: replica has no site id", s->path);
    }
    fsy_sq_col_text(st, 0, s->origin.site, sizeof s->origin.site);
    sqlite3_reset(st);
    if (fsy_check_site(s->origin.site) != FSY_OK)
        return fsy_err_set(FSY_ECORRUPT, "%s: replica site id is damaged",
                           s->path);
    rc = fsy_sq_meta_get_u64(s, "incarnation", &s->origin.incarnation);
    if (rc != FSY_OK)
        return rc;
    return fsy_sq_origin_id(s, &s->origin, &s->origin_id);
}

static int
s_check_schema(fsy_store_t *s, int *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_NOTADB)
            return fsy_err_set(FSY_EFORMAT, "%s is not a fieldsync replica",
                               s->path);
        return fsy_sq_err(s, rc, s->path);
    }
    rc = sqlite3_step(st);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        if ((rc & 0xff) == SQLITE_NOTADB)
            return fsy_err_set(FSY_EFORMAT, "%s is not a fieldsync replica",
                               s->path);
        return fsy_sq_err(s, rc, s->path);
    }
    if (version == 0)
        return fsy_err_set(FSY_EFORMAT, "%s is not a fieldsync replica",
                           s->path);
    if (version > FSY_SCHEMA_VERSION)
        return fsy_err_set(FSY_EVERSION,
                           "%s has schema version %d; this fieldsync "
                           "understands up to %d: upgrade fieldsync",
                           s->path, version, FSY_SCHEMA_VERSION);
    *out = version;
    return FSY_OK;
}

static fsy_store_notice_fn s_notice;

void
fsy_store_on_notice(fsy_store_notice_fn fn)
{
    s_notice = fn;
}

/* Says that an upgrade from `version` starts (done false), or how long it
 * took. The log's size comes from its last position: no count of rows. */
static void
s_tell_upgrade(fsy_store_t *s, int version, bool done, uint64_t t0_us)
{
    char msg[512];
    if (s_notice == NULL || version >= FSY_SCHEMA_VERSION)
        return;
    if (done) {
        snprintf(msg, sizeof msg, "%.300s upgraded to format %d in %.1f s",
                 s->path, FSY_SCHEMA_VERSION,
                 (double)(fsy_mono_us() - t0_us) / 1e6);
        s_notice(msg);
        return;
    }
    sqlite3_stmt *st = NULL;
    long long changes = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(lseq), 0) FROM changes",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        changes = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    snprintf(
        msg, sizeof msg,
        "upgrading %.300s from format %d to %d (%lld changes): its indexes "
        "are rebuilt, which takes minutes on millions of changes; "
        "stopping now leaves it as it was",
        s->path, version, FSY_SCHEMA_VERSION, changes);
    s_notice(msg);
}

/*
 * Brings a replica made by an older fieldsync up to this schema, in one
 * transaction (a crash leaves it as it was). Another process may have
 * done it meanwhile: the version is read again under the write lock.
 */
static int
s_migrate(fsy_store_t *s, int version)
{
    if (version >= FSY_SCHEMA_VERSION)
        return FSY_OK;
    uint64_t t0 = fsy_mono_us();
    int rc = fsy_sq_exec(s, "BEGIN IMMEDIATE");
    if (rc == FSY_OK)
        rc = s_check_schema(s, &version);
    if (rc == FSY_OK)
        s_tell_upgrade(s, version, false, t0);
    if (rc == FSY_OK && version < 10)
        rc = fsy_sq_exec(s, s_schema_heads_in_docs);
    if (rc == FSY_OK && version < 11)
        rc = fsy_sq_exec(s, s_schema_head_fields);
    if (rc == FSY_OK && version < 2)
        rc = fsy_sq_exec(s, "ALTER TABLE peers ADD COLUMN clock_offset_ms"
                            " INTEGER;");
    if (rc == FSY_OK && version < 2)
        rc = fsy_sq_exec(s, s_schema_sites);
    if (rc == FSY_OK && version < 3)
        rc = fsy_sq_exec(s, s_schema_blobs);
    if (rc == FSY_OK && version < 4)
        rc = fsy_sq_exec(s, s_schema_urgent);
    if (rc == FSY_OK && version < 5)
        rc = fsy_sq_exec(s, s_schema_recovery);
    if (rc == FSY_OK && version < 5)
        rc = fsy_sq_exec(s, s_schema_roster);
    if (rc == FSY_OK && version < 6)
        rc = fsy_sq_exec(s, s_schema_counts);
    if (rc == FSY_OK && version < 7)
        rc = fsy_sq_exec(s, s_schema_search);
    if (rc == FSY_OK && version < 8)
        rc = fsy_sq_exec(s, s_schema_graph);
    if (rc == FSY_OK && version < 9)
        rc = fsy_sq_exec(s, s_schema_index_pending);
    if (rc == FSY_OK && version < 10)
        rc = fsy_sq_exec(s, s_schema_counts_by_code);
    char ver[32];
    snprintf(ver, sizeof ver, "PRAGMA user_version=%d;", FSY_SCHEMA_VERSION);
    if (rc == FSY_OK)
        rc = fsy_sq_exec(s, ver);
    if (rc == FSY_OK)
        rc = fsy_sq_exec(s, "COMMIT");
    if (rc == FSY_OK) {
        s_tell_upgrade(s, version, true, t0);
        return FSY_OK;
    }
    char why[256];
    snprintf(why, sizeof why, "%s", fsy_errdetail());
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return fsy_err_set(rc,
                       "%s has schema version %d and could not be upgraded "
                       "to %d (%s): open it once where it is writable",
                       s->path, version, FSY_SCHEMA_VERSION, why);
}

/* fsy_store_defer_checkpoints_all's KiB (0: SQLite's checkpoints). */
static _Atomic unsigned s_defer_all;

static int
s_defer_default(fsy_store_t *s)
{
    unsigned hard = atomic_load(&s_defer_all);
    return hard != 0 ? fsy_store_defer_checkpoints(s, hard) : FSY_OK;
}

int
fsy_sq_open(fsy_store_t **out, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return fsy_err_set(FSY_ENOTFOUND, "no replica at %s", path);
    fsy_store_t *s = NULL;
    int rc = s_store_alloc(&s, path);
    if (rc != FSY_OK)
        return rc;
    int version = 0;
    if ((rc = s_open_db(s, SQLITE_OPEN_READWRITE)) != FSY_OK ||
        (rc = s_check_schema(s, &version)) != FSY_OK ||
        (rc = s_configure(s)) != FSY_OK ||
        (rc = s_migrate(s, version)) != FSY_OK ||
        (rc = fsy_sq_load_identity(s)) != FSY_OK ||
        (rc = s_defer_default(s)) != FSY_OK) {
        fsy_store_close(&s);
        return rc;
    }
    *out = s;
    return FSY_OK;
}

int
fsy_sq_open_reader(fsy_store_t **out, const char *path, uint64_t *incarnation)
{
    fsy_store_t *s = NULL;
    int version = 0;
    int rc = s_store_alloc(&s, path);
    if (rc == FSY_OK && (rc = s_open_db(s, SQLITE_OPEN_READONLY)) == FSY_OK &&
        (rc = s_check_schema(s, &version)) == FSY_OK &&
        version != FSY_SCHEMA_VERSION)
        rc = fsy_err_set(FSY_EVERSION, "%s: schema %d, not yet upgraded", path,
                         version);
    if (rc == FSY_OK)
        rc = fsy_sq_meta_get_u64(s, "incarnation", incarnation);
    if (rc != FSY_OK) {
        fsy_store_close(&s);
        return rc;
    }
    *out = s;
    return FSY_OK;
}

void
fsy_store_interrupt(fsy_store_t *s)
{
    sqlite3_interrupt(s->db);
}

/* A passive copy of the write-ahead log (name: one database, NULL: all);
 * *left: the pages it left (a reader may hold some back). SQLite's code. */
static int
s_copy_wal(fsy_store_t *s, const char *name, unsigned *left)
{
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, name, SQLITE_CHECKPOINT_PASSIVE,
                                       &log, &copied);
    *left = rc == SQLITE_OK && copied < log ? (unsigned)(log - copied) : 0;
    return rc;
}

int
fsy_sq_synchronous(fsy_store_t *s, bool full)
{
    int rc = fsy_sq_exec(s, full ? "PRAGMA synchronous=FULL"
                                 : "PRAGMA synchronous=NORMAL");
    if (rc == FSY_OK)
        s->sync_normal = !full;
    return rc;
}

void
fsy_sq_durable_now(fsy_store_t *s)
{
    /* after a failed sync a later one may succeed falsely (the kernel
     * reports a write-back error once): the lazy commits then stay
     * unpromised for good */
    if (s->sync_failed)
        return;
    s->lazy_commits = 0;
    fsy_vv_free(&s->durable_vv);
    /* a sync asked of another thread (store_durable.c) is behind this */
    s->sync_point = 0;
    fsy_vv_free(&s->sync_vv);
}

/* After each commit, with the pages the WAL now holds: SQLite's own
 * automatic checkpoint is such a hook, which this one replaces. */
static int
s_wal_hook(void *ctx, sqlite3 *db, const char *name, int pages)
{
    fsy_store_t *s = ctx;
    (void)db;
    if (!s->sync_normal) /* synced the log, lazy commits before it too */
        fsy_sq_durable_now(s);
    s->wal_pages = pages > 0 ? (unsigned)pages : 0;
    unsigned left;
    int rc =
        s->wal_pages >= s->wal_hard ? s_copy_wal(s, name, &left) : SQLITE_DONE;
    if (rc == SQLITE_OK && left == 0)
        s->wal_pages = 0; /* else the next commit tries again */
    if ((rc & 0xff) == SQLITE_IOERR && s->lazy_commits > 0)
        s->sync_failed = true; /* its sync of the log may be the failed one */
    return SQLITE_OK;
}

int
fsy_store_defer_checkpoints(fsy_store_t *s, unsigned hard_kib)
{
    /* once copied, a log grown by a burst shrinks back to what SQLite's
     * own checkpoints leave (4 MiB) */
    int rc = fsy_sq_exec(s, "PRAGMA journal_size_limit = 4194304");
    if (rc != FSY_OK)
        return rc;
    if (hard_kib < FSY_WAL_MIN_KIB)
        hard_kib = FSY_WAL_MIN_KIB;
    s->wal_hard = (unsigned)((uint64_t)hard_kib * 1024 / s->page_size);
    sqlite3_wal_hook(s->db, s_wal_hook, s);
    return FSY_OK;
}

unsigned
fsy_store_wal_kib(const fsy_store_t *s)
{
    return (unsigned)((uint64_t)s->wal_pages * s->page_size / 1024);
}

void
fsy_store_defer_checkpoints_all(unsigned hard_kib)
{
    atomic_store(&s_defer_all, hard_kib);
}

int
fsy_store_checkpoint(fsy_store_t *s)
{
    unsigned left;
    int rc = s_copy_wal(s, NULL, &left);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return FSY_OK; /* another copy is running: it does the work */
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "copying the write-ahead log");
    s->wal_pages = left;
    return FSY_OK;
}

static int
s_init_schema(fsy_store_t *s, const char *site)
{
    char ver[32];
    snprintf(ver, sizeof ver, "PRAGMA user_version=%d;", FSY_SCHEMA_VERSION);
    uint64_t inc;
    /* A fresh incarnation: a re-initialised site is a new origin. */
    do
        randombytes_buf(&inc, sizeof inc);
    while (inc == 0);
    int rc;
    if ((rc = fsy_sq_exec(s, "BEGIN IMMEDIATE")) != FSY_OK)
        return rc;
    if ((rc = fsy_sq_exec(s, s_schema)) != FSY_OK ||
        (rc = fsy_sq_exec(s, s_schema_sites)) != FSY_OK ||
        (rc = fsy_sq_exec(s, s_schema_blobs)) != FSY_OK ||
        (rc = fsy_sq_exec(s, s_schema_urgent)) != FSY_OK ||
        (rc = fsy_sq_exec(s, s_schema_recovery)) != FSY_OK ||
        (rc = fsy_sq_exec(s, s_schema_roster)) != FSY_OK ||
        (rc = fsy_sq_exec(s, s_schema_counts)) != FSY_OK ||
        (rc = fsy_sq_exec(s, s_schema_search)) != FSY_OK ||
        (rc = fsy_sq_exec(s, s_schema_graph)) != FSY_OK ||
        (rc = fsy_sq_exec(s, s_schema_index_pending)) != FSY_OK ||
        (rc = fsy_sq_exec(s, ver)) != FSY_OK ||
        (rc = fsy_sq_meta_set(s, "site", site, 0)) != FSY_OK ||
        (rc = fsy_sq_meta_set(s, "incarnation", NULL, inc)) != FSY_OK ||
        (rc = fsy_sq_meta_set(s, "clock", NULL, 0)) != FSY_OK ||
        (rc = fsy_sq_meta_set(s, "created_ms", NULL, fsy_sq_now(s))) !=
            FSY_OK ||
        (rc = fsy_sq_exec(s, "COMMIT")) != FSY_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return FSY_OK;
}

int
fsy_sq_create(fsy_store_t **out, const char *path, const char *site)
{
    int rc = fsy_check_site(site);
    if (rc != FSY_OK)
        return rc;
    if (sodium_init() < 0)
        return fsy_err_set(FSY_EINTERNAL, "libsodium failed to initialise");
    /* O_EXCL: never turn an existing file into a replica. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640);
    if (fd < 0) {
        if (errno == EEXIST)
            return fsy_err_set(FSY_EEXIST, "%s already exists", path);
        return fsy_err_set(FSY_EIO, "cannot create %s: %s", path,
                           strerror(errno));
    }
    close(fd);
    fsy_store_t *s = NULL;
    if ((rc = s_store_alloc(&s, path)) != FSY_OK) {
        unlink(path);
        return rc;
    }
    if ((rc = s_open_db(s, SQLITE_OPEN_READWRITE)) != FSY_OK ||
        (rc = fsy_sq_exec(s, S_PAGE_SIZE)) != FSY_OK ||
        (rc = s_configure(s)) != FSY_OK ||
        (rc = s_init_schema(s, site)) != FSY_OK ||
        (rc = fsy_sq_load_identity(s)) != FSY_OK) {
        fsy_store_close(&s);
        unlink(path);
        return rc;
    }
    *out = s;
    return FSY_OK;
}

int
fsy_store_probe_write(fsy_store_t *s)
{
    int rc = fsy_sq_exec(s, "BEGIN IMMEDIATE");
    if (rc != FSY_OK)
        return rc;
    char sql[96];
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO meta(key, value) VALUES('probe', %" PRIu64
             ")",
             fsy_wall_ms());
    if ((rc = fsy_sq_exec(s, sql)) == FSY_OK &&
        (rc = fsy_sq_exec(s, "COMMIT")) == FSY_OK)
        return FSY_OK;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

void
fsy_store_close(fsy_store_t **sp)
{
    if (sp == NULL || *sp == NULL)
        return;
    fsy_store_t *s = *sp;
    if (s->in_group)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s->origins);
    free(s->refused);
    free(s->path);
    fsy_vv_free(&s->durable_vv);
    fsy_vv_free(&s->sync_vv);
    free(s);
    *sp = NULL;
}

const fsy_origin_t *
fsy_store_origin(const fsy_store_t *s)
{
    return &s->origin;
}

void
fsy_store_set_max_value(fsy_store_t *s, size_t bytes)
{
    s->max_value = bytes < FSY_VALUE_MAX ? bytes : FSY_VALUE_MAX;
}

void
fsy_store_set_write_scopes(fsy_store_t *s, const char *list)
{
    snprintf(s->write_scopes, sizeof s->write_scopes, "%s", list ? list : "");
}

int
fsy_store_read_begin(fsy_store_t *s)
{
    return fsy_sq_exec(s, "BEGIN");
}

void
fsy_store_read_end(fsy_store_t *s)
{
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

int
fsy_store_set_author(fsy_store_t *s, const char *author)
{
    int rc = fsy_check_author(author);
    if (rc == FSY_OK)
        snprintf(s->author, sizeof s->author, "%s", author);
    return rc;
}

void
fsy_store_set_max_clock_skew(fsy_store_t *s, uint64_t ms)
{
    s->max_skew_ms = ms;
}

void
fsy_store_set_wallclock(fsy_store_t *s, fsy_wallclock_fn fn, void *ctx)
{
    s->wall = fn ? fn : s_system_ms;
    s->wall_ctx = fn ? ctx : NULL;
}

/* ---- origins ---------------------------------------------------------- */

static int
s_origin_cache(fsy_store_t *s, const fsy_origin_t *o, int64_t id)
{
    if (s->n_origins == FSY_ORIGIN_CACHE_MAX)
        return FSY_OK;
    if (s->n_origins == s->cap_origins) {
        size_t cap = s->cap_origins ? s->cap_origins * 2 : 16;
        fsy_origin_slot_t *v = realloc(s->origins, cap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        s->origins = v;
        s->cap_origins = cap;
    }
    s->origins[s->n_origins].origin = *o;
    s->origins[s->n_origins++].id = id;
    return FSY_OK;
}

/* vv[(scope, origin_id)], 0 when there is no entry. */
int
fsy_sq_vv_get(fsy_store_t *s, const char *scope, int64_t origin_id,
              uint64_t *seq)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_VV_GET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, origin_id);
    int rc = sqlite3_step(st);
    *seq = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fsy_sq_err(s, rc, "reading the version vector");
    return FSY_OK;
}

/*
 * The cache may only hold ids of committed rows: an id minted inside a
 * transaction that rolls back would be reused for another origin. So new
 * ids are cached only after lookup, which sees committed or own rows; the
 * rollback path clears the cache (fsy_sq_txn_rollback).
 */
/* The row id of a known origin; *known false if there is none. */
int
fsy_sq_origin_find(fsy_store_t *s, const fsy_origin_t *o, int64_t *id,
                   bool *known)
{
    for (size_t i = 0; i < s->n_origins; i++)
        if (fsy_origin_eq(&s->origins[i].origin, o)) {
            *id = s->origins[i].id;
            *known = true;
            return FSY_OK;
        }
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_ORIGIN_GET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, o->site, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)o->incarnation);
    int rc = sqlite3_step(st);
    *known = rc == SQLITE_ROW;
    if (*known)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fsy_sq_err(s, rc, "looking up an origin");
    return *known ? s_origin_cache(s, o, *id) : FSY_OK;
}

int
fsy_sq_origin_id(fsy_store_t *s, const fsy_origin_t *o, int64_t *id)
{
    bool known;
    int rc = fsy_sq_origin_find(s, o, id, &known);
    if (rc != FSY_OK || known)
        return rc;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_ORIGIN_INS);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, o->site, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)o->incarnation);
    if ((rc = fsy_sq_step_done(s, st, "recording an origin")) != FSY_OK)
        return rc;
    *id = sqlite3_last_insert_rowid(s->db);
    return s_origin_cache(s, o, *id);
}

/* ---- transactions ----------------------------------------------------- */

int
fsy_sq_txn_begin(fsy_store_t *s)
{
    /* a failed return to FULL after a lazy apply is tried again before
     * any other write: none may go without its disk sync */
    if (!s->in_group && s->sync_normal && !s->lazy_now &&
        fsy_sq_synchronous(s, true) != FSY_OK)
        return fsy_sq_refuse(s, FSY_EIO);
    if (!s->in_group)
        return fsy_sq_exec(s, "BEGIN IMMEDIATE");
    /* SQLite may have rolled the whole group back by itself (disk full,
     * I/O error): never let later writes run outside it, in autocommit. */
    if (!s->group_failed && sqlite3_get_autocommit(s->db))
        s->group_failed = true;
    if (s->group_failed)
        return fsy_err_set(FSY_EINVAL, "an earlier write in this group "
                                       "failed: roll the group back");
    return FSY_OK;
}

void
fsy_sq_txn_rollback(fsy_store_t *s)
{
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(s->db, "DELETE FROM temp.touched", NULL, NULL, NULL);
    s->n_origins = 0; /* ids minted in the rolled-back transaction */
    if (s->origin_id != 0)
        s_origin_cache(s, &s->origin, s->origin_id);
}

/* Commits unless inside a group; rolls back (outside a group) on error. */
int
fsy_sq_txn_end(fsy_store_t *s, int rc)
{
    if (s->in_group) {
        s->group_failed |= rc != FSY_OK;
        return rc;
    }
    if (rc == FSY_OK) {
        rc = fsy_sq_exec(s, "COMMIT");
        if (rc == FSY_OK)
            return FSY_OK;
    }
    fsy_sq_txn_rollback(s);
    return rc;
}

/* A write refused before it began still fails an open group. */
int
fsy_sq_refuse(fsy_store_t *s, int rc)
{
    s->group_failed |= s->in_group;
    return rc;
}

int
fsy_store_begin_volatile(fsy_store_t *s)
{
    if (s->in_group)
        return fsy_err_set(FSY_EINVAL, "a write group is already open");
    int rc = fsy_sq_synchronous(s, false);
    if (rc == FSY_OK && (rc = fsy_store_begin(s)) == FSY_OK)
        s->volatile_group = true;
    else
        fsy_sq_synchronous(s, true);
    return rc;
}

int
fsy_store_begin(fsy_store_t *s)
{
    if (s->in_group)
        return fsy_err_set(FSY_EINVAL, "a write group is already open");
    int rc = fsy_sq_exec(s, "BEGIN IMMEDIATE");
    if (rc == FSY_OK) {
        s->in_group = true;
        s->group_failed = false;
        s->n_refused = 0;
    }
    return rc;
}

/* Back to a disk sync at every commit after a volatile group. */
static void
s_group_closed(fsy_store_t *s)
{
    s->in_group = false;
    if (s->volatile_group)
        fsy_sq_synchronous(s, true);
    s->volatile_group = false;
}

int
fsy_store_commit(fsy_store_t *s)
{
    if (!s->in_group)
        return fsy_err_set(FSY_EINVAL, "no write group is open");
    int rc = FSY_OK;
    if (s->group_failed) {
        fsy_sq_txn_rollback(s);
        rc = fsy_err_set(FSY_EINVAL, "a write in this group failed: the "
                                     "group was rolled back");
    } else if ((rc = fsy_sq_exec(s, "COMMIT")) != FSY_OK)
        fsy_sq_txn_rollback(s);
    s_group_closed(s);
    return rc;
}

void
fsy_store_rollback(fsy_store_t *s)
{
    if (!s->in_group)
        return;
    fsy_sq_txn_rollback(s);
    s_group_closed(s);
}
