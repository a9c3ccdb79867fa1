/*
 * fieldsync — protobuf codec for change batches, vectors and bundles.
 *
 * protobuf-c structures never leave wire.c: callers hand in and get back
 * fieldsync's own types. Decoding validates everything before returning
 * (structure, indexes, sizes, identifiers, UTF-8, checksums), so nothing
 * decoded here can reach the replica unchecked.
 *
 * Ownership: encoders return a malloc'd buffer the caller frees. Decoders
 * fill caller-owned structures (change lists, vectors) that the caller
 * clears with fsy_change_list_clear() / free(vv->v). On error nothing is
 * left allocated in the outputs.
 *
 * Errors: FSY_EFORMAT (not decodable), FSY_EINVAL / FSY_ETOOBIG / FSY_ECORRUPT
 * (decodable but invalid), FSY_ENOMEM.
 */
#ifndef FSY_WIRE_H
#define FSY_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "fieldsync/bundle.h"
#include "fieldsync/change.h"
#include "fieldsync/store.h"

#define FSY_BUNDLE_FORMAT 1

/* A batch of changes: the unit the daemon sends and a bundle carries. */
int fsy_wire_encode_batch(const fsy_change_t *c, size_t n, uint8_t **out,
                          size_t *len);
int fsy_wire_decode_batch(const uint8_t *buf, size_t len,
                          fsy_change_list_t *out);

/*
 * A bundle's header record: sender, creation time and vector. Decoding
 * fills those members of out (and nothing else); on error out->sender_vv
 * holds nothing.
 */
int fsy_wire_encode_bundle_header(const fsy_origin_t *sender,
                                  uint64_t created_ms, const fsy_vv_t *vv,
                                  uint8_t **out, size_t *len);
int fsy_wire_decode_bundle_header(const uint8_t *buf, size_t len,
                                  fsy_bundle_t *out);

#endif
