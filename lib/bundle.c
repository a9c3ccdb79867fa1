/*
 * fieldsync — bundle files. See include/fieldsync/bundle.h for the layout.
 *
 * Both directions stream: export encodes one batch of whole transactions
 * at a time into a zstd stream; import checks the trailing hash in a
 * first pass over the file, then decompresses, decodes and applies one
 * record at a time inside one write group, hashing again as it goes, and
 * commits only if the second pass matches too. Memory is bounded by one
 * record, whatever the bundle's size.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zstd.h>

#include "fieldsync/bundle.h"
#include "fieldsync/ident.h"
#include "fieldsync/wallclock.h"
#include "store_delta.h"
#include "wire.h"
#include "wire_blob.h"
#include "wire_stream.h"
#include "worker.h"
#include "z85.h"

#define FSY_BUNDLE_MAGIC "FSYBNDL1"
#define FSY_BUNDLE_HEAD 12   /* magic 8 + flags 4 */
#define FSY_BUNDLE_TRAIL 144 /* raw 8, stored 8, hash 32, signer 32, sig 64 */
#define FSY_BUNDLE_SIGNED 96 /* the signer's key and the signature */
#define FSY_BUNDLE_HASH 32
#define FSY_BUNDLE_ZSTD 1u
#define FSY_BUNDLE_LEVEL 6
#define FSY_BUNDLE_WINDOW_LOG_MAX 22 /* 4 MiB decoder window, as written */
/* Records read whole: the header (a vector) and attachments' chunks. */
#define FSY_BUNDLE_HEADER_MAX ((size_t)1 << 20)
#define FSY_BUNDLE_CHUNK_RECORD_MAX ((size_t)FSY_CHUNK_BYTES + 4096)
#define FSY_BATCH_CHANGES 1000 /* a batch closes after this many ... */
#define FSY_BATCH_BYTES ((size_t)4 << 20) /* ... or this many value bytes */
/* A record's u32 prefix: kind in the top 4 bits, length below (records
 * are at most FSY_BUNDLE_RECORD_MAX, 2^26). Format 1 has only kind 0. */
#define S_KIND_SHIFT 28
#define S_LEN_MASK ((1u << S_KIND_SHIFT) - 1)
#define S_KIND_CHANGES 0u /* the header, then change batches */
#define S_KIND_CHUNK 1u   /* an attachment's chunk */

/* An attachment the exported changes refer to. */
typedef struct s_blob {
    uint8_t hash[FSY_BLOB_HASH_LEN];
    uint64_t size;
} s_blob_t;

static void
s_put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
s_get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---- export ----------------------------------------------------------- */

typedef struct s_writer {
    int fd;
    int err;   /* first error, fsy_err_t; detail recorded at once */
    int saved; /* errno of the first I/O error */
    ZSTD_CCtx *z;
    crypto_generichash_state hash;
    uint64_t raw_len, stored_len;
    uint8_t *zbuf;
    size_t zcap;
    fsy_change_list_t chunk;
    size_t chunk_bytes;
    size_t n_changes;
    uint8_t prefix[4];
    bool created; /* the temporary file exists: remove it on failure */
    uint8_t *rec; /* the encoded batch being written */
    size_t rec_len;
    bool blobs_wanted;  /* carry attachments' bytes */
    const char *scopes; /* the recipient's read scopes; NULL or "": all */
    s_blob_t *blobs;    /* referred to by the changes written, distinct */
    size_t n_blobs, cap_blobs;
    /* the replica, and the vector the bundle is made for: changes whose
     * base that holds travel as deltas (NULL: none) */
    fsy_store_t *store;
    const fsy_vv_t *held;
} s_writer_t;

