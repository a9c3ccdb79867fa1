/*
 * fieldsync — health summaries: what each site tells its parent about
 * itself, and what hubs relay upwards, so headquarters knows every site in
 * the tree (docs/OPERATIONS.md).
 *
 * A summary travels up one hop at a time. The parent that receives a
 * site's own summary fills what only it can know (whether the site is
 * connected, when it last heard from it, its clock offset, what it may
 * read); hubs pass their subtree on with those fields converted to the
 * receiver's point of view (an age instead of a time, the offset to the
 * receiver's clock). Every site keeps what it heard in its replica's
 * `sites` table, so `fieldsync status --all-sites` works with or without
 * the daemon.
 *
 * Ownership: a fsy_site_health_t owns vv.v; fsy_site_health_free() frees an
 * array of them. Nothing here fails; the table's functions (store.h) return
 * FSY_ENOMEM, FSY_EIO (SQLite), FSY_EINVAL.
 */
#ifndef FIELDSYNC_HEALTH_H
#define FIELDSYNC_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/change.h"
#include "fieldsync/vv.h"
#include "fieldsync/wallclock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most sites one health message carries (and one site keeps). */
#define FSY_HEALTH_SITES_MAX 4096

typedef struct fsy_site_health {
    char site[FSY_SITE_MAX + 1];
    char parent[FSY_SITE_MAX + 1]; /* the site it syncs up to; "" none */
    char via[FSY_SITE_MAX + 1];    /* the neighbour it was heard through */
    bool connected;                /* to its parent, as its parent says */
    uint64_t heard_ms;             /* our clock: last contact (0 never) */
    uint64_t reported_ms;          /* its clock: when it made the summary */
    int64_t clock_offset_ms;       /* its clock minus ours, estimated */
    uint64_t uptime_s;             /* of its daemon */
    uint64_t conflicts;            /* open conflicts in its replica */
    uint64_t pending;              /* changes it holds its parent lacks */
    char version[32];              /* its daemon's version */
    char last_error[256];
    char read_scopes[256]; /* what its parent sends it; "" all */
    fsy_vv_t vv;           /* what it holds (owned) */
    uint64_t updated_ms;   /* our clock: when this row was written */
} fsy_site_health_t;

void fsy_site_health_free(fsy_site_health_t *v, size_t n);

/* Kept in the replica's `sites` table: fsy_store_sites*() in store.h. */

/* How long a relayed summary stays news: a relay older than this means
 * the path to the site is cut (and another child may report it). Three
 * health periods and a timeout, and never under 15 minutes, since a hub
 * on a satellite link may report less often than its parent. */
struct fsy_config;
uint64_t fsy_health_stale_ms(const struct fsy_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
