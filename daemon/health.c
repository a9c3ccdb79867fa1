/*
 * fieldsync — health summaries between a child and its parent. See
 * health.h and fieldsync/health.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/version.h"
#include "health.h"
#include "log.h"

/* An age for "never heard from" (the wire takes at most INT64_MAX). */
#define S_AGE_NEVER ((uint64_t)INT64_MAX)

/* This site's own summary; h->vv is owned by the caller. */
static int
s_own(const fsy_peer_t *parent, const fsy_sync_env_t *env, fsy_site_health_t *h)
{
    fsy_store_counts_t counts;
    fsy_vv_t *vv = NULL;
    int rc = fsy_store_counts(env->store, &counts);
    if (rc == FSY_OK)
        rc = fsy_store_vv(env->store, &vv);
    if (rc != FSY_OK)
        return rc;
    memset(h, 0, sizeof *h);
    snprintf(h->site, sizeof h->site, "%s", fsy_store_origin(env->store)->site);
    snprintf(h->version, sizeof h->version, "%s", FSY_VERSION_STRING);
    h->heard_ms = h->reported_ms = h->updated_ms = env->now_ms;
    h->uptime_s = (env->now_ms - env->started_ms) / 1000;
    h->conflicts = counts.conflicts;
    if (parent != NULL) {
        snprintf(h->parent, sizeof h->parent, "%s", parent->origin.site);
        h->connected = parent->state == FSY_PEER_LIVE &&
                       env->now_ms - parent->last_rx_ms < env->cfg->timeout_ms;
        h->pending = fsy_vv_missing(vv, &parent->known, "");
        snprintf(h->last_error, sizeof h->last_error, "%s", parent->last_error);
    }
    h->vv = *vv;
    free(vv); /* the struct only: h owns the entries now */
    return FSY_OK;
}

/* What our own sessions know of a child is fresher than its last report. */
static void
s_patch_from_sessions(fsy_site_health_t *v, size_t n,
                      const fsy_peer_status_t *peers, size_t n_peers)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n_peers; j++)
            if (strcmp(peers[j].role, "child") == 0 &&
                strcmp(peers[j].name, v[i].site) == 0) {
                v[i].connected = peers[j].connected;
                v[i].heard_ms = peers[j].last_contact_ms;
            }
}

/* Turns a row of ours into what the parent should read: an age, and an
 * offset to its clock rather than ours. */
static void
s_for_parent(fsy_site_health_t *h, const fsy_peer_t *parent, uint64_t now)
{
    uint64_t age = h->heard_ms == 0    ? S_AGE_NEVER
                   : h->heard_ms > now ? 0
                                       : now - h->heard_ms;
    h->heard_ms = age;
    if (parent->offset_known)
        h->clock_offset_ms -= parent->clock_offset_ms;
}

/* The report: own summary, then every site heard of below (not us). */
static int
s_build(const fsy_peer_t *parent, const fsy_sync_env_t *env,
        const fsy_site_health_t *own, fsy_msg_t *m)
{
    fsy_site_health_t *rows = NULL;
    fsy_peer_status_t *peers = NULL;
    size_t n_rows = 0, n_peers = 0;
    int rc = fsy_store_sites(env->store, &rows, &n_rows);
    if (rc == FSY_OK)
        rc = fsy_store_peers(env->store, &peers, &n_peers);
    if (rc == FSY_OK)
        m->sites = calloc(n_rows + 1, sizeof *m->sites);
    if (rc == FSY_OK && m->sites == NULL)
        rc = fsy_err_set(FSY_ENOMEM, "out of memory");
    if (rc == FSY_OK) {
        m->type = FSY_MSG_HEALTH;
        m->sites[0] = *own;
        m->sites[0].heard_ms = 0;
        m->sites[0].vv.v = NULL; /* borrowed below, see fsy_health_tick */
        m->n_sites = 1;
        s_patch_from_sessions(rows, n_rows, peers, n_peers);
        for (size_t i = 0; i < n_rows; i++) {
            if (strcmp(rows[i].site, own->site) == 0 ||
                m->n_sites == FSY_HEALTH_SITES_MAX)
                continue;
            s_for_parent(&rows[i], parent, env->now_ms);
            m->sites[m->n_sites++] = rows[i];
            rows[i].vv.v = NULL; /* moved */
        }
    }
    fsy_site_health_free(rows, n_rows);
    fsy_peer_status_free(peers, n_peers);
    return rc;
}

