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

#include "msg.h"

int fsy_wire_encode_chunk(const fsy_chunk_t *c, uint8_t **out, size_t *len);
int fsy_wire_decode_chunk(const uint8_t *buf, size_t len, fsy_chunk_t *out);

/* The length chunk idx of a blob of size bytes holds; 0 if none. */
size_t fsy_chunk_len(uint64_t size, uint64_t idx);

#endif
