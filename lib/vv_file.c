/*
 * fieldsync — the vv file a courier carries: writing and hostile-safe
 * reading. The format is in fieldsync/vv.h; files written by earlier
 * versions are kept in tests/fixtures/vv/ and must keep reading.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"
#include "fieldsync/json_check.h"
#include "fieldsync/vv.h"

#define S_FORMAT "fieldsync-vv"
#define S_VERSION 1

/* ---- writing ---------------------------------------------------------- */

static bool
s_add_origin(cJSON *obj, const fsy_origin_t *o)
{
    char inc[17];
    snprintf(inc, sizeof inc, "%016llx", (unsigned long long)o->incarnation);
    return cJSON_AddStringToObject(obj, "site", o->site) != NULL &&
           cJSON_AddStringToObject(obj, "incarnation", inc) != NULL;
}

static bool
s_add_entry(cJSON *arr, const fsy_vv_entry_t *e)
{
    /* The seq as exact digits: cJSON prints a double from 10^15 up with 15
     * significant digits ("9.00719925474099e+15"), which reads back as
     * another number, or not at all. Below 10^15 the text is the same. */
    char seq[24];
    snprintf(seq, sizeof seq, "%" PRIu64, e->seq);
    cJSON *obj = cJSON_CreateObject();
    if (obj == NULL || !cJSON_AddItemToArray(arr, obj))
        return cJSON_Delete(obj), false;
    return cJSON_AddStringToObject(obj, "scope", e->scope) != NULL &&
           s_add_origin(obj, &e->origin) &&
           cJSON_AddRawToObject(obj, "seq", seq) != NULL;
}

int
fsy_vv_file_check(const fsy_vv_t *vv)
{
    /* A seq beyond 2^53 would be rounded in JSON and silently mean another
     * change: refuse rather than write a wrong vector. */
    for (size_t i = 0; i < vv->n; i++)
        if (vv->v[i].seq > FSY_VV_FILE_SEQ_MAX)
            return fsy_err_set(FSY_EINVAL,
                               "seq %llu of scope %s from %s is beyond what "
                               "a vv file carries (2^53)",
                               (unsigned long long)vv->v[i].seq, vv->v[i].scope,
                               vv->v[i].origin.site);
    return FSY_OK;
}

int
fsy_vv_file_write(const fsy_origin_t *owner, const fsy_vv_t *vv, char **out)
{
    *out = NULL;
    int rc = fsy_vv_file_check(vv);
    if (rc != FSY_OK)
        return rc;
    /* cJSON allocates with malloc: the library never sets other hooks */
    cJSON *root = cJSON_CreateObject(), *arr = NULL;
    bool ok = root != NULL &&
              cJSON_AddStringToObject(root, "format", S_FORMAT) != NULL &&
              cJSON_AddNumberToObject(root, "version", S_VERSION) != NULL &&
              s_add_origin(root, owner) &&
              (arr = cJSON_AddArrayToObject(root, "entries")) != NULL;
    for (size_t i = 0; ok && i < vv->n; i++)
        ok = s_add_entry(arr, &vv->v[i]);
    *out = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return *out ? FSY_OK : fsy_err_set(FSY_ENOMEM, "out of memory");
}

/* ---- reading ---------------------------------------------------------- */

static int s_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
s_bad(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fsy_err_set(FSY_EINVAL, "%s", msg);
}

static const char *
s_jstr(const cJSON *obj, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static bool
s_hex64(const char *s, uint64_t *out)
{
    if (s == NULL || strlen(s) != 16 ||
        strspn(s, "0123456789abcdefABCDEF") != 16)
        return false;
    *out = strtoull(s, NULL, 16);
    return true;
}

static bool
s_seq(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= (double)FSY_VV_FILE_SEQ_MAX) ||
        (double)(uint64_t)d != d)
        return false;
    *out = (uint64_t)d;
    return true;
}

/*
 * cJSON keeps numbers as doubles, which cannot tell 2^53 + 1 from 2^53, so
 * every "seq" literal is also checked as text: digits only, at most 2^53.
 * (A string value "seq" is followed by ',' or '}', never ':'.)
 */
static bool
s_seq_literals_ok(const char *text)
{
    const char *p = text;
    while ((p = strstr(p, "\"seq\"")) != NULL) {
        p += 5;
        p += strspn(p, " \t\r\n");
        if (*p != ':')
            continue;
        p++;
        p += strspn(p, " \t\r\n");
        size_t n = strspn(p, "0123456789");
        if (n == 0)
            continue; /* not a plain number: the typed check reports it */
        if (n > 16 || p[n] == '.' || p[n] == 'e' || p[n] == 'E' ||
            strtoull(p, NULL, 10) > FSY_VV_FILE_SEQ_MAX)
            return false;
        p += n;
    }
    return true;
}

static int
s_origin(const char *where, const cJSON *obj, fsy_origin_t *o)
{
    const char *site = s_jstr(obj, "site");
    if (site == NULL)
        return s_bad("%s\"site\" must be a string", where);
    if (fsy_check_site(site) != FSY_OK)
        return s_bad("%s%s", where, fsy_errdetail());
    if (!s_hex64(s_jstr(obj, "incarnation"), &o->incarnation))
        return s_bad("%s\"incarnation\" must be 16 hex digits", where);
    snprintf(o->site, sizeof o->site, "%s", site);
    return FSY_OK;
}

