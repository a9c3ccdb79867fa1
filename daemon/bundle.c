/*
 * fieldsync — bundle files. See include/fieldsync/bundle.h for the layout.
 *
 * The envelope hash catches a damaged or truncated file before anything is
 * decoded; the per-change checksums inside are verified again by the
 * decoder, so a bundle is checked end to end even if it was re-packed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zstd.h>

#include "fieldsync/bundle.h"
#include "wire.h"

#define FSY_BUNDLE_MAGIC "FSYBNDL1"
#define FSY_BUNDLE_HDR 28 /* magic 8 + flags 4 + raw 8 + stored 8 */
#define FSY_BUNDLE_HASH 32
#define FSY_BUNDLE_ZSTD 1u
#define FSY_BUNDLE_LEVEL 6

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

static int
s_collect(const fsy_change_t *c, void *ctx)
{
    fsy_change_t *slot;
    int rc = fsy_change_list_push(ctx, &slot);
    if (rc == FSY_OK && (rc = fsy_change_copy(slot, c)) != FSY_OK)
        ((fsy_change_list_t *)ctx)->n--;
    return rc;
}

/* Envelope: header, compressed payload, hash of both. */
static int
s_envelope(const uint8_t *raw, size_t raw_len, uint8_t **out, size_t *len)
{
    size_t bound = ZSTD_compressBound(raw_len);
    uint8_t *buf = malloc(FSY_BUNDLE_HDR + bound + FSY_BUNDLE_HASH);
    if (buf == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory writing a bundle");
    size_t z = ZSTD_compress(buf + FSY_BUNDLE_HDR, bound, raw, raw_len,
                             FSY_BUNDLE_LEVEL);
    if (ZSTD_isError(z)) {
        free(buf);
        return fsy_err_set(FSY_EINTERNAL, "compression failed: %s",
                           ZSTD_getErrorName(z));
    }
    memcpy(buf, FSY_BUNDLE_MAGIC, 8);
    s_put_le(buf + 8, FSY_BUNDLE_ZSTD, 4);
    s_put_le(buf + 12, raw_len, 8);
    s_put_le(buf + 20, z, 8);
    crypto_generichash(buf + FSY_BUNDLE_HDR + z, FSY_BUNDLE_HASH, buf,
                       FSY_BUNDLE_HDR + z, NULL, 0);
    *out = buf;
    *len = FSY_BUNDLE_HDR + z + FSY_BUNDLE_HASH;
    return FSY_OK;
}

static int
s_write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno == ENOSPC ? FSY_EFULL : FSY_EIO;
        p += w;
        len -= (size_t)w;
    }
    return FSY_OK;
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

