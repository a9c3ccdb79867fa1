/*
 * fieldsync — who may write what into this replica: one rule for the live
 * link and for bundles (docs/SECURITY.md has the table).
 *
 * A sender is known by its key: a [child NAME] section, the [parent], this
 * site itself, or a key a person named (bundle import --trust). A change
 * from a child is accepted only if its origin is the child itself or a
 * site configured below it (sites_below) and its scope is within the
 * child's write_scopes. A parent, this site and a named key may send any
 * origin. Nobody may send this site's own current stream: the store
 * refuses that for every remote source (store_apply.c).
 *
 * Ownership: fsy_authority_t holds copies; nothing to free. `child`
 * borrows the configuration it came from.
 */
#ifndef FIELDSYNC_AUTHZ_H
#define FIELDSYNC_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

#include "fieldsync/change.h"
#include "fieldsync/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fsy_role {
    FSY_ROLE_CHILD = 0, /* a [child NAME] section: its limits apply */
    FSY_ROLE_PARENT,    /* the [parent] */
    FSY_ROLE_SELF,      /* this site's own key */
    FSY_ROLE_NAMED      /* a key a person named for this one import */
} fsy_role_t;

typedef struct fsy_authority {
    fsy_role_t role;
    char site[FSY_SITE_MAX + 1];   /* the sender; "" for a named key */
    const fsy_child_conf_t *child; /* FSY_ROLE_CHILD: its section */
} fsy_authority_t;

/* The names used in messages and logs: "child", "parent", ... */
const char *fsy_role_name(fsy_role_t role);

/* The authority of [child site] in cfg; false if there is no section. */
bool fsy_authz_child(const fsy_config_t *cfg, const char *site,
                     fsy_authority_t *out);

/*
 * May change c be accepted from a? True, or false with the reason in
 * why (size n, always terminated): what the sender may write and what
 * the change is.
 */
bool fsy_authz_may_write(const fsy_authority_t *a, const fsy_change_t *c,
                         char *why, size_t n);

#ifdef __cplusplus
}
#endif
#endif
