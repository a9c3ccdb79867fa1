/*
 * fieldsync — the site replica: opening, schema, and every write.
 *
 * Tables (schema version 2; s_migrate() upgrades older replicas):
 *
 *   meta        key/value: site, incarnation, clock (persisted hlc)
 *   origins     (site, incarnation) -> small local row id
 *   changes     the local log, in the order this replica applied changes
 *               (lseq); UNIQUE(scope, origin, seq) is the index export and
 *               duplicate detection use
 *   vv          (scope, origin) -> highest contiguous seq applied
 *   heads       changes no received change names as a base
 *   superseded  versions named as bases that have not arrived yet: when
 *               one arrives it is not a head (bases may overtake targets)
 *   docs        derived per-document state (kind, visible, conflicts) so
 *               list and conflicts need not merge every document
 *   peers       what fieldsyncd knows of each neighbour (status.c)
 *   sites       health summaries of every site heard of (health_store.c)
 *
 * Invariants, all kept inside one transaction per call:
 *  - vv[(scope, origin)] = n exactly when changes 1..n of that stream are in
 *    `changes`; the vector never moves past a change that is not stored.
 *  - heads = received versions minus versions named as bases by any
 *    received change, per (scope, doc, field). Both local and remote writes
 *    go through s_apply_changes(), so there is one code path for this.
 *  - docs rows are recomputed (merge.c) for every document a call touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "clock.h"
#include "fieldsync/config.h"
#include "fieldsync/ident.h"
#include "fieldsync/wallclock.h"
#include "merge.h"
#include "store_internal.h"

#define FSY_BUSY_TIMEOUT_MS 10000
/* Past this many origins the cache stops growing; SQLite's index serves. */
#define FSY_ORIGIN_CACHE_MAX 1024
#define FSY_DEFAULT_SKEW_MS (3600u * 1000u)

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
        "bases, txn_end, checksum) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
    [ST_CHANGE_BY_ID] = "SELECT lseq, hlc, doc, field, checksum FROM changes "
                        "WHERE scope = ?1 AND origin = ?2 AND seq = ?3",
    [ST_SUPERSEDED_INS] =
        "INSERT OR IGNORE INTO superseded(scope, doc, field, site, "
        "incarnation, seq, hlc) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_SUPERSEDED_ANY] = "SELECT EXISTS (SELECT 1 FROM superseded)",
    [ST_SUPERSEDED_TAKE] =
        "DELETE FROM superseded WHERE scope = ?1 AND doc = ?2 AND field = ?3 "
        "AND site = ?4 AND incarnation = ?5 AND seq = ?6 AND hlc = ?7",
    [ST_HEAD_DEL] = "DELETE FROM heads WHERE scope = ?2 AND doc = ?3 AND "
                    "field = ?4 AND lseq = ?1",
    [ST_HEAD_INS] =
        "INSERT INTO heads(lseq, scope, doc, field) VALUES(?1, ?2, ?3, ?4)",
    [ST_DOC_HEADS] =
        "SELECT c.field, c.hlc, o.site, o.incarnation, c.seq, c.value, "
        "c.value IS NULL FROM heads h JOIN changes c ON c.lseq = h.lseq "
        "JOIN origins o ON o.id = c.origin "
        "WHERE h.scope = ?1 AND h.doc = ?2 ORDER BY h.field",
    [ST_DOC_UPSERT] =
        "INSERT INTO docs(scope, doc, kind, visible, n_conflicts, "
        "updated_hlc) VALUES(?1, ?2, ?3, ?4, ?5, ?6) "
        "ON CONFLICT(scope, doc) DO UPDATE SET kind = excluded.kind, "
        "visible = excluded.visible, n_conflicts = excluded.n_conflicts, "
        "updated_hlc = excluded.updated_hlc",
    [ST_TOUCH] = "INSERT OR IGNORE INTO temp.touched(scope, doc) "
                 "VALUES(?1, ?2)",
    [ST_DOC_SCOPES] = "SELECT scope FROM docs WHERE doc = ?1 ORDER BY scope",
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
    "CREATE TABLE heads(scope TEXT NOT NULL, doc TEXT NOT NULL,"
    "  field TEXT NOT NULL, lseq INTEGER NOT NULL,"
    "  PRIMARY KEY(scope, doc, field, lseq)) WITHOUT ROWID;"
    "CREATE TABLE superseded(scope TEXT NOT NULL, doc TEXT NOT NULL,"
    "  field TEXT NOT NULL, site TEXT NOT NULL, incarnation INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  PRIMARY KEY(scope, doc, field, site, incarnation, seq, hlc))"
    "  WITHOUT ROWID;"
    "CREATE TABLE docs(scope TEXT NOT NULL, doc TEXT NOT NULL,"
    "  kind TEXT NOT NULL, visible INTEGER NOT NULL,"
    "  n_conflicts INTEGER NOT NULL, updated_hlc INTEGER NOT NULL,"
    "  PRIMARY KEY(scope, doc)) WITHOUT ROWID;"
    "CREATE INDEX docs_by_id ON docs(doc);"
    "CREATE TABLE peers(name TEXT PRIMARY KEY, role TEXT NOT NULL,"
    "  connected INTEGER NOT NULL, last_contact_ms INTEGER NOT NULL,"
    "  changes_sent INTEGER NOT NULL, changes_received INTEGER NOT NULL,"
    "  bytes_sent INTEGER NOT NULL, bytes_received INTEGER NOT NULL,"
    "  refused INTEGER NOT NULL, vv TEXT NOT NULL, last_error TEXT NOT NULL,"
    "  updated_ms INTEGER NOT NULL, clock_offset_ms INTEGER) WITHOUT ROWID;";

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
static int
s_step_done(fsy_store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FSY_OK : fsy_sq_err(s, rc, what);
}

