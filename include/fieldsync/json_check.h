/*
 * fieldsync — checks on JSON text and objects that come from elsewhere (a
 * vv file from another site, an NDJSON import), beyond what cJSON checks.
 * No allocation; nothing to free.
 */
#ifndef FIELDSYNC_JSON_CHECK_H
#define FIELDSYNC_JSON_CHECK_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True if every key of obj is in `allowed` (NULL-terminated) and none
 * repeats; otherwise *bad names the key and *repeated says which rule. */
bool fsy_json_keys_ok(const cJSON *obj, const char *const allowed[],
                      const char **bad, bool *repeated);

/* True if JSON text holds a \u0000 escape. cJSON would silently cut the
 * string there, so such input is refused instead. */
bool fsy_json_has_nul_escape(const char *text);

#ifdef __cplusplus
}
#endif
#endif
