/*
 * fieldsync — opening and creating a replica: the base layer's schema,
 * migration and identity (store.c), then the text merge rule its derived
 * rows follow (store_merge_rule.c), which may derive them again. The top
 * of the store's layers, so the base never calls up into them.
 */
#include <unistd.h>

#include "store_internal.h"

int
fsy_store_open(fsy_store_t **out, const char *path)
{
    int rc = fsy_sq_open(out, path);
    if (rc == FSY_OK)
        fsy_sq_durable_check(*out); /* store_durable.c */
    if (rc == FSY_OK && (rc = fsy_sq_merge_open(*out)) != FSY_OK)
        fsy_store_close(out);
    return rc;
}

int
fsy_store_create(fsy_store_t **out, const char *path, const char *site)
{
    /* A new replica records its rule at its first open (it has nothing
     * to derive), so a crash in between leaves nothing half done. */
    int rc = fsy_sq_create(out, path, site);
    if (rc == FSY_OK && (rc = fsy_sq_merge_open(*out)) != FSY_OK) {
        fsy_store_close(out);
        unlink(path);
    }
    return rc;
}
