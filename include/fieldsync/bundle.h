/*
 * fieldsync — bundles: the change stream carried by file (USB stick, mail).
 *
 * A bundle holds the changes a receiving site lacks, in the sender's
 * local-log order, plus the sender's origin and version vector. On disk:
 *
 *   "FSYBNDL1" | u32 flags | u64 raw length | u64 stored length |
 *   payload (protobuf fieldsync.Bundle, zstd-compressed if flags bit 0) |
 *   BLAKE2b-256 of everything before it
 *
 * All integers little-endian. Every change inside also carries its own
 * checksum, verified again on import.
 *
 * Errors: FSY_EFORMAT (not a bundle), FSY_EVERSION (newer format),
 * FSY_ECORRUPT (truncated or damaged), FSY_ETOOBIG, FSY_EIO, plus store
 * errors on import. A failed import changes nothing.
 */
#ifndef FIELDSYNC_BUNDLE_H
#define FIELDSYNC_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "fieldsync/change.h"
#include "fieldsync/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest decompressed bundle payload accepted (bytes). */
#define FSY_BUNDLE_MAX ((size_t)1 << 30)

/* A parsed bundle; owns everything in it. */
typedef struct fsy_bundle {
    fsy_origin_t sender;
    uint64_t created_ms;
    fsy_vv_t sender_vv;        /* the sender's vector when it wrote this */
    fsy_change_list_t changes; /* in the sender's local-log order */
} fsy_bundle_t;

/*
 * Writes the changes the holder of `to_vv` lacks (NULL: every change) to
 * `path`, atomically (temporary file, fsync, rename). n_out may be NULL.
 */
int fsy_bundle_export(fsy_store_t *s, const fsy_vv_t *to_vv, const char *path,
                      size_t *n_out);

/* Reads and verifies a bundle file. The caller frees with fsy_bundle_free. */
int fsy_bundle_read(const char *path, fsy_bundle_t **out);

/* Parses a bundle from memory (same checks as fsy_bundle_read). */
int fsy_bundle_parse(const uint8_t *buf, size_t len, fsy_bundle_t **out);

void fsy_bundle_free(fsy_bundle_t **b);

/* Reads `path` and applies it in one transaction. stats may be NULL. */
int fsy_bundle_import(fsy_store_t *s, const char *path,
                      fsy_apply_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif
