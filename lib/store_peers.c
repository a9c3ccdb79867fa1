/*
 * fieldsync — sync status kept in the replica: what this site knows of
 * each neighbour, written by fieldsyncd and read by `fieldsync status`.
 * Kept in the replica (not in the daemon's memory) so the CLI can show it
 * whether or not the daemon runs, and it survives restarts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int
fsy_store_peer_put(fsy_store_t *s, const fsy_peer_status_t *p)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db,
        "INSERT OR REPLACE INTO peers(name, role, connected, last_contact_ms,"
        " changes_sent, changes_received, bytes_sent, bytes_received, refused,"
        " vv, last_error, updated_ms, clock_offset_ms, att_in_waiting,"
        " att_in_rate, att_out_waiting, att_out_rate) VALUES(?1,?2,?3,?4,?5,"
        "?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "recording peer status");
    if (strcmp(p->role, "parent") == 0 && strcmp(p->name, "parent") != 0)
        rc = sqlite3_exec(s->db, /* the placeholder of fsy_store_peer_note */
                          "DELETE FROM peers WHERE name = 'parent'", NULL, NULL,
                          NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return fsy_sq_err(s, rc, "recording peer status");
    }
    sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->role, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, p->connected ? 1 : 0);
    sqlite3_bind_int64(st, 4, (int64_t)p->last_contact_ms);
    sqlite3_bind_int64(st, 5, (int64_t)p->changes_sent);
    sqlite3_bind_int64(st, 6, (int64_t)p->changes_received);
    sqlite3_bind_int64(st, 7, (int64_t)p->bytes_sent);
    sqlite3_bind_int64(st, 8, (int64_t)p->bytes_received);
    sqlite3_bind_int64(st, 9, (int64_t)p->refused);
    sqlite3_bind_text(st, 10, p->vv ? p->vv : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, p->last_error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, (int64_t)p->updated_ms);
    if (p->offset_known)
        sqlite3_bind_int64(st, 13, p->clock_offset_ms);
    else
        sqlite3_bind_null(st, 13);
    sqlite3_bind_int64(st, 14, (int64_t)p->att_in_waiting);
    sqlite3_bind_int64(st, 15, (int64_t)p->att_in_rate);
    sqlite3_bind_int64(st, 16, (int64_t)p->att_out_waiting);
    sqlite3_bind_int64(st, 17, (int64_t)p->att_out_rate);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FSY_OK
                             : fsy_sq_err(s, rc, "recording peer status");
}

static int
s_row(sqlite3_stmt *st, fsy_peer_status_t *p)
{
    memset(p, 0, sizeof *p);
    fsy_sq_col_text(st, 0, p->name, sizeof p->name);
    fsy_sq_col_text(st, 1, p->role, sizeof p->role);
    p->connected = sqlite3_column_int(st, 2) != 0;
    p->last_contact_ms = (uint64_t)sqlite3_column_int64(st, 3);
    p->changes_sent = (uint64_t)sqlite3_column_int64(st, 4);
    p->changes_received = (uint64_t)sqlite3_column_int64(st, 5);
    p->bytes_sent = (uint64_t)sqlite3_column_int64(st, 6);
    p->bytes_received = (uint64_t)sqlite3_column_int64(st, 7);
    p->refused = (uint64_t)sqlite3_column_int64(st, 8);
    const char *vv = (const char *)sqlite3_column_text(st, 9);
    p->vv = strdup(vv ? vv : "");
    fsy_sq_col_text(st, 10, p->last_error, sizeof p->last_error);
    p->updated_ms = (uint64_t)sqlite3_column_int64(st, 11);
    p->offset_known = sqlite3_column_type(st, 12) != SQLITE_NULL;
    p->clock_offset_ms = sqlite3_column_int64(st, 12);
    p->att_in_waiting = (uint64_t)sqlite3_column_int64(st, 13);
    p->att_in_rate = (uint64_t)sqlite3_column_int64(st, 14);
    p->att_out_waiting = (uint64_t)sqlite3_column_int64(st, 15);
    p->att_out_rate = (uint64_t)sqlite3_column_int64(st, 16);
    return p->vv ? FSY_OK : fsy_err_set(FSY_ENOMEM, "out of memory");
}

