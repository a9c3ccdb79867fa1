/*
 * fieldsync — the query string of the documents API, checked. See
 * api_args.h.
 */
#include "api_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"
#include "fieldsync/wallclock.h"

#define S_DOCS_LIMIT 50
#define S_DOCS_LIMIT_MAX 1000
#define S_FEED_LIMIT 1000
#define S_FEED_LIMIT_MAX 10000
#define S_WAIT_MAX_S 60

/* A refusal, kept for the reply (the first one counts). */
static enum MHD_Result
s_bad(fsy_api_args_t *a, const char *key, const char *why)
{
    if (a->why[0] == '\0')
        snprintf(a->why, sizeof a->why, "%s: %s", key, why);
    return MHD_NO;
}

static enum MHD_Result
s_number(fsy_api_args_t *a, const char *key, const char *v, unsigned long min,
         unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || n < min || n > max) {
        char why[64];
        snprintf(why, sizeof why, "want a number from %lu to %lu", min, max);
        return s_bad(a, key, why);
    }
    *out = n;
    return MHD_YES;
}

static enum MHD_Result
s_push(fsy_api_args_t *a, const char *key, const char *v, const char **list,
       size_t *n, int (*check)(const char *))
{
    if (*n == FSY_QUERY_LIST_MAX)
        return s_bad(a, key, "too many values");
    if (check(v) != FSY_OK)
        return s_bad(a, key, fsy_errdetail());
    list[(*n)++] = v;
    return MHD_YES;
}

static enum MHD_Result
s_where(fsy_api_args_t *a, const char *v)
{
    const char *eq = strchr(v, '=');
    if (a->q.n_where == FSY_QUERY_LIST_MAX)
        return s_bad(a, "where", "too many values");
    char *field = eq != NULL ? strndup(v, (size_t)(eq - v)) : NULL;
    if (field == NULL || fsy_check_field(field, false) != FSY_OK) {
        free(field);
        return s_bad(a, "where", "want FIELD=VALUE");
    }
    a->where_fields[a->q.n_where] = field;
    a->where[a->q.n_where++] = (fsy_query_where_t){field, eq + 1};
    return MHD_YES;
}

static enum MHD_Result
s_when(fsy_api_args_t *a, const char *key, const char *v, bool end,
       uint64_t *out)
{
    if (fsy_parse_when(v, fsy_wall_ms(), end, out) != FSY_OK)
        return s_bad(a, key, fsy_errdetail());
    if (*out == 0)
        *out = 1; /* 0 means no bound */
    return MHD_YES;
}

static enum MHD_Result
s_feed_arg(fsy_api_args_t *a, const char *key, const char *v)
{
    unsigned long n;
    if (strcmp(key, "since") == 0)
        return fsy_cursor_parse(v, &a->since) == FSY_OK
                   ? MHD_YES
                   : s_bad(a, key, fsy_errdetail());
    if (strcmp(key, "limit") == 0 &&
        s_number(a, key, v, 1, S_FEED_LIMIT_MAX, &n) == MHD_YES) {
        a->limit = n;
        return MHD_YES;
    }
    if (strcmp(key, "wait") == 0 &&
        s_number(a, key, v, 0, S_WAIT_MAX_S, &n) == MHD_YES) {
        a->wait_s = (unsigned)n;
        return MHD_YES;
    }
    return a->why[0] != '\0' ? MHD_NO
                             : s_bad(a, key, "unknown: since, limit, wait");
}

static enum MHD_Result
s_docs_arg(fsy_api_args_t *a, const char *key, const char *v)
{
    unsigned long n;
    if (strcmp(key, "q") == 0)
        a->q.text = v[0] != '\0' ? v : NULL;
    else if (strcmp(key, "scope") == 0)
        return v[0] == '\0' ? MHD_YES
                            : s_push(a, key, v, a->scopes, &a->q.n_scopes,
                                     fsy_check_scope);
    else if (strcmp(key, "kind") == 0)
        return v[0] == '\0'
                   ? MHD_YES
                   : s_push(a, key, v, a->kinds, &a->q.n_kinds, fsy_check_kind);
    else if (strcmp(key, "site") == 0 && v[0] != '\0') {
        if (fsy_check_site(v) != FSY_OK)
            return s_bad(a, key, fsy_errdetail());
        a->q.site = v;
    } else if (strcmp(key, "any_version") == 0)
        a->q.any_version = strcmp(v, "0") != 0;
    else if (strcmp(key, "conflicts") == 0)
        a->q.conflicts = strcmp(v, "0") != 0;
    else if (strcmp(key, "since") == 0 && v[0] != '\0')
        return s_when(a, key, v, false, &a->q.since_ms);
    else if (strcmp(key, "until") == 0 && v[0] != '\0')
        return s_when(a, key, v, true, &a->q.until_ms);
    else if (strcmp(key, "where") == 0 && v[0] != '\0')
        return s_where(a, v);
    else if (strcmp(key, "limit") == 0) {
        if (s_number(a, key, v, 1, S_DOCS_LIMIT_MAX, &n) != MHD_YES)
            return MHD_NO;
        a->q.limit = n;
    } else if (strcmp(key, "site") != 0 && strcmp(key, "since") != 0 &&
               strcmp(key, "until") != 0 && strcmp(key, "where") != 0)
        return s_bad(a, key,
                     "unknown: q, scope, kind, site, any_version, since, "
                     "until, where, conflicts, limit");
    return MHD_YES;
}

