/*
 * fieldsync — one change of the feed (fieldsync/query.h) as a line of
 * NDJSON, the same from `fieldsync changes` and the daemon's /api/changes:
 *
 *   {"cursor":"0.1234","scope":"MLI","id":"jmac-gao-w48","field":"status",
 *    "value":"final","version":"gao:17","site":"gao",
 *    "author":"Aminata Traoré","time":"2026-11-24T16:02:11.804Z"}
 *
 * "value" is text, {"base64": ...} for bytes that are not text,
 * {"attachment": {name, size, type, hash}} for a reference, or null for a
 * removed field. Reserved fields come as they are ("_kind", "_deleted").
 */
#ifndef FIELDSYNC_FEED_JSON_H
#define FIELDSYNC_FEED_JSON_H

#include "fieldsync/change.h"
#include "fieldsync/query.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The line, without its newline; malloc'd (the caller frees), or NULL when
 * out of memory. */
char *fsy_feed_json(const fsy_change_t *c, const fsy_cursor_t *at);

#ifdef __cplusplus
}
#endif
#endif
