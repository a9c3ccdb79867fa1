/*
 * fieldsync — attachment references: the one text form, parsed strictly.
 * See fieldsync/attachment.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "fieldsync/attachment.h"
#include "fieldsync/error.h"
#include "fieldsync/ident.h"

static const char s_hex[] = "0123456789abcdef";
static const char s_type_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789"
                                   "!#$&^_.+-";

char *
fsy_ref_hash_hex(const uint8_t hash[FSY_BLOB_HASH_LEN], char buf[65])
{
    for (size_t i = 0; i < FSY_BLOB_HASH_LEN; i++) {
        buf[2 * i] = s_hex[hash[i] >> 4];
        buf[2 * i + 1] = s_hex[hash[i] & 15];
    }
    buf[2 * FSY_BLOB_HASH_LEN] = '\0';
    return buf;
}

char *
fsy_ref_short_hash(const fsy_ref_t *ref, char buf[9])
{
    char full[65];
    fsy_ref_hash_hex(ref->hash, full);
    memcpy(buf, full, 8);
    buf[8] = '\0';
    return buf;
}

int
fsy_ref_check_type(const char *type)
{
    size_t n = strlen(type);
    const char *slash = strchr(type, '/');
    if (n == 0 || n > FSY_ATTACH_TYPE_MAX || slash == NULL || slash == type ||
        slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
        return fsy_err_set(FSY_EINVAL,
                           "media type '%.40s' is not of the form "
                           "type/subtype (e.g. application/pdf)",
                           type);
    for (const char *p = type; *p; p++)
        if (*p != '/' && strchr(s_type_chars, *p) == NULL)
            return fsy_err_set(FSY_EINVAL,
                               "media type '%.40s': only lower-case letters, "
                               "digits and !#$&^_.+- are allowed",
                               type);
    return FSY_OK;
}

int
fsy_ref_check_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > FSY_ATTACH_NAME_MAX)
        return fsy_err_set(FSY_EINVAL, "attachment name must be 1 to %d bytes",
                           FSY_ATTACH_NAME_MAX);
    if (!fsy_utf8_valid((const uint8_t *)name, n))
        return fsy_err_set(FSY_EINVAL, "attachment name is not UTF-8");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        /* C0, DEL, C1 (U+0080-009F) and the bidi overrides (U+202A-202E,
         * U+2066-2069): names reach terminals and pages as they are */
        bool c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
        bool bidi =
            p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
                             (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9));
        if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\' || c1 || bidi)
            return fsy_err_set(FSY_EINVAL,
                               "attachment name may not hold control "
                               "characters, '/' or '\\'");
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return fsy_err_set(FSY_EINVAL, "attachment name may not be '%s'", name);
    return FSY_OK;
}

int
fsy_ref_format(const fsy_ref_t *ref, char *buf, size_t *len)
{
    int rc = fsy_ref_check_type(ref->type);
    if (rc == FSY_OK)
        rc = fsy_ref_check_name(ref->name);
    if (rc == FSY_OK && ref->size > FSY_ATTACHMENT_SIZE_MAX)
        rc = fsy_err_set(FSY_EINVAL, "attachment size out of range");
    if (rc != FSY_OK)
        return rc;
    char hex[65];
    int n = snprintf(buf, FSY_REF_TEXT_MAX + 1, "%s %" PRIu64 " %s %s",
                     fsy_ref_hash_hex(ref->hash, hex), ref->size, ref->type,
                     ref->name);
    *len = (size_t)n;
    return FSY_OK;
}

/* The next space-separated token of [p, end) into tok (size bytes). */
static bool
s_token(const char **p, const char *end, char *tok, size_t size)
{
    const char *sp = memchr(*p, ' ', (size_t)(end - *p));
    if (sp == NULL || sp == *p || (size_t)(sp - *p) >= size)
        return false;
    memcpy(tok, *p, (size_t)(sp - *p));
    tok[sp - *p] = '\0';
    *p = sp + 1;
    return true;
}

