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

/* Derives every document with concurrent heads again under the rule
 * `whole`, and records it. Inside the caller's transaction. */
static int
s_rederive(fsy_store_t *s, const char *whole)
{
    /* recorded first: each load re-reads it (fsy_sq_merge_rule_refresh) */
    int rc = fsy_sq_meta_set(s, "merge_whole", whole, 0);
    fsy_sq_merge_rule_set(s, whole);
    if (rc == FSY_OK)
        rc = fsy_sq_exec(s, "INSERT OR IGNORE INTO temp.touched(scope, doc) "
                            "SELECT d.scope, d.doc FROM docs d WHERE "
                            "json_array_length(d.heads) > 1 AND EXISTS "
                            "(SELECT 1 FROM json_each(d.heads) h JOIN changes "
                            "c ON c.lseq = h.value GROUP BY c.field "
                            "HAVING count(*) > 1)");
    return rc == FSY_OK ? fsy_sq_refresh_touched(s) : rc;
}

int
fsy_sq_merge_open(fsy_store_t *s)
{
    char whole[FSY_WHOLE_FIELDS_MAX + 1];
    bool found;
    int rc = fsy_sq_merge_rule_read(s, whole, &found);
    if (rc != FSY_OK || found) {
        fsy_sq_merge_rule_set(s, whole);
        return rc;
    }
    /* Derived by a fieldsync without text merge: once, under the write
     * lock (another process may have done it meanwhile). */
    if ((rc = fsy_sq_exec(s, "BEGIN IMMEDIATE")) != FSY_OK)
        return rc;
    rc = fsy_sq_merge_rule_read(s, whole, &found);
    if (rc == FSY_OK)
        rc = found ? (fsy_sq_merge_rule_set(s, whole), FSY_OK)
                   : s_rederive(s, "");
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
    fsy_sq_merge_rule_refresh(s); /* compared with the replica's, not a copy */
    if (rc != FSY_OK || strcmp(canon, s->whole_fields) == 0)
        return rc;
    snprintf(old, sizeof old, "%s", s->whole_fields);
    if ((rc = fsy_sq_txn_begin(s)) != FSY_OK)
        return rc;
    rc = fsy_sq_txn_end(s, s_rederive(s, canon));
    if (rc != FSY_OK)
        fsy_sq_merge_rule_set(s, old);
    return rc;
}

const char *
fsy_store_merge_rule(fsy_store_t *s)
{
    fsy_sq_merge_rule_refresh(s); /* another process may have changed it */
    return s->merge_rule;
}
