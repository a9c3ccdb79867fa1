/*
 * fieldsync — attachments' blobs in the replica: `blobs` (one row per
 * content hash: size, bytes held, complete) and `blob_chunks` (the bytes,
 * FSY_CHUNK_BYTES a row). See fieldsync/store.h.
 *
 * Invariant: complete = 1 only when every chunk of the blob is stored and
 * the whole was hashed to the row's key. Blobs are not changes: they never
 * enter the log or the vector, and what a site holds of one is its own
 * state.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store_internal.h"

/* Reads up to len bytes (fewer only at the end of the file). */
static ssize_t
s_read_full(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* The file's BLAKE2b-256 and size, reading it once. */
static int
s_hash_file(int fd, const char *path, uint8_t *buf, uint8_t hash[32],
            uint64_t *size)
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, FSY_BLOB_HASH_LEN);
    *size = 0;
    for (;;) {
        ssize_t n = s_read_full(fd, buf, FSY_CHUNK_BYTES);
        if (n < 0)
            return fsy_err_set(FSY_EIO, "cannot read %s: %s", path,
                               strerror(errno));
        if (n == 0)
            break;
        crypto_generichash_update(&h, buf, (size_t)n);
        *size += (uint64_t)n;
    }
    crypto_generichash_final(&h, hash, FSY_BLOB_HASH_LEN);
    return FSY_OK;
}

static int
s_blob_row(fsy_store_t *s, const uint8_t *hash, uint64_t size, uint64_t have,
           bool complete)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_BLOB_PUT);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_blob(st, 1, hash, FSY_BLOB_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)size);
    sqlite3_bind_int64(st, 3, (int64_t)have);
    sqlite3_bind_int(st, 4, complete ? 1 : 0);
    sqlite3_bind_int64(st, 5, (int64_t)fsy_sq_now(s));
    return fsy_sq_step_done(s, st, "storing an attachment");
}

static int
s_chunk_put(fsy_store_t *s, const uint8_t *hash, uint64_t idx,
            const uint8_t *data, size_t len)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_CHUNK_PUT);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_blob(st, 1, hash, FSY_BLOB_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)idx);
    sqlite3_bind_blob(st, 3, len ? (const void *)data : "", (int)len,
                      SQLITE_STATIC);
    return fsy_sq_step_done(s, st, "storing an attachment");
}

/* A whole that did not match its hash: every chunk goes (which one was
 * bad cannot be told), the row stays with nothing held. */
static int
s_chunk_drop(fsy_store_t *s, const uint8_t *hash, uint64_t size)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_CHUNK_DROP);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_blob(st, 1, hash, FSY_BLOB_HASH_LEN, SQLITE_STATIC);
    int rc = fsy_sq_step_done(s, st, "dropping an attachment");
    return rc == FSY_OK ? s_blob_row(s, hash, size, 0, false) : rc;
}

/* Second pass: every chunk stored, and the content hashed again, since
 * the file may have changed since the first pass. */
static int
s_store_chunks(fsy_store_t *s, int fd, const char *path, uint8_t *buf,
               const fsy_ref_t *ref)
{
    if (lseek(fd, 0, SEEK_SET) != 0)
        return fsy_err_set(FSY_EIO, "cannot read %s again: %s", path,
                           strerror(errno));
    /* what was held of it goes: the file is the truth (a row with another
     * size, or chunks from elsewhere, are mended here) */
    int rc = s_chunk_drop(s, ref->hash, ref->size);
    if (rc != FSY_OK)
        return rc;
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, FSY_BLOB_HASH_LEN);
    uint64_t total = 0;
    for (uint64_t idx = 0; rc == FSY_OK; idx++) {
        ssize_t n = s_read_full(fd, buf, FSY_CHUNK_BYTES);
        if (n < 0)
            return fsy_err_set(FSY_EIO, "cannot read %s: %s", path,
                               strerror(errno));
        if (n == 0)
            break;
        crypto_generichash_update(&h, buf, (size_t)n);
        total += (uint64_t)n;
        rc = s_chunk_put(s, ref->hash, idx, buf, (size_t)n);
    }
    uint8_t again[FSY_BLOB_HASH_LEN];
    crypto_generichash_final(&h, again, sizeof again);
    if (rc == FSY_OK && (total != ref->size ||
                         sodium_memcmp(again, ref->hash, sizeof again) != 0))
        rc = fsy_err_set(FSY_EIO,
                         "%s changed while it was read: attach it again "
                         "once it is written",
                         path);
    if (rc == FSY_OK)
        rc = s_blob_row(s, ref->hash, ref->size, ref->size, true);
    return rc;
}