static enum MHD_Result
s_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    fsy_api_args_t *a = cls;
    const char *v = value != NULL ? value : "";
    if (strlen(v) > 4 * FSY_QUERY_TEXT_MAX)
        return s_bad(a, key, "too long");
    return a->feed ? s_feed_arg(a, key, v) : s_docs_arg(a, key, v);
}

/* [http] read_scopes: asked scopes must be served; none asked, all served
 * ones. */
static bool
s_served(fsy_api_args_t *a, const char *read_scopes)
{
    if (read_scopes[0] == '\0' || a->feed)
        return true;
    for (size_t i = 0; i < a->q.n_scopes; i++)
        if (!fsy_scope_allowed(read_scopes, a->scopes[i])) {
            snprintf(a->why, sizeof a->why,
                     "scope %s is not served here ([http] read_scopes)",
                     a->scopes[i]);
            return false;
        }
    if (a->q.n_scopes > 0 || (a->served = strdup(read_scopes)) == NULL)
        return a->q.n_scopes > 0;
    char *save = NULL;
    for (char *t = strtok_r(a->served, ", \t", &save);
         t != NULL && a->q.n_scopes < FSY_QUERY_LIST_MAX;
         t = strtok_r(NULL, ", \t", &save))
        a->scopes[a->q.n_scopes++] = t;
    return true;
}

bool
fsy_api_args(struct MHD_Connection *c, const char *read_scopes, bool feed,
             fsy_api_args_t *out, fsy_reply_t *r)
{
    memset(out, 0, sizeof *out);
    out->feed = feed;
    out->limit = S_FEED_LIMIT;
    out->q.limit = S_DOCS_LIMIT;
    out->q.scopes = out->scopes;
    out->q.kinds = out->kinds;
    out->q.where = out->where;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, s_arg, out);
    if (out->why[0] == '\0' && !feed && out->q.any_version &&
        out->q.site == NULL)
        snprintf(out->why, sizeof out->why, "any_version needs site");
    if (out->why[0] != '\0') {
        fsy_reply_text(r, 400, "bad request: %s\n", out->why);
        fsy_api_args_free(out);
        return false;
    }
    if (!s_served(out, read_scopes)) {
        fsy_reply_text(r, out->why[0] != '\0' ? 403 : 503, "%s\n",
                       out->why[0] != '\0' ? out->why : "out of memory");
        fsy_api_args_free(out);
        return false;
    }
    return true;
}

void
fsy_api_args_free(fsy_api_args_t *a)
{
    for (size_t i = 0; i < a->q.n_where; i++)
        free(a->where_fields[i]);
    free(a->served);
    memset(a, 0, sizeof *a);
}

bool
fsy_api_doc_path(const char *path, const char *read_scopes, const char *prefix,
                 char scope[FSY_SCOPE_MAX + 1], const char **id, fsy_reply_t *r)
{
    const char *slash = strchr(path, '/');
    size_t n = slash != NULL ? (size_t)(slash - path) : 0;
    if (n == 0 || n > FSY_SCOPE_MAX || slash[1] == '\0') {
        char why[64];
        snprintf(why, sizeof why, "%s/SCOPE/ID", prefix);
        fsy_reply_text(r, 404, "not found: ask %s\n", why);
        return false;
    }
    memcpy(scope, path, n);
    scope[n] = '\0';
    *id = slash + 1;
    if (fsy_check_scope(scope) != FSY_OK || fsy_check_doc_id(*id) != FSY_OK ||
        !fsy_scope_allowed(read_scopes, scope)) {
        fsy_reply_text(r, 404, "no such document here%s\n", "");
        return false;
    }
    return true;
}
