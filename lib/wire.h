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
#include "fieldsync/health.h"
#include "fieldsync/store.h"

#define FSY_BUNDLE_FORMAT 1
/* Most entries a decoded version vector may have. */
#define FSY_VV_MAX 10000

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

/* ---- live sync messages ----------------------------------------------- */

#define FSY_PROTOCOL_VERSION 1
/* Largest frame any peer sends or accepts (a batch of whole transactions
 * always fits: see FSY_TXN_BYTES_MAX). */
#define FSY_MSG_MAX ((size_t)64 << 20)

typedef enum fsy_msg_type {
    FSY_MSG_HELLO = 1,
    FSY_MSG_BATCH,
    FSY_MSG_ACK,
    FSY_MSG_HEARTBEAT,
    FSY_MSG_REFUSE,
    FSY_MSG_HEALTH
} fsy_msg_type_t;

/*
 * One decoded frame. Which members mean something depends on `type`:
 *   HELLO      origin, vv, max_value, max_txn_changes
 *   BATCH      id, changes (decompressed, decoded, validated)
 *   ACK        id, vv, gapped, refused
 *   HEARTBEAT  sent_ms
 *   REFUSE     reason
 *   HEALTH     sites, n_sites: the sender's own summary first; in each,
 *              heard_ms carries an AGE (ms since last heard), and via and
 *              updated_ms are unused (the receiver fills them)
 * vv.v, changes and sites are owned by the message: fsy_msg_clear() frees
 * them (an encoder only borrows them).
 */
typedef struct fsy_msg {
    fsy_msg_type_t type;
    fsy_origin_t origin;
    fsy_vv_t vv;
    uint32_t max_value, max_txn_changes;
    uint64_t id;
    fsy_change_list_t changes;
    uint64_t gapped, refused;
    uint64_t sent_ms;
    char reason[256];
    fsy_site_health_t *sites;
    size_t n_sites;
} fsy_msg_t;

/* Encodes m (a BATCH's changes are compressed here). */
int fsy_wire_encode_msg(const fsy_msg_t *m, uint8_t **out, size_t *len);

/*
 * Decodes and validates a frame. FSY_EVERSION (detail names both
 * versions) for another protocol version; FSY_EFORMAT, FSY_EINVAL,
 * FSY_ETOOBIG, FSY_ECORRUPT for anything malformed. On error out holds
 * nothing.
 */
int fsy_wire_decode_msg(const uint8_t *buf, size_t len, fsy_msg_t *out);

/* Frees what a message owns and zeroes it. */
void fsy_msg_clear(fsy_msg_t *m);

#endif
