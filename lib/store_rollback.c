/*
 * fieldsync — this site's own stream against what a neighbour holds of it.
 *
 * Only this replica writes its stream, so a neighbour can never hold more
 * of it, or other content at one of its seqs, unless this replica went
 * back in time (restored from a backup, a VM snapshot) or a copy of it
 * runs elsewhere as the same site (../shared/DESIGN.md, "An origin's
 * stream is write-once"). Lengths come from the neighbour's vector; equal
 * lengths with other content show in the checksums of its last changes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "store_internal.h"

int
fsy_sq_checksum_at(fsy_store_t *s, const char *scope, const fsy_origin_t *o,
                   uint64_t seq, uint8_t out[FSY_CHECKSUM_LEN], bool *found)
{
    int64_t oid;
    bool known;
    *found = false;
    int rc = fsy_sq_origin_find(s, o, &oid, &known);
    if (rc != FSY_OK || !known)
        return rc;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_CHANGE_BY_ID);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, oid);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 4) == FSY_CHECKSUM_LEN) {
        memcpy(out, sqlite3_column_blob(st, 4), FSY_CHECKSUM_LEN);
        *found = true;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fsy_sq_err(s, rc, "reading a change's checksum");
    return FSY_OK;
}

int
fsy_store_tips(fsy_store_t *s, const fsy_vv_t *vv, const fsy_origin_t *owner,
               fsy_tip_t *out, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < vv->n && *n < FSY_TIPS_MAX; i++) {
        const fsy_vv_entry_t *e = &vv->v[i];
        if (!fsy_origin_eq(&e->origin, owner))
            continue;
        bool found;
        fsy_tip_t *t = &out[*n];
        int rc =
            fsy_sq_checksum_at(s, e->scope, owner, e->seq, t->checksum, &found);
        if (rc != FSY_OK)
            return rc;
        if (!found)
            continue;
        snprintf(t->scope, sizeof t->scope, "%s", e->scope);
        t->seq = e->seq;
        (*n)++;
    }
    return FSY_OK;
}

/* Does the tip name other content than ours at its seq? */
static int
s_tip_differs(fsy_store_t *s, const fsy_tip_t *t, bool *differs)
{
    uint8_t mine[FSY_CHECKSUM_LEN];
    bool found;
    int rc = fsy_sq_checksum_at(s, t->scope, &s->origin, t->seq, mine, &found);
    *differs = rc == FSY_OK && found &&
               sodium_memcmp(mine, t->checksum, FSY_CHECKSUM_LEN) != 0;
    return rc;
}

int
fsy_store_rolled_back(fsy_store_t *s, const fsy_vv_t *theirs,
                      const fsy_tip_t *tips, size_t n, bool *behind, char *why,
                      size_t len)
{
    *behind = false;
    why[0] = '\0';
    const char *site = s->origin.site;
    for (size_t i = 0; i < theirs->n && !*behind; i++) {
        const fsy_vv_entry_t *e = &theirs->v[i];
        if (!fsy_origin_eq(&e->origin, &s->origin))
            continue;
        uint64_t mine = 0;
        int rc = fsy_sq_vv_get(s, e->scope, s->origin_id, &mine);
        if (rc != FSY_OK)
            return rc;
        if ((*behind = e->seq > mine))
            snprintf(why, len,
                     "the neighbour holds %s's own changes up to %s:%" PRIu64
                     " in %s, this replica only to %" PRIu64,
                     site, site, e->seq, e->scope, mine);
    }
    for (size_t i = 0; i < n && !*behind; i++) {
        /* Tips carry no origin: only one at the end of our current
         * stream in their vector is ours (not an older incarnation's). */
        if (fsy_vv_get(theirs, tips[i].scope, &s->origin) != tips[i].seq)
            continue;
        int rc = s_tip_differs(s, &tips[i], behind);
        if (rc != FSY_OK)
            return rc;
        if (*behind)
            snprintf(why, len,
                     "the neighbour holds another change as %s:%" PRIu64
                     " in %s than this replica does",
                     site, tips[i].seq, tips[i].scope);
    }
    return FSY_OK;
}