static int
s_meta_get_u64(fsy_store_t *s, const char *key, uint64_t *out)
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

static int
s_meta_set(fsy_store_t *s, const char *key, const char *text, uint64_t num)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_META_SET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (text != NULL)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, (int64_t)num);
    return s_step_done(s, st, "writing replica metadata");
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

static int
s_configure(fsy_store_t *s)
{
    /* FULL: a change this site acknowledged must survive power loss. */
    int rc = fsy_sq_exec(s, "PRAGMA journal_mode=WAL;"
                            "PRAGMA synchronous=FULL;"
                            "PRAGMA foreign_keys=OFF;");
    if (rc != FSY_OK)
        return rc;
    return fsy_sq_exec(s, "CREATE TEMP TABLE IF NOT EXISTS touched("
                          "scope TEXT, doc TEXT, PRIMARY KEY(scope, doc))"
                          " WITHOUT ROWID;");
}

static int
s_open_db(fsy_store_t *s, int flags)
{
    /* NOMUTEX: a store handle belongs to one thread at a time (store.h),
     * so SQLite's per-call mutexes would be pure cost (~6% of an import). */
    int rc =
        sqlite3_open_v2(s->path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, s->path);
    /* Before the first statement: even reading the schema version can meet
     * another process's checkpoint, and must wait for it, not fail. */
    sqlite3_busy_timeout(s->db, FSY_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(s->db, 1);
    return FSY_OK;
}

/* Looks up (or creates) the local row id of an origin. */
static int s_origin_id(fsy_store_t *s, const fsy_origin_t *o, int64_t *id);

static int
s_load_identity(fsy_store_t *s)
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
    rc = s_meta_get_u64(s, "incarnation", &s->origin.incarnation);
    if (rc != FSY_OK)
        return rc;
    return s_origin_id(s, &s->origin, &s->origin_id);
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
    int rc = fsy_sq_exec(s, "BEGIN IMMEDIATE");
    if (rc == FSY_OK)
        rc = s_check_schema(s, &version);
    if (rc == FSY_OK && version < 2)
        rc = fsy_sq_exec(s, "ALTER TABLE peers ADD COLUMN clock_offset_ms"
                            " INTEGER;");
    if (rc == FSY_OK && version < 2)
        rc = fsy_sq_exec(s, s_schema_sites);
    char ver[32];
    snprintf(ver, sizeof ver, "PRAGMA user_version=%d;", FSY_SCHEMA_VERSION);
    if (rc == FSY_OK)
        rc = fsy_sq_exec(s, ver);
    if (rc == FSY_OK)
        rc = fsy_sq_exec(s, "COMMIT");
    if (rc == FSY_OK)
        return FSY_OK;
    char why[256];
    snprintf(why, sizeof why, "%s", fsy_errdetail());
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return fsy_err_set(rc,
                       "%s has schema version %d and could not be upgraded "
                       "to %d (%s): open it once where it is writable",
                       s->path, version, FSY_SCHEMA_VERSION, why);
}

