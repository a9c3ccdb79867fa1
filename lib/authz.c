/*
 * fieldsync — who may write what (authz.h). The live link (daemon/peer.c)
 * and bundle import (lib/bundle.c) both ask fsy_authz_may_write().
 */
#include "fieldsync/authz.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fieldsync/ident.h"

const char *
fsy_role_name(fsy_role_t role)
{
    static const char *const names[] = {"child", "parent", "this site",
                                        "a named key"};
    return role <= FSY_ROLE_NAMED ? names[role] : "?";
}

bool
fsy_authz_child(const fsy_config_t *cfg, const char *site, fsy_authority_t *out)
{
    const fsy_child_conf_t *c = fsy_config_child(cfg, site);
    memset(out, 0, sizeof *out);
    if (c == NULL)
        return false;
    out->role = FSY_ROLE_CHILD;
    out->child = c;
    snprintf(out->site, sizeof out->site, "%s", c->site);
    return true;
}

/* May child k originate (or relay) changes of site? */
static bool
s_origin_ok(const fsy_child_conf_t *k, const char *site)
{
    return strcmp(site, k->site) == 0 ||
           (k->sites_below[0] != '\0' &&
            fsy_scope_allowed(k->sites_below, site));
}

bool
fsy_authz_may_write(const fsy_authority_t *a, const fsy_change_t *c, char *why,
                    size_t n)
{
    why[0] = '\0';
    if (a->role != FSY_ROLE_CHILD)
        return true;
    const fsy_child_conf_t *k = a->child;
    const char *origin = c->version.origin.site;
    if (!s_origin_ok(k, origin))
        snprintf(why, n,
                 "%s:%" PRIu64 " is %s's change: %s may send its own and "
                 "those of the sites below it ([child %s] sites_below = %s)",
                 origin, c->version.seq, origin, k->site, k->site,
                 k->sites_below[0] ? k->sites_below : "none");
    else if (!fsy_scope_allowed(k->write_scopes, c->scope))
        snprintf(why, n,
                 "%s:%" PRIu64 " is in scope %s: %s may write %s ([child "
                 "%s] write_scopes)",
                 origin, c->version.seq, c->scope, k->site, k->write_scopes,
                 k->site);
    return why[0] == '\0';
}
