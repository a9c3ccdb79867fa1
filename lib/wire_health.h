/*
 * fieldsync — the HEALTH frame's codec (the message family of health
 * reports, fieldsync/health.h), below wire.c, which frames it.
 *
 * Encoding packs and compresses the report into h->payload; the caller
 * frees *z after packing the frame. Decoding fills out->sites (owned by
 * out, freed by fsy_msg_clear). Errors: FSY_ENOMEM, FSY_ETOOBIG,
 * FSY_EINVAL, FSY_ECORRUPT.
 */
#ifndef FSY_WIRE_HEALTH_H
#define FSY_WIRE_HEALTH_H

#include "fieldsync.pb-c.h"
#include "msg.h"

int fsy_wire_enc_health(const fsy_msg_t *m, Fieldsync__Health *h, uint8_t **z);
int fsy_wire_dec_health(const Fieldsync__Health *h, fsy_msg_t *out);

#endif