int
fsy_store_open(fsy_store_t **out, const char *path)
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
        (rc = s_load_identity(s)) != FSY_OK) {
        fsy_store_close(&s);
        return rc;
    }
    *out = s;
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
        (rc = fsy_sq_exec(s, ver)) != FSY_OK ||
        (rc = s_meta_set(s, "site", site, 0)) != FSY_OK ||
        (rc = s_meta_set(s, "incarnation", NULL, inc)) != FSY_OK ||
        (rc = s_meta_set(s, "clock", NULL, 0)) != FSY_OK ||
        (rc = s_meta_set(s, "created_ms", NULL, fsy_sq_now(s))) != FSY_OK ||
        (rc = fsy_sq_exec(s, "COMMIT")) != FSY_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return FSY_OK;
}

int
fsy_store_create(fsy_store_t **out, const char *path, const char *site)
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
        (rc = s_configure(s)) != FSY_OK ||
        (rc = s_init_schema(s, site)) != FSY_OK ||
        (rc = s_load_identity(s)) != FSY_OK) {
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

/*
 * The cache may only hold ids of committed rows: an id minted inside a
 * transaction that rolls back would be reused for another origin. So new
 * ids are cached only after lookup, which sees committed or own rows; the
 * rollback path clears the cache (s_txn_rollback).
 */
/* The row id of a known origin; *known false if there is none. */
static int
s_origin_find(fsy_store_t *s, const fsy_origin_t *o, int64_t *id, bool *known)
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

static int
s_origin_id(fsy_store_t *s, const fsy_origin_t *o, int64_t *id)
{
    bool known;
    int rc = s_origin_find(s, o, id, &known);
    if (rc != FSY_OK || known)
        return rc;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_ORIGIN_INS);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, o->site, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)o->incarnation);
    if ((rc = s_step_done(s, st, "recording an origin")) != FSY_OK)
        return rc;
    *id = sqlite3_last_insert_rowid(s->db);
    return s_origin_cache(s, o, *id);
}

/* ---- transactions ----------------------------------------------------- */

static int
s_txn_begin(fsy_store_t *s)
{
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

static void
s_txn_rollback(fsy_store_t *s)
{
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(s->db, "DELETE FROM temp.touched", NULL, NULL, NULL);
    s->n_origins = 0; /* ids minted in the rolled-back transaction */
    if (s->origin_id != 0)
        s_origin_cache(s, &s->origin, s->origin_id);
}

/* Commits unless inside a group; rolls back (outside a group) on error. */
static int
s_txn_end(fsy_store_t *s, int rc)
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
    s_txn_rollback(s);
    return rc;
}

