/*
 * fieldsync — health summaries: what the library knows of them beyond the
 * `sites` table (store_sites.c). See fieldsync/health.h.
 */
#include <stdlib.h>

#include "fieldsync/config.h"
#include "fieldsync/health.h"

void
fsy_site_health_free(fsy_site_health_t *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i].vv.v);
    free(v);
}

uint64_t
fsy_health_stale_ms(const fsy_config_t *cfg)
{
    uint64_t ms = 3 * (uint64_t)cfg->health_ms + cfg->timeout_ms;
    return ms < 15 * 60000 ? 15 * 60000 : ms;
}
