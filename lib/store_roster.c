/*
 * fieldsync — what the roster needs beyond neighbours and health reports:
 * sites heard of by courier (bundle imports), how recent each site's data
 * is here, and forgetting a decommissioned site.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "store_internal.h"

int
fsy_store_courier_seen(fsy_store_t *s, const char *site, uint64_t created_ms)
{
    if (strcmp(site, s->origin.site) == 0)
        return FSY_OK; /* our own bundle, back: no news of anyone */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "INSERT INTO couriers(site, imported_ms, created_ms, bundles) "
            "VALUES(?1, ?2, ?3, 1) ON CONFLICT(site) DO UPDATE SET "
            "imported_ms = excluded.imported_ms, created_ms = "
            "max(created_ms, excluded.created_ms), bundles = bundles + 1",
            -1, &st, NULL) != SQLITE_OK)
        return fsy_sq_err(s, sqlite3_errcode(s->db), "recording a courier");
    sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)fsy_sq_now(s));
    sqlite3_bind_int64(st, 3, (int64_t)created_ms);
    int rc = fsy_sq_step_done(s, st, "recording a courier");
    sqlite3_finalize(st);
    return rc;
}

/* Grows *v by one slot; NULL when out of memory. */
static void *
s_grow(void **v, size_t *n, size_t *cap, size_t size)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        void *p = realloc(*v, c * size);
        if (p == NULL)
            return NULL;
        *v = p;
        *cap = c;
    }
    return (char *)*v + (*n)++ * size;
}

int
fsy_store_couriers(fsy_store_t *s, fsy_courier_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT site, imported_ms, created_ms, bundles "
                           "FROM couriers ORDER BY site",
                           -1, &st, NULL) != SQLITE_OK)
        return fsy_sq_err(s, sqlite3_errcode(s->db), "reading couriers");
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fsy_courier_t *c = s_grow((void **)out, n, &cap, sizeof *c);
        if (c == NULL) {
            sqlite3_finalize(st);
            free(*out);
            *out = NULL;
            *n = 0;
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        }
        fsy_sq_col_text(st, 0, c->site, sizeof c->site);
        c->imported_ms = (uint64_t)sqlite3_column_int64(st, 1);
        c->created_ms = (uint64_t)sqlite3_column_int64(st, 2);
        c->bundles = (uint64_t)sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FSY_OK : fsy_sq_err(s, rc, "reading couriers");
}

/* The newest change of each stream is at its vector entry (clocks only
 * grow along a stream): one index probe per entry, not a scan of the log. */
int
fsy_store_as_of(fsy_store_t *s, fsy_as_of_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT o.site, max(c.hlc) FROM vv v JOIN changes c ON "
            "c.scope = v.scope AND c.origin = v.origin AND c.seq = v.seq "
            "JOIN origins o ON o.id = v.origin GROUP BY o.site ORDER BY o.site",
            -1, &st, NULL) != SQLITE_OK)
        return fsy_sq_err(s, sqlite3_errcode(s->db), "reading data ages");
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fsy_as_of_t *a = s_grow((void **)out, n, &cap, sizeof *a);
        if (a == NULL) {
            sqlite3_finalize(st);
            free(*out);
            *out = NULL;
            *n = 0;
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        }
        fsy_sq_col_text(st, 0, a->site, sizeof a->site);
        a->newest_ms = fsy_hlc_ms((uint64_t)sqlite3_column_int64(st, 1));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FSY_OK : fsy_sq_err(s, rc, "reading data ages");
}

int
fsy_store_forget_site(fsy_store_t *s, const char *site, bool *known)
{
    static const char *const sql[] = {"DELETE FROM peers WHERE name = ?1",
                                      "DELETE FROM sites WHERE site = ?1",
                                      "DELETE FROM couriers WHERE site = ?1"};
    *known = false;
    int rc = fsy_sq_txn_begin(s);
    for (size_t i = 0; rc == FSY_OK && i < 3; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL) != SQLITE_OK) {
            rc = fsy_sq_err(s, sqlite3_errcode(s->db), "forgetting a site");
            break;
        }
        sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
        rc = fsy_sq_step_done(s, st, "forgetting a site");
        *known = *known || sqlite3_changes(s->db) > 0;
        sqlite3_finalize(st);
    }
    return fsy_sq_txn_end(s, rc);
}
