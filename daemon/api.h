/*
 * fieldsync — the documents over HTTP, read-only, for the tools analysts
 * follow HQ with (a warehouse, a notebook) and for the document browser:
 *
 *   /api/changes?since=CURSOR[&limit=N][&wait=S]   the change feed, NDJSON;
 *       with wait, an empty answer waits up to S seconds (at most 60) for
 *       a change (long poll). X-Fieldsync-Cursor: where to resume.
 *   /api/docs?q=...&scope=...&kind=...&site=...&since=...&until=...
 *       &where=F=V&conflicts=1&any_version=1&limit=N   search and filters,
 *       as `fieldsync search` / `list` (JSON array)
 *   /api/docs/SCOPE/ID   one document, fields, provenance, conflicts
 *   /docs, /docs/SCOPE/ID   the same as pages for people (browse.h)
 *
 * Who may read: with [http] token_file set, only requests bearing that
 * token (Authorization: Bearer, or as the password of HTTP basic auth so
 * a browser can ask for it); without it, only requests from loopback.
 * [http] read_scopes limits the scopes served, on every path. Refusals say
 * why and what to change.
 *
 * Threads: requests run on the HTTP server's one thread; a long poll
 * suspends its connection (libmicrohttpd) and a waiter thread resumes it
 * when a change commits or its time is up, so one waiting client never
 * holds the others back.
 */
#ifndef FSY_API_H
#define FSY_API_H

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "fieldsync/config.h"
#include "reply.h"

typedef struct fsy_api fsy_api_t;

/* Per request: kept by the HTTP server between calls of one request. */
typedef struct fsy_api_req {
    bool waited;       /* a long poll that was resumed: answer now */
    uint64_t deadline; /* ms */
    uint64_t after;    /* the log position it waits beyond */
} fsy_api_req_t;

/* Reads [http] token_file if set (FSY_EIO / FSY_EINVAL with the reason: a
 * token has 16 to 512 printable characters) and starts the waiter thread.
 * cfg is borrowed for the API's lifetime. */
int fsy_api_start(fsy_api_t **out, const fsy_config_t *cfg);

/* Stops the waiter thread and resumes every waiting request, which is then
 * answered at once: before the HTTP server stops (it must hold no
 * suspended connection then). Again is harmless; NULL is fine. */
void fsy_api_stop(fsy_api_t *a);

/* Stops if needed and frees, once the HTTP server has stopped. */
void fsy_api_free(fsy_api_t **a);

/* Whether url is served here (/api/..., and the browser's /docs...). */
bool fsy_api_serves(const char *url);

/* Answers a request for url, or suspends it (returns false: nothing to
 * queue now; it is called again when resumed). */
bool fsy_api_handle(fsy_api_t *a, struct MHD_Connection *c, const char *url,
                    fsy_api_req_t *req, fsy_reply_t *r);

/* Whether the connection may read documents; else r holds the refusal. */
bool fsy_api_allowed(const fsy_api_t *a, struct MHD_Connection *c,
                     fsy_reply_t *r);

#endif
