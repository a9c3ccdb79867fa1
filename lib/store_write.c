/*
 * fieldsync — the store's write layer: this site's own writes (put,
 * delete, resolve), built as changes and applied through the apply layer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fieldsync/attachment.h"
#include "fieldsync/ident.h"
#include "merge.h"
#include "store_internal.h"

/* ---- local writes ----------------------------------------------------- */

/* The changes of one local transaction, built before they are applied. */
typedef struct s_local_txn {
    fsy_store_t *s;
    const char *scope;
    const char *doc;
    uint64_t clock;
    uint64_t seq;
    fsy_change_list_t list;
} s_local_txn_t;

static int
s_local_begin(fsy_store_t *s, s_local_txn_t *t, const char *scope,
              const char *doc)
{
    memset(t, 0, sizeof *t);
    t->s = s;
    t->scope = scope;
    t->doc = doc;
    /* The daemon may have taken a new incarnation since this handle
     * opened (store_recover.c): never write as the retired one. */
    uint64_t inc;
    int rc = fsy_sq_meta_get_u64(s, "incarnation", &inc);
    if (rc == FSY_OK && inc != s->origin.incarnation)
        rc = fsy_sq_load_identity(s);
    if (rc == FSY_OK)
        rc = fsy_sq_meta_get_u64(s, "clock", &t->clock);
    if (rc != FSY_OK)
        return rc;
    return fsy_sq_vv_get(s, scope, s->origin_id, &t->seq);
}

/*
 * Adds one field write. bases: the heads it replaces (f may be NULL for a
 * new field); all_heads selects every head rather than just the winner.
 */
