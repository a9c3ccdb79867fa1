/*
 * fieldsync — the daemon's HTTP endpoints (libmicrohttpd, its own thread):
 *
 *   /          the status page: every site, worst first, refreshing itself
 *   /status    `fieldsync status --json --all-sites`
 *   /metrics   Prometheus text exposition (metrics.c)
 *   /healthz   200 when the daemon runs and its replica is writable and has
 *              room; 503 with the reason otherwise
 *
 * Every request reads the replica through its own connection, opened for
 * the request: nothing is shared with the sync loop but `loop_ms` (atomic)
 * and the configuration, of which the server keeps its own copy (a reload
 * hands it a new one: fsy_http_reconfigure).
 */
#ifndef FSY_HTTP_H
#define FSY_HTTP_H

#include <stdatomic.h>
#include <stdint.h>

#include "fieldsync/config.h"

typedef struct fsy_http fsy_http_t;

typedef struct fsy_http_opts {
    const fsy_config_t *cfg; /* copied: the caller keeps its own */
    uint64_t started_ms;
    /* the sync loop's last turn (borrowed): /healthz fails when it stops
     * turning */
    const _Atomic uint64_t *loop_ms;
    const _Atomic uint64_t *turn_max_us; /* the loop's longest turn */
    /* disk syncs of the replica's log that failed (NULL: none counted) */
    const _Atomic uint64_t *disk_sync_failed;
} fsy_http_opts_t;

/* Starts serving at cfg->http_listen. FSY_EIO (detail says why: address
 * in use, ...) if it cannot listen. *out is freed by fsy_http_stop. */
int fsy_http_start(fsy_http_t **out, const fsy_http_opts_t *o);

/* Replaces the server's copy of the configuration (a reload) once no
 * request is using it; [http] listen itself is not changed. FSY_OK, or
 * FSY_ENOMEM with the old copy kept. h NULL (no HTTP): FSY_OK. */
int fsy_http_reconfigure(fsy_http_t *h, const fsy_config_t *cfg);

/* Stops serving (waits for the thread) and frees; NULL is fine. */
void fsy_http_stop(fsy_http_t **h);

#endif
