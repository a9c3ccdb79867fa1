/*
 * fieldsync — the codec of attachments' chunks (BlobChunk), the message
 * family of blobs: bundle records and, later, the live link's frames.
 *
 * Decoding checks the chunk's place: a size within FSY_ATTACHMENT_SIZE_MAX,
 * an index inside the blob, and exactly the bytes that index holds
 * (FSY_CHUNK_BYTES, or what is left at the end). Ownership: the encoder
 * returns a malloc'd buffer; the decoder fills out->data (free it).
 * Errors: FSY_EFORMAT, FSY_EINVAL, FSY_ENOMEM.
 */
#ifndef FSY_WIRE_BLOB_H
#define FSY_WIRE_BLOB_H

#include "fieldsync.pb-c.h"
#include "msg.h"

/* The live link's WANT, CHUNK and NOTHAVE frames: the body of f for m
 * (pointing into e, which must outlive the packing; free it after), and
 * the message from a decoded frame of those kinds. A chunk travels
 * zstd-compressed when that makes it smaller. */
typedef struct fsy_wire_blob_enc {
    Fieldsync__Want want;
    Fieldsync__BlobChunk chunk;
    Fieldsync__NotHave nothave;
    uint8_t *z;
} fsy_wire_blob_enc_t;

int fsy_wire_enc_blob(const fsy_msg_t *m, Fieldsync__Frame *f,
                      fsy_wire_blob_enc_t *e);
void fsy_wire_blob_enc_free(fsy_wire_blob_enc_t *e);
int fsy_wire_dec_blob(const Fieldsync__Frame *f, fsy_msg_t *out);

int fsy_wire_encode_chunk(const fsy_chunk_t *c, uint8_t **out, size_t *len);
int fsy_wire_decode_chunk(const uint8_t *buf, size_t len, fsy_chunk_t *out);

/* The length chunk idx of a blob of size bytes holds; 0 if none. */
size_t fsy_chunk_len(uint64_t size, uint64_t idx);

#endif