static int
s_local_add(s_local_txn_t *t, const char *field, const uint8_t *value,
            size_t len, bool absent, const fsy_field_t *f, bool all_heads)
{
    if (t->list.n == FSY_TXN_MAX)
        return fsy_err_set(FSY_ETOOBIG, "more than %d fields in one write",
                           FSY_TXN_MAX);
    /* A merged field shows all its heads at once: an edit of what it
     * shows replaces them all, so merges never pile up (DESIGN). */
    if (f != NULL && f->text_merge == FSY_TEXT_MERGE_CLEAN)
        all_heads = true;
    fsy_change_t *c;
    int rc = fsy_change_list_push(&t->list, &c);
    if (rc != FSY_OK)
        return rc;
    t->clock = fsy_clock_tick(t->clock, fsy_sq_now(t->s));
    c->version.hlc = t->clock;
    c->version.origin = t->s->origin;
    c->version.seq = ++t->seq;
    snprintf(c->scope, sizeof c->scope, "%s", t->scope);
    snprintf(c->doc, sizeof c->doc, "%s", t->doc);
    snprintf(c->field, sizeof c->field, "%s", field);
    memcpy(c->author, t->s->author, sizeof c->author);
    c->absent = absent;
    if (!absent && len > 0) {
        if ((c->value = malloc(len)) == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        memcpy(c->value, value, len);
        c->value_len = len;
    }
    size_t nb = f == NULL ? 0 : all_heads ? f->n_heads : 1;
    if (nb > FSY_BASES_MAX)
        return fsy_err_set(FSY_ETOOBIG, "field '%s' has %zu heads", field, nb);
    if (nb > 0) {
        if ((c->bases = calloc(nb, sizeof *c->bases)) == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        for (size_t i = 0; i < nb; i++)
            c->bases[i] = f->heads[all_heads ? i : f->winner].version;
        c->n_bases = nb;
    }
    return FSY_OK;
}

/* Seals and applies the built changes; persists the clock. */
static int
s_local_finish(s_local_txn_t *t)
{
    fsy_store_t *s = t->s;
    if (t->list.n == 0)
        return FSY_OK;
    t->list.v[t->list.n - 1].txn_end = true;
    for (size_t i = 0; i < t->list.n; i++)
        fsy_change_seal(&t->list.v[i]);
    fsy_apply_stats_t stats = {0};
    int rc = fsy_sq_apply_changes(s, t->list.v, t->list.n, FSY_SQ_FROM_LOCAL,
                                  &stats);
    if (rc == FSY_OK && stats.applied != t->list.n)
        rc = fsy_err_set(FSY_EINTERNAL, "local write not applied in full");
    if (rc == FSY_OK && s->urgent)
        rc = fsy_sq_urgent_mark(s, &t->list.v[t->list.n - 1]);
    if (rc == FSY_OK)
        rc = fsy_sq_meta_set(s, "clock", NULL, t->clock);
    return rc;
}

/* Loads a document for writing; *d is NULL when it does not exist. */
static int
s_load_for_write(fsy_store_t *s, const char *scope, const char *doc,
                 fsy_doc_t **d)
{
    int rc = fsy_check_scope(scope);
    if (rc == FSY_OK)
        rc = fsy_check_doc_id(doc);
    if (rc != FSY_OK)
        return rc;
    if (!fsy_scope_allowed(s->write_scopes, scope))
        return fsy_err_set(FSY_EINVAL,
                           "this site may not write scope %s "
                           "([site] write_scopes = %s)",
                           scope, s->write_scopes);
    rc = fsy_sq_load_doc(s, scope, doc, d);
    if (rc == FSY_ENOTFOUND) {
        *d = NULL;
        return FSY_OK;
    }
    return rc;
}

static int
s_check_sets(fsy_store_t *s, const fsy_field_set_t *sets, size_t n)
{
    if (n == 0)
        return fsy_err_set(FSY_EINVAL, "nothing to write: give at least one "
                                       "field");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += sets[i].len;
        /* Whole transactions travel in one bundle record or message. */
        if (total > FSY_TXN_BYTES_MAX)
            return fsy_err_set(FSY_ETOOBIG,
                               "one write may carry at most %u MiB of "
                               "values: split it",
                               FSY_TXN_BYTES_MAX >> 20);
        int rc = fsy_check_field(sets[i].field, false);
        if (rc != FSY_OK)
            return rc;
        fsy_ref_t ref; /* checked here too: a bad one would be refused by
                          every site, and stall this site's stream */
        if (sets[i].ref && fsy_ref_parse(sets[i].value, sets[i].len, &ref))
            return fsy_err_set(FSY_EINVAL, "field '%s': %s", sets[i].field,
                               fsy_errdetail());
        if (sets[i].len > s->max_value)
            return fsy_err_set(FSY_ETOOBIG,
                               "value of field '%s' is %zu bytes; the limit "
                               "is %zu",
                               sets[i].field, sets[i].len, s->max_value);
        for (size_t j = 0; j < i; j++)
            if (strcmp(sets[i].field, sets[j].field) == 0)
                return fsy_err_set(FSY_EINVAL, "field '%s' given twice",
                                   sets[i].field);
    }
    return FSY_OK;
}

/* Kind rules: required to create, fixed once the document is visible. */
static int
s_put_kind(s_local_txn_t *t, const fsy_doc_t *d, const char *kind)
{
    bool live = d != NULL && d->visible;
    if (kind == NULL) {
        if (live || (d != NULL && d->kind[0] != '\0'))
            return FSY_OK; /* a re-creation keeps the old kind */
        return fsy_err_set(FSY_EINVAL,
                           "%s/%s does not exist: give --kind "
                           "to create it",
                           t->scope, t->doc);
    }
    int rc = fsy_check_kind(kind);
    if (rc != FSY_OK)
        return rc;
    if (d != NULL && strcmp(d->kind, kind) == 0)
        return FSY_OK;
    if (live)
        return fsy_err_set(FSY_EINVAL,
                           "%s/%s is a %s; the kind is set at "
                           "creation",
                           t->scope, t->doc, d->kind);
    const fsy_field_t *f = d ? fsy_doc_field(d, FSY_FIELD_KIND) : NULL;
    return s_local_add(t, FSY_FIELD_KIND, (const uint8_t *)kind, strlen(kind),
                       false, f, true);
}

static int
s_put_build(s_local_txn_t *t, const fsy_doc_t *d, const char *kind,
            const fsy_field_set_t *sets, size_t n)
{
    bool recreate = d != NULL && !d->visible;
    int rc = s_put_kind(t, d, kind);
    if (rc == FSY_OK && recreate) {
        const fsy_field_t *del = fsy_doc_field(d, FSY_FIELD_DELETED);
        if (del != NULL)
            rc = s_local_add(t, FSY_FIELD_DELETED, NULL, 0, true, del, true);
    }
    for (size_t i = 0; rc == FSY_OK && i < n; i++) {
        const fsy_field_t *f = d ? fsy_doc_field(d, sets[i].field) : NULL;
        /* An ordinary put names only the winner, never all heads: that
         * would resolve a conflict silently. A re-creation names the
         * absent heads the delete left. */
        rc = s_local_add(t, sets[i].field, sets[i].value, sets[i].len, false, f,
                         recreate);
        if (rc == FSY_OK)
            t->list.v[t->list.n - 1].ref = sets[i].ref;
    }
    return rc;
}

int
fsy_store_put(fsy_store_t *s, const char *scope, const char *doc,
              const char *kind, const fsy_field_set_t *sets, size_t n)
{
    int rc = s_check_sets(s, sets, n);
    if (rc != FSY_OK)
        return fsy_sq_refuse(s, rc);
    if ((rc = fsy_sq_txn_begin(s)) != FSY_OK)
        return rc;
    fsy_doc_t *d = NULL;
    s_local_txn_t t = {0};
    rc = s_load_for_write(s, scope, doc, &d);
    if (rc == FSY_OK)
        rc = s_local_begin(s, &t, scope, doc);
    if (rc == FSY_OK)
        rc = s_put_build(&t, d, kind, sets, n);
    if (rc == FSY_OK)
        rc = s_local_finish(&t);
    fsy_change_list_clear(&t.list);
    fsy_doc_free(&d);
    return fsy_sq_txn_end(s, rc);
}

static bool
s_field_has_live_head(const fsy_field_t *f)
{
    for (size_t i = 0; i < f->n_heads; i++)
        if (!f->heads[i].absent)
            return true;
    return false;
}

static int
s_delete_build(s_local_txn_t *t, const fsy_doc_t *d)
{
    int rc = FSY_OK;
    for (size_t i = 0; rc == FSY_OK && i < d->n_fields; i++) {
        const fsy_field_t *f = &d->fields[i];
        if (fsy_merge_is_user_field(f->name) && s_field_has_live_head(f))
            rc = s_local_add(t, f->name, NULL, 0, true, f, true);
    }
    if (rc == FSY_OK)
        rc = s_local_add(t, FSY_FIELD_DELETED, (const uint8_t *)"1", 1, false,
                         fsy_doc_field(d, FSY_FIELD_DELETED), true);
    return rc;
}

int
fsy_store_delete(fsy_store_t *s, const char *scope, const char *doc)
{
    int rc = fsy_sq_txn_begin(s);
    if (rc != FSY_OK)
        return rc;
    fsy_doc_t *d = NULL;
    s_local_txn_t t = {0};
    rc = s_load_for_write(s, scope, doc, &d);
    if (rc == FSY_OK && (d == NULL || !d->visible))
        rc = fsy_err_set(FSY_ENOTFOUND, "no document %s in scope %s%s", doc,
                         scope, d ? " (already deleted)" : "");
    if (rc == FSY_OK)
        rc = s_local_begin(s, &t, scope, doc);
    if (rc == FSY_OK)
        rc = s_delete_build(&t, d);
    if (rc == FSY_OK)
        rc = s_local_finish(&t);
    fsy_change_list_clear(&t.list);
    fsy_doc_free(&d);
    return fsy_sq_txn_end(s, rc);
}

/* Finds the head labelled `keep` ("site:seq"). */
static int
s_find_head(const fsy_field_t *f, const char *keep, const fsy_head_t **out)
{
    const fsy_head_t *found = NULL;
    for (size_t i = 0; i < f->n_heads; i++) {
        char label[64];
        fsy_version_label(&f->heads[i].version, label, sizeof label);
        if (strcmp(label, keep) != 0)
            continue;
        if (found != NULL)
            return fsy_err_set(FSY_EAMBIGUOUS,
                               "version %s names two heads "
                               "(two incarnations of one site)",
                               keep);
        found = &f->heads[i];
    }
    if (found == NULL)
        return fsy_err_set(FSY_ENOTFOUND,
                           "version %s is not a head of field "
                           "'%s': see 'fieldsync get' for the heads",
                           keep, f->name);
    *out = found;
    return FSY_OK;
}

static int
s_resolve_build(s_local_txn_t *t, const fsy_doc_t *d, const char *field,
                const char *keep, const uint8_t *value, size_t len)
{
    const fsy_field_t *f = fsy_doc_field(d, field);
    if (f == NULL)
        return fsy_err_set(FSY_ENOTFOUND, "%s/%s has no field '%s'", d->scope,
                           d->id, field);
    bool absent = false, ref = false;
    if (keep != NULL) {
        const fsy_head_t *h = NULL;
        int rc = s_find_head(f, keep, &h);
        if (rc != FSY_OK)
            return rc;
        absent = h->absent;
        ref = h->ref; /* keeping an attachment keeps the reference */
        value = h->value;
        len = h->value_len;
    }
    int rc = FSY_OK;
    /* Keeping a value of a deleted document (here or elsewhere) keeps the
     * document: like any write that re-creates, it clears _deleted. */
    const fsy_field_t *del = fsy_doc_field(d, FSY_FIELD_DELETED);
    if (!absent && del != NULL && !del->heads[del->winner].absent)
        rc = s_local_add(t, FSY_FIELD_DELETED, NULL, 0, true, del, true);
    if (rc == FSY_OK)
        rc = s_local_add(t, field, value, len, absent, f, true);
    if (rc == FSY_OK)
        t->list.v[t->list.n - 1].ref = ref;
    return rc;
}

static int
s_check_resolve_args(fsy_store_t *s, const char *field, const char *keep,
                     const uint8_t *value, size_t len)
{
    int rc = fsy_check_field(field, true);
    if (rc != FSY_OK)
        return rc;
    if (strcmp(field, FSY_FIELD_DELETED) == 0)
        return fsy_err_set(FSY_EINVAL,
                           "_deleted is not resolved directly: "
                           "resolve a field to keep the document, or remove "
                           "it again");
    if (keep == NULL && len > s->max_value)
        return fsy_err_set(FSY_ETOOBIG,
                           "value is %zu bytes; the limit is "
                           "%zu",
                           len, s->max_value);
    if (keep == NULL && strcmp(field, FSY_FIELD_KIND) == 0) {
        char kind[FSY_KIND_MAX + 1];
        if (len == 0 || len > FSY_KIND_MAX)
            return fsy_err_set(FSY_EINVAL, "not a kind");
        memcpy(kind, value, len);
        kind[len] = '\0';
        return fsy_check_kind(kind);
    }
    return FSY_OK;
}

int
fsy_store_resolve(fsy_store_t *s, const char *scope, const char *doc,
                  const char *field, const char *keep, const uint8_t *value,
                  size_t len)
{
    int rc = s_check_resolve_args(s, field, keep, value, len);
    if (rc != FSY_OK)
        return fsy_sq_refuse(s, rc);
    if ((rc = fsy_sq_txn_begin(s)) != FSY_OK)
        return rc;
    fsy_doc_t *d = NULL;
    s_local_txn_t t = {0};
    rc = s_load_for_write(s, scope, doc, &d);
    if (rc == FSY_OK && d == NULL)
        rc = fsy_err_set(FSY_ENOTFOUND, "no document %s in scope %s", doc,
                         scope);
    if (rc == FSY_OK)
        rc = s_local_begin(s, &t, scope, doc);
    if (rc == FSY_OK)
        rc = s_resolve_build(&t, d, field, keep, value, len);
    if (rc == FSY_OK)
        rc = s_local_finish(&t);
    fsy_change_list_clear(&t.list);
    fsy_doc_free(&d);
    return fsy_sq_txn_end(s, rc);
}