static int
s_open_regular(const char *path, uint64_t max, int *fd)
{
    /* O_NONBLOCK: a FIFO given by mistake must not hang the command */
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (*fd < 0)
        return fsy_err_set(errno == ENOENT ? FSY_ENOTFOUND : FSY_EIO,
                           "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    int rc = FSY_OK;
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        rc = fsy_err_set(FSY_EIO, "%s is not a regular file", path);
    else if ((uint64_t)sb.st_size > max)
        rc = fsy_err_set(FSY_ETOOBIG,
                         "%s is %" PRIu64 " bytes, over the %" PRIu64
                         "-byte limit for an attachment ([limits] "
                         "max_attachment_bytes)",
                         path, (uint64_t)sb.st_size, max);
    if (rc != FSY_OK) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

int
fsy_store_blob_put_file(fsy_store_t *s, const char *path, uint64_t max,
                        fsy_ref_t *ref)
{
    int fd;
    int rc = s_open_regular(path, max, &fd);
    if (rc != FSY_OK)
        return rc;
    uint8_t *buf = malloc(FSY_CHUNK_BYTES);
    if (buf == NULL)
        rc = fsy_err_set(FSY_ENOMEM, "out of memory");
    if (rc == FSY_OK)
        rc = s_hash_file(fd, path, buf, ref->hash, &ref->size);
    if (rc == FSY_OK && ref->size > max) /* it grew since fstat */
        rc =
            fsy_err_set(FSY_ETOOBIG, "%s grew over the attachment limit", path);
    fsy_blob_state_t have;
    if (rc == FSY_OK)
        rc = fsy_store_blob_state(s, ref->hash, &have);
    if (rc == FSY_OK && !have.complete) {
        rc = fsy_sq_txn_begin(s);
        if (rc == FSY_OK)
            rc = fsy_sq_txn_end(s, s_store_chunks(s, fd, path, buf, ref));
    }
    free(buf);
    close(fd);
    return rc;
}

int
fsy_store_blob_state(fsy_store_t *s, const uint8_t hash[FSY_BLOB_HASH_LEN],
                     fsy_blob_state_t *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_BLOB_GET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_blob(st, 1, hash, FSY_BLOB_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->known = true;
        out->size = (uint64_t)sqlite3_column_int64(st, 0);
        out->have = (uint64_t)sqlite3_column_int64(st, 1);
        out->complete = sqlite3_column_int(st, 2) != 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? FSY_OK
               : fsy_sq_err(s, rc, "reading an attachment's state");
}

static int
s_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return fsy_err_set(FSY_EIO, "cannot write: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return FSY_OK;
}

/* Each chunk in order to cb, hashing them; *total the bytes. A chunk out
 * of place or too long is damage. */
static int
s_each_chunk(fsy_store_t *s, const uint8_t *hash, fsy_chunk_cb cb, void *ctx,
             uint8_t got[FSY_BLOB_HASH_LEN], uint64_t *total)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_CHUNKS);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_blob(st, 1, hash, FSY_BLOB_HASH_LEN, SQLITE_STATIC);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, FSY_BLOB_HASH_LEN);
    int rc = FSY_OK, step;
    uint64_t expect = 0;
    *total = 0;
    while (rc == FSY_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *data = sqlite3_column_blob(st, 1);
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        if ((uint64_t)sqlite3_column_int64(st, 0) != expect++ ||
            n > FSY_CHUNK_BYTES) {
            rc = fsy_err_set(FSY_ECORRUPT, "a chunk is missing or damaged");
            break;
        }
        crypto_generichash_update(&h, data, n);
        *total += n;
        rc = cb ? cb(expect - 1, data, n, ctx) : FSY_OK;
    }
    if (rc == FSY_OK && step != SQLITE_DONE)
        rc = fsy_sq_err(s, step, "reading an attachment");
    sqlite3_reset(st);
    crypto_generichash_final(&h, got, FSY_BLOB_HASH_LEN);
    return rc;
}

static int
s_to_fd(uint64_t idx, const uint8_t *data, size_t len, void *ctx)
{
    (void)idx;
    return s_write_all(*(int *)ctx, data, len);
}

/* Reads a blob back through cb (may be NULL), checking it against its
 * hash and size. */
static int
s_read_back(fsy_store_t *s, const uint8_t *hash, uint64_t size, fsy_chunk_cb cb,
            void *ctx)
{
    uint8_t got[FSY_BLOB_HASH_LEN];
    uint64_t total;
    int rc = s_each_chunk(s, hash, cb, ctx, got, &total);
    if (rc == FSY_OK &&
        (total != size || sodium_memcmp(got, hash, FSY_BLOB_HASH_LEN) != 0))
        rc = fsy_err_set(FSY_ECORRUPT,
                         "the attachment's bytes do not match its hash");
    return rc;
}