static int
s_send_report(fsy_peer_t *parent, const fsy_sync_env_t *env,
              const fsy_site_health_t *own)
{
    fsy_msg_t m = {0};
    int rc = s_build(parent, env, own, &m);
    if (rc == FSY_OK) {
        m.sites[0].vv = own->vv; /* borrowed for the encoder */
        parent->last_tx_ms = env->now_ms;
        rc = parent->send(parent->send_ctx, &m);
        m.sites[0].vv.v = NULL;
    }
    fsy_msg_clear(&m);
    return rc;
}

int
fsy_health_tick(fsy_peer_t *parent, const fsy_sync_env_t *env)
{
    fsy_site_health_t own;
    int rc = s_own(parent, env, &own);
    if (rc != FSY_OK)
        return rc;
    rc = fsy_store_sites_put(env->store, &own, 1);
    if (rc == FSY_OK && parent != NULL && parent->state == FSY_PEER_LIVE) {
        parent->health_tx_ms = env->now_ms;
        rc = s_send_report(parent, env, &own);
    }
    free(own.vv.v);
    return rc;
}

/* Whether child p may speak for site: not for us, nor for itself twice,
 * nor outside its sites_below when the configuration names them. */
static bool
s_may_relay(const fsy_peer_t *p, const fsy_sync_env_t *env, const char *site)
{
    if (strcmp(site, fsy_store_origin(env->store)->site) == 0 ||
        strcmp(site, p->origin.site) == 0)
        return false;
    if (p->acl != NULL && p->acl->sites_below[0] != '\0')
        return fsy_scope_allowed(p->acl->sites_below, site);
    return fsy_config_child(env->cfg, site) == NULL; /* not our own child */
}

/* Fills what only the parent knows of a row; false if it is left out. */
static bool
s_receive_row(fsy_peer_t *p, const fsy_sync_env_t *env, size_t i,
              fsy_site_health_t *h)
{
    uint64_t now = env->now_ms;
    snprintf(h->via, sizeof h->via, "%s", p->origin.site);
    h->updated_ms = now;
    if (i > 0) {
        if (!s_may_relay(p, env, h->site))
            return false;
        h->heard_ms = h->heard_ms >= now ? 0 : now - h->heard_ms;
        return true;
    }
    fsy_peer_clock(p, env, h->reported_ms);
    snprintf(h->parent, sizeof h->parent, "%s",
             fsy_store_origin(env->store)->site);
    snprintf(h->read_scopes, sizeof h->read_scopes, "%s",
             p->acl ? p->acl->read_scopes : "");
    h->connected = true;
    h->heard_ms = now;
    h->clock_offset_ms = p->clock_offset_ms;
    return true;
}

int
fsy_health_receive(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_msg_t *m)
{
    if (m->n_sites == 0 || strcmp(m->sites[0].site, p->origin.site) != 0) {
        fsy_log("warn", "health-refused",
                "peer=%s why=\"a report must start with the sender's own "
                "summary\"",
                p->name);
        return FSY_OK;
    }
    /* shallow copies: the vectors stay the message's */
    fsy_site_health_t *v = malloc(m->n_sites * sizeof *v);
    if (v == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    size_t kept = 0;
    for (size_t i = 0; i < m->n_sites; i++) {
        v[kept] = m->sites[i];
        kept += s_receive_row(p, env, i, &v[kept]);
    }
    if (kept < m->n_sites)
        fsy_log("warn", "health-dropped",
                "peer=%s sites=%zu why=\"not %s's to report\"", p->name,
                m->n_sites - kept, p->name);
    int rc = fsy_store_sites_put(env->store, v, kept);
    free(v);
    return rc;
}
