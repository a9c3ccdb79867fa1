/*
 * fieldsync — documents, search hits and feed changes as JSON, the same
 * from the command line and the daemon's HTTP API (docs/ANALYSIS.md).
 *
 * Ownership: every function returns a new cJSON tree (the caller frees it
 * with cJSON_Delete) or a malloc'd string (freed with free()); NULL when
 * out of memory. Inputs are borrowed. Text from other sites goes into JSON
 * strings as it is: JSON escaping makes it safe for any consumer.
 */
#ifndef FIELDSYNC_DOC_JSON_H
#define FIELDSYNC_DOC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fieldsync/change.h"
#include "fieldsync/doc.h"
#include "fieldsync/query.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A value: "text" (UTF-8 without NUL), {"base64": ...} for other bytes,
 * {"attachment": {name, size, type, hash}} for a reference, null when
 * absent. */
cJSON *fsy_value_json(const uint8_t *v, size_t n, bool absent, bool ref);

/* The winning head of the document's "title" field when it is text (UTF-8
 * without NUL), else NULL: what lists, pages and JSON show as its title.
 * Borrowed from d. */
const fsy_head_t *fsy_doc_title(const fsy_doc_t *d);

/* "2026-11-24T16:02:11.804Z" from a hybrid clock value. */
void fsy_time_text(uint64_t hlc, char buf[32]);

/* Adds "created", "created_site", "created_author" and the same three for
 * "updated" to o (authors "" when not recorded). False when out of
 * memory. */
bool fsy_stamps_json(cJSON *o, const fsy_stamp_t *created,
                     const fsy_stamp_t *updated);

/*
 * A search or list hit: scope, id, kind, created, created_site,
 * created_author, updated, updated_site, updated_author, conflicts, title
 * (when it has one), and for text queries rank, snippet (marks removed)
 * and matches (the words matched, as written in the document).
 */
cJSON *fsy_hit_json(const fsy_hit_t *h);

/*
 * The fields whose concurrent text edits merged: {NAME: {"heads":
 * ["gao:12", "bamako:9"], "bases": ["hq:7"], "note": "merged gao:12 and
 * bamako:9 over hq:7"}}, empty when none did. "bases" has the common
 * version of each head after the first with those before it.
 */
cJSON *fsy_merges_json(const fsy_doc_t *d);

/*
 * A whole document: scope, id, kind, visible, the six provenance keys,
 * fields {NAME: value} (shown values: winners or merges, reserved fields
 * left out), merged (fsy_merges_json), and conflicts [{field, heads:
 * [{version, site, author, time, value, winner}]}].
 */
cJSON *fsy_doc_json(const fsy_doc_t *d, const fsy_stamp_t *created,
                    const fsy_stamp_t *updated);

/*
 * A change of the feed, one line (no newline):
 *   {"cursor":"0.1234","scope":"MLI","id":"jmac-gao-w48","field":"status",
 *    "value":"final","version":"gao:17","site":"gao",
 *    "author":"Aminata Traoré","time":"2026-11-24T16:02:11.804Z"}
 * Reserved fields come as they are ("_kind", "_deleted").
 */
char *fsy_feed_json(const fsy_change_t *c, const fsy_cursor_t *at);

#ifdef __cplusplus
}
#endif
#endif
