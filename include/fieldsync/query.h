/*
 * fieldsync — finding documents: full-text search and filters over the
 * replica, for HQ's analysts (`fieldsync search`, `list`, `export`).
 *
 * The text index (SQLite FTS5) and each document's first and latest change
 * are kept in the same transaction as every change that touches the
 * document (store_apply.c), so a query never sees an index behind the data.
 *
 * Ownership: a query borrows every string it is given. Hits handed to the
 * callback (the document, the snippet) are borrowed for the call only.
 */
#ifndef FIELDSYNC_QUERY_H
#define FIELDSYNC_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/doc.h"
#include "fieldsync/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest text query accepted, in bytes. */
#define FSY_QUERY_TEXT_MAX 1024
/* Most values of one repeatable filter (scopes, kinds, where). */
#define FSY_QUERY_LIST_MAX 64

/* Snippets mark each match between these two bytes. */
#define FSY_QUERY_MARK_ON '\x02'
#define FSY_QUERY_MARK_OFF '\x03'

/* A field that must have exactly this winning value (text). */
typedef struct fsy_query_where {
    const char *field;
    const char *value;
} fsy_query_where_t;

/*
 * What to find. Zero (all NULL, 0, false) means "every visible document".
 * Filters combine with AND; the values of one repeatable filter with OR.
 */
typedef struct fsy_query {
    const char *text; /* FTS5 query over text values, or NULL */
    const char *const *scopes;
    size_t n_scopes;
    const char *const *kinds;
    size_t n_kinds;
    const char *site;  /* latest version written at this site */
    bool any_version;  /* ... or any version, with `site` */
    uint64_t since_ms; /* updated at or after (Unix ms); 0: no bound */
    uint64_t until_ms; /* updated before (Unix ms); 0: no bound */
    const fsy_query_where_t *where;
    size_t n_where;
    bool conflicts; /* only documents with an open conflict (those of
                       deleted documents too) */
    size_t limit;   /* at most this many hits; 0: all */
} fsy_query_t;

/* When, where and by whom a version was written. hlc 0 and site "" if
 * unknown; author "" if not recorded. */
typedef struct fsy_stamp {
    uint64_t hlc;
    char site[FSY_SITE_MAX + 1];
    char author[FSY_AUTHOR_MAX + 1];
} fsy_stamp_t;

typedef struct fsy_hit {
    const fsy_doc_t *doc;
    fsy_stamp_t created; /* the document's first change */
    fsy_stamp_t updated; /* the greatest version among its heads */
    double rank;         /* text queries: BM25, lower is better; else 0 */
    const char *snippet; /* text queries: the best passage, matches marked
                            (FSY_QUERY_MARK_*); else NULL. Not escaped. */
} fsy_hit_t;

/* Returns 0 to go on, non-zero to stop (that value is returned). */
typedef int (*fsy_hit_cb)(const fsy_hit_t *h, void *ctx);

/*
 * The text index is written after the changes it covers (schema 9: an
 * apply only marks the documents): writes the rows of up to max_docs
 * waiting documents (SIZE_MAX: all), in transactions of at most 500; with
 * budget_ms (0: none), one transaction of about that long at most (and
 * at least one document). *more (may be NULL): some still wait. FSY_OK or
 * a store error (the transaction under way written nothing).
 */
int fsy_store_index_catch_up(fsy_store_t *s, size_t max_docs,
                             unsigned budget_ms, bool *more);

/*
 * Calls cb for every document matching q: best match first for a text
 * query (after writing what waits for the text index, unless a
 * transaction is open), else ordered by (scope, id). FSY_EINVAL for a query
 * that is not valid FTS5 syntax, too long or not UTF-8, or for filters out of
 * range (the detail says which); other errors as the store's.
 */
int fsy_store_query(fsy_store_t *s, const fsy_query_t *q, fsy_hit_cb cb,
                    void *ctx);

/* ---- the change feed ----------------------------------------------------
 *
 * Every change the replica applies, local or received, in the order it
 * committed them, each with a cursor: a consumer that stores the cursor of
 * the last change it handled and resumes after it misses none and sees
 * none twice. A recovery from a restore (docs/REPLICATION.md, item 10)
 * gives log positions out again: it starts a new epoch, and a cursor of an
 * earlier epoch resumes from before the first position it reused (those
 * changes come again, none is missed).
 */
typedef struct fsy_cursor {
    uint64_t epoch;
    uint64_t lseq; /* the last change handled; 0: none yet */
} fsy_cursor_t;

/* Longest text form of a cursor, NUL included: "EPOCH.LSEQ". */
#define FSY_CURSOR_LEN 42

/* "3.1234", or "0" for the very start. FSY_EINVAL otherwise. */
int fsy_cursor_parse(const char *text, fsy_cursor_t *out);
void fsy_cursor_format(const fsy_cursor_t *c, char buf[FSY_CURSOR_LEN]);

/* Returns 0 to go on, non-zero to stop (that value is returned). */
typedef int (*fsy_feed_cb)(const fsy_change_t *c, const fsy_cursor_t *at,
                           void *ctx);

/*
 * Calls cb for up to `limit` changes after `after`, in commit order; *next
 * is where to resume (the last change handed over, or after when there was
 * none). FSY_EINVAL for a cursor of a later epoch than this replica's (of
 * another replica).
 */
int fsy_store_feed(fsy_store_t *s, const fsy_cursor_t *after, size_t limit,
                   fsy_feed_cb cb, void *ctx, fsy_cursor_t *next);

/* The first and latest change of (scope, doc). FSY_ENOTFOUND if unknown. */
int fsy_store_stamps(fsy_store_t *s, const char *scope, const char *doc,
                     fsy_stamp_t *created, fsy_stamp_t *updated);

#ifdef __cplusplus
}
#endif
#endif