/* Temporary file, fsync, rename: a reader never sees half a bundle. */
static int
s_write_file(const char *path, const uint8_t *buf, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (tmp == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    int rc = fd < 0 ? FSY_EIO : s_write_all(fd, buf, len);
    int saved = errno;
    if (rc == FSY_OK && fsync(fd) != 0) {
        saved = errno;
        rc = FSY_EIO;
    }
    if (fd >= 0 && close(fd) != 0 && rc == FSY_OK) {
        saved = errno;
        rc = FSY_EIO;
    }
    if (rc == FSY_OK && rename(tmp, path) != 0) {
        saved = errno;
        rc = FSY_EIO;
    }
    if (rc == FSY_OK)
        s_sync_dir(path); /* the rename itself survives a power cut */
    if (rc != FSY_OK) {
        unlink(tmp);
        rc = fsy_err_set(rc, "cannot write %s: %s", path, strerror(saved));
    }
    free(tmp);
    return rc;
}

static uint64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
fsy_bundle_export(fsy_store_t *s, const fsy_vv_t *to_vv, const char *path,
                  size_t *n_out)
{
    fsy_change_list_t list = {0};
    fsy_vv_t *vv = NULL;
    uint8_t *raw = NULL, *file = NULL;
    size_t raw_len = 0, file_len = 0;
    /* The vector is read first: the bundle may then hold more than it says,
     * never less, and more is harmless (duplicates are skipped). */
    int rc = fsy_store_vv(s, &vv);
    if (rc == FSY_OK)
        rc = fsy_store_export(s, to_vv, s_collect, &list);
    if (rc == FSY_OK)
        rc = fsy_wire_encode_bundle(fsy_store_origin(s), s_now_ms(), vv, list.v,
                                    list.n, &raw, &raw_len);
    if (rc == FSY_OK && raw_len > FSY_BUNDLE_MAX)
        rc = fsy_err_set(FSY_ETOOBIG,
                         "bundle of %zu bytes is over the limit; "
                         "export against a newer vector",
                         raw_len);
    if (rc == FSY_OK)
        rc = s_envelope(raw, raw_len, &file, &file_len);
    if (rc == FSY_OK)
        rc = s_write_file(path, file, file_len);
    if (rc == FSY_OK && n_out != NULL)
        *n_out = list.n;
    fsy_change_list_clear(&list);
    fsy_vv_free(&vv);
    free(raw);
    free(file);
    return rc;
}

/* ---- import ----------------------------------------------------------- */

static int
s_check_envelope(const uint8_t *buf, size_t len, uint64_t *raw_len,
                 uint64_t *stored)
{
    if (len < 8 || memcmp(buf, FSY_BUNDLE_MAGIC, 7) != 0)
        return fsy_err_set(FSY_EFORMAT, "not a fieldsync bundle");
    if (buf[7] != FSY_BUNDLE_MAGIC[7])
        return fsy_err_set(FSY_EVERSION,
                           "bundle envelope version '%c' is "
                           "newer than this fieldsync: upgrade",
                           buf[7]);
    if (len < FSY_BUNDLE_HDR + FSY_BUNDLE_HASH)
        return fsy_err_set(FSY_ECORRUPT, "bundle is truncated (%zu bytes)",
                           len);
    uint64_t flags = s_get_le(buf + 8, 4);
    *raw_len = s_get_le(buf + 12, 8);
    *stored = s_get_le(buf + 20, 8);
    if (*stored != len - FSY_BUNDLE_HDR - FSY_BUNDLE_HASH)
        return fsy_err_set(FSY_ECORRUPT,
                           "bundle is truncated or padded "
                           "(header says %llu payload bytes, file has %zu)",
                           (unsigned long long)*stored,
                           len - FSY_BUNDLE_HDR - FSY_BUNDLE_HASH);
    uint8_t h[FSY_BUNDLE_HASH];
    crypto_generichash(h, sizeof h, buf, len - FSY_BUNDLE_HASH, NULL, 0);
    if (sodium_memcmp(h, buf + len - FSY_BUNDLE_HASH, FSY_BUNDLE_HASH) != 0)
        return fsy_err_set(FSY_ECORRUPT, "bundle is damaged (checksum "
                                         "mismatch)");
    if (flags != FSY_BUNDLE_ZSTD)
        return fsy_err_set(FSY_EVERSION, "bundle uses unknown flags %#llx",
                           (unsigned long long)flags);
    if (*raw_len > FSY_BUNDLE_MAX)
        return fsy_err_set(FSY_ETOOBIG,
                           "bundle payload of %llu bytes is "
                           "over the limit",
                           (unsigned long long)*raw_len);
    return FSY_OK;
}

int
fsy_bundle_parse(const uint8_t *buf, size_t len, fsy_bundle_t **out)
{
    uint64_t raw_len = 0, stored = 0;
    int rc = s_check_envelope(buf, len, &raw_len, &stored);
    if (rc != FSY_OK)
        return rc;
    uint8_t *raw = malloc(raw_len ? raw_len : 1);
    fsy_bundle_t *b = calloc(1, sizeof *b);
    if (raw == NULL || b == NULL) {
        free(raw);
        free(b);
        return fsy_err_set(FSY_ENOMEM, "out of memory reading a bundle");
    }
    size_t z = ZSTD_decompress(raw, raw_len, buf + FSY_BUNDLE_HDR, stored);
    if (ZSTD_isError(z) || z != raw_len)
        rc = fsy_err_set(FSY_ECORRUPT, "bundle payload does not decompress");
    if (rc == FSY_OK)
        rc = fsy_wire_decode_bundle(raw, raw_len, b);
    free(raw);
    if (rc != FSY_OK) {
        free(b);
        return rc;
    }
    *out = b;
    return FSY_OK;
}

static int
s_read_file(const char *path, uint8_t **out, size_t *len)
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
    size_t size = (size_t)sb.st_size;
    if (size > FSY_BUNDLE_MAX + FSY_BUNDLE_HDR + FSY_BUNDLE_HASH) {
        close(fd);
        return fsy_err_set(FSY_ETOOBIG, "%s is too large for a bundle", path);
    }
    uint8_t *buf = malloc(size ? size : 1);
    size_t got = 0;
    while (buf != NULL && got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (buf == NULL || got != size) {
        free(buf);
        return fsy_err_set(buf ? FSY_EIO : FSY_ENOMEM, "cannot read %s", path);
    }
    *out = buf;
    *len = size;
    return FSY_OK;
}

int
fsy_bundle_read(const char *path, fsy_bundle_t **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = s_read_file(path, &buf, &len);
    if (rc != FSY_OK)
        return rc;
    rc = fsy_bundle_parse(buf, len, out);
    free(buf);
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

int
fsy_bundle_import(fsy_store_t *s, const char *path, fsy_apply_stats_t *stats)
{
    fsy_bundle_t *b;
    int rc = fsy_bundle_read(path, &b);
    if (rc != FSY_OK)
        return rc;
    /* fsy_bundle_read() validated every change. */
    rc = fsy_store_apply_validated(s, b->changes.v, b->changes.n, stats);
    fsy_bundle_free(&b);
    return rc;
}
