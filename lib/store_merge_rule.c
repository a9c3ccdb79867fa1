/*
 * fieldsync — the text merge rule a replica follows (store_merge.c merges;
 * docs/REPLICATION.md, item 12): [merge] whole_value_fields, kept in
 * meta.merge_whole so every process opening the replica merges alike, and
 * the derived rows made to follow it when it changes. Above the apply
 * layer, whose refresh it runs.
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

/* ---- the rule --------------------------------------------------------- */

#define MERGE_RULE "lines/1"

static void
s_set_rule(fsy_store_t *s, const char *whole)
{
    snprintf(s->whole_fields, sizeof s->whole_fields, "%s", whole);
    snprintf(s->merge_rule, sizeof s->merge_rule, "%s%s%s", MERGE_RULE,
             whole[0] ? " whole=" : "", whole);
}

/* meta[merge_whole] into buf; *found false if never set. */
static int
s_meta_whole(fsy_store_t *s, char buf[FSY_WHOLE_FIELDS_MAX + 1], bool *found)
{
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_META_GET);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, "merge_whole", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    buf[0] = '\0';
    if (*found)
        fsy_sq_col_text(st, 0, buf, FSY_WHOLE_FIELDS_MAX + 1);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? FSY_OK
               : fsy_sq_err(s, rc, "reading the merge rule");
}

/* Derives every document with concurrent heads again under the rule
 * `whole`, and records it. Inside the caller's transaction. */
static int
s_rederive(fsy_store_t *s, const char *whole)
{
    s_set_rule(s, whole);
    int rc = fsy_sq_exec(s, "INSERT OR IGNORE INTO temp.touched "
                            "SELECT DISTINCT scope, doc FROM heads "
                            "GROUP BY scope, doc, field HAVING count(*) > 1");
    if (rc == FSY_OK)
        rc = fsy_sq_refresh_touched(s);
    return rc == FSY_OK ? fsy_sq_meta_set(s, "merge_whole", whole, 0) : rc;
}

int
fsy_sq_merge_open(fsy_store_t *s)
{
    char whole[FSY_WHOLE_FIELDS_MAX + 1];
    bool found;
    int rc = s_meta_whole(s, whole, &found);
    if (rc != FSY_OK || found) {
        s_set_rule(s, whole);
        return rc;
    }
    /* Derived by a fieldsync without text merge: once, under the write
     * lock (another process may have done it meanwhile). */
    if ((rc = fsy_sq_exec(s, "BEGIN IMMEDIATE")) != FSY_OK)
        return rc;
    rc = s_meta_whole(s, whole, &found);
    if (rc == FSY_OK)
        rc = found ? (s_set_rule(s, whole), FSY_OK) : s_rederive(s, "");
    if (rc == FSY_OK)
        return fsy_sq_exec(s, "COMMIT");
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int
fsy_store_set_whole_value_fields(fsy_store_t *s, const char *list)
{
    char canon[FSY_WHOLE_FIELDS_MAX + 1], old[FSY_WHOLE_FIELDS_MAX + 1];
    int rc = fsy_merge_list_canon(list, canon);
    if (rc != FSY_OK || strcmp(canon, s->whole_fields) == 0)
        return rc;
    snprintf(old, sizeof old, "%s", s->whole_fields);
    if ((rc = fsy_sq_txn_begin(s)) != FSY_OK)
        return rc;
    rc = fsy_sq_txn_end(s, s_rederive(s, canon));
    if (rc != FSY_OK)
        s_set_rule(s, old);
    return rc;
}

const char *
fsy_store_merge_rule(const fsy_store_t *s)
{
    return s->merge_rule;
}
