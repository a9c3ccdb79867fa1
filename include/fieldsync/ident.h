/*
 * fieldsync — validation of identifiers and text from users and peers.
 *
 * Each check returns FSY_OK, or FSY_EINVAL / FSY_ETOOBIG with a detail
 * naming the offending input (fsy_errdetail()). `what` names the input in
 * that message ("document id", "field name"...).
 */
#ifndef FIELDSYNC_IDENT_H
#define FIELDSYNC_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FSY_SITE_MAX 32   /* bytes; [a-z0-9_-], starts with a letter */
#define FSY_SCOPE_MAX 32  /* bytes; [A-Za-z0-9_-] */
#define FSY_DOC_MAX 128   /* bytes of UTF-8, no control characters */
#define FSY_FIELD_MAX 64  /* bytes of UTF-8, no '=', no controls */
#define FSY_KIND_MAX 32   /* bytes; [a-z0-9_-] */
#define FSY_AUTHOR_MAX 64 /* bytes of UTF-8: who wrote a change */

/* Reserved fields (user field names may not start with '_'). */
#define FSY_FIELD_KIND "_kind"
#define FSY_FIELD_DELETED "_deleted"

/* True if buf[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool fsy_utf8_valid(const uint8_t *buf, size_t len);

/* Makes text from elsewhere safe to log, print and show: every byte that
 * is not part of well-formed UTF-8, and every control character, becomes
 * '?'. In place; the length does not change. */
void fsy_text_clean(char *text);

/* Site id: 1..FSY_SITE_MAX bytes of [a-z0-9_-], starting with a letter. */
int fsy_check_site(const char *site);

/* Scope: 1..FSY_SCOPE_MAX bytes of [A-Za-z0-9_-]. */
int fsy_check_scope(const char *scope);

/* Kind: 1..FSY_KIND_MAX bytes of [a-z0-9_-], starting with a letter. */
int fsy_check_kind(const char *kind);

/* Author: "" (none recorded), or 1..FSY_AUTHOR_MAX bytes of UTF-8 without
 * control characters: "A. Traoré", "jmac-gao". */
int fsy_check_author(const char *author);

/* Document id: 1..FSY_DOC_MAX bytes of UTF-8 without control characters. */
int fsy_check_doc_id(const char *doc);

/*
 * Field name: 1..FSY_FIELD_MAX bytes of UTF-8, no control characters, no
 * '='. Names starting with '_' are reserved: refused unless allow_reserved,
 * and then only the known reserved fields are accepted.
 */
int fsy_check_field(const char *field, bool allow_reserved);

/* True if scope is in a "MLI, global" list (an empty list allows all). */
bool fsy_scope_allowed(const char *list, const char *scope);

#ifdef __cplusplus
}
#endif
#endif
