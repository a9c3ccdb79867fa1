/*
 * fieldsync — the query string of /api/changes and /api/docs, checked:
 * every value validated as the command line validates it, unknown
 * parameters refused, and [http] read_scopes applied (a scope asked for
 * that is not served is refused; no scope asked means the served ones).
 *
 * Ownership: a fsy_api_args_t borrows values from the connection (valid
 * for the request) and owns what it copies; fsy_api_args_free() frees it.
 */
#ifndef FSY_API_ARGS_H
#define FSY_API_ARGS_H

#include <stdbool.h>

#include <microhttpd.h>

#include "reply.h"
#include "fieldsync/query.h"

typedef struct fsy_api_args {
    fsy_query_t q;      /* /api/docs */
    fsy_cursor_t since; /* /api/changes */
    size_t limit;       /* both */
    unsigned wait_s;    /* /api/changes: long poll */
    const char *scopes[FSY_QUERY_LIST_MAX];
    const char *kinds[FSY_QUERY_LIST_MAX];
    fsy_query_where_t where[FSY_QUERY_LIST_MAX];
    char *where_fields[FSY_QUERY_LIST_MAX]; /* owned */
    char *served; /* owned: read_scopes, split in place */
    bool feed;
    char why[256]; /* the first refusal */
} fsy_api_args_t;

/* Parses the request's arguments; false with a 400 or 403 in r when they
 * are refused (r says which and why). */
bool fsy_api_args(struct MHD_Connection *c, const char *read_scopes, bool feed,
                  fsy_api_args_t *out, fsy_reply_t *r);

void fsy_api_args_free(fsy_api_args_t *a);

/* "SCOPE/ID" after prefix ("/api/docs", "/docs"): scope copied out, *id
 * pointing into path. False with a 404 in r for a malformed path, a bad
 * scope or id, or a scope [http] read_scopes does not serve (said the same
 * way: what is not served is not there). */
bool fsy_api_doc_path(const char *path, const char *read_scopes,
                      const char *prefix, char scope[FSY_SCOPE_MAX + 1],
                      const char **id, fsy_reply_t *r);

#endif
