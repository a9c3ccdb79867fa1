/*
 * fieldsync — the document browser: server-rendered pages, no scripts,
 * nothing loaded from elsewhere (offices may have no Internet):
 *
 *   /docs?q=...&scope=...&kind=...&site=...&since=...&until=...&conflicts=1
 *       a search form and its results (best match first, each with its
 *       snippet, and how fresh its site's data is here)
 *   /docs/SCOPE/ID
 *       a document: fields, provenance, open conflicts side by side, and
 *       each field's history with what every version changed
 *
 * Served under the same rules as /api (api.h): token or loopback, and
 * [http] read_scopes. Everything sites wrote is escaped (html.h).
 *
 * Ownership: the reply's body is malloc'd (reply.h).
 */
#ifndef FSY_BROWSE_H
#define FSY_BROWSE_H

#include <microhttpd.h>

#include "api_args.h"
#include "fieldsync/config.h"
#include "reply.h"

/* The search page for parsed args (c gives the raw values for the form). */
void fsy_browse_search(const fsy_config_t *cfg, struct MHD_Connection *c,
                       const fsy_api_args_t *args, fsy_reply_t *r);

/* The page of document path "SCOPE/ID". */
void fsy_browse_doc(const fsy_config_t *cfg, const char *path, fsy_reply_t *r);

#endif