/* A write refused before it began still fails an open group. */
static int
s_refuse(fsy_store_t *s, int rc)
{
    s->group_failed |= s->in_group;
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

int
fsy_store_commit(fsy_store_t *s)
{
    if (!s->in_group)
        return fsy_err_set(FSY_EINVAL, "no write group is open");
    s->in_group = false;
    if (s->group_failed) {
        s_txn_rollback(s);
        return fsy_err_set(FSY_EINVAL, "a write in this group failed: the "
                                       "group was rolled back");
    }
    int rc = fsy_sq_exec(s, "COMMIT");
    if (rc != FSY_OK)
        s_txn_rollback(s);
    return rc;
}

void
fsy_store_rollback(fsy_store_t *s)
{
    if (!s->in_group)
        return;
    s->in_group = false;
    s_txn_rollback(s);
}

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
    bool superseded;             /* the superseded table may hold rows */
    const fsy_change_t *touched; /* last document marked touched */
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
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_VV_GET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, origin_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        t->seq = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fsy_sq_err(s, rc, "reading the version vector");
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
    snprintf(r->scope, sizeof r->scope, "%s", t->scope);
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
        int rc = s_step_done(s, st, "updating the version vector");
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
    rc = s_step_done(s, st, "storing a change");
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
    return s_step_done(s, st, "recording a base");
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
    int64_t oid;
    bool known;
    int rc = s_origin_find(s, &b->origin, &oid, &known);
    if (rc != FSY_OK)
        return rc;
    if (!known)
        return s_supersede(s, ax, c, b);
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_CHANGE_BY_ID);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, c->scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, oid);
    sqlite3_bind_int64(st, 3, (int64_t)b->seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t lseq = sqlite3_column_int64(st, 0);
        bool match =
            (uint64_t)sqlite3_column_int64(st, 1) == b->hlc &&
            strcmp((const char *)sqlite3_column_text(st, 2), c->doc) == 0 &&
            strcmp((const char *)sqlite3_column_text(st, 3), c->field) == 0;
        sqlite3_reset(st);
        if (!match)
            return FSY_OK;
        st = fsy_sq_stmt(s, ST_HEAD_DEL);
        if (st == NULL)
            return FSY_EINTERNAL;
        sqlite3_bind_int64(st, 1, lseq);
        sqlite3_bind_text(st, 2, c->scope, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, c->doc, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, c->field, -1, SQLITE_STATIC);
        return s_step_done(s, st, "updating heads");
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return fsy_sq_err(s, rc, "looking up a base");
    return s_supersede(s, ax, c, b);
}

static int
s_insert_head(fsy_store_t *s, const fsy_change_t *c, int64_t lseq)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_HEAD_INS);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_int64(st, 1, lseq);
    sqlite3_bind_text(st, 2, c->scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->field, -1, SQLITE_STATIC);
    return s_step_done(s, st, "updating heads");
}

/* Becomes a head unless an earlier arrival already named it as a base. */
static int
s_apply_head(fsy_store_t *s, s_apply_ctx_t *ax, const fsy_change_t *c,
             int64_t lseq)
{
    if (!ax->superseded) /* the common case: bases arrived in order */
        return s_insert_head(s, c, lseq);
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_SUPERSEDED_TAKE);
    if (st == NULL)
        return FSY_EINTERNAL;
    s_bind_superseded(st, c, &c->version);
    int rc = s_step_done(s, st, "updating heads");
    if (rc != FSY_OK || sqlite3_changes(s->db) > 0)
        return rc;
    return s_insert_head(s, c, lseq);
}

/* Marks c's document for the derived-state refresh at the end of the call.
 * A transaction's changes are consecutive and share a document, so only a
 * change of another document needs a row. */
static int
s_touch(fsy_store_t *s, s_apply_ctx_t *ax, const fsy_change_t *c)
{
    const fsy_change_t *p = ax->touched;
    if (p != NULL && strcmp(p->doc, c->doc) == 0 &&
        strcmp(p->scope, c->scope) == 0)
        return FSY_OK;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_TOUCH);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, c->scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->doc, -1, SQLITE_STATIC);
    ax->touched = c;
    return s_step_done(s, st, "recording a touched document");
}