int
fsy_store_peers(fsy_store_t *s, fsy_peer_status_t **out, size_t *n)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db,
        "SELECT name, role, connected, last_contact_ms, changes_sent,"
        " changes_received, bytes_sent, bytes_received, refused, vv,"
        " last_error, updated_ms, clock_offset_ms, att_in_waiting,"
        " att_in_rate, att_out_waiting, att_out_rate FROM peers"
        " ORDER BY role DESC, name",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fsy_sq_err(s, rc, "reading peer status");
    fsy_peer_status_t *v = NULL;
    size_t cnt = 0;
    int err = FSY_OK;
    while (err == FSY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        fsy_peer_status_t *nv = realloc(v, (cnt + 1) * sizeof *v);
        if (nv == NULL) {
            err = fsy_err_set(FSY_ENOMEM, "out of memory");
            break;
        }
        v = nv;
        err = s_row(st, &v[cnt]);
        cnt++;
    }
    sqlite3_finalize(st);
    if (err == FSY_OK && rc != SQLITE_DONE)
        err = fsy_sq_err(s, rc, "reading peer status");
    if (err != FSY_OK) {
        fsy_peer_status_free(v, cnt);
        return err;
    }
    *out = v;
    *n = cnt;
    return FSY_OK;
}

void
fsy_peer_status_free(fsy_peer_status_t *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i].vv);
    free(v);
}

int
fsy_store_peer_note(fsy_store_t *s, const char *role, const char *last_error)
{
    int rc = fsy_sq_txn_begin(s);
    if (rc != FSY_OK)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE peers SET last_error = ?2, connected = 0 "
                           "WHERE role = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return fsy_sq_txn_end(
            s, fsy_sq_err(s, sqlite3_errcode(s->db), "recording a neighbour"));
    sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, last_error, -1, SQLITE_STATIC);
    rc = fsy_sq_step_done(s, st, "recording a neighbour");
    sqlite3_finalize(st);
    if (rc == FSY_OK && sqlite3_changes(s->db) == 0) {
        /* never introduced: a row named after its role, until it is */
        fsy_peer_status_t p = {.vv = ""};
        snprintf(p.name, sizeof p.name, "%s", role);
        snprintf(p.role, sizeof p.role, "%s", role);
        snprintf(p.last_error, sizeof p.last_error, "%s", last_error);
        p.updated_ms = fsy_sq_now(s);
        rc = fsy_store_peer_put(s, &p);
    }
    return fsy_sq_txn_end(s, rc);
}

/* ---- `fieldsync sync`: a request to the daemon, through the replica ---- */

int
fsy_store_sync_request(fsy_store_t *s, uint64_t *token)
{
    uint64_t asked = 0, answered = 0;
    fsy_sync_outcome_t outcome;
    int rc = fsy_store_sync_requests(s, &asked, &answered, &outcome);
    if (rc != FSY_OK)
        return rc;
    /* later than any before, even with a clock set back */
    uint64_t now = fsy_sq_now(s);
    *token = now > asked ? now : asked + 1;
    return fsy_sq_meta_set(s, "sync_asked", NULL, *token);
}

int
fsy_store_sync_requests(fsy_store_t *s, uint64_t *asked, uint64_t *answered,
                        fsy_sync_outcome_t *outcome)
{
    uint64_t o = 0;
    int rc = fsy_sq_meta_get_opt(s, "sync_asked", asked);
    if (rc == FSY_OK)
        rc = fsy_sq_meta_get_opt(s, "sync_answered", answered);
    if (rc == FSY_OK)
        rc = fsy_sq_meta_get_opt(s, "sync_outcome", &o);
    *outcome = o <= FSY_SYNC_LIVE ? (fsy_sync_outcome_t)o : FSY_SYNC_UNANSWERED;
    return rc;
}

int
fsy_store_sync_answer(fsy_store_t *s, uint64_t token,
                      fsy_sync_outcome_t outcome)
{
    /* the outcome first: a reader that sees the token sees its outcome */
    int rc = fsy_sq_meta_set(s, "sync_outcome", NULL, (uint64_t)outcome);
    return rc == FSY_OK ? fsy_sq_meta_set(s, "sync_answered", NULL, token) : rc;
}
