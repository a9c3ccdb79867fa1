/*
 * fieldsync — protobuf codec for change batches, vectors and bundles.
 *
 * protobuf-c structures never leave the codec (wire.c, wire_health.c,
 * wire_codec.c): callers hand in and get back fieldsync's own types. Decoding
 * validates everything before returning (structure, indexes, sizes,
 * identifiers, UTF-8, checksums), so nothing decoded here can reach the replica
 * unchecked.
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

#include "fieldsync/change.h"
#include "fieldsync/error.h"
#include "fieldsync/vv.h"
#include "msg.h"
#include "wire_delta.h"

/* Bundle formats written and read: 2 added attachment references (a
 * format-1 reader would take a reference for bytes and refuse it); 3 has
 * batches in wire format 2 (no checksum per change, names and clocks
 * relative to the previous change). Formats 1 and 2 still import. */
#define FSY_BUNDLE_FORMAT 3
#define FSY_BUNDLE_FORMAT_MIN 1

/* A batch of changes: the unit the daemon sends and a bundle carries.
 * With deltas (d: NULL, or one per change), a change whose delta has
 * bytes carries them instead of its value; such a batch decodes only
 * with a way to the bases (fsy_batch_parser_bases, or
 * fsy_batch_parser_defer then fsy_batch_resolve). */
int fsy_wire_encode_batch(const fsy_change_t *c, size_t n, uint8_t **out,
                          size_t *len);
int fsy_wire_encode_batch_deltas(const fsy_change_t *c, size_t n,
                                 const fsy_delta_t *d, uint8_t **out,
                                 size_t *len);
int fsy_wire_decode_batch(const uint8_t *buf, size_t len,
                          fsy_change_list_t *out);

/*
 * A bundle's header record: sender, creation time, vector and the
 * sender's text merge rule (fsy_store_merge_rule()). On error
 * out->sender_vv holds nothing; otherwise its entries are the caller's
 * (free(out->sender_vv.v)).
 */
typedef struct fsy_bundle_header {
    uint32_t format; /* FSY_BUNDLE_FORMAT_MIN ... FSY_BUNDLE_FORMAT */
    fsy_origin_t sender;
    uint64_t created_ms;
    fsy_vv_t sender_vv;
    char merge_rule[FSY_MERGE_RULE_MAX + 1]; /* "" if not said */
} fsy_bundle_header_t;

int fsy_wire_encode_bundle_header(const fsy_origin_t *sender,
                                  uint64_t created_ms, const fsy_vv_t *vv,
                                  const char *merge_rule, uint8_t **out,
                                  size_t *len);
int fsy_wire_decode_bundle_header(const uint8_t *buf, size_t len,
                                  fsy_bundle_header_t *out);

/* ---- live sync messages (their structs: msg.h) ------------------------- */

/* Encodes m (a BATCH's changes are compressed here). */
int fsy_wire_encode_msg(const fsy_msg_t *m, uint8_t **out, size_t *len);

/*
 * Decodes and validates a frame. FSY_EVERSION (detail names both
 * versions) for another protocol version; FSY_EFORMAT, FSY_EINVAL,
 * FSY_ETOOBIG, FSY_ECORRUPT for anything malformed. On error out holds
 * nothing.
 */
int fsy_wire_decode_msg(const uint8_t *buf, size_t len, fsy_msg_t *out);

#endif
