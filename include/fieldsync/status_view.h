/*
 * fieldsync — the status of a site and of every site it knows, as the
 * `fieldsync status` command, the daemon's /status, /metrics and status
 * page all show it (one computation, four renderings).
 *
 * Rows come from the replica: this site's counts, the `peers` table (its
 * neighbours, written by its daemon) and the `sites` table (health
 * summaries relayed from below, fieldsync/health.h). "behind" counts the
 * changes held here that a site lacks (in the scopes it receives), "ahead"
 * the changes it holds that are not here yet, both from its last known
 * version vector: they keep growing while a site is cut off.
 *
 * Ownership: fsy_status_view_free() frees a loaded view; strings returned
 * by the renderers are malloc'd and freed by the caller.
 */
#ifndef FIELDSYNC_STATUS_VIEW_H
#define FIELDSYNC_STATUS_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/config.h"
#include "fieldsync/store.h"
#include "fieldsync/wallclock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fsy_level {
    FSY_LEVEL_GREEN = 0,
    FSY_LEVEL_AMBER,
    FSY_LEVEL_RED
} fsy_level_t;

typedef struct fsy_site_row {
    char site[FSY_SITE_MAX + 1];
    const char *role;              /* "self", "parent", "child", "below"
                                      or "courier" (bundles only) */
    const char *state;             /* "self", "connected", "disconnected",
                                      "unreachable" (no news: the path is down) */
    char via[FSY_SITE_MAX + 1];    /* neighbour it is heard through */
    char parent[FSY_SITE_MAX + 1]; /* its parent, if it said */
    uint64_t last_contact_ms;      /* 0: never */
    uint64_t behind, ahead;        /* changes, see above */
    bool reported;                 /* it sent a health summary */
    uint64_t conflicts;            /* open, as it last reported */
    uint64_t pending; /* changes it held that its parent lacked, as it
                         last reported */
    bool offset_known;
    int64_t clock_offset_ms; /* its clock minus ours */
    char version[32];
    uint64_t uptime_s;
    char last_error[256];
    bool neighbour; /* counters below are ours with it */
    uint64_t changes_sent, changes_received, bytes_sent, bytes_received;
    uint64_t refused;
    /* attachments with a neighbour: bytes still to come and to go, and the
     * rates over the last minute (bytes/s) */
    uint64_t att_in_waiting, att_in_rate, att_out_waiting, att_out_rate;
    bool recovering;     /* self: recovering from a restore (store_recover.c) */
    uint64_t as_of_ms;   /* its newest change held here; 0: none */
    uint64_t courier_ms; /* its last bundle imported here; 0: never */
    fsy_level_t level;
    char why[128]; /* what made it amber or red, "" when green */
} fsy_site_row_t;

typedef struct fsy_status_view {
    char site[FSY_SITE_MAX + 1];
    char incarnation[17];
    fsy_store_counts_t counts;
    uint64_t now_ms;
    fsy_site_row_t *rows; /* self first, then parent, children, below,
                             couriers */
    size_t n, cap;
    fsy_recovery_t recovery; /* this site recovering from a restore */
    fsy_pending_t pending;   /* what was written here, not yet at HQ */
} fsy_status_view_t;

/*
 * Loads the view at now_ms. all_sites adds every site heard of below the
 * neighbours. cfg gives the thresholds and the timings that decide when a
 * record is stale. Errors: FSY_ENOMEM, FSY_EIO; out holds nothing then.
 */
int fsy_status_view_load(fsy_store_t *s, const fsy_config_t *cfg,
                         bool all_sites, uint64_t now_ms,
                         fsy_status_view_t *out);
void fsy_status_view_free(fsy_status_view_t *v);

/* What attachments are doing with a neighbour, for people: "sending 12.4
 * MB to bamako, about 7 min; receiving 3.1 MB from bamako, about 2 min"
 * ("" when nothing waits; "rate unknown yet" before a byte moved). */
const char *fsy_transfer_text(const fsy_site_row_t *r, char *buf, size_t len);

/* Seconds until waiting bytes arrive at rate bytes/s; 0 when unknown. */
uint64_t fsy_transfer_eta_s(uint64_t waiting, uint64_t rate);

/* How far up the tree this site's changes are, for people: "12 documents
 * (31 changes) not yet at HQ, oldest written 3d02h ago; 5 of them (9
 * changes) not yet at the parent", "everything written here is at HQ", or
 * "" at the root. Returns buf. */
const char *fsy_pending_text(const fsy_pending_t *p, uint64_t now_ms, char *buf,
                             size_t len);

/* For people: "search index: 12 documents waiting to be indexed (...)",
 * or "" when none waits. Returns buf. */
const char *fsy_index_pending_text(const fsy_store_counts_t *c, char *buf,
                                   size_t len);

/* "green", "amber", "red". */
const char *fsy_level_name(fsy_level_t l);

/* The view as one JSON object (fieldsync status --json, /status); NULL
 * when out of memory. */
char *fsy_status_view_json(const fsy_status_view_t *v);

#ifdef __cplusplus
}
#endif
#endif