int
fsy_store_blob_chunks(fsy_store_t *s, const uint8_t hash[FSY_BLOB_HASH_LEN],
                      fsy_chunk_cb cb, void *ctx)
{
    fsy_blob_state_t bs;
    int rc = fsy_store_blob_state(s, hash, &bs);
    if (rc != FSY_OK)
        return rc;
    if (!bs.complete)
        return fsy_err_set(FSY_ENOTFOUND, "the attachment is not complete "
                                          "here");
    /* checked on the way: a damaged copy is never handed on as whole */
    return s_read_back(s, hash, bs.size, cb, ctx);
}

/* A chunk from elsewhere; *added whether it was new here (a repeat is
 * ignored: the first copy stays until the whole is checked). */
static int
s_chunk_add(fsy_store_t *s, const uint8_t *hash, uint64_t idx,
            const uint8_t *data, size_t len, bool *added)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_CHUNK_ADD);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_blob(st, 1, hash, FSY_BLOB_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)idx);
    sqlite3_bind_blob(st, 3, len ? (const void *)data : "", (int)len,
                      SQLITE_STATIC);
    int rc = fsy_sq_step_done(s, st, "storing an attachment");
    *added = rc == FSY_OK && sqlite3_changes(s->db) == 1;
    return rc;
}

/* Inside the transaction: the chunk, the bytes held, and the check once
 * the blob is whole. A whole that does not match is dropped, and that drop
 * is committed (*dropped): the sender must send it again. */
static int
s_chunk_in(fsy_store_t *s, const fsy_chunk_t *c, bool *complete, bool *dropped)
{
    fsy_blob_state_t bs;
    bool added = false;
    int rc = fsy_store_blob_state(s, c->hash, &bs);
    *complete = false; /* made complete by this chunk */
    if (rc != FSY_OK || bs.complete)
        return rc;
    if (!bs.known) /* bytes no reference here names: not kept */
        return fsy_err_set(FSY_ENOTFOUND, "no reference here names this "
                                          "attachment");
    if (bs.size != c->size)
        return fsy_err_set(FSY_EINVAL,
                           "attachment chunk says %llu bytes, another "
                           "said %llu",
                           (unsigned long long)c->size,
                           (unsigned long long)bs.size);
    rc = s_chunk_add(s, c->hash, c->idx, c->data, c->len, &added);
    uint64_t have = bs.have + (added ? c->len : 0);
    bool whole = have == c->size;
    if (rc == FSY_OK && whole &&
        (rc = s_read_back(s, c->hash, c->size, NULL, NULL)) == FSY_ECORRUPT) {
        *dropped = true;
        return s_chunk_drop(s, c->hash, c->size);
    }
    if (rc == FSY_OK)
        rc = s_blob_row(s, c->hash, c->size, have, whole);
    *complete = rc == FSY_OK && whole;
    return rc;
}

int
fsy_store_blob_chunk_put(fsy_store_t *s, const fsy_chunk_t *c, bool *complete)
{
    bool done = false, dropped = false;
    int rc = fsy_sq_txn_begin(s);
    if (rc == FSY_OK)
        rc = fsy_sq_txn_end(s, s_chunk_in(s, c, &done, &dropped));
    if (rc == FSY_OK && dropped)
        rc = fsy_err_set(FSY_ECORRUPT,
                         "an attachment's bytes do not match its hash: "
                         "dropped, to be sent again");
    if (complete != NULL)
        *complete = rc == FSY_OK && done;
    return rc;
}

int
fsy_store_blob_write(fsy_store_t *s, const uint8_t hash[FSY_BLOB_HASH_LEN],
                     int fd)
{
    fsy_blob_state_t bs;
    int rc = fsy_store_blob_state(s, hash, &bs);
    if (rc != FSY_OK)
        return rc;
    if (!bs.complete)
        return fsy_err_set(FSY_ENOTFOUND,
                           "the attachment is not complete here: %" PRIu64
                           " of %" PRIu64 " bytes",
                           bs.have, bs.size);
    rc = s_read_back(s, hash, bs.size, s_to_fd, &fd);
    if (rc == FSY_ECORRUPT)
        rc = fsy_err_set(FSY_ECORRUPT,
                         "the attachment's bytes in the replica do not "
                         "match its hash: the replica is damaged "
                         "(fieldsync verify)");
    return rc;
}

