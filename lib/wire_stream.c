/*
 * fieldsync — a change batch decoded as its bytes arrive (wire_stream.h
 * says why and what is refused).
 */
#include "wire_stream.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "fieldsync.pb-c.h"
#include "fieldsync/error.h"
#include "wire_codec.h"

enum { S_ORIGINS = 1, S_CHANGES = 2, S_HASH = 3, S_LEN_DELIMITED = 2 };

/* The previous change of the batch, which format 2 leaves out fields
 * relative to (proto/fieldsync.proto, message Change); NULL at the first. */
static int
s_dec_ids(fsy_batch_parser_t *p, const Fieldsync__Change *m,
          const fsy_change_t *prev, fsy_change_t *c)
{
    int rc = FSY_OK;
    if (m->has_origin)
        rc =
            fsy_wire_origin_at(p->tab, p->n_tab, m->origin, &c->version.origin);
    else if (prev != NULL)
        c->version.origin = prev->version.origin;
    else
        rc = fsy_err_set(FSY_EFORMAT, "first change names no origin");
    if (rc == FSY_OK && (m->scope != NULL || prev == NULL))
        rc = fsy_wire_copy_str(c->scope, sizeof c->scope, m->scope, "scope");
    else if (rc == FSY_OK)
        memcpy(c->scope, prev->scope, sizeof c->scope);
    if (rc == FSY_OK && (m->doc != NULL || prev == NULL))
        rc = fsy_wire_copy_str(c->doc, sizeof c->doc, m->doc, "document id");
    else if (rc == FSY_OK)
        memcpy(c->doc, prev->doc, sizeof c->doc);
    if (rc == FSY_OK && m->author != NULL)
        rc =
            fsy_wire_copy_str(c->author, sizeof c->author, m->author, "author");
    else if (rc == FSY_OK && prev != NULL)
        memcpy(c->author, prev->author, sizeof c->author);
    return rc;
}

/* seq and hlc: carried, or from the previous change's (format 2). */
static int
s_dec_clock(const Fieldsync__Change *m, const fsy_change_t *prev,
            fsy_change_t *c)
{
    bool same_stream =
        prev != NULL &&
        fsy_origin_eq(&prev->version.origin, &c->version.origin) &&
        strcmp(prev->scope, c->scope) == 0;
    if (m->has_seq)
        c->version.seq = m->seq;
    else if (same_stream && prev->version.seq < INT64_MAX)
        c->version.seq = prev->version.seq + 1;
    else
        return fsy_err_set(FSY_EFORMAT, "a change names no seq");
    if (m->has_hlc) {
        c->version.hlc = m->hlc;
        return FSY_OK;
    }
    /* A change whose delta is left for later is not validated yet: its
     * hlc may be any the sender wrote. Below 2^63 both are positive and
     * the sum cannot wrap. */
    if (prev != NULL && prev->version.hlc > INT64_MAX)
        return fsy_err_set(FSY_EINVAL, "clock value out of range");
    int64_t base = prev ? (int64_t)prev->version.hlc : 0;
    int64_t d = m->has_hlc_delta ? m->hlc_delta : 0;
    if ((d > 0 && base > INT64_MAX - d) || base + d <= 0)
        return fsy_err_set(FSY_EINVAL, "clock value out of range");
    c->version.hlc = (uint64_t)(base + d);
    return FSY_OK;
}

