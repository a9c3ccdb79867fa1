/*
 * fieldsync — validation of identifiers and text.
 *
 * Every identifier that reaches the replica passes through here, whether it
 * came from a person, a bundle or a peer, so the rules are one set.
 */
#include <stdio.h>
#include <string.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"

/* Length (1..4) of the well-formed UTF-8 sequence at s, 0 if there is
 * none: no overlongs, no surrogates, nothing past U+10FFFF. */
static size_t
s_utf8_seq(const uint8_t *s, size_t len)
{
    uint8_t c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 1;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len <= n)
        return 0;
    for (size_t k = 1; k <= n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
        (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n + 1;
}

bool
fsy_utf8_valid(const uint8_t *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n)
        if ((n = s_utf8_seq(s + i, len - i)) == 0)
            return false;
    return true;
}

/*
 * Characters that change what a terminal or a log shows beyond themselves:
 * C1 controls (U+0080-009F; U+009B is a CSI), bidirectional overrides and
 * isolates (U+061C, U+200E-200F, U+202A-202E, U+2066-2069) and the line and
 * paragraph separators (U+2028-2029). s[0..n) is one UTF-8 sequence.
 */
static bool
s_format_char(const uint8_t *s, size_t n)
{
    if (n == 2)
        return (s[0] == 0xC2 && s[1] <= 0x9F) || (s[0] == 0xD8 && s[1] == 0x9C);
    if (n != 3 || s[0] != 0xE2)
        return false;
    return (s[1] == 0x80 &&
            (s[2] == 0x8E || s[2] == 0x8F || (s[2] >= 0xA8 && s[2] <= 0xAE))) ||
           (s[1] == 0x81 && s[2] >= 0xA6 && s[2] <= 0xA9);
}

void
fsy_text_clean(char *text)
{
    uint8_t *s = (uint8_t *)text;
    size_t len = strlen(text);
    for (size_t i = 0, n; i < len; i += n) {
        n = s_utf8_seq(s + i, len - i);
        if (n == 0 || (n == 1 && (s[i] < 0x20 || s[i] == 0x7F))) {
            s[i] = '?';
            n = 1;
        } else if (s_format_char(s + i, n)) {
            memset(s + i, '?', n);
        }
    }
}

static int
s_check_len(const char *what, const char *s, size_t max)
{
    if (s == NULL || s[0] == '\0')
        return fsy_err_set(FSY_EINVAL, "%s is empty", what);
    size_t len = strnlen(s, max + 1);
    if (len > max)
        return fsy_err_set(FSY_ETOOBIG, "%s is longer than %zu bytes", what,
                           max);
    return FSY_OK;
}

/* Plain ASCII token: letters, digits, '_' and '-'. */
static int
s_check_token(const char *what, const char *s, size_t max, bool upper_ok,
              bool letter_first)
{
    int rc = s_check_len(what, s, max);
    if (rc != FSY_OK)
        return rc;
    if (letter_first && !(s[0] >= 'a' && s[0] <= 'z'))
        return fsy_err_set(
            FSY_EINVAL, "%s '%s' must start with a lower-case letter", what, s);
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || (upper_ok && c >= 'A' && c <= 'Z');
        if (!ok)
            return fsy_err_set(FSY_EINVAL,
                               "%s may only hold %s, digits, '_' and '-'", what,
                               upper_ok ? "letters" : "lower-case letters");
    }
    return FSY_OK;
}

int
fsy_check_site(const char *site)
{
    return s_check_token("site id", site, FSY_SITE_MAX, false, true);
}

int
fsy_check_scope(const char *scope)
{
    return s_check_token("scope", scope, FSY_SCOPE_MAX, true, false);
}

int
fsy_check_kind(const char *kind)
{
    return s_check_token("kind", kind, FSY_KIND_MAX, false, true);
}

/* UTF-8 text without control characters (C0, DEL, C1) or the characters
 * that reorder or break what a terminal shows (s_format_char). */
static int
s_check_text(const char *what, const char *s, size_t max)
{
    int rc = s_check_len(what, s, max);
    if (rc != FSY_OK)
        return rc;
    size_t len = strlen(s);
    if (!fsy_utf8_valid((const uint8_t *)s, len))
        return fsy_err_set(FSY_EINVAL, "%s is not valid UTF-8", what);
    const uint8_t *u = (const uint8_t *)s;
    for (size_t i = 0, n; i < len; i += n) {
        n = s_utf8_seq(u + i, len - i);
        if ((n == 1 && (u[i] < 0x20 || u[i] == 0x7F)) ||
            s_format_char(u + i, n))
            return fsy_err_set(FSY_EINVAL,
                               "%s contains a control or text-direction "
                               "character",
                               what);
    }
    return FSY_OK;
}

int
fsy_check_author(const char *author)
{
    return author[0] == '\0' ? FSY_OK
                             : s_check_text("author", author, FSY_AUTHOR_MAX);
}

int
fsy_check_doc_id(const char *doc)
{
    return s_check_text("document id", doc, FSY_DOC_MAX);
}

int
fsy_check_field(const char *field, bool allow_reserved)
{
    int rc = s_check_text("field name", field, FSY_FIELD_MAX);
    if (rc != FSY_OK)
        return rc;
    if (strchr(field, '=') != NULL)
        return fsy_err_set(FSY_EINVAL, "field name '%s' contains '='", field);
    if (field[0] != '_')
        return FSY_OK;
    if (!allow_reserved)
        return fsy_err_set(FSY_EINVAL,
                           "field name '%s' is reserved: names starting "
                           "with '_' belong to fieldsync",
                           field);
    if (strcmp(field, FSY_FIELD_KIND) != 0 &&
        strcmp(field, FSY_FIELD_DELETED) != 0)
        return fsy_err_set(FSY_EINVAL, "unknown reserved field '%s'", field);
    return FSY_OK;
}

bool
fsy_scope_allowed(const char *list, const char *scope)
{
    char buf[256], *save = NULL;
    bool any = false;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, ", \t", &save); t;
         t = strtok_r(NULL, ", \t", &save)) {
        any = true;
        if (strcmp(t, scope) == 0)
            return true;
    }
    return !any;
}