/* ---- what a site wants, and serves ------------------------------------ */

int
fsy_sq_blob_want(fsy_store_t *s, const fsy_change_t *c)
{
    fsy_ref_t ref;
    if (fsy_ref_parse(c->value, c->value_len, &ref) != FSY_OK)
        return FSY_OK; /* validated before: cannot happen */
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_BLOB_WANT);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_blob(st, 1, ref.hash, FSY_BLOB_HASH_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (int64_t)ref.size);
    sqlite3_bind_int64(st, 3, (int64_t)fsy_sq_now(s));
    sqlite3_bind_int(st, 4, ref.size == 0); /* nothing to wait for */
    return fsy_sq_step_done(s, st, "noting a wanted attachment");
}

int
fsy_store_blobs_wanted(fsy_store_t *s, bool fetched_only, uint64_t from,
                       fsy_blob_wanted_t *out, size_t max, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_BLOBS_WANTED);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_int(st, 1, fetched_only ? 1 : 0);
    sqlite3_bind_int64(st, 2, (int64_t)from);
    int step;
    while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != FSY_BLOB_HASH_LEN)
            continue; /* not a hash: not something to ask for */
        fsy_blob_wanted_t *w = &out[(*n)++];
        memcpy(w->hash, sqlite3_column_blob(st, 0), FSY_BLOB_HASH_LEN);
        w->size = (uint64_t)sqlite3_column_int64(st, 1);
        w->have = (uint64_t)sqlite3_column_int64(st, 2);
        w->fetch = sqlite3_column_int(st, 3) != 0;
    }
    int rc = *n == max || step == SQLITE_DONE
                 ? FSY_OK
                 : fsy_sq_err(s, step, "listing wanted attachments");
    sqlite3_reset(st);
    return rc;
}

int
fsy_store_blob_missing(fsy_store_t *s, const uint8_t hash[FSY_BLOB_HASH_LEN],
                       uint64_t size, uint64_t from, uint64_t *out, size_t max,
                       size_t *n)
{
    uint64_t chunks = (size + FSY_CHUNK_BYTES - 1) / FSY_CHUNK_BYTES;
    *n = 0;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_CHUNK_IDX);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_blob(st, 1, hash, FSY_BLOB_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)from);
    int step = SQLITE_ROW;
    uint64_t held = UINT64_MAX; /* the next held index at or after i */
    for (uint64_t i = from; i < chunks && *n < max; i++) {
        while (step == SQLITE_ROW && (held == UINT64_MAX || held < i)) {
            step = sqlite3_step(st);
            held = step == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0)
                                      : UINT64_MAX;
        }
        if (held != i)
            out[(*n)++] = i;
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE
                 ? FSY_OK
                 : fsy_sq_err(s, step, "reading an attachment");
    sqlite3_reset(st);
    return rc;
}

int
fsy_store_blob_chunk_get(fsy_store_t *s, const uint8_t hash[FSY_BLOB_HASH_LEN],
                         uint64_t idx, uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_CHUNK_GET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_blob(st, 1, hash, FSY_BLOB_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)idx);
    int step = sqlite3_step(st), rc = FSY_OK;
    if (step == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (n > FSY_CHUNK_BYTES || (*data = malloc(n ? n : 1)) == NULL)
            rc = fsy_err_set(n > FSY_CHUNK_BYTES ? FSY_ECORRUPT : FSY_ENOMEM,
                             "cannot read an attachment's chunk");
        else if (n > 0)
            memcpy(*data, sqlite3_column_blob(st, 0), n);
        *len = rc == FSY_OK ? n : 0;
    } else {
        rc = step == SQLITE_DONE
                 ? fsy_err_set(FSY_ENOTFOUND, "chunk not held here")
                 : fsy_sq_err(s, step, "reading an attachment");
    }
    sqlite3_reset(st);
    return rc;
}

int
fsy_store_blob_fetch(fsy_store_t *s, const uint8_t hash[FSY_BLOB_HASH_LEN])
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_BLOB_FETCH);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_blob(st, 1, hash, FSY_BLOB_HASH_LEN, SQLITE_STATIC);
    int rc = fsy_sq_step_done(s, st, "asking for an attachment");
    fsy_blob_state_t bs; /* nothing changed: asked for already, or not */
    if (rc == FSY_OK && sqlite3_changes(s->db) == 0 &&
        (rc = fsy_store_blob_state(s, hash, &bs)) == FSY_OK &&
        (!bs.known || bs.complete))
        rc = fsy_err_set(FSY_ENOTFOUND, "no attachment waited for here has "
                                        "that hash");
    return rc;
}