/* The field name: inline (format 2: numbered in the batch) or by number. */
static int
s_dec_field(fsy_batch_parser_t *p, const Fieldsync__Change *m, fsy_change_t *c)
{
    if (m->has_field_ref) {
        if (m->field_ref >= p->n_fields)
            return fsy_err_set(FSY_EINVAL, "field number %u of %zu",
                               m->field_ref, p->n_fields);
        memcpy(c->field, p->fields[m->field_ref], sizeof c->field);
        return FSY_OK;
    }
    int rc =
        fsy_wire_copy_str(c->field, sizeof c->field, m->field, "field name");
    if (rc != FSY_OK)
        return rc;
    if (p->n_fields == p->cap_fields) {
        size_t cap = p->cap_fields ? p->cap_fields * 2 : 16;
        char(*f)[FSY_FIELD_MAX + 1] = realloc(p->fields, cap * sizeof *f);
        if (f == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        p->fields = f;
        p->cap_fields = cap;
    }
    memcpy(p->fields[p->n_fields++], c->field, sizeof c->field);
    p->cost += sizeof *p->fields;
    return FSY_OK;
}

/* c's value from a delta against its base k, the receiver's copy of it
 * read with fn (wire_delta.h); *rebuilt counts the batch's rebuilt bytes
 * (FSY_DELTA_BATCH_MAX). c's bases are decoded, its value is not. */
static int
s_rebuild(fsy_base_fn fn, void *ctx, fsy_change_t *c, uint32_t k,
          const uint8_t *delta, size_t len, size_t *rebuilt)
{
    if (fn == NULL)
        return fsy_err_set(FSY_EFORMAT, "a delta where no replica can "
                                        "rebuild it");
    uint8_t *bv = NULL;
    size_t bl = 0;
    int rc = fn(ctx, c, &c->bases[k], &bv, &bl);
    if (rc == FSY_ENOTFOUND) /* the sender's idea of our vector was wrong */
        rc = fsy_err_set(FSY_ECORRUPT,
                         "a delta against a version this site does not "
                         "hold (restored from a backup since its vector "
                         "was taken?): for a bundle, import one made with "
                         "--all or for this site's vector as it is now");
    if (rc == FSY_OK)
        rc = fsy_delta_apply(delta, len, bv, bl, FSY_DELTA_BATCH_MAX - *rebuilt,
                             &c->value, &c->value_len);
    free(bv);
    if (rc == FSY_OK)
        *rebuilt += c->value_len;
    return rc;
}

/* Which base a delta is against; a change's bases are decoded first. */
static int
s_delta_base(const Fieldsync__Change *m, const fsy_change_t *c, uint32_t *k)
{
    *k = m->has_delta_base ? m->delta_base : 0;
    if (c->ref || *k >= c->n_bases)
        return fsy_err_set(FSY_EFORMAT, "a delta with no base");
    return FSY_OK;
}

/* The checksum sent with m, if any, into c. */
static int
s_take_checksum(const Fieldsync__Change *m, fsy_change_t *c)
{
    if (!m->has_checksum)
        return FSY_OK;
    if (m->checksum.len != FSY_CHECKSUM_LEN)
        return fsy_err_set(FSY_EINVAL, "checksum of %zu bytes",
                           m->checksum.len);
    memcpy(c->checksum, m->checksum.data, FSY_CHECKSUM_LEN);
    return FSY_OK;
}

/* A delta kept for fsy_batch_resolve, with the checksum sent, if any. */
static int
s_defer_delta(fsy_batch_parser_t *p, const Fieldsync__Change *m,
              fsy_change_t *c, uint32_t k)
{
    fsy_batch_rest_t *r = p->rest;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        fsy_deferred_delta_t *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        r->v = v;
        r->cap = cap;
    }
    fsy_deferred_delta_t *d = &r->v[r->n];
    *d = (fsy_deferred_delta_t){.at = p->out->n - 1,
                                .base = k,
                                .sealed = m->has_checksum,
                                .len = m->delta.len};
    int rc = s_take_checksum(m, c);
    if (rc != FSY_OK)
        return rc;
    if ((d->bytes = malloc(d->len ? d->len : 1)) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    memcpy(d->bytes, m->delta.data, d->len);
    p->cost += d->len;
    p->unsealed = p->unsealed || !d->sealed;
    r->n++;
    return FSY_OK;
}

static int
s_dec_value(const Fieldsync__Change *m, fsy_change_t *c)
{
    c->txn_end = m->has_txn_end && m->txn_end;
    c->absent = !m->has_value && !m->has_delta;
    c->ref = m->has_ref && m->ref;
    if (m->has_value && m->has_delta)
        return fsy_err_set(FSY_EFORMAT, "a value and a delta");
    if (m->has_value && m->value.len > FSY_VALUE_MAX)
        return fsy_err_set(FSY_ETOOBIG, "value of %zu bytes", m->value.len);
    if (m->has_value && m->value.len > 0) {
        if ((c->value = malloc(m->value.len)) == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        memcpy(c->value, m->value.data, m->value.len);
        c->value_len = m->value.len;
    }
    return FSY_OK;
}

static int
s_dec_bases(const fsy_batch_parser_t *p, const Fieldsync__Change *m,
            fsy_change_t *c)
{
    if (m->n_bases > FSY_BASES_MAX)
        return fsy_err_set(FSY_ETOOBIG, "%zu bases", m->n_bases);
    if (m->n_bases > 0 &&
        (c->bases = calloc(m->n_bases, sizeof *c->bases)) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    c->n_bases = m->n_bases;
    for (size_t k = 0; k < m->n_bases; k++) {
        c->bases[k].hlc = m->bases[k]->hlc;
        c->bases[k].seq = m->bases[k]->seq;
        int rc = fsy_wire_origin_at(p->tab, p->n_tab, m->bases[k]->origin,
                                    &c->bases[k].origin);
        if (rc != FSY_OK)
            return rc;
    }
    return FSY_OK;
}

/* A change with its checksum is checked against it; one without (format
 * 2) gets it computed, and the batch's hash covers it. One sent as a delta
 * and left for later (fsy_batch_parser_defer) is checked by
 * fsy_batch_resolve once rebuilt. */
static int
s_dec_change(fsy_batch_parser_t *p, const Fieldsync__Change *m,
             const fsy_change_t *prev, fsy_change_t *c)
{
    int rc;
    if ((rc = s_dec_ids(p, m, prev, c)) || (rc = s_dec_clock(m, prev, c)) ||
        (rc = s_dec_field(p, m, c)) || (rc = s_dec_value(m, c)) ||
        (rc = s_dec_bases(p, m, c)))
        return rc;
    uint32_t k = 0;
    if (m->has_delta && (rc = s_delta_base(m, c, &k)) != FSY_OK)
        return rc;
    if (m->has_delta && p->rest != NULL) /* rebuilt and checked later */
        return s_defer_delta(p, m, c, k);
    if (m->has_delta &&
        (rc = s_rebuild(p->base_fn, p->base_ctx, c, k, m->delta.data,
                        m->delta.len, &p->rebuilt)) != FSY_OK)
        return rc;
    if (m->has_checksum) {
        if ((rc = s_take_checksum(m, c)) != FSY_OK)
            return rc;
        rc = fsy_change_validate(c);
    } else {
        p->unsealed = true;
        rc = fsy_change_validate_seal(c);
    }
    if (rc == FSY_OK)
        crypto_generichash_update(&p->hash, c->checksum, FSY_CHECKSUM_LEN);
    return rc;
}

void
fsy_batch_parser_init(fsy_batch_parser_t *p, fsy_change_list_t *out)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    crypto_generichash_init(&p->hash, NULL, 0, FSY_CHECKSUM_LEN);
}

void
fsy_batch_parser_bases(fsy_batch_parser_t *p, fsy_base_fn fn, void *ctx)
{
    p->base_fn = fn;
    p->base_ctx = ctx;
}

void
fsy_batch_parser_defer(fsy_batch_parser_t *p, fsy_batch_rest_t *rest)
{
    fsy_batch_rest_clear(rest);
    rest->first = p->out->n;
    p->rest = rest;
}

void
fsy_batch_rest_clear(fsy_batch_rest_t *rest)
{
    for (size_t i = 0; i < rest->n; i++)
        free(rest->v[i].bytes);
    free(rest->v);
    memset(rest, 0, sizeof *rest);
}

/* The hash of the checksums of l's changes from `first`, as a sender
 * computes it (fsy_wire_encode_batch). */
static int
s_check_hash(const fsy_change_list_t *l, size_t first,
             const uint8_t sent[FSY_CHECKSUM_LEN])
{
    crypto_generichash_state h;
    uint8_t sum[FSY_CHECKSUM_LEN];
    crypto_generichash_init(&h, NULL, 0, FSY_CHECKSUM_LEN);
    for (size_t i = first; i < l->n; i++)
        crypto_generichash_update(&h, l->v[i].checksum, FSY_CHECKSUM_LEN);
    crypto_generichash_final(&h, sum, sizeof sum);
    if (sodium_memcmp(sum, sent, sizeof sum) != 0)
        return fsy_err_set(FSY_ECORRUPT, "batch hash mismatch: changes "
                                         "damaged on the way");
    return FSY_OK;
}

int
fsy_batch_resolve(fsy_change_list_t *l, fsy_batch_rest_t *rest, fsy_base_fn fn,
                  void *ctx)
{
    size_t rebuilt = 0;
    int rc = FSY_OK;
    for (size_t i = 0; rc == FSY_OK && i < rest->n; i++) {
        const fsy_deferred_delta_t *d = &rest->v[i];
        fsy_change_t *c = &l->v[d->at];
        /* a checksum computed here proves nothing without the batch's
         * hash (fsy_batch_parser_end refuses that batch; said again) */
        rc = !d->sealed && !rest->has_hash
                 ? fsy_err_set(FSY_ECORRUPT, "batch without its hash "
                                             "(truncated?)")
                 : s_rebuild(fn, ctx, c, d->base, d->bytes, d->len, &rebuilt);
        if (rc == FSY_OK)
            rc = d->sealed ? fsy_change_validate(c)
                           : fsy_change_validate_seal(c);
        if (rc != FSY_OK)
            rc = fsy_err_set(rc, "change %zu: %s", d->at - rest->first + 1,
                             fsy_errdetail());
    }
    if (rc == FSY_OK && rest->n > 0 && rest->has_hash)
        rc = s_check_hash(l, rest->first, rest->sent_hash);
    fsy_batch_rest_clear(rest);
    return rc;
}

void
fsy_batch_parser_free(fsy_batch_parser_t *p)
{
    free(p->buf);
    free(p->tab);
    free(p->fields);
    memset(p, 0, sizeof *p);
}

/* A varint at b[*pos..n): 1 read, 0 incomplete, -1 malformed. */
static int
s_varint(const uint8_t *b, size_t n, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*pos + i >= n)
            return 0;
        uint8_t c = b[*pos + i];
        *v |= (uint64_t)(c & 0x7f) << (7 * i);
        if ((c & 0x80) == 0) {
            *pos += i + 1;
            return 1;
        }
    }
    return -1;
}

