/*
 * fieldsync — the live sync messages as fieldsync's own structs: what the
 * codec (wire.h) decodes a frame into and encodes from, and what sessions
 * (daemon/peer.c) and health reports (daemon/health.c) handle. Below the
 * codec, so the message families' codecs share it without needing each
 * other.
 */
#ifndef FSY_MSG_H
#define FSY_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "fieldsync/attachment.h"
#include "fieldsync/change.h"
#include "fieldsync/health.h"
#include "fieldsync/store.h"
#include "fieldsync/vv.h"

/* 2 added attachment references: a version-1 peer would take one for
 * bytes and refuse its batch, so the sessions refuse each other instead,
 * with a message that says to upgrade. 3: batches in wire format 2
 * (proto/fieldsync.proto, message Change), which a version-2 peer cannot
 * read. */
#define FSY_PROTOCOL_VERSION 3
/* Largest frame any peer sends or accepts (a batch of whole transactions
 * always fits: see FSY_TXN_BYTES_MAX). */
#define FSY_MSG_MAX ((size_t)64 << 20)

typedef enum fsy_msg_type {
    FSY_MSG_HELLO = 1,
    FSY_MSG_BATCH,
    FSY_MSG_ACK,
    FSY_MSG_HEARTBEAT,
    FSY_MSG_REFUSE,
    FSY_MSG_HEALTH,
    FSY_MSG_WANT,
    FSY_MSG_CHUNK,
    FSY_MSG_NOTHAVE
} fsy_msg_type_t;

/* Longest HELLO instance kept ("host pid N"); longer ones are cut. */
#define FSY_INSTANCE_MAX 48

/* Most chunks one WANT asks for. */
#define FSY_WANT_MAX 64

/*
 * One decoded frame. Which members mean something depends on `type`:
 *   HELLO      origin, vv, max_value, max_txn_changes, attachments,
 *              instance ("" when the sender left it out), merge_rule
 *   BATCH      id, changes (decompressed, decoded, validated); or, a
 *              frame of the session's compression stream (zstream != 0),
 *              zpayload, zlen, raw_len, zstream, zseq: left compressed for
 *              the session to inflate (lib/wire_zstream.h). Decoded, the
 *              payload is owned by the message; to encode, it is borrowed
 *   ACK        id, vv, gapped, refused
 *   HEARTBEAT  sent_ms
 *   REFUSE     reason, retry_ms (0: whenever the sender likes)
 *   HEALTH     sites, n_sites: the sender's own summary first; in each,
 *              heard_ms carries an AGE (ms since last heard), and via and
 *              updated_ms are unused (the receiver fills them)
 *   WANT       chunk.hash, chunk.size, want[n_want], fetch, have
 *   CHUNK      chunk (data decompressed and checked for its place)
 *   NOTHAVE    chunk.hash, reason
 * vv.v, changes, sites and chunk.data are owned by the message:
 * fsy_msg_clear() frees them (an encoder only borrows them).
 */
typedef struct fsy_msg {
    fsy_msg_type_t type;
    fsy_origin_t origin;
    fsy_vv_t vv;
    uint32_t max_value, max_txn_changes;
    uint32_t attachments; /* fsy_attach_policy_t, from a parent */
    fsy_tip_t *tips;      /* HELLO from a parent: the child's own streams */
    size_t n_tips;
    /* HELLO, ACK or HEARTBEAT from a parent: what the root holds of the
     * child's subtree's streams (has_root false: not sent) */
    fsy_vv_t root;
    bool has_root;
    uint64_t id;
    fsy_change_list_t changes;
    bool urgent;       /* BATCH: urgent transactions, ahead of the log order */
    uint8_t *zpayload; /* BATCH of a compression stream (see above) */
    size_t zlen;
    uint64_t raw_len, zstream, zseq;
    uint64_t gapped, refused;
    uint64_t sent_ms;
    char reason[256];
    uint64_t retry_ms;
    /* HELLO: the daemon run, as people name it: "host pid N" (cleaned) */
    char instance[FSY_INSTANCE_MAX + 1];
    /* HELLO: the sender's largest window in a compression stream, as on
     * the wire (has_window false: not said, the largest) */
    uint32_t window_log;
    bool has_window;
    /* HELLO: the sender's text merge rule (fsy_store_merge_rule()), ""
     * when an older sender left it out */
    char merge_rule[FSY_MERGE_RULE_MAX + 1];
    fsy_site_health_t *sites;
    size_t n_sites;
    fsy_chunk_t chunk;
    uint64_t want[FSY_WANT_MAX];
    size_t n_want;
    bool fetch;
    uint64_t have;
} fsy_msg_t;

/* Frees what a message owns and zeroes it. */
void fsy_msg_clear(fsy_msg_t *m);

#endif
