/*
 * fieldsync — [alert] command: a program run when a site's health colour
 * changes (docs/OPERATIONS.md, "Alerts").
 *
 * The daemon compares the status view's colours with those it last told,
 * every FSY_ALERT_CHECK_MS; a change runs the command, at most once a
 * minute per site (a later change waits for the minute to pass, and is
 * told only if it still stands). A site seen first in a colour other than
 * green is a change; nothing is told in the first timeout_ms after the
 * daemon starts, while its children reconnect. The command runs without a
 * shell, with the site, its colour, the one before, the reason and how recent
 * its data is in the environment; the daemon never waits for it
 * (fsy_alerts_reap).
 *
 * Ownership: fsy_alerts_t is embedded; fsy_alerts_free() frees what it
 * holds. Nothing here returns an error: a failure to run is logged.
 */
#ifndef FSY_ALERT_H
#define FSY_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/status_view.h"

#define FSY_ALERT_CHECK_MS 2000
#define FSY_ALERT_GAP_MS 60000 /* per site, between two runs */
#define FSY_ALERT_RUNNING_MAX 8

typedef struct fsy_alert_site {
    char site[FSY_SITE_MAX + 1];
    fsy_level_t told; /* the colour last told (or first seen green) */
    uint64_t run_ms;  /* when the command last ran for it, 0 never */
} fsy_alert_site_t;

typedef struct fsy_alerts {
    fsy_alert_site_t *v;
    size_t n, cap;
    unsigned running; /* commands not reaped yet */
} fsy_alerts_t;

/* Runs command (an absolute path) for every change in v; self is the
 * site this daemon runs as. */
void fsy_alerts_check(fsy_alerts_t *a, const char *command, const char *self,
                      const fsy_status_view_t *v);

/* Collects the commands that ended; logs a failure. */
void fsy_alerts_reap(fsy_alerts_t *a);

void fsy_alerts_free(fsy_alerts_t *a);

#endif
