/*
 * fieldsync — documents, hits and feed changes as JSON (doc_json.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "clock.h"
#include "fieldsync/attachment.h"
#include "fieldsync/doc_json.h"
#include "merge.h"
#include "fieldsync/ident.h"

void
fsy_time_text(uint64_t hlc, char buf[32])
{
    uint64_t ms = fsy_hlc_ms(hlc);
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, 32, "?");
        return;
    }
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

static bool
s_str(cJSON *o, const char *key, const char *v)
{
    return o != NULL && cJSON_AddStringToObject(o, key, v) != NULL;
}

static bool
s_num(cJSON *o, const char *key, double v)
{
    return o != NULL && cJSON_AddNumberToObject(o, key, v) != NULL;
}

/* Adds item (taking it; freed if it cannot be added). */
static bool
s_add(cJSON *o, const char *key, cJSON *item)
{
    if (o != NULL && item != NULL && cJSON_AddItemToObject(o, key, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static bool
s_push(cJSON *arr, cJSON *item)
{
    if (arr != NULL && item != NULL && cJSON_AddItemToArray(arr, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static bool
s_time(cJSON *o, const char *key, uint64_t hlc)
{
    char t[32];
    fsy_time_text(hlc, t);
    return s_str(o, key, t);
}

/* ---- values ------------------------------------------------------------- */

static cJSON *
s_attachment(const uint8_t *v, size_t n)
{
    fsy_ref_t ref;
    char hex[65];
    if (fsy_ref_parse(v, n, &ref) != FSY_OK)
        return cJSON_CreateNull(); /* validated on every path in */
    cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateObject();
    bool ok = s_str(a, "name", ref.name) &&
              s_num(a, "size", (double)ref.size) &&
              s_str(a, "type", ref.type) &&
              s_str(a, "hash", fsy_ref_hash_hex(ref.hash, hex));
    if (!ok) {
        cJSON_Delete(a);
        a = NULL;
    }
    if (s_add(o, "attachment", a))
        return o;
    cJSON_Delete(o);
    return NULL;
}

static cJSON *
s_base64(const uint8_t *v, size_t n)
{
    size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(len);
    cJSON *o = cJSON_CreateObject();
    bool ok =
        b64 != NULL && s_str(o, "base64",
                             sodium_bin2base64(b64, len, v, n,
                                               sodium_base64_VARIANT_ORIGINAL));
    free(b64);
    if (ok)
        return o;
    cJSON_Delete(o);
    return NULL;
}

cJSON *
fsy_value_json(const uint8_t *v, size_t n, bool absent, bool ref)
{
    if (absent)
        return cJSON_CreateNull();
    if (ref)
        return s_attachment(v, n);
    /* cJSON strings end at NUL: text with NUL travels as base64 */
    if (n > 0 && (memchr(v, 0, n) != NULL || !fsy_utf8_valid(v, n)))
        return s_base64(v, n);
    char *t = malloc(n + 1);
    if (t == NULL)
        return NULL;
    if (n > 0)
        memcpy(t, v, n);
    t[n] = '\0';
    cJSON *s = cJSON_CreateString(t);
    free(t);
    return s;
}

/* ---- hits and documents ------------------------------------------------- */

bool
fsy_stamps_json(cJSON *o, const fsy_stamp_t *c, const fsy_stamp_t *u)
{
    return s_time(o, "created", c->hlc) && s_str(o, "created_site", c->site) &&
           s_str(o, "created_author", c->author) &&
           s_time(o, "updated", u->hlc) && s_str(o, "updated_site", u->site) &&
           s_str(o, "updated_author", u->author);
}

/* The snippet without its marks, and the words marked. */
static bool
s_snippet(cJSON *o, const char *snip)
{
    size_t n = strlen(snip), k = 0;
    char *plain = malloc(n + 1), *word = malloc(n + 1);
    cJSON *matches = cJSON_CreateArray();
    bool ok = plain != NULL && word != NULL && matches != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        if (snip[i] == FSY_QUERY_MARK_ON) {
            size_t w = strcspn(snip + i + 1, "\x03");
            memcpy(word, snip + i + 1, w);
            word[w] = '\0';
            ok = s_push(matches, cJSON_CreateString(word));
        } else if (snip[i] != FSY_QUERY_MARK_OFF) {
            plain[k++] = snip[i];
        }
    }
    if (ok)
        plain[k] = '\0';
    ok = ok && s_str(o, "snippet", plain);
    free(plain);
    free(word);
    if (!ok)
        cJSON_Delete(matches);
    return ok && s_add(o, "matches", matches);
}

const fsy_head_t *
fsy_doc_title(const fsy_doc_t *d)
{
    const fsy_field_t *f = fsy_doc_field(d, "title");
    const fsy_head_t *h = f != NULL ? fsy_field_shown(f) : NULL;
    if (h == NULL || h->absent || h->ref)
        return NULL;
    size_t n = h->value_len;
    return n == 0 || (memchr(h->value, 0, n) == NULL &&
                      fsy_utf8_valid(h->value, n))
               ? h
               : NULL;
}

cJSON *
fsy_hit_json(const fsy_hit_t *h)
{
    const fsy_doc_t *d = h->doc;
    const fsy_head_t *t = fsy_doc_title(d);
    cJSON *o = cJSON_CreateObject();
    bool ok = s_str(o, "scope", d->scope) && s_str(o, "id", d->id) &&
              s_str(o, "kind", d->kind) &&
              fsy_stamps_json(o, &h->created, &h->updated) &&
              s_num(o, "conflicts", (double)d->n_conflicts);
    if (ok && t != NULL)
        ok = s_add(o, "title",
                   fsy_value_json(t->value, t->value_len, false, false));
    if (ok && h->snippet != NULL)
        ok = s_num(o, "rank", h->rank) && s_snippet(o, h->snippet);
    if (ok)
        return o;
    cJSON_Delete(o);
    return NULL;
}

static cJSON *
s_head(const fsy_head_t *h, bool winner)
{
    char label[FSY_SITE_MAX + 24];
    cJSON *o = cJSON_CreateObject();
    bool ok =
        s_str(o, "version",
              fsy_version_label(&h->version, label, sizeof label)) &&
        s_str(o, "site", h->version.origin.site) &&
        s_str(o, "author", h->author) && s_time(o, "time", h->version.hlc) &&
        s_add(o, "value",
              fsy_value_json(h->value, h->value_len, h->absent, h->ref)) &&
        cJSON_AddBoolToObject(o, "winner", winner) != NULL;
    if (ok)
        return o;
    cJSON_Delete(o);
    return NULL;
}

/* {field, heads: [...]}, the winner first. */
static cJSON *
s_conflict(const fsy_field_t *f)
{
    cJSON *o = cJSON_CreateObject(), *heads = cJSON_CreateArray();
    bool ok = heads != NULL && s_str(o, "field", f->name);
    for (size_t k = f->n_heads; ok && k-- > 0;)
        ok = s_push(heads, s_head(&f->heads[k], k == f->winner));
    if (!ok) {
        cJSON_Delete(heads);
        heads = NULL;
    }
    if (s_add(o, "heads", heads))
        return o;
    cJSON_Delete(o);
    return NULL;
}

static cJSON *
s_conflicts(const fsy_doc_t *d)
{
    cJSON *arr = cJSON_CreateArray();
    bool ok = arr != NULL;
    for (size_t i = 0; ok && i < d->n_fields; i++)
        if (d->fields[i].conflict)
            ok = s_push(arr, s_conflict(&d->fields[i]));
    if (ok)
        return arr;
    cJSON_Delete(arr);
    return NULL;
}

static cJSON *
s_fields(const fsy_doc_t *d)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;
    for (size_t i = 0; ok && i < d->n_fields; i++) {
        const fsy_head_t *h = fsy_field_shown(&d->fields[i]);
        if (d->fields[i].name[0] == '_' || h->absent)
            continue;
        ok = s_add(o, d->fields[i].name,
                   fsy_value_json(h->value, h->value_len, false, h->ref));
    }
    if (ok)
        return o;
    cJSON_Delete(o);
    return NULL;
}

static cJSON *
s_labels_json(const fsy_version_t *vs, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    char l[FSY_SITE_MAX + 24];
    bool ok = a != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = cJSON_AddItemToArray(
            a, cJSON_CreateString(fsy_version_label(&vs[i], l, sizeof l)));
    if (!ok)
        cJSON_Delete(a);
    return ok ? a : NULL;
}

static cJSON *
s_merge_json(const fsy_field_t *f)
{
    char note[FSY_MERGE_NOTE_LEN];
    fsy_version_t heads[FSY_MERGE_HEADS_MAX];
    for (size_t i = 0; i < f->n_heads; i++)
        heads[i] = f->heads[i].version;
    cJSON *o = cJSON_CreateObject();
    bool ok =
        o != NULL && s_add(o, "heads", s_labels_json(heads, f->n_heads)) &&
        s_add(o, "bases", s_labels_json(f->merge_bases, f->n_heads - 1)) &&
        s_str(o, "note", fsy_field_merge_note(f, note, sizeof note));
    if (!ok)
        cJSON_Delete(o);
    return ok ? o : NULL;
}

cJSON *
fsy_merges_json(const fsy_doc_t *d)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;
    for (size_t i = 0; ok && i < d->n_fields; i++)
        if (d->fields[i].text_merge == FSY_TEXT_MERGE_CLEAN)
            ok = s_add(o, d->fields[i].name, s_merge_json(&d->fields[i]));
    if (!ok)
        cJSON_Delete(o);
    return ok ? o : NULL;
}

cJSON *
fsy_doc_json(const fsy_doc_t *d, const fsy_stamp_t *created,
             const fsy_stamp_t *updated)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = s_str(o, "scope", d->scope) && s_str(o, "id", d->id) &&
              s_str(o, "kind", d->kind) &&
              cJSON_AddBoolToObject(o, "visible", d->visible) != NULL &&
              fsy_stamps_json(o, created, updated) &&
              s_add(o, "fields", s_fields(d)) &&
              s_add(o, "merged", fsy_merges_json(d)) &&
              s_add(o, "conflicts", s_conflicts(d));
    if (ok)
        return o;
    cJSON_Delete(o);
    return NULL;
}

/* ---- the feed ----------------------------------------------------------- */

char *
fsy_feed_json(const fsy_change_t *c, const fsy_cursor_t *at)
{
    char cur[FSY_CURSOR_LEN], label[FSY_SITE_MAX + 24];
    fsy_cursor_format(at, cur);
    cJSON *o = cJSON_CreateObject();
    bool ok =
        s_str(o, "cursor", cur) && s_str(o, "scope", c->scope) &&
        s_str(o, "id", c->doc) && s_str(o, "field", c->field) &&
        s_add(o, "value",
              fsy_value_json(c->value, c->value_len, c->absent, c->ref)) &&
        s_str(o, "version",
              fsy_version_label(&c->version, label, sizeof label)) &&
        s_str(o, "site", c->version.origin.site) &&
        s_str(o, "author", c->author) && s_time(o, "time", c->version.hlc);
    char *line = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return line;
}
