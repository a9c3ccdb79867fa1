/*
 * fieldsync — the `sites` table: health summaries of every site heard of.
 * See fieldsync/health.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/health.h"
#include "store_internal.h"

static int
s_put_one(fsy_store_t *s, sqlite3_stmt *st, const fsy_site_health_t *h)
{
    char *vv = NULL;
    int rc = fsy_vv_format(&h->vv, &vv);
    if (rc != FSY_OK)
        return rc;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, h->site, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, h->parent, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, h->via, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, h->connected ? 1 : 0);
    sqlite3_bind_int64(st, 5, (int64_t)h->heard_ms);
    sqlite3_bind_int64(st, 6, (int64_t)h->reported_ms);
    sqlite3_bind_int64(st, 7, h->clock_offset_ms);
    sqlite3_bind_int64(st, 8, (int64_t)h->uptime_s);
    sqlite3_bind_int64(st, 9, (int64_t)h->conflicts);
    sqlite3_bind_int64(st, 10, (int64_t)h->pending);
    sqlite3_bind_text(st, 11, h->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, h->last_error, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, h->read_scopes, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, vv, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 15, (int64_t)h->updated_ms);
    rc = sqlite3_step(st);
    free(vv);
    return rc == SQLITE_DONE ? FSY_OK
                             : fsy_sq_err(s, rc, "recording site health");
}

int
fsy_store_sites_put(fsy_store_t *s, const fsy_site_health_t *v, size_t n)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db,
        "INSERT OR REPLACE INTO sites(site, parent, via, connected, heard_ms,"
        " reported_ms, clock_offset_ms, uptime_s, conflicts, pending, version,"
        " last_error, read_scopes, vv, updated_ms) VALUES(?1,?2,?3,?4,?5,?6,"
        "?7,?8,?9,?10,?11,?12,?13,?14,?15)",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "recording site health");
    /* Reports come again every health period: no disk sync for them (a
     * hub hearing fifty children must not wait for fifty). */
    rc = fsy_sq_synchronous(s, false);
    if (rc == FSY_OK)
        rc = fsy_sq_exec(s, "BEGIN IMMEDIATE");
    for (size_t i = 0; rc == FSY_OK && i < n; i++)
        rc = s_put_one(s, st, &v[i]);
    sqlite3_finalize(st);
    if (rc == FSY_OK)
        rc = fsy_sq_exec(s, "COMMIT");
    if (rc != FSY_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    fsy_sq_synchronous(s, true);
    return rc;
}

static void
s_row(sqlite3_stmt *st, fsy_site_health_t *h)
{
    memset(h, 0, sizeof *h);
    fsy_sq_col_text(st, 0, h->site, sizeof h->site);
    fsy_sq_col_text(st, 1, h->parent, sizeof h->parent);
    fsy_sq_col_text(st, 2, h->via, sizeof h->via);
    h->connected = sqlite3_column_int(st, 3) != 0;
    h->heard_ms = (uint64_t)sqlite3_column_int64(st, 4);
    h->reported_ms = (uint64_t)sqlite3_column_int64(st, 5);
    h->clock_offset_ms = sqlite3_column_int64(st, 6);
    h->uptime_s = (uint64_t)sqlite3_column_int64(st, 7);
    h->conflicts = (uint64_t)sqlite3_column_int64(st, 8);
    h->pending = (uint64_t)sqlite3_column_int64(st, 9);
    fsy_sq_col_text(st, 10, h->version, sizeof h->version);
    fsy_sq_col_text(st, 11, h->last_error, sizeof h->last_error);
    fsy_sq_col_text(st, 12, h->read_scopes, sizeof h->read_scopes);
    h->updated_ms = (uint64_t)sqlite3_column_int64(st, 14);
    const char *text = (const char *)sqlite3_column_text(st, 13);
    fsy_vv_t *vv = NULL;
    if (text != NULL && fsy_vv_parse(text, &vv) == FSY_OK) {
        h->vv = *vv;
        free(vv); /* the struct only: its entries now belong to h */
    }
}

int
fsy_store_sites(fsy_store_t *s, fsy_site_health_t **out, size_t *n)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db,
        "SELECT site, parent, via, connected, heard_ms, reported_ms,"
        " clock_offset_ms, uptime_s, conflicts, pending, version, last_error,"
        " read_scopes, vv, updated_ms FROM sites ORDER BY site",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "reading site health");
    fsy_site_health_t *v = NULL;
    size_t cnt = 0;
    int err = FSY_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fsy_site_health_t *nv = realloc(v, (cnt + 1) * sizeof *v);
        if (nv == NULL) {
            err = fsy_err_set(FSY_ENOMEM, "out of memory");
            break;
        }
        v = nv;
        s_row(st, &v[cnt++]);
    }
    sqlite3_finalize(st);
    if (err == FSY_OK && rc != SQLITE_DONE)
        err = fsy_sq_err(s, rc, "reading site health");
    if (err != FSY_OK) {
        fsy_site_health_free(v, cnt);
        return err;
    }
    *out = v;
    *n = cnt;
    return FSY_OK;
}

int
fsy_store_site_disconnected(fsy_store_t *s, const char *site, uint64_t heard_ms)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db, "UPDATE sites SET connected = 0, heard_ms = ?2 WHERE site = ?1",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "recording site health");
    sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)heard_ms);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FSY_OK
                             : fsy_sq_err(s, rc, "recording site health");
}
