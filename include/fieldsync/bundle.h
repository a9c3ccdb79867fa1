/*
 * fieldsync — bundles: the change stream carried by file (USB stick, mail).
 *
 * A bundle holds the changes a receiving site lacks, in the sender's
 * local-log order, plus the sender's origin and version vector. On disk:
 *
 *   "FSYBNDL1" | u32 flags |
 *   zstd frame of records, each u32 (kind << 28 | length) + protobuf:
 *       kind 0: BundleHeader, then ChangeBatch ... (whole transactions
 *       each); kind 1 (format 2): BlobChunk ..., the chunks of the
 *       attachments the changes refer to, each blob's in order |
 *   u64 raw length | u64 stored length | BLAKE2b-256 of everything before |
 *   signer's Ed25519 public key (32) | Ed25519 signature of that hash (64)
 *   (both all zero when unsigned)
 *
 * All integers little-endian. The trailing hash is checked before anything
 * is decoded (and again while reading, so a file changed underneath is
 * caught before commit); every change's checksum is verified (formats 1-2
 * carry it) or computed and covered by its batch's hash (format 3, wire
 * format 2: docs/SYNC.md) when its batch is decoded.
 *
 * Records are written and read one at a time, so exporting or importing a
 * bundle of any size uses memory bounded by one batch, not by the bundle.
 * An attachment whose bytes the exporting site does not hold whole is
 * left out (the reference still travels); an importer checks every blob
 * against its hash before it counts as held.
 *
 * Errors: FSY_EFORMAT (not a bundle), FSY_EVERSION (newer format),
 * FSY_ECORRUPT (truncated or damaged), FSY_ETOOBIG, FSY_EIO, plus store
 * errors on import. A failed import changes nothing.
 */
#ifndef FIELDSYNC_BUNDLE_H
#define FIELDSYNC_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/authz.h"
#include "fieldsync/change.h"
#include "fieldsync/keys.h"
#include "fieldsync/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest decompressed payload fsy_bundle_parse() holds in memory. */
#define FSY_BUNDLE_MAX ((size_t)1 << 30)

/* Largest record (one batch of whole transactions) in a bundle: batches
 * close after 4 MiB at a transaction's end, and a transaction carries at
 * most FSY_TXN_BYTES_MAX of values and FSY_TXN_MAX changes. */
#define FSY_BUNDLE_RECORD_MAX ((size_t)64 << 20)

/* A parsed bundle; owns everything in it. */
typedef struct fsy_bundle {
    fsy_origin_t sender;
    bool is_signed;     /* the signature verified (trust is another matter) */
    uint8_t signer[32]; /* Ed25519 public key of the signer */
    uint64_t created_ms;
    fsy_vv_t sender_vv; /* the sender's vector when it wrote this */
    /* the sender's text merge rule, "" if it said none (an older one) */
    char merge_rule[FSY_MERGE_RULE_MAX + 1];
    fsy_change_list_t changes; /* in the sender's local-log order */
    size_t n_chunks; /* attachments' chunks (place and length checked) */
    uint64_t chunk_bytes;
} fsy_bundle_t;

/*
 * Writes the changes the holder of `to_vv` lacks (NULL: every change) to
 * `path`, atomically (temporary file, fsync, rename). n_out may be NULL.
 */
int fsy_bundle_export(fsy_store_t *s, const fsy_vv_t *to_vv, const char *path,
                      size_t *n_out);

/* The same, signed with the site's identity (NULL: unsigned). */
int fsy_bundle_export_signed(fsy_store_t *s, const fsy_vv_t *to_vv,
                             const char *path, const fsy_identity_t *signer,
                             size_t *n_out);

/* How to export: who signs (NULL: unsigned), whether attachments' bytes
 * travel (default true: a courier's bundle is often the only way they
 * reach a site), and what was written. */
typedef struct fsy_bundle_opts {
    const fsy_identity_t *signer;
    bool no_attachments;
    /* The recipient's read scopes ("MLI, global"; NULL or "": all): only
     * those changes, and only those entries of the sender's vector. */
    const char *read_scopes;
    size_t n_changes;    /* out */
    size_t n_blobs;      /* out: attachments carried whole */
    size_t n_missing;    /* out: referred to but not whole here: left out */
    uint64_t blob_bytes; /* out */
} fsy_bundle_opts_t;

int fsy_bundle_export_opts(fsy_store_t *s, const fsy_vv_t *to_vv,
                           const char *path, fsy_bundle_opts_t *o);

/* A key an importing site knows, and what its holder may write. */
typedef struct fsy_bundle_signer {
    uint8_t key[32]; /* Ed25519 public key */
    fsy_authority_t auth;
} fsy_bundle_signer_t;

/* Whom an importing site accepts bundles from. */
typedef struct fsy_bundle_trust {
    const fsy_bundle_signer_t *signers;
    size_t n;
    bool allow_unsigned;     /* a person said so (--allow-unsigned) */
    const fsy_config_t *cfg; /* an unsigned bundle's claimed sender's
                                [child] limits apply; may be NULL */
} fsy_bundle_trust_t;

/*
 * Reads and verifies a whole bundle file into memory (for inspection and
 * tests; import streams instead). The caller frees with fsy_bundle_free.
 */
int fsy_bundle_read(const char *path, fsy_bundle_t **out);

/* Parses a bundle from memory (same checks as fsy_bundle_read). */
int fsy_bundle_parse(const uint8_t *buf, size_t len, fsy_bundle_t **out);

void fsy_bundle_free(fsy_bundle_t **b);

/*
 * Verifies `path`, then applies it batch by batch in one transaction:
 * all of it or nothing. stats (may be NULL) sums the batches' counts and
 * keeps the first gap and refusal.
 */
int fsy_bundle_import(fsy_store_t *s, const char *path,
                      fsy_apply_stats_t *stats);

/*
 * fsy_bundle_import() that first checks the signer against `trust`:
 * FSY_EINVAL for an unsigned bundle (unless allowed), one signed by a key
 * not in the list, or one whose header names another sender than its
 * signer. Then only what the signer may write is applied (authz.h); the
 * rest is counted in stats->refused, with the first reason. A bad
 * signature is FSY_ECORRUPT for every reader. trust NULL: any bundle
 * whose signature (if any) verifies, without limits (tests, tools).
 */
int fsy_bundle_import_trusted(fsy_store_t *s, const char *path,
                              const fsy_bundle_trust_t *trust,
                              fsy_apply_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif
