/*
 * libFuzzer target: bundle parsing. Random bytes almost never pass the
 * envelope hash, so the input is used two ways: as a whole file (the
 * envelope checks), and as the payload of a valid envelope built here
 * (record framing, zstd, header and batch decoding, validation).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "fieldsync/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_parse(const uint8_t *buf, size_t len)
{
    fsy_bundle_t *b = NULL;
    if (fsy_bundle_parse(buf, len, &b) == FSY_OK)
        fsy_bundle_free(&b);
}

/* magic | flags | zstd(payload) | raw | stored | hash | 96 zero bytes */
static void
s_wrapped(const uint8_t *payload, size_t n)
{
    size_t bound = ZSTD_compressBound(n);
    uint8_t *buf = malloc(12 + bound + 144);
    if (buf == NULL)
        return;
    size_t z = ZSTD_compress(buf + 12, bound, payload, n, 1);
    if (!ZSTD_isError(z)) {
        memcpy(buf, "FSYBNDL1\x01\0\0\0", 12);
        uint8_t *t = buf + 12 + z;
        for (int i = 0; i < 8; i++) {
            t[i] = (uint8_t)((uint64_t)n >> (8 * i));
            t[8 + i] = (uint8_t)((uint64_t)z >> (8 * i));
        }
        crypto_generichash(t + 16, 32, buf, 12 + z + 16, NULL, 0);
        memset(t + 48, 0, 96);
        s_parse(buf, 12 + z + 144);
    }
    free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_parse(data, size);
    s_wrapped(data, size);
    return 0;
}
