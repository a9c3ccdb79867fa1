/*
 * fieldsync — decoding a change batch as its bytes arrive, in bounded
 * memory (live frames: wire.c; bundle records: bundle.c).
 *
 * Why: protobuf-c unpacks a whole message before anything can be
 * checked, and a few kilobytes of zstd can declare 64 MiB of anything. A
 * batch is a run of length-delimited fields (origins, then changes), each
 * small (a change is at most one value plus its bases): the parser keeps
 * only the field being completed, unpacks each change on its own under a
 * budget of its size, converts and validates it, and stops at the first
 * thing wrong. A bomb of garbage costs one window of decompression; a
 * batch's real contents cost what they are.
 *
 * Limits: a field over FSY_WIRE_FIELD_MAX, more than FSY_WIRE_CHANGES_MAX
 * changes or FSY_WIRE_ORIGINS_MAX origins, a field of another number or
 * type: FSY_EFORMAT / FSY_ETOOBIG with a one-line detail.
 *
 * Ownership: the parser appends to the caller's list (which it never
 * frees); fsy_batch_parser_free() frees its own buffers. Output of a
 * failed parse must be cleared by the caller.
 */
#ifndef FSY_WIRE_STREAM_H
#define FSY_WIRE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "fieldsync/change.h"
#include "wire_delta.h"

/* A change's encoding: its value, its bases and the rest. */
#define FSY_WIRE_FIELD_MAX ((size_t)FSY_VALUE_MAX + FSY_BASES_MAX * 64 + 4096)
/* batch_changes' largest setting, and the transaction that closes a batch */
#define FSY_WIRE_CHANGES_MAX ((size_t)FSY_TXN_MAX * 65)
#define FSY_WIRE_ORIGINS_MAX 65536
/* Decoded memory past this, at more than FSY_WIRE_RATIO_MAX times the
 * compressed bytes it came from, is a bomb of valid-looking changes (a
 * base is 8 bytes compressed and 64 decoded): refused. Real batches of
 * text and 16-byte bases come nowhere near. */
#define FSY_WIRE_COST_FLOOR ((uint64_t)4 << 20)
#define FSY_WIRE_RATIO_MAX 256

/* One change's part of that decoded memory: what a parser counts, and what
 * a sender counts to keep a batch it lets grow under the floor. */
static inline uint64_t
fsy_wire_change_cost(const fsy_change_t *c)
{
    return sizeof *c + c->value_len + c->n_bases * sizeof *c->bases;
}

/*
 * Deltas a parser left for later (fsy_batch_parser_defer), so that a batch
 * can be decoded on a thread without the replica: each delta's bytes, the
 * change it rebuilds (its index in the list) and the batch's hash, which
 * covers the rebuilt changes' checksums. fsy_batch_resolve rebuilds and
 * checks them where the replica is; until then those changes have no
 * value and are not checked: nothing may apply them.
 */
typedef struct fsy_deferred_delta {
    size_t at;     /* the change, in the list given to the parser */
    uint32_t base; /* which of its bases the delta is against */
    bool sealed;   /* its checksum came with it (else it is computed) */
    uint8_t *bytes;
    size_t len;
} fsy_deferred_delta_t;

typedef struct fsy_batch_rest {
    fsy_deferred_delta_t *v;
    size_t n, cap;
    size_t first;  /* the batch's first change in the list */
    bool has_hash; /* the batch's hash, checked once all are rebuilt */
    uint8_t sent_hash[FSY_CHECKSUM_LEN];
} fsy_batch_rest_t;

typedef struct fsy_batch_parser {
    fsy_change_list_t *out;
    uint8_t *buf; /* bytes of the field being completed */
    size_t len, cap;
    fsy_origin_t *tab; /* the batch's origins, by index */
    size_t n_tab, cap_tab;
    char (*fields)[FSY_FIELD_MAX + 1]; /* format 2: field names by number */
    size_t n_fields, cap_fields;
    uint64_t cost; /* bytes the decoded changes take in memory */
    /* format 2: the changes' checksums, computed here, hashed as the
     * batch's hash must match */
    crypto_generichash_state hash;
    uint8_t sent_hash[FSY_CHECKSUM_LEN];
    bool has_hash;       /* the batch's hash was read (nothing may follow) */
    bool unsealed;       /* a change came without its checksum */
    fsy_base_fn base_fn; /* deltas: the receiver's values of bases */
    void *base_ctx;
    size_t rebuilt; /* bytes rebuilt from deltas (FSY_DELTA_BATCH_MAX) */
    fsy_batch_rest_t *rest; /* deltas left for later (NULL: none are) */
} fsy_batch_parser_t;

void fsy_batch_parser_init(fsy_batch_parser_t *p, fsy_change_list_t *out);

/* Deltas in the batch are rebuilt with fn (NULL: a delta is refused). */
void fsy_batch_parser_bases(fsy_batch_parser_t *p, fsy_base_fn fn, void *ctx);

/* Deltas in the batch are left in rest (emptied first, the caller's):
 * fsy_batch_resolve must rebuild them before the batch is used. */
void fsy_batch_parser_defer(fsy_batch_parser_t *p, fsy_batch_rest_t *rest);

/*
 * Rebuilds the deltas left in rest with fn (NULL: a delta is refused) and
 * checks each rebuilt change and the batch's hash: after FSY_OK every
 * change in the list is whole and checked. l is the list the parser
 * filled, as it left it (the deltas name their changes by index), after
 * fsy_batch_parser_end returned FSY_OK. Errors as the parser's (a base
 * not held here: FSY_ECORRUPT); the list is then the caller's to clear.
 * rest is emptied either way.
 */
int fsy_batch_resolve(fsy_change_list_t *l, fsy_batch_rest_t *rest,
                      fsy_base_fn fn, void *ctx);

/* Frees what rest holds; a zeroed rest is empty. */
void fsy_batch_rest_clear(fsy_batch_rest_t *rest);

/* Takes n more bytes of the batch; decodes every field they complete. */
int fsy_batch_parser_feed(fsy_batch_parser_t *p, const uint8_t *data, size_t n);

/* After zbytes of compressed input: FSY_ETOOBIG if what was decoded from
 * them is past FSY_WIRE_COST_FLOOR and FSY_WIRE_RATIO_MAX times as large. */
int fsy_batch_parser_check(const fsy_batch_parser_t *p, uint64_t zbytes);

/* The batch has ended: nothing may be left over, and the last change must
 * end a transaction (a batch cut between changes would still decode). */
int fsy_batch_parser_end(fsy_batch_parser_t *p);

void fsy_batch_parser_free(fsy_batch_parser_t *p);

/*
 * Decompresses and decodes a zstd-compressed batch of raw_len bytes (at
 * most max) into out, streaming. FSY_ECORRUPT if it does not decompress to
 * exactly raw_len; the parser's errors otherwise. out is cleared on error.
 */
int fsy_wire_inflate_batch(const uint8_t *z, size_t zlen, uint64_t raw_len,
                           uint64_t max, fsy_change_list_t *out);

#endif
