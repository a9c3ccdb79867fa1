/*
 * libFuzzer target: bundle parsing. Random bytes almost never pass the
 * envelope hash, so the input is used two ways: as a whole file (the
 * envelope checks), and as the payload of a valid envelope built here
 * (record framing, zstd, header and batch decoding, validation).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "fieldsync/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_parse(const uint8_t *buf, size_t len)
{
    fsy_bundle_t *b = NULL;
    if (fsy_bundle_parse(buf, len, &b) == FSY_OK)
        fsy_bundle_free(&b);
}

static void
s_wrapped(const uint8_t *payload, size_t n)
{
    size_t len;
    uint8_t *buf = fuzz_envelope(payload, n, NULL, NULL, &len);
    if (buf != NULL)
        s_parse(buf, len);
    free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_parse(data, size);
    s_wrapped(data, size);
    return 0;
}
