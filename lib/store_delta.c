/* fieldsync — deltas to and from the replica. See store_delta.h. */
#include "store_delta.h"

#include <stdlib.h>

#include "fieldsync/error.h"

int
fsy_store_base(void *ctx, const fsy_change_t *c, const fsy_version_t *base,
               uint8_t **value, size_t *len)
{
    return fsy_store_version_value(ctx, c->scope, c->doc, c->field, base, value,
                                   len);
}

/* The first of c's bases that `held` holds. */
static bool
s_held_base(const fsy_change_t *c, const fsy_vv_t *held, uint32_t *k)
{
    for (size_t i = 0; i < c->n_bases; i++) {
        if (c->bases[i].seq <=
            fsy_vv_get(held, c->scope, &c->bases[i].origin)) {
            *k = (uint32_t)i;
            return true;
        }
    }
    return false;
}

/* One change's delta, if its base is held here and there. */
static int
s_one(fsy_store_t *s, const fsy_change_t *c, const fsy_vv_t *held,
      fsy_delta_t *d)
{
    uint32_t k;
    if (c->absent || c->ref || c->value_len < FSY_DELTA_MIN ||
        !s_held_base(c, held, &k))
        return FSY_OK;
    uint8_t *bv = NULL;
    size_t bl = 0;
    /* checked: the receiver rebuilds from its own copy of the base */
    int rc = fsy_store_version_value_checked(s, c->scope, c->doc, c->field,
                                             &c->bases[k], &bv, &bl);
    if (rc == FSY_ENOTFOUND) /* not a plain value here: goes whole */
        return FSY_OK;
    if (rc == FSY_OK)
        rc = fsy_delta_make(c, k, bv, bl, d);
    free(bv);
    return rc;
}

int
fsy_store_deltas(fsy_store_t *s, const fsy_change_t *c, size_t n,
                 const fsy_vv_t *held, fsy_delta_t **out)
{
    *out = NULL;
    if (held == NULL || n == 0)
        return FSY_OK;
    fsy_delta_t *d = calloc(n, sizeof *d);
    if (d == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    size_t rebuilt = 0, made = 0;
    int rc = FSY_OK;
    for (size_t i = 0; rc == FSY_OK && i < n; i++) {
        if (rebuilt + c[i].value_len > FSY_DELTA_BATCH_MAX)
            continue;
        rc = s_one(s, &c[i], held, &d[i]);
        if (d[i].bytes != NULL) {
            rebuilt += c[i].value_len;
            made++;
        }
    }
    if (rc != FSY_OK || made == 0) {
        fsy_deltas_free(d, n);
        return rc;
    }
    *out = d;
    return FSY_OK;
}
