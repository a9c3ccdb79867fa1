/* fieldsync — merge rules. See merge.h for the rules themselves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"
#include "fieldsync/text_merge.h"
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
    for (size_t i = 0; i < d->n_fields; i++)
        if (!d->visible)
            d->fields[i].conflict = false;
    fsy_merge_count_conflicts(d);
}

void
fsy_merge_count_conflicts(fsy_doc_t *d)
{
    d->n_conflicts = d->deleted_conflict ? 1 : 0;
    for (size_t i = 0; i < d->n_fields; i++)
        d->n_conflicts += d->fields[i].conflict ? 1 : 0;
}

bool
fsy_merge_in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p != NULL && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return true;
        p = end != NULL ? end + 1 : NULL;
    }
    return false;
}

bool
fsy_merge_text_candidate(const fsy_field_t *f, const char *whole)
{
    if (!f->conflict || f->n_heads > FSY_MERGE_HEADS_MAX ||
        !fsy_merge_is_user_field(f->name) || fsy_merge_in_list(whole, f->name))
        return false;
    size_t total = 0;
    for (size_t i = 0; i < f->n_heads; i++) {
        const fsy_head_t *h = &f->heads[i];
        if (h->absent || h->ref || !fsy_text_mergeable(h->value, h->value_len))
            return false;
        total += h->value_len;
    }
    return total <= FSY_MERGE_BYTES_MAX;
}

static int
s_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits the copy `buf` into names at commas and blanks. */
static size_t
s_split(char *buf, char **names, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ", \t", &save); t != NULL && n < max;
         t = strtok_r(NULL, ", \t", &save))
        names[n++] = t;
    return n;
}

int
fsy_merge_list_canon(const char *list, char out[FSY_WHOLE_FIELDS_MAX + 1])
{
    char buf[FSY_WHOLE_FIELDS_MAX + 1], *names[FSY_WHOLE_FIELDS_MAX / 2 + 1];
    out[0] = '\0';
    if (list == NULL)
        return FSY_OK;
    if (strlen(list) > FSY_WHOLE_FIELDS_MAX)
        return fsy_err_set(FSY_EINVAL,
                           "whole_value_fields: longer than %d bytes",
                           FSY_WHOLE_FIELDS_MAX);
    snprintf(buf, sizeof buf, "%s", list);
    size_t n = s_split(buf, names, sizeof names / sizeof *names), used = 0;
    qsort(names, n, sizeof *names, s_name_cmp);
    for (size_t i = 0; i < n; i++) {
        if (fsy_check_field(names[i], false) != FSY_OK)
            return fsy_err_set(FSY_EINVAL,
                               "whole_value_fields: '%.64s' is not a field "
                               "name people write",
                               names[i]);
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
            continue;
        used += (size_t)snprintf(out + used, FSY_WHOLE_FIELDS_MAX + 1 - used,
                                 "%s%s", used ? "," : "", names[i]);
    }
    return FSY_OK;
}
