/*
 * fieldsync — canonical encodings for hashing (checksums, digests).
 *
 * Integers are 8 bytes little-endian; byte strings are their length (as an
 * integer) then the bytes. The encoding is buffered and fed to BLAKE2b in
 * few updates: libsodium's per-update cost dominated when every integer was
 * fed on its own. Long byte strings bypass the buffer.
 *
 * Everything lives on the caller's stack; nothing to free.
 */
#ifndef FSY_CANON_H
#define FSY_CANON_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

typedef struct fsy_canon {
    crypto_generichash_state st;
    size_t outlen;
    size_t n;
    uint8_t buf[512];
} fsy_canon_t;

/* Starts a hash with an `outlen`-byte result and a domain label. */
void fsy_canon_init(fsy_canon_t *h, size_t outlen, const char *domain);
void fsy_canon_u64(fsy_canon_t *h, uint64_t v);
void fsy_canon_bytes(fsy_canon_t *h, const void *p, size_t len);
void fsy_canon_str(fsy_canon_t *h, const char *s);
/* Writes the result (outlen bytes from init) to out. */
void fsy_canon_final(fsy_canon_t *h, uint8_t *out);

#endif