static int
s_origin(fsy_batch_parser_t *p, const uint8_t *b, size_t len)
{
    if (p->n_tab == FSY_WIRE_ORIGINS_MAX)
        return fsy_err_set(FSY_ETOOBIG, "more than %d origins in a batch",
                           FSY_WIRE_ORIGINS_MAX);
    p->cost += sizeof *p->tab;
    if (p->n_tab == p->cap_tab) {
        size_t cap = p->cap_tab ? p->cap_tab * 2 : 16;
        fsy_origin_t *t = realloc(p->tab, cap * sizeof *t);
        if (t == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        p->tab = t;
        p->cap_tab = cap;
    }
    fsy_wire_budget_t budget;
    fsy_wire_budget_init(&budget, len);
    Fieldsync__Origin *m = fieldsync__origin__unpack(&budget.a, len, b);
    if (m == NULL)
        return fsy_err_set(FSY_EFORMAT, "undecodable origin in a batch");
    int rc = fsy_wire_dec_origin(m, &p->tab[p->n_tab]);
    fieldsync__origin__free_unpacked(m, &budget.a);
    p->n_tab += rc == FSY_OK;
    return rc;
}

static int
s_change(fsy_batch_parser_t *p, const uint8_t *b, size_t len)
{
    if (p->out->n == FSY_WIRE_CHANGES_MAX)
        return fsy_err_set(FSY_ETOOBIG, "more than %zu changes in a batch",
                           FSY_WIRE_CHANGES_MAX);
    fsy_wire_budget_t budget;
    fsy_wire_budget_init(&budget, len);
    Fieldsync__Change *m = fieldsync__change__unpack(&budget.a, len, b);
    if (m == NULL)
        return fsy_err_set(FSY_EFORMAT, "change %zu: undecodable",
                           p->out->n + 1);
    fsy_change_t *c;
    int rc = p->has_hash ? fsy_err_set(FSY_EFORMAT, "a change after the "
                                                    "batch's hash")
                         : fsy_change_list_push(p->out, &c);
    if (rc == FSY_OK)
        rc = s_dec_change(p, m, p->out->n > 1 ? c - 1 : NULL, c);
    fieldsync__change__free_unpacked(m, &budget.a);
    if (rc == FSY_OK)
        p->cost += fsy_wire_change_cost(c);
    if (rc != FSY_OK)
        rc = fsy_err_set(rc, "change %zu: %s", p->out->n, fsy_errdetail());
    return rc;
}

static int
s_hash(fsy_batch_parser_t *p, const uint8_t *b, size_t len)
{
    if (len != FSY_CHECKSUM_LEN || p->has_hash)
        return fsy_err_set(FSY_EFORMAT, "a batch hash of %zu bytes%s", len,
                           p->has_hash ? ", twice" : "");
    memcpy(p->sent_hash, b, FSY_CHECKSUM_LEN);
    p->has_hash = true;
    return FSY_OK;
}

/*
 * Decodes the complete fields at the start of b[0..n); *used is how many
 * bytes they took (the rest is an incomplete field).
 */
static int
s_fields(fsy_batch_parser_t *p, const uint8_t *b, size_t n, size_t *used)
{
    *used = 0;
    for (;;) {
        size_t pos = *used;
        uint64_t tag, len;
        int r = s_varint(b, n, &pos, &tag);
        if (r > 0)
            r = s_varint(b, n, &pos, &len);
        if (r < 0 || (r > 0 && ((tag & 7) != S_LEN_DELIMITED ||
                                (tag >> 3) < S_ORIGINS || (tag >> 3) > S_HASH)))
            return fsy_err_set(FSY_EFORMAT,
                               "not a change batch (field "
                               "%llu of type %llu)",
                               (unsigned long long)(tag >> 3),
                               (unsigned long long)(tag & 7));
        if (r > 0 && len > FSY_WIRE_FIELD_MAX)
            return fsy_err_set(FSY_ETOOBIG,
                               "a field of %llu bytes in a batch: larger "
                               "than any change",
                               (unsigned long long)len);
        if (r == 0 || n - pos < len)
            return FSY_OK;
        int rc = (tag >> 3) == S_ORIGINS   ? s_origin(p, b + pos, (size_t)len)
                 : (tag >> 3) == S_CHANGES ? s_change(p, b + pos, (size_t)len)
                                           : s_hash(p, b + pos, (size_t)len);
        if (rc != FSY_OK)
            return rc;
        *used = pos + (size_t)len;
    }
}

int
fsy_batch_parser_feed(fsy_batch_parser_t *p, const uint8_t *data, size_t n)
{
    size_t used;
    if (p->len == 0) { /* nothing pending: decode straight from data */
        int rc = s_fields(p, data, n, &used);
        if (rc != FSY_OK)
            return rc;
        data += used;
        n -= used;
    }
    if (n == 0)
        return FSY_OK;
    if (p->len + n > p->cap) { /* at most one field and a window */
        size_t cap = p->len + n;
        uint8_t *b = realloc(p->buf, cap);
        if (b == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, data, n);
    p->len += n;
    int rc = s_fields(p, p->buf, p->len, &used);
    memmove(p->buf, p->buf + used, p->len - used);
    p->len -= used;
    return rc;
}

int
fsy_batch_parser_check(const fsy_batch_parser_t *p, uint64_t zbytes)
{
    if (p->cost <= FSY_WIRE_COST_FLOOR ||
        p->cost / (zbytes ? zbytes : 1) <= FSY_WIRE_RATIO_MAX)
        return FSY_OK;
    return fsy_err_set(FSY_ETOOBIG,
                       "%llu bytes of changes from %llu compressed: a "
                       "decompression bomb, refused",
                       (unsigned long long)p->cost, (unsigned long long)zbytes);
}

int
fsy_batch_parser_end(fsy_batch_parser_t *p)
{
    if (p->len > 0)
        return fsy_err_set(FSY_EFORMAT, "batch ends inside a change "
                                        "(truncated?)");
    /* protobuf has no end marker: a batch cut between two changes decodes.
     * Batches end on a transaction boundary, so such a cut shows here. */
    if (p->out->n > 0 && !p->out->v[p->out->n - 1].txn_end)
        return fsy_err_set(FSY_ECORRUPT, "batch ends inside a transaction "
                                         "(truncated?)");
    if (!p->has_hash)
        return p->unsealed ? fsy_err_set(FSY_ECORRUPT, "batch without its hash "
                                                       "(truncated?)")
                           : FSY_OK;
    if (p->rest != NULL && p->rest->n > 0) { /* checked once rebuilt */
        p->rest->has_hash = true;
        memcpy(p->rest->sent_hash, p->sent_hash, FSY_CHECKSUM_LEN);
        return FSY_OK;
    }
    uint8_t sum[FSY_CHECKSUM_LEN];
    crypto_generichash_final(&p->hash, sum, sizeof sum);
    if (sodium_memcmp(sum, p->sent_hash, sizeof sum) != 0)
        return fsy_err_set(FSY_ECORRUPT, "batch hash mismatch: changes "
                                         "damaged on the way");
    return FSY_OK;
}

/* zstd output is taken in pieces of this size: the whole never exists. */
#define S_PIECE ((size_t)128 << 10)

static int
s_inflate(ZSTD_DCtx *z, fsy_batch_parser_t *p, const uint8_t *zb, size_t zlen,
          uint64_t raw_len)
{
    uint8_t *piece = malloc(S_PIECE);
    if (piece == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    ZSTD_inBuffer in = {zb, zlen, 0};
    uint64_t total = 0;
    size_t left = 1;
    int rc = FSY_OK;
    while (rc == FSY_OK && left != 0) {
        ZSTD_outBuffer out = {piece, S_PIECE, 0};
        left = ZSTD_decompressStream(z, &out, &in);
        if (ZSTD_isError(left) || (out.pos == 0 && in.pos == in.size && left))
            rc = fsy_err_set(FSY_ECORRUPT, "payload does not decompress");
        else if ((total += out.pos) > raw_len)
            rc = fsy_err_set(FSY_ECORRUPT, "payload is longer than it says");
        else if ((rc = fsy_batch_parser_feed(p, piece, out.pos)) == FSY_OK)
            rc = fsy_batch_parser_check(p, in.pos);
    }
    free(piece);
    if (rc == FSY_OK && (total != raw_len || in.pos != in.size))
        rc = fsy_err_set(FSY_ECORRUPT,
                         "payload is not the %llu bytes it "
                         "says",
                         (unsigned long long)raw_len);
    return rc;
}

int
fsy_wire_inflate_batch(const uint8_t *z, size_t zlen, uint64_t raw_len,
                       uint64_t max, fsy_change_list_t *out)
{
    if (raw_len > max)
        return fsy_err_set(FSY_ETOOBIG,
                           "payload of %llu bytes is over the %llu-byte "
                           "limit",
                           (unsigned long long)raw_len,
                           (unsigned long long)max);
    ZSTD_DCtx *dz = ZSTD_createDCtx();
    if (dz == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    /* Batches are compressed at a level whose window is 2 MiB at most; a
     * frame asking for more is not one of ours. */
    ZSTD_DCtx_setParameter(dz, ZSTD_d_windowLogMax, 22);
    fsy_batch_parser_t p;
    fsy_batch_parser_init(&p, out);
    int rc = s_inflate(dz, &p, z, zlen, raw_len);
    if (rc == FSY_OK)
        rc = fsy_batch_parser_end(&p);
    fsy_batch_parser_free(&p);
    ZSTD_freeDCtx(dz);
    if (rc != FSY_OK)
        fsy_change_list_clear(out);
    return rc;
}
