/* fieldsync — merge rules. See merge.h for the rules themselves. */
#include <stdlib.h>
#include <string.h>

#include "merge.h"

bool
fsy_merge_head_values_equal(const fsy_head_t *a, const fsy_head_t *b)
{
    if (a->absent || b->absent)
        return a->absent == b->absent;
    if (a->ref != b->ref)
        return false; /* a reference is never the bytes it happens to spell */
    return a->value_len == b->value_len &&
           (a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

bool
fsy_merge_is_user_field(const char *name)
{
    return name[0] != '_';
}

static int
s_head_cmp(const void *a, const void *b)
{
    const fsy_head_t *x = a, *y = b;
    return fsy_version_cmp(&x->version, &y->version);
}

void
fsy_merge_field(fsy_field_t *f)
{
    f->conflict = false;
    f->winner = 0;
    if (f->n_heads == 0)
        return;
    qsort(f->heads, f->n_heads, sizeof *f->heads, s_head_cmp);
    f->winner = f->n_heads - 1;
    for (size_t i = 1; i < f->n_heads; i++)
        if (!fsy_merge_head_values_equal(&f->heads[0], &f->heads[i]))
            f->conflict = true;
}

static bool
s_has_live_head(const fsy_field_t *f)
{
    for (size_t i = 0; i < f->n_heads; i++)
        if (!f->heads[i].absent)
            return true;
    return false;
}

static void
s_copy_kind(fsy_doc_t *d, const fsy_field_t *f)
{
    const fsy_head_t *w = &f->heads[f->winner];
    d->kind[0] = '\0';
    if (w->absent || w->value_len > FSY_KIND_MAX)
        return;
    memcpy(d->kind, w->value, w->value_len);
    d->kind[w->value_len] = '\0';
}

void
fsy_merge_doc(fsy_doc_t *d)
{
    bool deleted = false;
    d->visible = false;
    d->kind[0] = '\0';
    d->updated_hlc = 0;
    for (size_t i = 0; i < d->n_fields; i++) {
        fsy_field_t *f = &d->fields[i];
        fsy_merge_field(f);
        if (f->n_heads == 0)
            continue;
        if (f->heads[f->winner].version.hlc > d->updated_hlc)
            d->updated_hlc = f->heads[f->winner].version.hlc;
        if (strcmp(f->name, FSY_FIELD_DELETED) == 0) {
            deleted = !f->heads[f->winner].absent;
            f->conflict = false;
        } else if (strcmp(f->name, FSY_FIELD_KIND) == 0) {
            s_copy_kind(d, f);
        } else if (fsy_merge_is_user_field(f->name) && s_has_live_head(f)) {
            d->visible = true;
        }
    }
    d->deleted_conflict = d->visible && deleted;
    d->n_conflicts = 0;
    for (size_t i = 0; i < d->n_fields; i++) {
        if (!d->visible)
            d->fields[i].conflict = false;
        d->n_conflicts += d->fields[i].conflict ? 1 : 0;
    }
    d->n_conflicts += d->deleted_conflict ? 1 : 0;
}