int
fsy_ref_parse(const uint8_t *value, size_t len, fsy_ref_t *out)
{
    char hex[2 * FSY_BLOB_HASH_LEN + 2], size[24];
    memset(out, 0, sizeof *out);
    /* An empty value may come with a NULL pointer: no arithmetic on it. */
    if (value == NULL || len == 0)
        return fsy_err_set(FSY_EINVAL, "not an attachment reference");
    const char *p = (const char *)value, *end = p + len;
    if (len > FSY_REF_TEXT_MAX || memchr(value, 0, len) != NULL ||
        !s_token(&p, end, hex, sizeof hex) ||
        !s_token(&p, end, size, sizeof size) ||
        !s_token(&p, end, out->type, sizeof out->type) ||
        (size_t)(end - p) > FSY_ATTACH_NAME_MAX)
        return fsy_err_set(FSY_EINVAL, "not an attachment reference");
    memcpy(out->name, p, (size_t)(end - p));
    out->name[end - p] = '\0';
    if (strlen(hex) != 2 * FSY_BLOB_HASH_LEN)
        return fsy_err_set(FSY_EINVAL, "attachment hash is not 64 hex digits");
    for (size_t i = 0; i < FSY_BLOB_HASH_LEN; i++) {
        const char *hi = strchr(s_hex, hex[2 * i]);
        const char *lo = strchr(s_hex, hex[2 * i + 1]);
        if (hi == NULL || lo == NULL)
            return fsy_err_set(FSY_EINVAL,
                               "attachment hash is not lower-case hex");
        out->hash[i] = (uint8_t)((hi - s_hex) << 4 | (lo - s_hex));
    }
    /* decimal, no sign, no leading zero: one text per size */
    if (strspn(size, "0123456789") != strlen(size) ||
        (size[0] == '0' && size[1] != '\0') || strlen(size) > 16)
        return fsy_err_set(FSY_EINVAL, "attachment size is not a number");
    out->size = strtoull(size, NULL, 10);
    if (out->size > FSY_ATTACHMENT_SIZE_MAX)
        return fsy_err_set(FSY_EINVAL, "attachment size out of range");
    /* an empty file has one hash: any other would name bytes nobody has */
    uint8_t empty[FSY_BLOB_HASH_LEN];
    crypto_generichash(empty, sizeof empty, NULL, 0, NULL, 0);
    if (out->size == 0 && memcmp(out->hash, empty, sizeof empty) != 0)
        return fsy_err_set(FSY_EINVAL, "an empty attachment with the hash "
                                       "of something else");
    int rc = fsy_ref_check_type(out->type);
    return rc == FSY_OK ? fsy_ref_check_name(out->name) : rc;
}

/* By extension, the types field offices attach most. */
static const struct {
    const char *ext, *type;
} s_types[] = {
    {"pdf", "application/pdf"},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument."
             "wordprocessingml.document"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml."
             "sheet"},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml."
             "presentation"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"csv", "text/csv"},
    {"txt", "text/plain"},
    {"md", "text/markdown"},
    {"html", "text/html"},
    {"json", "application/json"},
    {"xml", "application/xml"},
    {"zip", "application/zip"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"png", "image/png"},
    {"gif", "image/gif"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"webp", "image/webp"},
    {"kml", "application/vnd.google-earth.kml+xml"},
    {"kmz", "application/vnd.google-earth.kmz"},
    {"geojson", "application/geo+json"},
    {"shp", "application/octet-stream"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
};

const char *
fsy_ref_guess_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot != NULL && dot != name)
        for (size_t i = 0; i < sizeof s_types / sizeof *s_types; i++)
            if (strcasecmp(dot + 1, s_types[i].ext) == 0)
                return s_types[i].type;
    return "application/octet-stream";
}

const char *
fsy_bytes_text(uint64_t n, char buf[16])
{
    static const char *const units[] = {"KB", "MB", "GB", "TB"};
    if (n < 1024) {
        snprintf(buf, 16, "%" PRIu64 " B", n);
        return buf;
    }
    double v = (double)n / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
        v /= 1024;
        u++;
    }
    snprintf(buf, 16, "%.1f %s", v, units[u]);
    return buf;
}