static int
s_store_one(fsy_store_t *s, s_apply_ctx_t *ax, const fsy_change_t *c,
            int64_t origin_id)
{
    int64_t lseq;
    int rc = s_insert_change(s, c, origin_id, &lseq);
    for (size_t i = 0; rc == FSY_OK && i < c->n_bases; i++)
        rc = s_apply_base(s, ax, c, &c->bases[i]);
    if (rc == FSY_OK)
        rc = s_apply_head(s, ax, c, lseq);
    if (rc == FSY_OK)
        rc = s_touch(s, ax, c);
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
    if ((rc = s_origin_id(s, &c->version.origin, &oid)) != FSY_OK ||
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

/* Recomputes the derived docs row of one document. */
static int
s_refresh_doc(fsy_store_t *s, const char *scope, const char *doc)
{
    fsy_doc_t *d = NULL, none = {0};
    int rc = fsy_sq_load_doc(s, scope, doc, &d);
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
    rc = s_step_done(s, st, "updating a document");
    fsy_doc_free(&d);
    return rc;
}

static int
s_refresh_touched(fsy_store_t *s)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "SELECT scope, doc FROM temp.touched",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "listing touched documents");
    int err = FSY_OK;
    while (err == FSY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        err = s_refresh_doc(s, (const char *)sqlite3_column_text(st, 0),
                            (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    if (err != FSY_OK)
        return err;
    if (rc != SQLITE_DONE)
        return fsy_sq_err(s, rc, "listing touched documents");
    return fsy_sq_exec(s, "DELETE FROM temp.touched");
}

/* Advances the persisted clock past what was just applied (bounded). */
static int
s_clock_receive(fsy_store_t *s, uint64_t max_hlc)
{
    if (max_hlc == 0)
        return FSY_OK;
    uint64_t clock;
    int rc = s_meta_get_u64(s, "clock", &clock);
    if (rc != FSY_OK)
        return rc;
    uint64_t next =
        fsy_clock_receive(clock, max_hlc, fsy_sq_now(s), s->max_skew_ms);
    return next == clock ? FSY_OK : s_meta_set(s, "clock", NULL, next);
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

/* Where changes come from: a peer (validate them), a peer through a
 * decoder that validated them already, or this site's own write (which
 * persists its clock itself). */
typedef enum s_source {
    S_FROM_PEER,
    S_FROM_VALIDATED,
    S_FROM_LOCAL
} s_source_t;

/*
 * The one path every change takes into the replica, local or remote.
 * Runs inside the caller's transaction.
 */
static int
s_apply_changes(fsy_store_t *s, const fsy_change_t *changes, size_t n,
                s_source_t from, fsy_apply_stats_t *stats)
{
    s_apply_ctx_t ax = {.validated = from == S_FROM_VALIDATED,
                        .now_ms = fsy_sq_now(s)};
    int rc = s_superseded_any(s, &ax.superseded);
    for (size_t i = 0; rc == FSY_OK && i < n; i++)
        rc = s_apply_change(s, &ax, &changes[i], stats);
    if (rc == FSY_OK)
        rc = s_check_closed(&ax);
    if (rc == FSY_OK)
        rc = s_streams_flush(s, &ax);
    if (rc == FSY_OK)
        rc = s_refresh_touched(s);
    if (rc == FSY_OK)
        rc = from == S_FROM_LOCAL ? FSY_OK /* the writer sets the clock */
                                  : s_clock_receive(s, ax.max_hlc);
    free(ax.streams);
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
    int rc = s_txn_begin(s);
    if (rc != FSY_OK)
        return rc;
    rc = s_apply_changes(s, changes, n,
                         validated ? S_FROM_VALIDATED : S_FROM_PEER, stats);
    rc = s_txn_end(s, rc);
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

/* ---- local writes ----------------------------------------------------- */

/* The changes of one local transaction, built before they are applied. */
typedef struct s_local_txn {
    fsy_store_t *s;
    const char *scope;
    const char *doc;
    uint64_t clock;
    uint64_t seq;
    fsy_change_list_t list;
} s_local_txn_t;

static int
s_local_begin(fsy_store_t *s, s_local_txn_t *t, const char *scope,
              const char *doc)
{
    memset(t, 0, sizeof *t);
    t->s = s;
    t->scope = scope;
    t->doc = doc;
    int rc = s_meta_get_u64(s, "clock", &t->clock);
    if (rc != FSY_OK)
        return rc;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_VV_GET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, s->origin_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        t->seq = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fsy_sq_err(s, rc, "reading the version vector");
    return FSY_OK;
}

/*
 * Adds one field write. bases: the heads it replaces (f may be NULL for a
 * new field); all_heads selects every head rather than just the winner.
 */
static int
s_local_add(s_local_txn_t *t, const char *field, const uint8_t *value,
            size_t len, bool absent, const fsy_field_t *f, bool all_heads)
{
    if (t->list.n == FSY_TXN_MAX)
        return fsy_err_set(FSY_ETOOBIG, "more than %d fields in one write",
                           FSY_TXN_MAX);
    fsy_change_t *c;
    int rc = fsy_change_list_push(&t->list, &c);
    if (rc != FSY_OK)
        return rc;
    t->clock = fsy_clock_tick(t->clock, fsy_sq_now(t->s));
    c->version.hlc = t->clock;
    c->version.origin = t->s->origin;
    c->version.seq = ++t->seq;
    snprintf(c->scope, sizeof c->scope, "%s", t->scope);
    snprintf(c->doc, sizeof c->doc, "%s", t->doc);
    snprintf(c->field, sizeof c->field, "%s", field);
    c->absent = absent;
    if (!absent && len > 0) {
        if ((c->value = malloc(len)) == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        memcpy(c->value, value, len);
        c->value_len = len;
    }
    size_t nb = f == NULL ? 0 : all_heads ? f->n_heads : 1;
    if (nb > FSY_BASES_MAX)
        return fsy_err_set(FSY_ETOOBIG, "field '%s' has %zu heads", field, nb);
    if (nb > 0) {
        if ((c->bases = calloc(nb, sizeof *c->bases)) == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        for (size_t i = 0; i < nb; i++)
            c->bases[i] = f->heads[all_heads ? i : f->winner].version;
        c->n_bases = nb;
    }
    return FSY_OK;
}

/* Seals and applies the built changes; persists the clock. */
static int
s_local_finish(s_local_txn_t *t)
{
    fsy_store_t *s = t->s;
    if (t->list.n == 0)
        return FSY_OK;
    t->list.v[t->list.n - 1].txn_end = true;
    for (size_t i = 0; i < t->list.n; i++)
        fsy_change_seal(&t->list.v[i]);
    fsy_apply_stats_t stats = {0};
    int rc = s_apply_changes(s, t->list.v, t->list.n, S_FROM_LOCAL, &stats);
    if (rc == FSY_OK && stats.applied != t->list.n)
        rc = fsy_err_set(FSY_EINTERNAL, "local write not applied in full");
    if (rc == FSY_OK)
        rc = s_meta_set(s, "clock", NULL, t->clock);
    return rc;
}

/* Loads a document for writing; *d is NULL when it does not exist. */
static int
s_load_for_write(fsy_store_t *s, const char *scope, const char *doc,
                 fsy_doc_t **d)
{
    int rc = fsy_check_scope(scope);
    if (rc == FSY_OK)
        rc = fsy_check_doc_id(doc);
    if (rc != FSY_OK)
        return rc;
    if (!fsy_scope_allowed(s->write_scopes, scope))
        return fsy_err_set(FSY_EINVAL,
                           "this site may not write scope %s "
                           "([site] write_scopes = %s)",
                           scope, s->write_scopes);
    rc = fsy_sq_load_doc(s, scope, doc, d);
    if (rc == FSY_ENOTFOUND) {
        *d = NULL;
        return FSY_OK;
    }
    return rc;
}

static int
s_check_sets(fsy_store_t *s, const fsy_field_set_t *sets, size_t n)
{
    if (n == 0)
        return fsy_err_set(FSY_EINVAL, "nothing to write: give at least one "
                                       "field");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += sets[i].len;
        /* Whole transactions travel in one bundle record or message. */
        if (total > FSY_TXN_BYTES_MAX)
            return fsy_err_set(FSY_ETOOBIG,
                               "one write may carry at most %u MiB of "
                               "values: split it",
                               FSY_TXN_BYTES_MAX >> 20);
        int rc = fsy_check_field(sets[i].field, false);
        if (rc != FSY_OK)
            return rc;
        if (sets[i].len > s->max_value)
            return fsy_err_set(FSY_ETOOBIG,
                               "value of field '%s' is %zu bytes; the limit "
                               "is %zu",
                               sets[i].field, sets[i].len, s->max_value);
        for (size_t j = 0; j < i; j++)
            if (strcmp(sets[i].field, sets[j].field) == 0)
                return fsy_err_set(FSY_EINVAL, "field '%s' given twice",
                                   sets[i].field);
    }
    return FSY_OK;
}

/* Kind rules: required to create, fixed once the document is visible. */
static int
s_put_kind(s_local_txn_t *t, const fsy_doc_t *d, const char *kind)
{
    bool live = d != NULL && d->visible;
    if (kind == NULL) {
        if (live || (d != NULL && d->kind[0] != '\0'))
            return FSY_OK; /* a re-creation keeps the old kind */
        return fsy_err_set(FSY_EINVAL,
                           "%s/%s does not exist: give --kind "
                           "to create it",
                           t->scope, t->doc);
    }
    int rc = fsy_check_kind(kind);
    if (rc != FSY_OK)
        return rc;
    if (d != NULL && strcmp(d->kind, kind) == 0)
        return FSY_OK;
    if (live)
        return fsy_err_set(FSY_EINVAL,
                           "%s/%s is a %s; the kind is set at "
                           "creation",
                           t->scope, t->doc, d->kind);
    const fsy_field_t *f = d ? fsy_doc_field(d, FSY_FIELD_KIND) : NULL;
    return s_local_add(t, FSY_FIELD_KIND, (const uint8_t *)kind, strlen(kind),
                       false, f, true);
}

static int
s_put_build(s_local_txn_t *t, const fsy_doc_t *d, const char *kind,
            const fsy_field_set_t *sets, size_t n)
{
    bool recreate = d != NULL && !d->visible;
    int rc = s_put_kind(t, d, kind);
    if (rc == FSY_OK && recreate) {
        const fsy_field_t *del = fsy_doc_field(d, FSY_FIELD_DELETED);
        if (del != NULL)
            rc = s_local_add(t, FSY_FIELD_DELETED, NULL, 0, true, del, true);
    }
    for (size_t i = 0; rc == FSY_OK && i < n; i++) {
        const fsy_field_t *f = d ? fsy_doc_field(d, sets[i].field) : NULL;
        /* An ordinary put names only the winner, never all heads: that
         * would resolve a conflict silently. A re-creation names the
         * absent heads the delete left. */
        rc = s_local_add(t, sets[i].field, sets[i].value, sets[i].len, false, f,
                         recreate);
    }
    return rc;
}

int
fsy_store_put(fsy_store_t *s, const char *scope, const char *doc,
              const char *kind, const fsy_field_set_t *sets, size_t n)
{
    int rc = s_check_sets(s, sets, n);
    if (rc != FSY_OK)
        return s_refuse(s, rc);
    if ((rc = s_txn_begin(s)) != FSY_OK)
        return rc;
    fsy_doc_t *d = NULL;
    s_local_txn_t t = {0};
    rc = s_load_for_write(s, scope, doc, &d);
    if (rc == FSY_OK)
        rc = s_local_begin(s, &t, scope, doc);
    if (rc == FSY_OK)
        rc = s_put_build(&t, d, kind, sets, n);
    if (rc == FSY_OK)
        rc = s_local_finish(&t);
    fsy_change_list_clear(&t.list);
    fsy_doc_free(&d);
    return s_txn_end(s, rc);
}

static bool
s_field_has_live_head(const fsy_field_t *f)
{
    for (size_t i = 0; i < f->n_heads; i++)
        if (!f->heads[i].absent)
            return true;
    return false;
}

static int
s_delete_build(s_local_txn_t *t, const fsy_doc_t *d)
{
    int rc = FSY_OK;
    for (size_t i = 0; rc == FSY_OK && i < d->n_fields; i++) {
        const fsy_field_t *f = &d->fields[i];
        if (fsy_merge_is_user_field(f->name) && s_field_has_live_head(f))
            rc = s_local_add(t, f->name, NULL, 0, true, f, true);
    }
    if (rc == FSY_OK)
        rc = s_local_add(t, FSY_FIELD_DELETED, (const uint8_t *)"1", 1, false,
                         fsy_doc_field(d, FSY_FIELD_DELETED), true);
    return rc;
}

int
fsy_store_delete(fsy_store_t *s, const char *scope, const char *doc)
{
    int rc = s_txn_begin(s);
    if (rc != FSY_OK)
        return rc;
    fsy_doc_t *d = NULL;
    s_local_txn_t t = {0};
    rc = s_load_for_write(s, scope, doc, &d);
    if (rc == FSY_OK && (d == NULL || !d->visible))
        rc = fsy_err_set(FSY_ENOTFOUND, "no document %s in scope %s%s", doc,
                         scope, d ? " (already deleted)" : "");
    if (rc == FSY_OK)
        rc = s_local_begin(s, &t, scope, doc);
    if (rc == FSY_OK)
        rc = s_delete_build(&t, d);
    if (rc == FSY_OK)
        rc = s_local_finish(&t);
    fsy_change_list_clear(&t.list);
    fsy_doc_free(&d);
    return s_txn_end(s, rc);
}

/* Finds the head labelled `keep` ("site:seq"). */
static int
s_find_head(const fsy_field_t *f, const char *keep, const fsy_head_t **out)
{
    const fsy_head_t *found = NULL;
    for (size_t i = 0; i < f->n_heads; i++) {
        char label[64];
        fsy_version_label(&f->heads[i].version, label, sizeof label);
        if (strcmp(label, keep) != 0)
            continue;
        if (found != NULL)
            return fsy_err_set(FSY_EAMBIGUOUS,
                               "version %s names two heads "
                               "(two incarnations of one site)",
                               keep);
        found = &f->heads[i];
    }
    if (found == NULL)
        return fsy_err_set(FSY_ENOTFOUND,
                           "version %s is not a head of field "
                           "'%s': see 'fieldsync get' for the heads",
                           keep, f->name);
    *out = found;
    return FSY_OK;
}

static int
s_resolve_build(s_local_txn_t *t, const fsy_doc_t *d, const char *field,
                const char *keep, const uint8_t *value, size_t len)
{
    const fsy_field_t *f = fsy_doc_field(d, field);
    if (f == NULL)
        return fsy_err_set(FSY_ENOTFOUND, "%s/%s has no field '%s'", d->scope,
                           d->id, field);
    bool absent = false;
    if (keep != NULL) {
        const fsy_head_t *h = NULL;
        int rc = s_find_head(f, keep, &h);
        if (rc != FSY_OK)
            return rc;
        absent = h->absent;
        value = h->value;
        len = h->value_len;
    }
    int rc = FSY_OK;
    /* Keeping a value of a deleted document (here or elsewhere) keeps the
     * document: like any write that re-creates, it clears _deleted. */
    const fsy_field_t *del = fsy_doc_field(d, FSY_FIELD_DELETED);
    if (!absent && del != NULL && !del->heads[del->winner].absent)
        rc = s_local_add(t, FSY_FIELD_DELETED, NULL, 0, true, del, true);
    if (rc == FSY_OK)
        rc = s_local_add(t, field, value, len, absent, f, true);
    return rc;
}

static int
s_check_resolve_args(fsy_store_t *s, const char *field, const char *keep,
                     const uint8_t *value, size_t len)
{
    int rc = fsy_check_field(field, true);
    if (rc != FSY_OK)
        return rc;
    if (strcmp(field, FSY_FIELD_DELETED) == 0)
        return fsy_err_set(FSY_EINVAL,
                           "_deleted is not resolved directly: "
                           "resolve a field to keep the document, or remove "
                           "it again");
    if (keep == NULL && len > s->max_value)
        return fsy_err_set(FSY_ETOOBIG,
                           "value is %zu bytes; the limit is "
                           "%zu",
                           len, s->max_value);
    if (keep == NULL && strcmp(field, FSY_FIELD_KIND) == 0) {
        char kind[FSY_KIND_MAX + 1];
        if (len == 0 || len > FSY_KIND_MAX)
            return fsy_err_set(FSY_EINVAL, "not a kind");
        memcpy(kind, value, len);
        kind[len] = '\0';
        return fsy_check_kind(kind);
    }
    return FSY_OK;
}

int
fsy_store_resolve(fsy_store_t *s, const char *scope, const char *doc,
                  const char *field, const char *keep, const uint8_t *value,
                  size_t len)
{
    int rc = s_check_resolve_args(s, field, keep, value, len);
    if (rc != FSY_OK)
        return s_refuse(s, rc);
    if ((rc = s_txn_begin(s)) != FSY_OK)
        return rc;
    fsy_doc_t *d = NULL;
    s_local_txn_t t = {0};
    rc = s_load_for_write(s, scope, doc, &d);
    if (rc == FSY_OK && d == NULL)
        rc = fsy_err_set(FSY_ENOTFOUND, "no document %s in scope %s", doc,
                         scope);
    if (rc == FSY_OK)
        rc = s_local_begin(s, &t, scope, doc);
    if (rc == FSY_OK)
        rc = s_resolve_build(&t, d, field, keep, value, len);
    if (rc == FSY_OK)
        rc = s_local_finish(&t);
    fsy_change_list_clear(&t.list);
    fsy_doc_free(&d);
    return s_txn_end(s, rc);
}
