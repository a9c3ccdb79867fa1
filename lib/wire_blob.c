/*
 * fieldsync — attachments' chunks on the wire and in bundles. See
 * wire_blob.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/attachment.h"
#include "fieldsync/error.h"
#include "fieldsync/ident.h"
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

/* ---- live frames --------------------------------------------------------- */

static void
s_enc_chunk_frame(const fsy_msg_t *m, fsy_wire_blob_enc_t *e)
{
    const fsy_chunk_t *c = &m->chunk;
    Fieldsync__BlobChunk *x = &e->chunk;
    fieldsync__blob_chunk__init(x);
    x->hash.data = (uint8_t *)c->hash;
    x->hash.len = FSY_BLOB_HASH_LEN;
    x->size = c->size;
    x->index = c->idx;
    x->data.data = c->data;
    x->data.len = c->len;
    size_t zl = 0;
    /* PDFs and photos are compressed already: raw, unless zstd wins */
    if (c->len > 0 &&
        fsy_wire_compress(c->data, c->len, &e->z, &zl) == FSY_OK &&
        zl < c->len) {
        x->data.data = e->z;
        x->data.len = zl;
        x->has_raw_len = true;
        x->raw_len = c->len;
    }
}

int
fsy_wire_enc_blob(const fsy_msg_t *m, Fieldsync__Frame *f,
                  fsy_wire_blob_enc_t *e)
{
    memset(e, 0, sizeof *e);
    if (m->type == FSY_MSG_WANT) {
        fieldsync__want__init(&e->want);
        e->want.hash.data = (uint8_t *)m->chunk.hash;
        e->want.hash.len = FSY_BLOB_HASH_LEN;
        e->want.size = m->chunk.size;
        e->want.n_index = m->n_want;
        e->want.index = (uint64_t *)m->want;
        e->want.has_fetch = m->fetch;
        e->want.fetch = m->fetch;
        e->want.has_have = true;
        e->want.have = m->have;
        f->body_case = FIELDSYNC__FRAME__BODY_WANT;
        f->want = &e->want;
    } else if (m->type == FSY_MSG_CHUNK) {
        s_enc_chunk_frame(m, e);
        f->body_case = FIELDSYNC__FRAME__BODY_CHUNK;
        f->chunk = &e->chunk;
    } else {
        fieldsync__not_have__init(&e->nothave);
        e->nothave.hash.data = (uint8_t *)m->chunk.hash;
        e->nothave.hash.len = FSY_BLOB_HASH_LEN;
        e->nothave.reason = (char *)m->reason;
        f->body_case = FIELDSYNC__FRAME__BODY_NOTHAVE;
        f->nothave = &e->nothave;
    }
    return FSY_OK;
}

void
fsy_wire_blob_enc_free(fsy_wire_blob_enc_t *e)
{
    free(e->z);
    e->z = NULL;
}

static int
s_hash_of(const ProtobufCBinaryData *h, uint8_t out[FSY_BLOB_HASH_LEN])
{
    if (h->len != FSY_BLOB_HASH_LEN)
        return fsy_err_set(FSY_EINVAL, "attachment hash of %zu bytes", h->len);
    memcpy(out, h->data, FSY_BLOB_HASH_LEN);
    return FSY_OK;
}

static int
s_dec_want(const Fieldsync__Want *w, fsy_msg_t *out)
{
    out->type = FSY_MSG_WANT;
    int rc = s_hash_of(&w->hash, out->chunk.hash);
    if (rc != FSY_OK)
        return rc;
    if (w->size > FSY_ATTACHMENT_SIZE_MAX || w->n_index > FSY_WANT_MAX)
        return fsy_err_set(FSY_EINVAL, "attachment request out of range");
    out->chunk.size = w->size;
    for (size_t i = 0; i < w->n_index; i++) {
        if (fsy_chunk_len(w->size, w->index[i]) == 0)
            return fsy_err_set(FSY_EINVAL,
                               "chunk %llu is not in the "
                               "attachment",
                               (unsigned long long)w->index[i]);
        out->want[i] = w->index[i];
    }
    out->n_want = w->n_index;
    out->fetch = w->has_fetch && w->fetch;
    out->have = w->has_have && w->have <= w->size ? w->have : 0;
    return FSY_OK;
}

static int
s_dec_chunk_frame(const Fieldsync__BlobChunk *m, fsy_msg_t *out)
{
    out->type = FSY_MSG_CHUNK;
    if (!m->has_raw_len) {
        int rc = s_check(m);
        if (rc != FSY_OK)
            return rc;
        if ((out->chunk.data = malloc(m->data.len ? m->data.len : 1)) == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        memcpy(out->chunk.data, m->data.data, m->data.len);
    } else {
        /* the raw length is checked before anything is inflated */
        size_t want = fsy_chunk_len(m->size, m->index);
        if (m->size > FSY_ATTACHMENT_SIZE_MAX || want == 0 ||
            m->raw_len != want)
            return fsy_err_set(FSY_EINVAL, "compressed chunk of the wrong "
                                           "length");
        int rc = fsy_wire_decompress(&m->data, m->raw_len, FSY_CHUNK_BYTES,
                                     &out->chunk.data);
        if (rc != FSY_OK)
            return rc;
    }
    out->chunk.len = fsy_chunk_len(m->size, m->index);
    out->chunk.size = m->size;
    out->chunk.idx = m->index;
    return s_hash_of(&m->hash, out->chunk.hash);
}

int
fsy_wire_dec_blob(const Fieldsync__Frame *f, fsy_msg_t *out)
{
    if (f->body_case == FIELDSYNC__FRAME__BODY_WANT)
        return s_dec_want(f->want, out);
    if (f->body_case == FIELDSYNC__FRAME__BODY_CHUNK)
        return s_dec_chunk_frame(f->chunk, out);
    out->type = FSY_MSG_NOTHAVE;
    snprintf(out->reason, sizeof out->reason, "%s", f->nothave->reason);
    fsy_text_clean(out->reason); /* it reaches logs and terminals */
    return s_hash_of(&f->nothave->hash, out->chunk.hash);
}
