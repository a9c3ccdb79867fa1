/*
 * fieldsync — what the message codecs share (wire.c, wire_health.c): origin
 * tables, vectors, packing under a decoding budget, zstd. See wire_codec.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"
#include "wire_codec.h"

/* ---- origin tables ---------------------------------------------------- */

void
fsy_wire_otab_free(fsy_wire_otab_t *t)
{
    free(t->v);
    free(t->ptrs);
}

/* Index of origin o in the table, added if new. */
int
fsy_wire_otab_index(fsy_wire_otab_t *t, const fsy_origin_t *o, uint32_t *idx)
{
    if (t->last < t->n && t->v[t->last].incarnation == o->incarnation &&
        strcmp(t->v[t->last].site, o->site) == 0) {
        *idx = (uint32_t)t->last;
        return FSY_OK;
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].incarnation == o->incarnation &&
            strcmp(t->v[i].site, o->site) == 0) {
            *idx = (uint32_t)(t->last = i);
            return FSY_OK;
        }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        Fieldsync__Origin *v = realloc(t->v, cap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        t->v = v;
        t->cap = cap;
    }
    Fieldsync__Origin *e = &t->v[t->n];
    fieldsync__origin__init(e);
    e->site = (char *)o->site; /* borrowed: encoding never writes it */
    e->incarnation = o->incarnation;
    *idx = (uint32_t)(t->last = t->n++);
    return FSY_OK;
}

/* Pointer array for the message; only valid until the table grows. */
int
fsy_wire_otab_ptrs(fsy_wire_otab_t *t)
{
    if (t->n == 0)
        return FSY_OK;
    t->ptrs = malloc(t->n * sizeof *t->ptrs);
    if (t->ptrs == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n; i++)
        t->ptrs[i] = &t->v[i];
    return FSY_OK;
}

/* ---- packing and vectors ---------------------------------------------- */

int
fsy_wire_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
    size_t size = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory (%zu bytes)", size);
    *len = protobuf_c_message_pack(m, buf);
    *out = buf;
    return FSY_OK;
}

int
fsy_wire_vv_build(fsy_wire_vv_enc_t *e, const fsy_vv_t *vv)
{
    size_t n = vv ? vv->n : 0;
    fieldsync__version_vector__init(&e->msg);
    e->entries = calloc(n ? n : 1, sizeof *e->entries);
    e->eptrs = calloc(n ? n : 1, sizeof *e->eptrs);
    if (!e->entries || !e->eptrs)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        Fieldsync__VvEntry *m = &e->entries[i];
        fieldsync__vv_entry__init(m);
        m->scope = (char *)vv->v[i].scope;
        m->seq = vv->v[i].seq;
        int rc = fsy_wire_otab_index(&e->origins, &vv->v[i].origin, &m->origin);
        if (rc != FSY_OK)
            return rc;
        e->eptrs[i] = m;
    }
    int rc = fsy_wire_otab_ptrs(&e->origins);
    e->msg.n_origins = e->origins.n;
    e->msg.origins = e->origins.ptrs;
    e->msg.n_entries = n;
    e->msg.entries = e->eptrs;
    return rc;
}

void
fsy_wire_vv_enc_free(fsy_wire_vv_enc_t *e)
{
    fsy_wire_otab_free(&e->origins);
    free(e->entries);
    free(e->eptrs);
}

int
fsy_wire_copy_str(char *dst, size_t size, const char *src, const char *what)
{
    if (src == NULL) /* an optional string left out where it is needed */
        return fsy_err_set(FSY_EFORMAT, "no %s", what);
    size_t n = strlen(src);
    if (n >= size)
        return fsy_err_set(FSY_ETOOBIG, "%s is longer than %zu bytes", what,
                           size - 1);
    memcpy(dst, src, n + 1);
    return FSY_OK;
}

int
fsy_wire_dec_origin(const Fieldsync__Origin *m, fsy_origin_t *o)
{
    int rc = fsy_wire_copy_str(o->site, sizeof o->site, m->site, "site id");
    if (rc == FSY_OK)
        rc = fsy_check_site(o->site);
    o->incarnation = m->incarnation;
    return rc;
}

int
fsy_wire_dec_origins(Fieldsync__Origin **v, size_t n, fsy_origin_t **out)
{
    *out = calloc(n ? n : 1, sizeof **out);
    if (*out == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = fsy_wire_dec_origin(v[i], &(*out)[i]);
        if (rc != FSY_OK) {
            free(*out);
            *out = NULL;
            return rc;
        }
    }
    return FSY_OK;
}

int
fsy_wire_origin_at(const fsy_origin_t *tab, size_t n, uint32_t idx,
                   fsy_origin_t *o)
{
    if (idx >= n)
        return fsy_err_set(FSY_EINVAL, "origin index %u out of range (%zu)",
                           idx, n);
    *o = tab[idx];
    return FSY_OK;
}

