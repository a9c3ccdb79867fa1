/*
 * fieldsync — what wire.c shares with the other codecs (wire_health.c).
 * Nothing outside the wire codec includes this.
 */
#ifndef FSY_WIRE_INTERNAL_H
#define FSY_WIRE_INTERNAL_H

#include "fieldsync.pb-c.h"
#include "wire.h"

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

/* Packs m into a malloc'd buffer. */
int fsy_wire_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len);

/* Copies a decoded string, FSY_ETOOBIG if it does not fit in size. */
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

/* HEALTH frames (wire_health.c): the report is packed and compressed into
 * h->payload (caller frees *z); decoding fills out->sites. */
int fsy_wire_enc_health(const fsy_msg_t *m, Fieldsync__Health *h, uint8_t **z);
int fsy_wire_dec_health(const Fieldsync__Health *h, fsy_msg_t *out);

#endif
