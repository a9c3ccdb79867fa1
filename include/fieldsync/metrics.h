/*
 * fieldsync — renderings of the status view for operations: Prometheus
 * text exposition (format 0.0.4) and a self-contained HTML status page.
 *
 * Ownership: both return a malloc'd string the caller frees, or NULL when
 * out of memory.
 */
#ifndef FIELDSYNC_METRICS_H
#define FIELDSYNC_METRICS_H

#include <stdint.h>

#include "fieldsync/status_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Process figures that are not in the replica. */
typedef struct fsy_process_info {
    uint64_t uptime_s;
    uint64_t replica_bytes; /* database and write-ahead log */
} fsy_process_info_t;

char *fsy_metrics_render(const fsy_status_view_t *v,
                         const fsy_process_info_t *p);

/* The page reloads itself every refresh_s seconds. */
char *fsy_status_page_render(const fsy_status_view_t *v, unsigned refresh_s);

#ifdef __cplusplus
}
#endif
#endif
