/*
 * fieldsync — attachments: files (PDF reports, maps, photos) that a field
 * holds by reference. The bytes are a content-addressed blob (BLAKE2b-256 of
 * the content) kept in the replica apart from the log; the field's value is
 * the reference, a change like any other, so it replicates, merges and
 * conflicts as any value does (docs/ATTACHMENTS.md).
 *
 * A reference's value is one line of text, in exactly one form (so two
 * sites writing the same reference write byte-equal values):
 *
 *   <hash: 64 lower-case hex> <size: decimal> <media type> <file name>
 *
 * The media type is lower-case `type/subtype` of [a-z0-9!#$&^_.+-]; the
 * file name is 1-255 bytes of UTF-8 without control characters, '/' or '\',
 * and not "." or "..". The reference carries no path.
 *
 * No allocation; nothing to free. Errors: FSY_EINVAL with a detail.
 */
#ifndef FIELDSYNC_ATTACHMENT_H
#define FIELDSYNC_ATTACHMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FSY_BLOB_HASH_LEN 32    /* BLAKE2b-256 */
#define FSY_ATTACH_NAME_MAX 255 /* bytes of a file name */
#define FSY_ATTACH_TYPE_MAX 127 /* bytes of a media type */
/* The longest reference text, without a terminating NUL. */
#define FSY_REF_TEXT_MAX                                                       \
    (2 * FSY_BLOB_HASH_LEN + 1 + 20 + 1 + FSY_ATTACH_TYPE_MAX + 1 +            \
     FSY_ATTACH_NAME_MAX)
/* The default [limits] max_attachment_bytes. */
#define FSY_ATTACHMENT_MAX_DEFAULT ((uint64_t)256 << 20)
/* Blobs are kept and sent in chunks of this many bytes (the last may be
 * shorter): the unit that is stored, sent, verified and acknowledged. */
#define FSY_CHUNK_BYTES (64u * 1024u)
/* Sizes a reference may state: JSON carries them exactly. */
#define FSY_ATTACHMENT_SIZE_MAX ((uint64_t)1 << 53)

typedef struct fsy_ref {
    uint8_t hash[FSY_BLOB_HASH_LEN];
    uint64_t size;
    char type[FSY_ATTACH_TYPE_MAX + 1];
    char name[FSY_ATTACH_NAME_MAX + 1];
} fsy_ref_t;

/* One chunk of an attachment's blob: bytes [idx * FSY_CHUNK_BYTES, ...)
 * of the blob (hash, size). `data` is owned by whoever decoded it (free),
 * borrowed by an encoder. */
typedef struct fsy_chunk {
    uint8_t hash[FSY_BLOB_HASH_LEN];
    uint64_t size;
    uint64_t idx;
    uint8_t *data;
    size_t len;
} fsy_chunk_t;

/* The reference's text into buf (at least FSY_REF_TEXT_MAX + 1 bytes);
 * *len its length. FSY_EINVAL if ref's type, name or size is not valid. */
int fsy_ref_format(const fsy_ref_t *ref, char *buf, size_t *len);

/* Parses a reference value (not NUL-terminated), accepting only the one
 * form fsy_ref_format writes. */
int fsy_ref_parse(const uint8_t *value, size_t len, fsy_ref_t *out);

/* Checks a file name or a media type as a reference holds it. */
int fsy_ref_check_name(const char *name);
int fsy_ref_check_type(const char *type);

/* The media type for a file name, from its extension ("map.pdf" ->
 * "application/pdf"); "application/octet-stream" when unknown. Static. */
const char *fsy_ref_guess_type(const char *name);

/* The first 8 hex digits of the hash, what people see: buf[9]. */
char *fsy_ref_short_hash(const fsy_ref_t *ref, char buf[9]);

/* "120 B", "900.0 KB", "5.0 MB" (powers of 1024) into buf[16]. */
const char *fsy_bytes_text(uint64_t n, char buf[16]);

/* The hash as 64 hex digits: buf[65]. */
char *fsy_ref_hash_hex(const uint8_t hash[FSY_BLOB_HASH_LEN], char buf[65]);

#ifdef __cplusplus
}
#endif
#endif
