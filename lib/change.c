/*
 * fieldsync — changes: ordering, checksums, validation, memory.
 *
 * The checksum covers a canonical encoding of everything that makes the
 * change what it is (identity, content, bases), not its protobuf bytes:
 * the same change must hash the same whether it came from the wire, a
 * bundle or the replica, and whatever the encoder did with field order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "canon.h"
#include "fieldsync/attachment.h"
#include "fieldsync/change.h"
#include "fieldsync/error.h"
#include "fieldsync/ident.h"

int
fsy_version_cmp(const fsy_version_t *a, const fsy_version_t *b)
{
    if (a->hlc != b->hlc)
        return a->hlc < b->hlc ? -1 : 1;
    int c = strcmp(a->origin.site, b->origin.site);
    if (c != 0)
        return c < 0 ? -1 : 1;
    if (a->origin.incarnation != b->origin.incarnation)
        return a->origin.incarnation < b->origin.incarnation ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

bool
fsy_origin_eq(const fsy_origin_t *a, const fsy_origin_t *b)
{
    return a->incarnation == b->incarnation && strcmp(a->site, b->site) == 0;
}

char *
fsy_version_label(const fsy_version_t *v, char *buf, size_t len)
{
    snprintf(buf, len, "%s:%" PRIu64, v->origin.site, v->seq);
    return buf;
}

/* ---- checksum --------------------------------------------------------- */

static void
s_canon_version(fsy_canon_t *h, const fsy_version_t *v)
{
    fsy_canon_u64(h, v->hlc);
    fsy_canon_str(h, v->origin.site);
    fsy_canon_u64(h, v->origin.incarnation);
    fsy_canon_u64(h, v->seq);
}

void
fsy_change_checksum(const fsy_change_t *c, uint8_t out[FSY_CHECKSUM_LEN])
{
    fsy_canon_t h;
    fsy_canon_init(&h, FSY_CHECKSUM_LEN, "fieldsync change v1");
    s_canon_version(&h, &c->version);
    fsy_canon_str(&h, c->scope);
    fsy_canon_str(&h, c->doc);
    fsy_canon_str(&h, c->field);
    /* 0 bytes, 1 absent, 2 a reference: changes without references keep
     * the checksums they had before references existed */
    fsy_canon_u64(&h, c->absent ? 1 : c->ref ? 2 : 0);
    if (!c->absent)
        fsy_canon_bytes(&h, c->value, c->value_len);
    fsy_canon_u64(&h, c->n_bases);
    for (size_t i = 0; i < c->n_bases; i++)
        s_canon_version(&h, &c->bases[i]);
    fsy_canon_u64(&h, c->txn_end ? 1 : 0);
    fsy_canon_final(&h, out);
}

void
fsy_change_seal(fsy_change_t *c)
{
    fsy_change_checksum(c, c->checksum);
}

bool
fsy_change_sound(const fsy_change_t *c)
{
    uint8_t sum[FSY_CHECKSUM_LEN];
    fsy_change_checksum(c, sum);
    return memcmp(sum, c->checksum, sizeof sum) == 0;
}

/* ---- validation ------------------------------------------------------- */

static int
s_validate_version(const fsy_version_t *v, const char *what)
{
    int rc = fsy_check_site(v->origin.site);
    if (rc != FSY_OK)
        return fsy_err_set(rc, "%s: %s", what, fsy_errdetail());
    if (v->seq == 0)
        return fsy_err_set(FSY_EINVAL, "%s: seq 0 (seqs start at 1)", what);
    if (v->hlc == 0)
        return fsy_err_set(FSY_EINVAL, "%s: clock value 0", what);
    /* Stored as SQLite's signed 64-bit integers, which must keep their
     * order: seqs are contiguous from 1 anyway, and 2^63 as an hlc is
     * the year 6429. */
    if (v->hlc > INT64_MAX || v->seq > INT64_MAX)
        return fsy_err_set(FSY_EINVAL, "%s: clock or seq out of range", what);
    return FSY_OK;
}

/* Reserved fields carry constrained values. */
static int
s_validate_reserved(const fsy_change_t *c)
{
    if (c->absent)
        return FSY_OK;
    if (strcmp(c->field, FSY_FIELD_DELETED) == 0) {
        if (c->value_len != 1 || c->value[0] != '1')
            return fsy_err_set(FSY_EINVAL, "_deleted must be 1 or absent");
        return FSY_OK;
    }
    if (strcmp(c->field, FSY_FIELD_KIND) == 0) {
        char kind[FSY_KIND_MAX + 1];
        if (c->value_len == 0 || c->value_len > FSY_KIND_MAX ||
            memchr(c->value, '\0', c->value_len) != NULL)
            return fsy_err_set(FSY_EINVAL, "_kind value is not a kind");
        memcpy(kind, c->value, c->value_len);
        kind[c->value_len] = '\0';
        return fsy_check_kind(kind);
    }
    return FSY_OK;
}

