/*
 * fieldsync — what the message codecs share: origin tables, vectors,
 * packing, decoding under a budget, zstd. Below wire.c (frames) and
 * wire_health.c (health reports); nothing outside the wire codec includes
 * this. protobuf-c types stop here and in those two files.
 *
 * Errors: FSY_ENOMEM, FSY_ETOOBIG, FSY_EINVAL, FSY_ECORRUPT, with a detail.
 */
#ifndef FSY_WIRE_CODEC_H
#define FSY_WIRE_CODEC_H

#include "fieldsync.pb-c.h"
#include "fieldsync/change.h"
#include "fieldsync/vv.h"

/* An origin table being built for one message (entries borrow names). */
typedef struct fsy_wire_otab {
    Fieldsync__Origin *v;
    Fieldsync__Origin **ptrs;
    size_t n, cap;
    size_t last;
} fsy_wire_otab_t;

/* A vector ready to pack; it borrows from the fsy_vv_t it was built from.
 * Zero it before building; free with fsy_wire_vv_enc_free (also after a
 * failed build). */
typedef struct fsy_wire_vv_enc {
    Fieldsync__VersionVector msg;
    fsy_wire_otab_t origins;
    Fieldsync__VvEntry *entries;
    Fieldsync__VvEntry **eptrs;
} fsy_wire_vv_enc_t;

int fsy_wire_vv_build(fsy_wire_vv_enc_t *e, const fsy_vv_t *vv);
void fsy_wire_vv_enc_free(fsy_wire_vv_enc_t *e);

/* Decodes and validates a vector into vv (vv->v owned by the caller);
 * nothing is left allocated on error. */
int fsy_wire_dec_vv(const Fieldsync__VersionVector *m, fsy_vv_t *vv);

/* Most entries a decoded version vector may have. */
#define FSY_VV_MAX 10000

#define FSY_MSG_ZSTD_LEVEL 3 /* fast: batches are small and frequent */

/* Origin tables: each origin written once per message, referenced by
 * index. fsy_wire_otab_index adds o if new; fsy_wire_otab_ptrs makes the
 * pointer array the message holds (valid until the table grows). */
void fsy_wire_otab_free(fsy_wire_otab_t *t);
int fsy_wire_otab_index(fsy_wire_otab_t *t, const fsy_origin_t *o,
                        uint32_t *idx);
int fsy_wire_otab_ptrs(fsy_wire_otab_t *t);

/* Decodes and checks a table of origins into malloc'd *out; the origin at
 * idx of a table of n, FSY_EINVAL if out of range. */
int fsy_wire_dec_origin(const Fieldsync__Origin *m, fsy_origin_t *o);
int fsy_wire_dec_origins(Fieldsync__Origin **v, size_t n, fsy_origin_t **out);
int fsy_wire_origin_at(const fsy_origin_t *tab, size_t n, uint32_t idx,
                       fsy_origin_t *o);

/* Packs m into a malloc'd buffer. */
int fsy_wire_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len);

/* Copies a decoded string, FSY_ETOOBIG if it does not fit in size,
 * FSY_EFORMAT if there is none (src NULL). */
int fsy_wire_copy_str(char *dst, size_t size, const char *src,
                      const char *what);

/*
 * protobuf-c unpacks a whole message before anything can be checked:
 * unpacking draws on a budget proportional to the input, so a small hostile
 * message cannot make it allocate without bound.
 */
typedef struct fsy_wire_budget {
    ProtobufCAllocator a;
    size_t left;
} fsy_wire_budget_t;

void fsy_wire_budget_init(fsy_wire_budget_t *b, size_t len);

/* zstd: *z is malloc'd (the caller frees it). */
int fsy_wire_compress(const uint8_t *raw, size_t len, uint8_t **z, size_t *zl);
/* Inflates exactly raw_len bytes (at most max) into malloc'd *raw;
 * FSY_ETOOBIG or FSY_ECORRUPT otherwise, with nothing allocated. */
int fsy_wire_decompress(const ProtobufCBinaryData *z, uint64_t raw_len,
                        uint64_t max, uint8_t **raw);

#endif