static int
s_entry(size_t i, const cJSON *j, fsy_vv_entry_t *e)
{
    static const char *const keys[] = {"scope", "site", "incarnation", "seq",
                                       NULL};
    const char *scope = s_jstr(j, "scope"), *bad;
    char where[48];
    bool rep;
    snprintf(where, sizeof where, "entries[%zu]: ", i);
    if (!cJSON_IsObject(j))
        return s_bad("%snot an object", where);
    if (!fsy_json_keys_ok(j, keys, &bad, &rep))
        return s_bad("%s%s key \"%s\"", where, rep ? "repeated" : "unknown",
                     bad);
    if (scope == NULL)
        return s_bad("%s\"scope\" must be a string", where);
    if (fsy_check_scope(scope) != FSY_OK)
        return s_bad("%s%s", where, fsy_errdetail());
    if (!s_seq(cJSON_GetObjectItemCaseSensitive(j, "seq"), &e->seq))
        return s_bad("%s\"seq\" must be an integer from 0 to 2^53", where);
    snprintf(e->scope, sizeof e->scope, "%s", scope);
    return s_origin(where, j, &e->origin);
}

static int
s_entry_cmp(const void *pa, const void *pb)
{
    const fsy_vv_entry_t *a = pa, *b = pb;
    int c = strcmp(a->scope, b->scope);
    if (c == 0)
        c = strcmp(a->origin.site, b->origin.site);
    if (c == 0 && a->origin.incarnation != b->origin.incarnation)
        c = a->origin.incarnation < b->origin.incarnation ? -1 : 1;
    return c;
}

/* Sorted like fsy_store_vv() output; a repeated (scope, origin) would make
 * the vector mean two things at once. */
static int
s_sort(fsy_vv_t *vv)
{
    if (vv->n > 1)
        qsort(vv->v, vv->n, sizeof *vv->v, s_entry_cmp);
    for (size_t i = 1; i < vv->n; i++)
        if (s_entry_cmp(&vv->v[i - 1], &vv->v[i]) == 0)
            return s_bad("two entries for scope %s, site %s", vv->v[i].scope,
                         vv->v[i].origin.site);
    return FSY_OK;
}

static int
s_entries(const cJSON *arr, fsy_vv_t *vv)
{
    if (!cJSON_IsArray(arr))
        return s_bad("\"entries\" must be an array");
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n > 0 && (vv->v = calloc(n, sizeof *vv->v)) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    int rc = FSY_OK;
    for (const cJSON *j = arr->child; j != NULL && rc == FSY_OK;
         j = j->next, vv->n++)
        rc = s_entry(vv->n, j, &vv->v[vv->n]);
    return rc == FSY_OK ? s_sort(vv) : rc;
}

static int
s_version(const cJSON *root)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsNumber(v))
        return s_bad("\"version\" must be a number");
    if (v->valuedouble > S_VERSION)
        return s_bad("written by a newer fieldsync (vv format version %g): "
                     "upgrade fieldsync here",
                     v->valuedouble);
    if (v->valuedouble != S_VERSION)
        return s_bad("unknown vv format version %g", v->valuedouble);
    return FSY_OK;
}

static int
s_from_json(const cJSON *root, fsy_origin_t *owner, fsy_vv_t *vv)
{
    static const char *const keys[] = {"format",      "version", "site",
                                       "incarnation", "entries", NULL};
    const char *format = s_jstr(root, "format"), *bad;
    bool rep;
    if (!cJSON_IsObject(root) || format == NULL ||
        strcmp(format, S_FORMAT) != 0)
        return s_bad("not a fieldsync version vector file");
    int rc = s_version(root);
    if (rc != FSY_OK)
        return rc;
    if (!fsy_json_keys_ok(root, keys, &bad, &rep))
        return s_bad("%s key \"%s\"", rep ? "repeated" : "unknown", bad);
    if ((rc = s_origin("", root, owner)) != FSY_OK)
        return rc;
    return s_entries(cJSON_GetObjectItemCaseSensitive(root, "entries"), vv);
}

/* The checks before cJSON sees the text; *text is malloc'd NUL-terminated. */
static int
s_text(const uint8_t *buf, size_t len, char **text)
{
    if (len > FSY_VV_FILE_MAX)
        return fsy_err_set(FSY_ETOOBIG,
                           "over the %zu-byte limit for a version vector file",
                           FSY_VV_FILE_MAX);
    if (memchr(buf, 0, len) != NULL || !fsy_utf8_valid(buf, len))
        return s_bad("not a fieldsync version vector file (not JSON text)");
    if ((*text = malloc(len + 1)) == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    memcpy(*text, buf, len);
    (*text)[len] = '\0';
    if (!fsy_json_has_nul_escape(*text))
        return FSY_OK;
    free(*text);
    *text = NULL;
    return s_bad("not a fieldsync version vector file (not JSON text)");
}

int
fsy_vv_file_parse(const uint8_t *buf, size_t len, fsy_origin_t *owner,
                  fsy_vv_t **out)
{
    char *text = NULL;
    *out = NULL;
    int rc = s_text(buf, len, &text);
    if (rc != FSY_OK)
        return rc;
    cJSON *root = cJSON_ParseWithOpts(text, NULL, true);
    fsy_vv_t *vv = calloc(1, sizeof *vv);
    if (vv == NULL)
        rc = fsy_err_set(FSY_ENOMEM, "out of memory");
    else if (root == NULL)
        rc = s_bad("not a fieldsync version vector file (not valid JSON)");
    else
        rc = s_from_json(root, owner, vv);
    if (rc == FSY_OK && !s_seq_literals_ok(text))
        rc = s_bad("\"seq\" must be an integer from 0 to 2^53");
    cJSON_Delete(root);
    free(text);
    if (rc == FSY_OK)
        *out = vv;
    else
        fsy_vv_free(&vv);
    return rc;
}