static int
s_validate_content(const fsy_change_t *c)
{
    int rc;
    if ((rc = s_validate_version(&c->version, "change")) != FSY_OK ||
        (rc = fsy_check_scope(c->scope)) != FSY_OK ||
        (rc = fsy_check_doc_id(c->doc)) != FSY_OK ||
        (rc = fsy_check_field(c->field, true)) != FSY_OK ||
        (rc = fsy_check_author(c->author)) != FSY_OK)
        return rc;
    if (c->absent && (c->value != NULL || c->value_len != 0))
        return fsy_err_set(FSY_EINVAL, "absent value carries bytes");
    if (!c->absent && c->value_len > 0 && c->value == NULL)
        return fsy_err_set(FSY_EINVAL, "value missing");
    if (c->value_len > FSY_VALUE_MAX)
        return fsy_err_set(FSY_ETOOBIG,
                           "value of %zu bytes is over the %u "
                           "byte limit",
                           c->value_len, FSY_VALUE_MAX);
    if ((rc = s_validate_reserved(c)) != FSY_OK)
        return rc;
    if (c->ref && (c->absent || c->field[0] == '_'))
        return fsy_err_set(FSY_EINVAL, "%s cannot hold an attachment",
                           c->absent ? "an absent value" : "a reserved field");
    fsy_ref_t ref;
    if (c->ref && fsy_ref_parse(c->value, c->value_len, &ref) != FSY_OK)
        return fsy_err_set(FSY_EINVAL, "field %s: %s", c->field,
                           fsy_errdetail());
    if (c->n_bases > FSY_BASES_MAX)
        return fsy_err_set(FSY_ETOOBIG, "%zu bases (at most %d)", c->n_bases,
                           FSY_BASES_MAX);
    for (size_t i = 0; i < c->n_bases; i++) {
        if ((rc = s_validate_version(&c->bases[i], "base")) != FSY_OK)
            return rc;
        if (fsy_version_cmp(&c->bases[i], &c->version) == 0)
            return fsy_err_set(FSY_EINVAL, "change names itself as a base");
    }
    return FSY_OK;
}

int
fsy_change_validate(const fsy_change_t *c)
{
    int rc = s_validate_content(c);
    if (rc != FSY_OK)
        return rc;
    uint8_t sum[FSY_CHECKSUM_LEN];
    fsy_change_checksum(c, sum);
    if (sodium_memcmp(sum, c->checksum, FSY_CHECKSUM_LEN) != 0) {
        char label[64];
        return fsy_err_set(FSY_ECORRUPT,
                           "checksum mismatch in change %s of %s/%s",
                           fsy_version_label(&c->version, label, sizeof label),
                           c->scope, c->doc);
    }
    return FSY_OK;
}

int
fsy_change_validate_seal(fsy_change_t *c)
{
    int rc = s_validate_content(c);
    if (rc == FSY_OK)
        fsy_change_seal(c);
    return rc;
}

/* ---- memory ----------------------------------------------------------- */

int
fsy_change_copy(fsy_change_t *dst, const fsy_change_t *src)
{
    fsy_change_t tmp = *src;
    tmp.value = NULL;
    tmp.bases = NULL;
    if (src->value_len > 0) {
        tmp.value = malloc(src->value_len);
        if (tmp.value == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory copying a change");
        memcpy(tmp.value, src->value, src->value_len);
    }
    if (src->n_bases > 0) {
        tmp.bases = calloc(src->n_bases, sizeof *tmp.bases);
        if (tmp.bases == NULL) {
            free(tmp.value);
            return fsy_err_set(FSY_ENOMEM, "out of memory copying a change");
        }
        memcpy(tmp.bases, src->bases, src->n_bases * sizeof *tmp.bases);
    }
    *dst = tmp;
    return FSY_OK;
}

void
fsy_change_clear(fsy_change_t *c)
{
    if (c == NULL)
        return;
    free(c->value);
    free(c->bases);
    memset(c, 0, sizeof *c);
}

int
fsy_change_list_push(fsy_change_list_t *l, fsy_change_t **out)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        fsy_change_t *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory (%zu changes)", l->n);
        l->v = v;
        l->cap = cap;
    }
    *out = &l->v[l->n++];
    memset(*out, 0, sizeof **out);
    return FSY_OK;
}

void
fsy_change_list_clear(fsy_change_list_t *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        fsy_change_clear(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

int
fsy_change_list_collect(const fsy_change_t *c, void *ctx)
{
    fsy_change_t *dst = NULL;
    int rc = fsy_change_list_push(ctx, &dst);
    return rc == FSY_OK ? fsy_change_copy(dst, c) : rc;
}