/* ---- decoding under a budget ------------------------------------------ */

/*
 * protobuf-c unpacks a whole message before anything can be checked, and
 * a record of millions of tiny bases takes over 10 times its size once
 * unpacked. Unpacking draws on a budget of 10 times the input instead
 * (with this allocator's own 16 bytes per allocation): real batches, of
 * values and 16-byte bases, need at most about 6 times theirs.
 */
#define FSY_DECODE_BUDGET(len) ((len)*10 + ((size_t)4 << 20))
#define FSY_DECODE_HDR 16 /* keeps max_align_t alignment */

static void *
s_budget_alloc(void *data, size_t size)
{
    fsy_wire_budget_t *b = data;
    if (size > b->left || b->left - size < FSY_DECODE_HDR)
        return NULL;
    uint8_t *p = malloc(FSY_DECODE_HDR + size);
    if (p == NULL)
        return NULL;
    memcpy(p, &size, sizeof size);
    b->left -= size + FSY_DECODE_HDR;
    return p + FSY_DECODE_HDR;
}

static void
s_budget_free(void *data, void *ptr)
{
    fsy_wire_budget_t *b = data;
    if (ptr == NULL)
        return;
    uint8_t *p = (uint8_t *)ptr - FSY_DECODE_HDR;
    size_t size;
    memcpy(&size, p, sizeof size);
    b->left += size + FSY_DECODE_HDR;
    free(p);
}

void
fsy_wire_budget_init(fsy_wire_budget_t *b, size_t len)
{
    b->a.alloc = s_budget_alloc;
    b->a.free = s_budget_free;
    b->a.allocator_data = b;
    b->left = FSY_DECODE_BUDGET(len);
}

int
fsy_wire_dec_vv(const Fieldsync__VersionVector *m, fsy_vv_t *vv)
{
    /* Real vectors have scopes x origins entries: hundreds. A hostile one
     * of millions would stall the single-threaded daemon. */
    if (m->n_entries > FSY_VV_MAX || m->n_origins > FSY_VV_MAX)
        return fsy_err_set(FSY_ETOOBIG,
                           "version vector of %zu entries "
                           "(at most %d)",
                           m->n_entries, FSY_VV_MAX);
    fsy_origin_t *tab;
    int rc = fsy_wire_dec_origins(m->origins, m->n_origins, &tab);
    if (rc != FSY_OK)
        return rc;
    vv->v = calloc(m->n_entries ? m->n_entries : 1, sizeof *vv->v);
    if (vv->v == NULL)
        rc = fsy_err_set(FSY_ENOMEM, "out of memory");
    for (size_t i = 0; rc == FSY_OK && i < m->n_entries; i++) {
        fsy_vv_entry_t *e = &vv->v[i];
        const Fieldsync__VvEntry *x = m->entries[i];
        if ((rc = fsy_wire_copy_str(e->scope, sizeof e->scope, x->scope,
                                    "scope")) ||
            (rc = fsy_check_scope(e->scope)) ||
            (rc = fsy_wire_origin_at(tab, m->n_origins, x->origin, &e->origin)))
            break;
        if (x->seq > INT64_MAX) {
            rc = fsy_err_set(FSY_EINVAL, "vector seq out of range");
            break;
        }
        e->seq = x->seq;
        vv->n = i + 1;
    }
    free(tab);
    if (rc != FSY_OK) {
        free(vv->v);
        vv->v = NULL;
        vv->n = 0;
    }
    return rc;
}

/* ---- zstd ------------------------------------------------------------- */

int
fsy_wire_compress(const uint8_t *raw, size_t len, uint8_t **z, size_t *zl)
{
    /* defined on every path, so no caller reads an unset length */
    *zl = 0;
    size_t bound = ZSTD_compressBound(len);
    *z = malloc(bound);
    size_t n = *z ? ZSTD_compress(*z, bound, raw, len, FSY_MSG_ZSTD_LEVEL) : 0;
    if (*z == NULL || ZSTD_isError(n))
        return fsy_err_set(FSY_ENOMEM, "cannot compress a message");
    *zl = n;
    return FSY_OK;
}

int
fsy_wire_decompress(const ProtobufCBinaryData *z, uint64_t raw_len,
                    uint64_t max, uint8_t **raw)
{
    if (raw_len > max)
        return fsy_err_set(FSY_ETOOBIG,
                           "payload of %llu bytes is over the %llu-byte "
                           "limit",
                           (unsigned long long)raw_len,
                           (unsigned long long)max);
    *raw = malloc(raw_len ? raw_len : 1);
    if (*raw == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    size_t n = ZSTD_decompress(*raw, raw_len, z->data, z->len);
    if (!ZSTD_isError(n) && n == raw_len)
        return FSY_OK;
    free(*raw);
    *raw = NULL;
    return fsy_err_set(FSY_ECORRUPT, "payload does not decompress");
}
