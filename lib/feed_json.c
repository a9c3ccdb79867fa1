/*
 * fieldsync — a change of the feed as a line of NDJSON (feed_json.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "clock.h"
#include "fieldsync/attachment.h"
#include "fieldsync/feed_json.h"
#include "fieldsync/ident.h"

/* "2026-11-24T16:02:11.804Z" from a hybrid clock value. */
static void
s_time(uint64_t hlc, char buf[32])
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

static cJSON *
s_attachment(const uint8_t *v, size_t n)
{
    fsy_ref_t ref;
    char hex[65];
    if (fsy_ref_parse(v, n, &ref) != FSY_OK)
        return cJSON_CreateNull(); /* validated on every path in */
    cJSON *o = cJSON_CreateObject(),
          *a = cJSON_AddObjectToObject(o, "attachment");
    if (a == NULL || !cJSON_AddStringToObject(a, "name", ref.name) ||
        !cJSON_AddNumberToObject(a, "size", (double)ref.size) ||
        !cJSON_AddStringToObject(a, "type", ref.type) ||
        !cJSON_AddStringToObject(a, "hash", fsy_ref_hash_hex(ref.hash, hex))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Text (UTF-8 without NUL) as a string, other bytes as base64. */
static cJSON *
s_bytes(const uint8_t *v, size_t n)
{
    if (n == 0 || (memchr(v, 0, n) == NULL && fsy_utf8_valid(v, n))) {
        char *t = malloc(n + 1);
        if (t == NULL)
            return NULL;
        memcpy(t, n ? (const void *)v : "", n);
        t[n] = '\0';
        cJSON *s = cJSON_CreateString(t);
        free(t);
        return s;
    }
    size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(len);
    cJSON *o = b64 != NULL ? cJSON_CreateObject() : NULL;
    if (o != NULL && !cJSON_AddStringToObject(
                         o, "base64",
                         sodium_bin2base64(b64, len, v, n,
                                           sodium_base64_VARIANT_ORIGINAL))) {
        cJSON_Delete(o);
        o = NULL;
    }
    free(b64);
    return o;
}

static cJSON *
s_value(const fsy_change_t *c)
{
    if (c->absent)
        return cJSON_CreateNull();
    return c->ref ? s_attachment(c->value, c->value_len)
                  : s_bytes(c->value, c->value_len);
}

char *
fsy_feed_json(const fsy_change_t *c, const fsy_cursor_t *at)
{
    char cur[FSY_CURSOR_LEN], label[FSY_SITE_MAX + 24], t[32];
    fsy_cursor_format(at, cur);
    fsy_version_label(&c->version, label, sizeof label);
    s_time(c->version.hlc, t);
    cJSON *o = cJSON_CreateObject(), *v = s_value(c);
    bool ok = o != NULL && v != NULL &&
              cJSON_AddStringToObject(o, "cursor", cur) &&
              cJSON_AddStringToObject(o, "scope", c->scope) &&
              cJSON_AddStringToObject(o, "id", c->doc) &&
              cJSON_AddStringToObject(o, "field", c->field) &&
              cJSON_AddItemToObject(o, "value", v);
    if (!ok)
        cJSON_Delete(v);
    ok = ok && cJSON_AddStringToObject(o, "version", label) &&
         cJSON_AddStringToObject(o, "site", c->version.origin.site) &&
         cJSON_AddStringToObject(o, "author", c->author) &&
         cJSON_AddStringToObject(o, "time", t);
    char *line = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return line;
}
