/*
 * fieldsync — /metrics: the status view in the Prometheus text exposition
 * format (version 0.0.4).
 *
 * Ownership: returns a malloc'd string the caller frees, or NULL when out
 * of memory.
 */
#ifndef FSY_METRICS_H
#define FSY_METRICS_H

#include <stdint.h>

#include "fieldsync/status_view.h"

/* Process figures that are not in the replica. */
typedef struct fsy_process_info {
    uint64_t uptime_s;
    uint64_t replica_bytes;    /* database and write-ahead log */
    uint64_t stream_bytes[2];  /* compression streams: sending, receiving */
    uint64_t turn_max_us;      /* the sync loop's longest turn */
    uint64_t disk_sync_failed; /* disk syncs of the log that failed */
} fsy_process_info_t;

char *fsy_metrics_render(const fsy_status_view_t *v,
                         const fsy_process_info_t *p);

#endif