/* Writes bytes to the file, hashing them. */
static void
s_out(s_writer_t *w, const uint8_t *p, size_t len, bool hashed)
{
    if (hashed)
        crypto_generichash_update(&w->hash, p, len);
    while (w->err == FSY_OK && len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            w->saved = errno;
            w->err = errno == ENOSPC ? FSY_EFULL : FSY_EIO;
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

/* Feeds payload bytes through the compressor (ZSTD_e_end closes it). */
static void
s_zwrite(s_writer_t *w, const void *p, size_t len, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = {p, len, 0};
    size_t left;
    w->raw_len += len;
    do {
        ZSTD_outBuffer out = {w->zbuf, w->zcap, 0};
        left = ZSTD_compressStream2(w->z, &out, &in, mode);
        if (ZSTD_isError(left)) {
            w->err = fsy_err_set(FSY_EINTERNAL, "compression failed: %s",
                                 ZSTD_getErrorName(left));
            return;
        }
        s_out(w, w->zbuf, out.pos, true);
        w->stored_len += out.pos;
    } while (w->err == FSY_OK &&
             (mode == ZSTD_e_end ? left != 0 : in.pos < in.size));
}

static void
s_record(s_writer_t *w, uint32_t kind, const uint8_t *buf, size_t len)
{
    uint8_t *prefix = w->prefix; /* not on the stack: zstd keeps pointers */
    if (len > FSY_BUNDLE_RECORD_MAX) {
        w->err = fsy_err_set(FSY_ETOOBIG,
                             "a transaction of %zu bytes is "
                             "too large for a bundle",
                             len);
        return;
    }
    s_put_le(prefix, (uint64_t)kind << S_KIND_SHIFT | len, 4);
    s_zwrite(w, prefix, 4, ZSTD_e_continue);
    s_zwrite(w, buf, len, ZSTD_e_continue);
}

static void
s_flush_chunk(s_writer_t *w)
{
    if (w->err != FSY_OK || w->chunk.n == 0)
        return;
    fsy_delta_t *d = NULL;
    w->err = fsy_store_deltas(w->store, w->chunk.v, w->chunk.n, w->held, &d);
    if (w->err == FSY_OK)
        w->err = fsy_wire_encode_batch_deltas(w->chunk.v, w->chunk.n, d,
                                              &w->rec, &w->rec_len);
    fsy_deltas_free(d, w->chunk.n);
    if (w->err == FSY_OK)
        s_record(w, S_KIND_CHANGES, w->rec, w->rec_len);
    free(w->rec);
    w->rec = NULL;
    w->n_changes += w->chunk.n;
    fsy_change_list_clear(&w->chunk);
    w->chunk_bytes = 0;
}

/* Notes the blob a reference names, once. */
static int
s_note_blob(s_writer_t *w, const fsy_change_t *c)
{
    fsy_ref_t ref;
    if (fsy_ref_parse(c->value, c->value_len, &ref) != FSY_OK)
        return FSY_OK; /* validated when stored: cannot happen */
    for (size_t i = 0; i < w->n_blobs; i++)
        if (memcmp(w->blobs[i].hash, ref.hash, FSY_BLOB_HASH_LEN) == 0)
            return FSY_OK;
    if (w->n_blobs == w->cap_blobs) {
        size_t cap = w->cap_blobs ? 2 * w->cap_blobs : 16;
        s_blob_t *v = realloc(w->blobs, cap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        w->blobs = v;
        w->cap_blobs = cap;
    }
    memcpy(w->blobs[w->n_blobs].hash, ref.hash, FSY_BLOB_HASH_LEN);
    w->blobs[w->n_blobs++].size = ref.size;
    return FSY_OK;
}

/* Export callback: batches close only after a change ending its
 * transaction, so every record holds whole transactions. */
static int
s_take(const fsy_change_t *c, void *ctx)
{
    s_writer_t *w = ctx;
    fsy_change_t *slot;
    if (w->scopes != NULL && !fsy_scope_allowed(w->scopes, c->scope))
        return 0;             /* seqs count per scope: no holes left */
    if (!fsy_change_sound(c)) /* a bundle carries no checksums */
        return w->err = fsy_err_set(
                   FSY_ECORRUPT,
                   "a stored change (seq %" PRIu64 ") fails its checksum: "
                   "this replica is damaged; rebuild it from its parent "
                   "(docs/RELIABILITY.md)",
                   c->version.seq);
    if (c->ref && w->blobs_wanted && s_note_blob(w, c) != FSY_OK)
        return w->err = FSY_ENOMEM;
    int rc = fsy_change_list_push(&w->chunk, &slot);
    if (rc == FSY_OK && (rc = fsy_change_copy(slot, c)) != FSY_OK)
        w->chunk.n--;
    if (rc != FSY_OK)
        return rc;
    /* Roughly what the change takes encoded: value, bases, the rest. */
    w->chunk_bytes += c->value_len + c->n_bases * 48 + 128;
    if (c->txn_end &&
        (w->chunk.n >= FSY_BATCH_CHANGES || w->chunk_bytes >= FSY_BATCH_BYTES))
        s_flush_chunk(w);
    return w->err;
}

static void
s_vv_keep_scopes(fsy_vv_t *vv, const char *scopes)
{
    size_t k = 0;
    for (size_t i = 0; i < vv->n; i++)
        if (fsy_scope_allowed(scopes, vv->v[i].scope))
            vv->v[k++] = vv->v[i];
    vv->n = k;
}

static void
s_write_header(s_writer_t *w, fsy_store_t *s)
{
    uint8_t head[FSY_BUNDLE_HEAD];
    memcpy(head, FSY_BUNDLE_MAGIC, 8);
    s_put_le(head + 8, FSY_BUNDLE_ZSTD, 4);
    s_out(w, head, sizeof head, true);
    /* The vector is read before the changes: the bundle may then hold more
     * than it says, never less, and more is harmless. */
    fsy_vv_t *vv = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = fsy_store_vv(s, &vv);
    if (rc == FSY_OK && w->scopes != NULL) /* what the recipient may see */
        s_vv_keep_scopes(vv, w->scopes);
    if (rc == FSY_OK)
        rc = fsy_wire_encode_bundle_header(fsy_store_origin(s), fsy_wall_ms(),
                                           vv, fsy_store_merge_rule(s), &buf,
                                           &len);
    if (rc == FSY_OK)
        s_record(w, S_KIND_CHANGES, buf, len);
    else
        w->err = rc;
    free(buf);
    fsy_vv_free(&vv);
}

/* What s_chunk_record needs of one blob. */
typedef struct s_blob_out {
    s_writer_t *w;
    const s_blob_t *b;
} s_blob_out_t;

static int
s_chunk_record(uint64_t idx, const uint8_t *data, size_t len, void *ctx)
{
    s_blob_out_t *o = ctx;
    fsy_chunk_t c = {.size = o->b->size, .idx = idx, .len = len};
    memcpy(c.hash, o->b->hash, FSY_BLOB_HASH_LEN);
    c.data = (uint8_t *)data; /* borrowed by the encoder */
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = fsy_wire_encode_chunk(&c, &buf, &n);
    if (rc == FSY_OK)
        s_record(o->w, S_KIND_CHUNK, buf, n);
    free(buf);
    return rc != FSY_OK ? rc : o->w->err;
}

/* After the changes: the bytes of every attachment they refer to that is
 * whole here, each blob's chunks in order. */
static void
s_write_blobs(s_writer_t *w, fsy_store_t *s, fsy_bundle_opts_t *o)
{
    s_flush_chunk(w);
    for (size_t i = 0; w->err == FSY_OK && i < w->n_blobs; i++) {
        s_blob_out_t out = {w, &w->blobs[i]};
        int rc =
            fsy_store_blob_chunks(s, w->blobs[i].hash, s_chunk_record, &out);
        if (rc == FSY_ENOTFOUND) {
            o->n_missing++; /* the reference travels; the bytes later */
        } else if (rc != FSY_OK) {
            w->err = w->err ? w->err : rc;
        } else {
            o->n_blobs++;
            o->blob_bytes += w->blobs[i].size;
        }
    }
}

/* The hash of everything before it, then who signed that hash (all zero
 * for an unsigned bundle). */
static void
s_write_trailer(s_writer_t *w, const fsy_identity_t *signer)
{
    uint8_t trail[16], sum[FSY_BUNDLE_HASH], sig[FSY_BUNDLE_SIGNED] = {0};
    s_flush_chunk(w);
    if (w->err == FSY_OK)
        s_zwrite(w, NULL, 0, ZSTD_e_end);
    s_put_le(trail, w->raw_len, 8);
    s_put_le(trail + 8, w->stored_len, 8);
    s_out(w, trail, sizeof trail, true);
    crypto_generichash_final(&w->hash, sum, sizeof sum);
    s_out(w, sum, sizeof sum, false);
    if (signer != NULL) {
        memcpy(sig, signer->sign_pk, 32);
        crypto_sign_detached(sig + 32, NULL, sum, sizeof sum, signer->sign_sk);
    }
    s_out(w, sig, sizeof sig, false);
    if (w->err == FSY_OK && fsync(w->fd) != 0) {
        w->saved = errno;
        w->err = FSY_EIO;
    }
}

/* Best effort: some file systems refuse fsync on a directory. */
static void
s_sync_dir(const char *path)
{
    char *dup = strdup(path);
    if (dup == NULL)
        return;
    int fd = open(dirname(dup), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dup);
}

static int
s_writer_open(s_writer_t *w, char *tmp)
{
    memset(w, 0, sizeof *w);
    w->fd = mkstemp(tmp); /* O_EXCL: never another file of that name */
    if (w->fd < 0)
        return fsy_err_set(FSY_EIO, "cannot create %s: %s", tmp,
                           strerror(errno));
    w->created = true;
    (void)fchmod(w->fd, 0640);
    w->z = ZSTD_createCCtx();
    w->zcap = ZSTD_CStreamOutSize();
    w->zbuf = malloc(w->zcap);
    if (w->z == NULL || w->zbuf == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory writing a bundle");
    ZSTD_CCtx_setParameter(w->z, ZSTD_c_compressionLevel, FSY_BUNDLE_LEVEL);
    ZSTD_CCtx_setParameter(w->z, ZSTD_c_windowLog, 22);
    crypto_generichash_init(&w->hash, NULL, 0, FSY_BUNDLE_HASH);
    return FSY_OK;
}

static int
s_writer_close(s_writer_t *w)
{
    if (w->fd >= 0 && close(w->fd) != 0 && w->err == FSY_OK) {
        w->saved = errno;
        w->err = FSY_EIO;
    }
    ZSTD_freeCCtx(w->z);
    free(w->zbuf);
    free(w->blobs);
    fsy_change_list_clear(&w->chunk);
    return w->err;
}

int
fsy_bundle_export(fsy_store_t *s, const fsy_vv_t *to_vv, const char *path,
                  size_t *n_out)
{
    return fsy_bundle_export_signed(s, to_vv, path, NULL, n_out);
}

int
fsy_bundle_export_signed(fsy_store_t *s, const fsy_vv_t *to_vv,
                         const char *path, const fsy_identity_t *signer,
                         size_t *n_out)
{
    fsy_bundle_opts_t o = {.signer = signer};
    int rc = fsy_bundle_export_opts(s, to_vv, path, &o);
    if (rc == FSY_OK && n_out != NULL)
        *n_out = o.n_changes;
    return rc;
}

int
fsy_bundle_export_opts(fsy_store_t *s, const fsy_vv_t *to_vv, const char *path,
                       fsy_bundle_opts_t *o)
{
    o->n_changes = o->n_blobs = o->n_missing = 0;
    o->blob_bytes = 0;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (tmp == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);
    s_writer_t w;
    int rc = s_writer_open(&w, tmp);
    if (rc == FSY_OK) {
        w.blobs_wanted = !o->no_attachments;
        w.store = s;
        w.held = to_vv;
        w.scopes = o->read_scopes != NULL && o->read_scopes[0] != '\0'
                       ? o->read_scopes
                       : NULL;
        s_write_header(&w, s);
        if (w.err == FSY_OK && (rc = fsy_store_export(s, to_vv, s_take, &w)))
            w.err = w.err ? w.err : rc;
        s_write_blobs(&w, s, o);
        s_write_trailer(&w, o->signer);
    } else {
        w.err = rc;
    }
    rc = s_writer_close(&w);
    if (rc == FSY_OK && rename(tmp, path) != 0) {
        w.saved = errno;
        rc = FSY_EIO;
    }
    if ((rc == FSY_EIO || rc == FSY_EFULL) && w.saved != 0)
        fsy_err_set(rc, "cannot write %s: %s", path, strerror(w.saved));
    if (rc != FSY_OK && w.created)
        unlink(tmp);
    else
        s_sync_dir(path); /* the rename itself survives a power cut */
    if (rc == FSY_OK)
        o->n_changes = w.n_changes;
    free(tmp);
    return rc;
}

/* ---- reading ---------------------------------------------------------- */

/* Where bundle bytes come from: a file, or memory (fsy_bundle_parse). */
typedef struct s_src {
    int fd;
    const uint8_t *mem;
    uint64_t size;
} s_src_t;

typedef struct s_reader {
    s_src_t src;
    uint64_t raw_len, stored_len;
    uint8_t sum[FSY_BUNDLE_HASH];
    uint8_t signer[32], sig[64];
    bool is_signed;
    ZSTD_DCtx *z;
    crypto_generichash_state hash; /* second pass */
    uint64_t off;                  /* next compressed byte to read */
    uint64_t raw_seen;
    uint8_t *in; /* compressed input buffer */
    size_t in_cap;
    ZSTD_inBuffer zin;
    uint8_t *pend; /* decompressed bytes not yet returned as records */
    size_t pend_len, pend_off, pend_cap;
    bool done; /* the zstd frame has ended */
    uint32_t format;
    /* Where attachments' chunks go: an importing replica (NULL: checked
     * and counted only), and what was taken. These and the trust below
     * are the replica's thread's (chunks stored, deltas rebuilt, changes
     * authorised); the fields above are the payload's, read and written
     * by s_next_item, on a worker during an import (s_import_batches):
     * the two sets never meet. */
    fsy_store_t *store;
    fsy_apply_stats_t *stats;
    size_t n_chunks;
    uint64_t chunk_bytes;
    /* Its signer as this site knows it (NULL: unsigned or no trust), and
     * what the sender may write here (NULL: no limits, trust NULL) */
    const fsy_bundle_signer_t *who;
    const fsy_authority_t *auth;
    fsy_authority_t auth_buf;
} s_reader_t;

static int
s_src_read(const s_src_t *src, uint64_t off, uint8_t *buf, size_t len)
{
    if (src->mem != NULL) {
        memcpy(buf, src->mem + off, len);
        return FSY_OK;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(src->fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fsy_err_set(FSY_EIO, "cannot read the bundle: %s",
                               n < 0 ? strerror(errno) : "file shrank");
        got += (size_t)n;
    }
    return FSY_OK;
}

/* Hashes [0, size - 32) in the first pass. */
static int
s_hash_file(const s_src_t *src, uint8_t out[FSY_BUNDLE_HASH])
{
    crypto_generichash_state h;
    uint8_t buf[1 << 16];
    uint64_t end = src->size - FSY_BUNDLE_HASH - FSY_BUNDLE_SIGNED;
    crypto_generichash_init(&h, NULL, 0, FSY_BUNDLE_HASH);
    for (uint64_t off = 0; off < end;) {
        size_t n = end - off < sizeof buf ? (size_t)(end - off) : sizeof buf;
        int rc = s_src_read(src, off, buf, n);
        if (rc != FSY_OK)
            return rc;
        crypto_generichash_update(&h, buf, n);
        off += n;
    }
    crypto_generichash_final(&h, out, FSY_BUNDLE_HASH);
    return FSY_OK;
}

/* An all-zero signer means unsigned; otherwise the signature must verify
 * (whether the signer is trusted is the importer's question). */
static int
s_check_signature(s_reader_t *r)
{
    static const uint8_t zero[FSY_BUNDLE_SIGNED];
    r->is_signed =
        memcmp(r->signer, zero, 32) != 0 || memcmp(r->sig, zero, 64) != 0;
    if (r->is_signed && crypto_sign_verify_detached(
                            r->sig, r->sum, FSY_BUNDLE_HASH, r->signer) != 0)
        return fsy_err_set(FSY_ECORRUPT, "bundle signature does not verify: "
                                         "the bundle was altered");
    return FSY_OK;
}

/* Magic, lengths, hash and signature, before anything is decompressed. */
static int
s_check_envelope(s_reader_t *r)
{
    uint8_t head[FSY_BUNDLE_HEAD], trail[FSY_BUNDLE_TRAIL], sum[32];
    uint64_t size = r->src.size;
    size_t n = size < sizeof head ? (size_t)size : sizeof head;
    int rc = s_src_read(&r->src, 0, head, n);
    if (rc != FSY_OK)
        return rc;
    if (n < 8 || memcmp(head, FSY_BUNDLE_MAGIC, 7) != 0)
        return fsy_err_set(FSY_EFORMAT, "not a fieldsync bundle");
    if (head[7] != (uint8_t)FSY_BUNDLE_MAGIC[7])
        return fsy_err_set(FSY_EVERSION,
                           "bundle envelope version '%c' is not one this "
                           "fieldsync reads ('%c'): upgrade the older side",
                           head[7], FSY_BUNDLE_MAGIC[7]);
    if (size < FSY_BUNDLE_HEAD + FSY_BUNDLE_TRAIL)
        return fsy_err_set(FSY_ECORRUPT, "bundle is truncated (%llu bytes)",
                           (unsigned long long)size);
    if ((rc = s_src_read(&r->src, size - sizeof trail, trail, sizeof trail)))
        return rc;
    r->raw_len = s_get_le(trail, 8);
    r->stored_len = s_get_le(trail + 8, 8);
    memcpy(r->sum, trail + 16, FSY_BUNDLE_HASH);
    memcpy(r->signer, trail + 48, 32);
    memcpy(r->sig, trail + 80, 64);
    if (r->stored_len != size - FSY_BUNDLE_HEAD - FSY_BUNDLE_TRAIL)
        return fsy_err_set(FSY_ECORRUPT,
                           "bundle is truncated or damaged "
                           "(its trailer does not match its size)");
    if ((rc = s_hash_file(&r->src, sum)) != FSY_OK)
        return rc;
    if (sodium_memcmp(sum, r->sum, FSY_BUNDLE_HASH) != 0)
        return fsy_err_set(FSY_ECORRUPT, "bundle is damaged (checksum "
                                         "mismatch)");
    if ((rc = s_check_signature(r)) != FSY_OK)
        return rc;
    if (s_get_le(head + 8, 4) != FSY_BUNDLE_ZSTD)
        return fsy_err_set(FSY_EVERSION, "bundle uses unknown flags %#llx",
                           (unsigned long long)s_get_le(head + 8, 4));
    /* No limit on the expansion itself: reading is bounded per record, and
     * a value of repeated bytes legitimately compresses thousands-fold. */
    return FSY_OK;
}

static void
s_reader_free(s_reader_t *r)
{
    ZSTD_freeDCtx(r->z);
    free(r->in);
    free(r->pend);
    if (r->src.fd >= 0)
        close(r->src.fd);
}

static int
s_reader_start(s_reader_t *r)
{
    int rc = s_check_envelope(r);
    if (rc != FSY_OK)
        return rc;
    r->z = ZSTD_createDCtx();
    r->in_cap = ZSTD_DStreamInSize();
    r->in = malloc(r->in_cap);
    if (r->z == NULL || r->in == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory reading a bundle");
    ZSTD_DCtx_setParameter(r->z, ZSTD_d_windowLogMax,
                           FSY_BUNDLE_WINDOW_LOG_MAX);
    crypto_generichash_init(&r->hash, NULL, 0, FSY_BUNDLE_HASH);
    uint8_t head[FSY_BUNDLE_HEAD];
    rc = s_src_read(&r->src, 0, head, sizeof head);
    if (rc == FSY_OK)
        crypto_generichash_update(&r->hash, head, sizeof head);
    r->off = FSY_BUNDLE_HEAD;
    return rc;
}

/* Makes room for at least `need` more pending bytes. */
static int
s_pend_reserve(s_reader_t *r, size_t need)
{
    if (r->pend_off > 0) { /* drop what was returned already */
        memmove(r->pend, r->pend + r->pend_off, r->pend_len - r->pend_off);
        r->pend_len -= r->pend_off;
        r->pend_off = 0;
    }
    if (r->pend_cap - r->pend_len >= need)
        return FSY_OK;
    size_t cap = r->pend_cap * 2 > r->pend_len + need ? r->pend_cap * 2
                                                      : r->pend_len + need;
    uint8_t *p = realloc(r->pend, cap);
    if (p == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory reading a bundle");
    r->pend = p;
    r->pend_cap = cap;
    return FSY_OK;
}

/* Decompresses some more input into the pending buffer. */
static int
s_inflate(s_reader_t *r)
{
    uint64_t end = FSY_BUNDLE_HEAD + r->stored_len;
    /* With all input consumed, zstd may still hold output to flush: only
     * a call that produces nothing from nothing means the payload ended. */
    if (r->zin.pos == r->zin.size && r->off < end) {
        size_t n =
            end - r->off < r->in_cap ? (size_t)(end - r->off) : r->in_cap;
        int rc = s_src_read(&r->src, r->off, r->in, n);
        if (rc != FSY_OK)
            return rc;
        crypto_generichash_update(&r->hash, r->in, n);
        r->off += n;
        r->zin = (ZSTD_inBuffer){r->in, n, 0};
    }
    int rc = s_pend_reserve(r, ZSTD_DStreamOutSize());
    if (rc != FSY_OK)
        return rc;
    ZSTD_outBuffer out = {r->pend + r->pend_len, r->pend_cap - r->pend_len, 0};
    size_t left = ZSTD_decompressStream(r->z, &out, &r->zin);
    if (ZSTD_isError(left))
        return fsy_err_set(FSY_ECORRUPT,
                           "bundle payload does not "
                           "decompress: %s",
                           ZSTD_getErrorName(left));
    if (out.pos == 0 && left != 0 && r->zin.pos == r->zin.size && r->off == end)
        return fsy_err_set(FSY_ECORRUPT, "bundle payload ends early");
    r->pend_len += out.pos;
    r->raw_seen += out.pos;
    if (r->raw_seen > r->raw_len)
        return fsy_err_set(FSY_ECORRUPT, "bundle payload is longer than "
                                         "its trailer says");
    r->done = left == 0;
    return FSY_OK;
}

/*
 * The next record's kind and length, its 4-byte prefix consumed; *len = 0
 * and *kind = S_KIND_END at the end of the payload. Its bytes follow in
 * the pending buffer as they are inflated.
 */
#define S_KIND_END 0xffu
static int
s_next_prefix(s_reader_t *r, uint32_t *kind, size_t *len)
{
    for (;;) {
        size_t have = r->pend_len - r->pend_off;
        if (have >= 4) {
            uint32_t prefix = (uint32_t)s_get_le(r->pend + r->pend_off, 4);
            *len = prefix & S_LEN_MASK;
            *kind = prefix >> S_KIND_SHIFT;
            if (*kind > (r->format >= 2 ? S_KIND_CHUNK : S_KIND_CHANGES))
                return fsy_err_set(FSY_ECORRUPT,
                                   "bundle record of unknown kind %u", *kind);
            r->pend_off += 4;
            return FSY_OK;
        }
        if (r->done) {
            *kind = S_KIND_END;
            *len = 0;
            return have == 0 ? FSY_OK
                             : fsy_err_set(FSY_ECORRUPT, "bundle payload ends "
                                                         "inside a record");
        }
        int rc = s_inflate(r);
        if (rc != FSY_OK)
            return rc;
    }
}

/* A whole record of len bytes (at most max), borrowed until the next call:
 * the header and attachments' chunks, which are small. */
static int
s_whole_record(s_reader_t *r, size_t len, size_t max, const uint8_t **buf)
{
    if (len > max)
        return fsy_err_set(FSY_ECORRUPT,
                           "bundle record of %zu bytes is over the %zu-byte "
                           "limit for its kind",
                           len, max);
    while (r->pend_len - r->pend_off < len) {
        if (r->done)
            return fsy_err_set(FSY_ECORRUPT, "bundle payload ends inside a "
                                             "record");
        int rc = s_inflate(r);
        if (rc != FSY_OK)
            return rc;
    }
    *buf = r->pend + r->pend_off;
    r->pend_off += len;
    return FSY_OK;
}

/* A record of changes, len bytes, fed to the parser as it is inflated:
 * the record never exists whole (wire_stream.h). */
static int
s_stream_record(s_reader_t *r, size_t len, fsy_batch_parser_t *p)
{
    uint64_t at = r->off > r->in_cap ? r->off - r->in_cap : 0;
    if (len > FSY_BUNDLE_RECORD_MAX)
        return fsy_err_set(FSY_ECORRUPT,
                           "bundle record of %zu bytes is over the limit", len);
    while (len > 0) {
        size_t have = r->pend_len - r->pend_off;
        if (have == 0 && r->done)
            return fsy_err_set(FSY_ECORRUPT, "bundle payload ends inside a "
                                             "record");
        int rc = have == 0 ? s_inflate(r) : FSY_OK;
        size_t take = have < len ? have : len;
        if (rc == FSY_OK && take > 0)
            rc = fsy_batch_parser_feed(p, r->pend + r->pend_off, take);
        if (rc == FSY_OK) /* compressed bytes read for this record, about */
            rc = fsy_batch_parser_check(p, r->off - at);
        if (rc != FSY_OK)
            return rc;
        r->pend_off += take;
        len -= take;
    }
    return fsy_batch_parser_end(p);
}

/* After the last record: everything was read, and hashed the same again. */
static int
s_reader_finish(s_reader_t *r)
{
    uint8_t trail[16], sum[FSY_BUNDLE_HASH];
    if (r->raw_seen != r->raw_len ||
        r->off != FSY_BUNDLE_HEAD + r->stored_len || r->zin.pos != r->zin.size)
        return fsy_err_set(FSY_ECORRUPT, "bundle payload does not match its "
                                         "trailer");
    s_put_le(trail, r->raw_len, 8);
    s_put_le(trail + 8, r->stored_len, 8);
    crypto_generichash_update(&r->hash, trail, sizeof trail);
    crypto_generichash_final(&r->hash, sum, sizeof sum);
    if (sodium_memcmp(sum, r->sum, sizeof sum) != 0)
        return fsy_err_set(FSY_ECORRUPT, "bundle changed while it was read");
    return FSY_OK;
}

/*
 * Before the payload is decompressed or decoded: is the bundle signed by a
 * key this site knows (or unsigned and allowed)? Only the envelope, hash
 * and signature have been read, so a refused bundle costs no more.
 */
static int
s_check_signer(s_reader_t *r, const fsy_bundle_trust_t *t)
{
    if (t == NULL)
        return FSY_OK;
    if (!r->is_signed)
        return t->allow_unsigned
                   ? FSY_OK
                   : fsy_err_set(FSY_EINVAL,
                                 "bundle is not signed, so nothing says which "
                                 "site wrote it: have it exported with a key "
                                 "([site] secret_key_file), or give "
                                 "--allow-unsigned if you know where it came "
                                 "from");
    for (size_t i = 0; i < t->n && r->who == NULL; i++)
        if (sodium_memcmp(t->signers[i].key, r->signer, 32) == 0)
            r->who = &t->signers[i];
    if (r->who != NULL)
        return FSY_OK;
    char z85[41];
    fsy_z85_encode(z85, r->signer, 32);
    return fsy_err_set(FSY_EINVAL,
                       "bundle signed by a key this site does not know "
                       "(%s): configure the sender as [child] or [parent], "
                       "or give --trust KEY.pub",
                       z85);
}

/*
 * After the header: the bundle must name its signer as its sender. Sets
 * r->auth, what the sender may write (the live link's rule, authz.h). An
 * unsigned bundle a person allowed gets the [child] limits of the site it
 * claims to come from; at a site with [child] sections it must claim one
 * of them (nothing else would limit it). A site without any applies it.
 */
static int
s_check_sender(s_reader_t *r, const fsy_bundle_trust_t *t,
               const fsy_origin_t *sender)
{
    if (t == NULL)
        return FSY_OK;
    if (r->who == NULL) { /* unsigned, and a person allowed it */
        bool children = t->cfg != NULL && t->cfg->n_children > 0;
        if (children && !fsy_authz_child(t->cfg, sender->site, &r->auth_buf))
            return fsy_err_set(FSY_EINVAL,
                               "an unsigned bundle says it comes from %s, "
                               "which is not a [child] of this site: ask for "
                               "a signed bundle",
                               sender->site);
        if (!children)
            r->auth_buf = (fsy_authority_t){.role = FSY_ROLE_NAMED};
        r->auth = &r->auth_buf;
        return FSY_OK;
    }
    const fsy_authority_t *a = &r->who->auth;
    bool named = a->role == FSY_ROLE_NAMED ||
                 a->role == FSY_ROLE_PARENT; /* config has no name */
    if (!named && strcmp(a->site, sender->site) != 0)
        return fsy_err_set(FSY_EINVAL,
                           "bundle says it comes from %s but is signed with "
                           "%s's key (%s): refused",
                           sender->site, a->site, fsy_role_name(a->role));
    r->auth = a;
    return FSY_OK;
}

/* Opens, verifies (trust may be NULL) and reads the header record into
 * b; the signer is checked before anything is decompressed. */
static int
s_reader_open(s_reader_t *r, const s_src_t *src, fsy_bundle_t *b,
              const fsy_bundle_trust_t *trust)
{
    memset(r, 0, sizeof *r);
    r->src = *src;
    const uint8_t *rec = NULL;
    size_t len = 0;
    uint32_t kind = S_KIND_END;
    int rc = s_reader_start(r);
    if (rc == FSY_OK)
        rc = s_check_signer(r, trust);
    if (rc == FSY_OK)
        rc = s_next_prefix(r, &kind, &len);
    if (rc == FSY_OK && kind != S_KIND_CHANGES)
        rc = fsy_err_set(FSY_ECORRUPT, "bundle has no header");
    if (rc == FSY_OK)
        rc = s_whole_record(r, len, FSY_BUNDLE_HEADER_MAX, &rec);
    fsy_bundle_header_t h;
    memset(&h, 0, sizeof h);
    if (rc == FSY_OK)
        rc = fsy_wire_decode_bundle_header(rec, len, &h);
    r->format = h.format;
    b->sender = h.sender;
    b->created_ms = h.created_ms;
    b->sender_vv = h.sender_vv; /* b owns the entries now */
    memcpy(b->merge_rule, h.merge_rule, sizeof b->merge_rule);
    b->is_signed = r->is_signed;
    memcpy(b->signer, r->signer, sizeof b->signer);
    if (rc == FSY_OK)
        rc = s_check_sender(r, trust, &b->sender);
    return rc;
}

/* An attachment's chunk: checked, then stored when importing. A bundle
 * whose blob does not match its hash is refused whole (nothing of it is
 * applied), as a frame would be. */
static int
s_take_chunk(s_reader_t *r, const uint8_t *rec, size_t len)
{
    fsy_chunk_t c;
    bool complete = false;
    int rc = fsy_wire_decode_chunk(rec, len, &c);
    if (rc == FSY_OK && r->store != NULL) {
        rc = fsy_store_blob_chunk_put(r->store, &c, &complete);
        if (rc == FSY_ENOTFOUND) { /* nothing here refers to it: skipped */
            free(c.data);
            return FSY_OK;
        }
    }
    if (rc == FSY_OK) {
        r->n_chunks++;
        r->chunk_bytes += c.len;
        if (r->stats != NULL) {
            r->stats->chunks++;
            r->stats->blobs += complete;
        }
    }
    free(c.data);
    return rc;
}

/* What a bundle's payload holds next: a batch of changes (their deltas
 * not yet rebuilt), an attachment's chunk record (copied), or its end. */
enum { S_ITEM_END, S_ITEM_BATCH, S_ITEM_CHUNK };
typedef struct s_item {
    int kind;
    fsy_change_list_t changes;
    fsy_batch_rest_t rest;
    uint8_t *chunk;
    size_t chunk_len;
} s_item_t;

static void
s_item_clear(s_item_t *it)
{
    fsy_change_list_clear(&it->changes);
    fsy_batch_rest_clear(&it->rest);
    free(it->chunk);
    memset(it, 0, sizeof *it);
}

/* The payload's next item into it (cleared first). Reads the payload
 * alone: no replica, none of r's taken counts, so it may run on a worker
 * while the replica's thread applies the item before (s_import_batches). */
static int
s_next_item(s_reader_t *r, s_item_t *it)
{
    s_item_clear(it);
    uint32_t kind;
    size_t len;
    const uint8_t *rec = NULL;
    int rc = s_next_prefix(r, &kind, &len);
    if (rc != FSY_OK)
        return rc;
    if (kind == S_KIND_END)
        return s_reader_finish(r);
    if (kind == S_KIND_CHUNK) {
        rc = s_whole_record(r, len, FSY_BUNDLE_CHUNK_RECORD_MAX, &rec);
        if (rc == FSY_OK && (it->chunk = malloc(len ? len : 1)) == NULL)
            rc = fsy_err_set(FSY_ENOMEM, "out of memory reading a bundle");
        if (rc == FSY_OK) {
            memcpy(it->chunk, rec, len);
            it->chunk_len = len;
            it->kind = S_ITEM_CHUNK;
        }
        return rc;
    }
    fsy_batch_parser_t p;
    fsy_batch_parser_init(&p, &it->changes);
    fsy_batch_parser_defer(&p, &it->rest);
    rc = s_stream_record(r, len, &p);
    fsy_batch_parser_free(&p);
    if (rc == FSY_OK && it->changes.n == 0)
        rc = fsy_err_set(FSY_ECORRUPT, "bundle holds an empty batch");
    it->kind = S_ITEM_BATCH;
    return rc;
}

/* A batch's deltas, rebuilt from the importing replica; read alone, a
 * bundle made with them is refused. */
static int
s_resolve(s_reader_t *r, s_item_t *it)
{
    return fsy_batch_resolve(&it->changes, &it->rest,
                             r->store ? fsy_store_base : NULL, r->store);
}

/* The next batch into `out` (emptied first); out->n == 0 at the end.
 * Attachments' chunks met on the way are taken as they come. */
static int
s_next_batch(s_reader_t *r, fsy_change_list_t *out)
{
    fsy_change_list_clear(out);
    s_item_t it = {0};
    int rc;
    while ((rc = s_next_item(r, &it)) == FSY_OK && it.kind == S_ITEM_CHUNK &&
           (rc = s_take_chunk(r, it.chunk, it.chunk_len)) == FSY_OK)
        ;
    if (rc == FSY_OK && it.kind == S_ITEM_BATCH &&
        (rc = s_resolve(r, &it)) == FSY_OK) {
        *out = it.changes; /* moved */
        memset(&it.changes, 0, sizeof it.changes);
    }
    s_item_clear(&it);
    return rc;
}

static int
s_open_file(const char *path, s_src_t *src)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return fsy_err_set(errno == ENOENT ? FSY_ENOTFOUND : FSY_EIO,
                           "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return fsy_err_set(FSY_EINVAL, "%s is not a regular file", path);
    }
    *src = (s_src_t){.fd = fd, .size = (uint64_t)sb.st_size};
    return FSY_OK;
}

/* ---- whole bundles in memory ------------------------------------------ */

static int
s_append(fsy_change_list_t *all, fsy_change_list_t *batch)
{
    for (size_t i = 0; i < batch->n; i++) {
        fsy_change_t *slot;
        int rc = fsy_change_list_push(all, &slot);
        if (rc != FSY_OK)
            return rc;
        *slot = batch->v[i]; /* moved: the batch gives up ownership */
    }
    free(batch->v);
    memset(batch, 0, sizeof *batch);
    return FSY_OK;
}

static int
s_read_all(const s_src_t *src, fsy_bundle_t **out)
{
    fsy_bundle_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    s_reader_t r;
    fsy_change_list_t batch = {0};
    int rc = s_reader_open(&r, src, b, NULL);
    if (rc == FSY_OK && r.raw_len > FSY_BUNDLE_MAX)
        rc = fsy_err_set(FSY_ETOOBIG, "bundle too large to hold in memory");
    while (rc == FSY_OK && (rc = s_next_batch(&r, &batch)) == FSY_OK &&
           batch.n > 0)
        rc = s_append(&b->changes, &batch);
    b->n_chunks = r.n_chunks;
    b->chunk_bytes = r.chunk_bytes;
    fsy_change_list_clear(&batch);
    r.src.fd = -1; /* the caller owns it */
    s_reader_free(&r);
    if (rc != FSY_OK) {
        fsy_bundle_free(&b);
        return rc;
    }
    *out = b;
    return FSY_OK;
}

int
fsy_bundle_parse(const uint8_t *buf, size_t len, fsy_bundle_t **out)
{
    s_src_t src = {.fd = -1, .mem = buf, .size = len};
    static const uint8_t empty[1];
    if (len == 0)
        src.mem = empty;
    return s_read_all(&src, out);
}

int
fsy_bundle_read(const char *path, fsy_bundle_t **out)
{
    s_src_t src;
    int rc = s_open_file(path, &src);
    if (rc != FSY_OK)
        return rc;
    rc = s_read_all(&src, out);
    close(src.fd);
    if (rc != FSY_OK)
        rc = fsy_err_set(rc, "%s: %s", path, fsy_errdetail());
    return rc;
}

void
fsy_bundle_free(fsy_bundle_t **bp)
{
    if (bp == NULL || *bp == NULL)
        return;
    fsy_change_list_clear(&(*bp)->changes);
    free((*bp)->sender_vv.v);
    free(*bp);
    *bp = NULL;
}

/* ---- import ----------------------------------------------------------- */

static void
s_add_stats(fsy_apply_stats_t *sum, const fsy_apply_stats_t *st)
{
    if (sum->gapped == 0 && st->gapped > 0) {
        memcpy(sum->gap_scope, st->gap_scope, sizeof sum->gap_scope);
        sum->gap_origin = st->gap_origin;
        sum->gap_have = st->gap_have;
        sum->gap_got = st->gap_got;
    }
    if (sum->refused == 0 && st->refused > 0) {
        sum->refused_origin = st->refused_origin;
        memcpy(sum->refused_why, st->refused_why, sizeof sum->refused_why);
    }
    if (st->ahead_ms > sum->ahead_ms) {
        sum->ahead_ms = st->ahead_ms;
        sum->ahead_origin = st->ahead_origin;
    }
    sum->applied += st->applied;
    sum->duplicates += st->duplicates;
    sum->gapped += st->gapped;
    sum->refused += st->refused;
}

/*
 * Leaves out of batch what the sender may not write, counted in sum as
 * refused (the first with its reason). Streams are whole per (scope,
 * origin), so no transaction is split. What this replica held before the
 * import (`had`) passes: a copy of it is a duplicate, checked as such by
 * the store (a child's --all bundle carries what it got from its parent).
 */
static void
s_authorise(const fsy_authority_t *a, const fsy_vv_t *had,
            fsy_change_list_t *batch, fsy_apply_stats_t *sum)
{
    size_t k = 0;
    char why[sizeof sum->refused_why];
    for (size_t i = 0; i < batch->n; i++) {
        fsy_change_t *c = &batch->v[i];
        if (c->version.seq <= fsy_vv_get(had, c->scope, &c->version.origin) ||
            fsy_authz_may_write(a, c, why, sizeof why)) {
            if (k != i) {
                batch->v[k] = *c;
                memset(c, 0, sizeof *c);
            }
            k++;
            continue;
        }
        if (sum->refused++ == 0) {
            sum->refused_origin = c->version.origin;
            snprintf(sum->refused_why, sizeof sum->refused_why, "%s", why);
        }
        fsy_change_clear(c);
    }
    batch->n = k;
}

/* An item read, applied where the replica is. */
static int
s_import_item(fsy_store_t *s, s_reader_t *r, s_item_t *it, const fsy_vv_t *had,
              fsy_apply_stats_t *sum)
{
    if (it->kind == S_ITEM_CHUNK)
        return s_take_chunk(r, it->chunk, it->chunk_len);
    int rc = s_resolve(r, it);
    if (rc != FSY_OK)
        return rc;
    if (r->auth != NULL)
        s_authorise(r->auth, had, &it->changes, sum);
    if (it->changes.n == 0)
        return FSY_OK;
    fsy_apply_stats_t st;
    /* Every change was checked: decoded whole by the worker, or rebuilt
     * from a delta by s_resolve: no second check. */
    rc = fsy_store_apply_validated(s, it->changes.v, it->changes.n, &st);
    if (rc == FSY_OK)
        s_add_stats(sum, &st);
    return rc;
}

/* The job of reading the next item on the worker. */
typedef struct s_read_job {
    s_reader_t *r;
    s_item_t *it;
} s_read_job_t;

static int
s_read_job(void *arg)
{
    s_read_job_t *j = arg;
    return s_next_item(j->r, j->it);
}

/*
 * Each item is read (inflated, decoded, its checksums checked) on a worker
 * while the one before it is applied here: a quarter of an import's time
 * on the second core. From the submit to the wait the worker owns the
 * reader's payload fields and the item it fills; this thread uses the
 * item before it and the reader's other fields (s_reader_t says which).
 * Memory: two batches decoded at once, where one was before.
 */
static int
s_import_batches(fsy_store_t *s, s_reader_t *r, fsy_apply_stats_t *sum)
{
    fsy_vv_t *had = NULL;
    s_item_t items[2] = {{0}, {0}};
    s_read_job_t jobs[2] = {{r, &items[0]}, {r, &items[1]}};
    fsy_worker_t *w = fsy_worker_new();
    int rc = w == NULL ? fsy_err_set(FSY_ENOMEM, "out of memory") : FSY_OK;
    if (rc == FSY_OK && r->auth != NULL)
        rc = fsy_store_vv(s, &had);
    if (rc == FSY_OK)
        rc = s_next_item(r, &items[0]);
    for (int cur = 0; rc == FSY_OK && items[cur].kind != S_ITEM_END;
         cur = 1 - cur) {
        fsy_worker_submit(w, s_read_job, &jobs[1 - cur]);
        rc = s_import_item(s, r, &items[cur], had, sum);
        rc = fsy_worker_wait(w, rc);
        s_item_clear(&items[cur]);
    }
    fsy_worker_free(w);
    s_item_clear(&items[0]);
    s_item_clear(&items[1]);
    fsy_vv_free(&had);
    return rc;
}

/* A site merging concurrent text otherwise would show other values for
 * the same changes: refused, as its live link would be. A bundle that says
 * nothing comes from a fieldsync that merges nothing and is taken. */
static int
s_check_merge_rule(fsy_store_t *s, const fsy_bundle_t *b)
{
    if (b->merge_rule[0] == '\0' ||
        strcmp(b->merge_rule, fsy_store_merge_rule(s)) == 0)
        return FSY_OK;
    return fsy_err_set(FSY_EINVAL,
                       "%s merges text by another rule (\"%.80s\", here "
                       "\"%.80s\"): give every site the same [merge] "
                       "whole_value_fields, then export again",
                       b->sender.site, b->merge_rule, fsy_store_merge_rule(s));
}

int
fsy_bundle_import(fsy_store_t *s, const char *path, fsy_apply_stats_t *stats)
{
    return fsy_bundle_import_trusted(s, path, NULL, stats);
}

int
fsy_bundle_import_trusted(fsy_store_t *s, const char *path,
                          const fsy_bundle_trust_t *trust,
                          fsy_apply_stats_t *stats)
{
    fsy_apply_stats_t local;
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    s_src_t src;
    int rc = s_open_file(path, &src);
    if (rc != FSY_OK)
        return rc;
    s_reader_t r;
    fsy_bundle_t head = {0};
    rc = s_reader_open(&r, &src, &head, trust);
    free(head.sender_vv.v);
    if (rc == FSY_OK)
        rc = s_check_merge_rule(s, &head);
    r.store = s;
    r.stats = stats;
    if (rc == FSY_OK && (rc = fsy_store_begin(s)) == FSY_OK) {
        rc = s_import_batches(s, &r, stats);
        if (rc == FSY_OK) /* the roster: this site came by courier */
            rc = fsy_store_courier_seen(s, head.sender.site, head.created_ms);
        if (rc == FSY_OK)
            rc = fsy_store_commit(s);
        else
            fsy_store_rollback(s);
    }
    s_reader_free(&r);
    if (rc != FSY_OK) {
        memset(stats, 0, sizeof *stats);
        rc = fsy_err_set(rc, "%s: %s", path, fsy_errdetail());
    }
    return rc;
}
