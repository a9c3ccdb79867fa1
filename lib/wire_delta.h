/*
 * fieldsync — a value sent as what changed since a version the receiver
 * holds: zstd of the value with the base version's value as a prefix
 * (ZSTD_CCtx_refPrefix), so one sentence changed in a 20 KB report costs
 * about the sentence, however long ago the base was sent. The receiver
 * rebuilds the exact value from its own copy of the base; the change's
 * checksum, computed there, and the batch's hash check the result.
 *
 * The sender uses a base only if the receiver holds it before the batch
 * is decoded (the receiver's vector when the batch was started, for a
 * bundle the vector it was made for); when it does not, or the delta
 * would not be under half the value, the whole value is sent.
 *
 * Ownership: fsy_delta_make and fsy_delta_apply allocate their output
 * (the caller frees it; fsy_deltas_free frees an array of deltas).
 * Errors: FSY_ENOMEM; fsy_delta_apply FSY_ECORRUPT for a delta that does
 * not rebuild a value of at most FSY_VALUE_MAX bytes from that base.
 */
#ifndef FSY_WIRE_DELTA_H
#define FSY_WIRE_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "fieldsync/change.h"

/* Values shorter than this go whole: a delta's framing would eat the gain. */
#define FSY_DELTA_MIN 512
/* Values rebuilt from deltas in one batch at most (the sender keeps to
 * it; a receiver refuses more: a few bytes of delta against a large base
 * must not make gigabytes). */
#define FSY_DELTA_BATCH_MAX ((size_t)2 << 20)

/* A change's value as a delta; bytes NULL: the value goes whole. */
typedef struct fsy_delta {
    uint8_t *bytes;
    size_t len;
    uint32_t base; /* index into the change's bases */
} fsy_delta_t;

/* The value of base version `base` of c's (scope, doc, field), as the
 * receiver holds it: *value allocated (the caller frees), FSY_ENOTFOUND
 * if it is not held. */
typedef int (*fsy_base_fn)(void *ctx, const fsy_change_t *c,
                           const fsy_version_t *base, uint8_t **value,
                           size_t *len);

/* d := c's value against base (bv, bl), if that is under half the value's
 * size; else d->bytes stays NULL (not an error). */
int fsy_delta_make(const fsy_change_t *c, uint32_t base, const uint8_t *bv,
                   size_t bl, fsy_delta_t *d);

/* Rebuilds a value of at most max bytes (and FSY_VALUE_MAX) from delta
 * (len bytes) and its base's value; the size the delta says is checked
 * before anything is allocated (FSY_ETOOBIG over max). */
int fsy_delta_apply(const uint8_t *delta, size_t len, const uint8_t *bv,
                    size_t bl, size_t max, uint8_t **value, size_t *vlen);

/* Frees the bytes of n deltas and the array; NULL is fine. */
void fsy_deltas_free(fsy_delta_t *d, size_t n);

#endif
