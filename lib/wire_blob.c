/*
 * fieldsync — attachments' chunks on the wire and in bundles. See
 * wire_blob.h.
 */
#include <stdlib.h>
#include <string.h>

#include "fieldsync/attachment.h"
#include "fieldsync/error.h"
#include "wire_blob.h"
#include "wire_codec.h"

size_t
fsy_chunk_len(uint64_t size, uint64_t idx)
{
    uint64_t start = idx * FSY_CHUNK_BYTES;
    if (idx > size / FSY_CHUNK_BYTES || start >= size)
        return 0;
    uint64_t left = size - start;
    return left < FSY_CHUNK_BYTES ? (size_t)left : FSY_CHUNK_BYTES;
}

int
fsy_wire_encode_chunk(const fsy_chunk_t *c, uint8_t **out, size_t *len)
{
    Fieldsync__BlobChunk m = FIELDSYNC__BLOB_CHUNK__INIT;
    m.hash.data = (uint8_t *)c->hash;
    m.hash.len = FSY_BLOB_HASH_LEN;
    m.size = c->size;
    m.index = c->idx;
    m.data.data = c->data;
    m.data.len = c->len;
    return fsy_wire_pack((const ProtobufCMessage *)&m, out, len);
}

static int
s_check(const Fieldsync__BlobChunk *m)
{
    if (m->hash.len != FSY_BLOB_HASH_LEN)
        return fsy_err_set(FSY_EINVAL, "chunk hash of %zu bytes", m->hash.len);
    if (m->size > FSY_ATTACHMENT_SIZE_MAX)
        return fsy_err_set(FSY_EINVAL, "attachment size out of range");
    size_t want = fsy_chunk_len(m->size, m->index);
    if (want == 0 || m->data.len != want)
        return fsy_err_set(FSY_EINVAL,
                           "chunk %llu of a %llu-byte attachment holds %zu "
                           "bytes, not %zu",
                           (unsigned long long)m->index,
                           (unsigned long long)m->size, m->data.len, want);
    return FSY_OK;
}

int
fsy_wire_decode_chunk(const uint8_t *buf, size_t len, fsy_chunk_t *out)
{
    memset(out, 0, sizeof *out);
    fsy_wire_budget_t budget;
    fsy_wire_budget_init(&budget, len);
    Fieldsync__BlobChunk *m =
        fieldsync__blob_chunk__unpack(&budget.a, len, buf);
    if (m == NULL)
        return fsy_err_set(FSY_EFORMAT, "undecodable attachment chunk");
    int rc = s_check(m);
    if (rc == FSY_OK && (out->data = malloc(m->data.len)) == NULL)
        rc = fsy_err_set(FSY_ENOMEM, "out of memory");
    if (rc == FSY_OK) {
        memcpy(out->hash, m->hash.data, FSY_BLOB_HASH_LEN);
        out->size = m->size;
        out->idx = m->index;
        memcpy(out->data, m->data.data, m->data.len);
        out->len = m->data.len;
    }
    fieldsync__blob_chunk__free_unpacked(m, &budget.a);
    return rc;
}
