/*
 * Fuzz harness helper: a valid bundle envelope around a payload, so the
 * fuzzer's bytes reach record framing and decoding (random bytes almost
 * never pass the envelope's hash). Returns a malloc'd bundle of *len bytes
 * (caller frees), or NULL. Signed with sk (pk its public key) when given,
 * else unsigned.
 */
#ifndef FSY_FUZZ_ENVELOPE_H
#define FSY_FUZZ_ENVELOPE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

/* magic | flags | zstd(payload) | raw | stored | hash | signer | sig */
static inline uint8_t *
fuzz_envelope(const uint8_t *payload, size_t n, const uint8_t *pk,
              const uint8_t *sk, size_t *len)
{
    size_t bound = ZSTD_compressBound(n);
    uint8_t *buf = malloc(12 + bound + 144);
    if (buf == NULL)
        return NULL;
    size_t z = ZSTD_compress(buf + 12, bound, payload, n, 1);
    if (ZSTD_isError(z)) {
        free(buf);
        return NULL;
    }
    memcpy(buf, "FSYBNDL1\x01\0\0\0", 12);
    uint8_t *t = buf + 12 + z;
    for (int i = 0; i < 8; i++) {
        t[i] = (uint8_t)((uint64_t)n >> (8 * i));
        t[8 + i] = (uint8_t)((uint64_t)z >> (8 * i));
    }
    crypto_generichash(t + 16, 32, buf, 12 + z + 16, NULL, 0);
    memset(t + 48, 0, 96);
    if (pk != NULL && sk != NULL) {
        memcpy(t + 48, pk, 32);
        crypto_sign_detached(t + 80, NULL, t + 16, 32, sk);
    }
    *len = 12 + z + 144;
    return buf;
}

#endif
