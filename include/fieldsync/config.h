/*
 * fieldsync — the site configuration file (INI).
 *
 *   [site]
 *   id = gao
 *   db = /var/lib/fieldsync/gao.db
 *   max_clock_skew = 3600        ; seconds
 *   [limits]
 *   max_value_bytes = 1048576
 *
 * Unknown sections and keys are errors, reported with file, line and key,
 * so a typo never silently falls back to a default.
 */
#ifndef FIELDSYNC_CONFIG_H
#define FIELDSYNC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "fieldsync/change.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fsy_config {
    char site_id[FSY_SITE_MAX + 1]; /* "" if not set */
    char db[4096];                  /* "" if not set */
    uint64_t max_clock_skew_ms;
    size_t max_value_bytes;
} fsy_config_t;

/* Fills cfg with the defaults. */
void fsy_config_defaults(fsy_config_t *cfg);

/*
 * Loads `path` over the defaults. FSY_ENOTFOUND if it cannot be opened,
 * FSY_EINVAL with "FILE:LINE: ..." as detail for a bad line, key or value.
 */
int fsy_config_load(fsy_config_t *cfg, const char *path);

#ifdef __cplusplus
}
#endif
#endif
