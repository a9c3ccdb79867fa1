/*
 * fieldsync — which changes may travel as deltas to a site, and the
 * bases a received delta is rebuilt from, from the replica
 * (lib/wire_delta.h says why and how).
 *
 * Ownership: *out from fsy_store_deltas is the caller's
 * (fsy_deltas_free(*out, n)); NULL when no change is worth a delta.
 * Errors: FSY_ENOMEM and the store's read errors.
 */
#ifndef FSY_STORE_DELTA_H
#define FSY_STORE_DELTA_H

#include <stddef.h>

#include "fieldsync/store.h"
#include "fieldsync/vv.h"
#include "wire_delta.h"

/* A delta for each of the n changes whose base version the site holding
 * `held` holds (before any of these changes), when it pays. */
int fsy_store_deltas(fsy_store_t *s, const fsy_change_t *c, size_t n,
                     const fsy_vv_t *held, fsy_delta_t **out);

/* An fsy_base_fn over the replica (ctx: the fsy_store_t). */
int fsy_store_base(void *ctx, const fsy_change_t *c, const fsy_version_t *base,
                   uint8_t **value, size_t *len);

#endif
