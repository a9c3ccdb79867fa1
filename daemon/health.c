/*
 * fieldsync — health summaries between a child and its parent. See
 * health.h and fieldsync/health.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/status_view.h"
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
    h->uptime_s = fsy_since_ms(env->started_ms, env->now_ms) / 1000;
    h->conflicts = counts.conflicts;
    if (parent != NULL) {
        snprintf(h->parent, sizeof h->parent, "%s", parent->origin.site);
        h->connected = fsy_peer_connected(parent, env);
        h->pending = fsy_vv_missing(vv, &parent->known, "");
        snprintf(h->last_error, sizeof h->last_error, "%s", parent->last_error);
    }
    if (h->last_error[0] == '\0' && env->note != NULL)
        snprintf(h->last_error, sizeof h->last_error, "%s", env->note);
    h->vv = *vv;
    free(vv); /* the struct only: h owns the entries now */
    return FSY_OK;
}

static const fsy_peer_status_t *
s_child_session(const fsy_peer_status_t *peers, size_t n, const char *site)
{
    for (size_t j = 0; j < n; j++)
        if (strcmp(peers[j].role, "child") == 0 &&
            strcmp(peers[j].name, site) == 0)
            return &peers[j];
    return NULL;
}

/* What our own sessions know is fresher than the last reports: a child's
 * connection and last contact, and that nothing heard through a child
 * that is gone is connected as far as anyone here can tell. */
static void
s_patch_from_sessions(fsy_site_health_t *v, size_t n,
                      const fsy_peer_status_t *peers, size_t n_peers)
{
    for (size_t i = 0; i < n; i++) {
        const fsy_peer_status_t *c = s_child_session(peers, n_peers, v[i].site);
        const fsy_peer_status_t *via =
            s_child_session(peers, n_peers, v[i].via);
        if (c != NULL) {
            v[i].connected = c->connected;
            v[i].heard_ms = c->last_contact_ms;
        } else if (via != NULL && !via->connected) {
            v[i].connected = false;
        }
    }
}

/* Last contact as an age, which means the same whatever the clocks say
 * (the offset stays against our clock: the parent knows ours). */
static void
s_for_parent(fsy_site_health_t *h, uint64_t now)
{
    h->heard_ms =
        h->heard_ms == 0 ? S_AGE_NEVER : fsy_since_ms(h->heard_ms, now);
}

/* The report: own summary, then every site heard of below (not us). */
static int
s_build(const fsy_sync_env_t *env, const fsy_site_health_t *own, fsy_msg_t *m)
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
            s_for_parent(&rows[i], env->now_ms);
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
    int rc = s_build(env, own, &m);
    if (rc == FSY_OK) {
        m.sites[0].vv = own->vv; /* borrowed for the encoder */
        rc = fsy_peer_send(parent, env, &m);
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
    if (rc == FSY_OK && parent != NULL && parent->state == FSY_PEER_LIVE)
        rc = s_send_report(parent, env, &own);
    free(own.vv.v);
    return rc;
}

/* What a child's report is checked against: what we already hold. */
typedef struct s_known {
    fsy_site_health_t *rows;
    size_t n;
    const char *parent; /* our parent's site, "" if none recorded */
    size_t fresh_news;  /* names not held yet, accepted so far */
} s_known_t;

/*
 * Whether child p may speak for site: not for us, our parent or itself
 * twice; only for its sites_below (none named: for no other site, as for
 * changes: authz.h), and not for a site another child reported lately (a
 * site that moved is taken over once that report is stale). Names not
 * held yet count against FSY_HEALTH_SITES_MAX.
 */
static bool
s_may_relay(const fsy_peer_t *p, const fsy_sync_env_t *env, s_known_t *k,
            const char *site)
{
    if (strcmp(site, fsy_store_origin(env->store)->site) == 0 ||
        strcmp(site, p->origin.site) == 0 || strcmp(site, k->parent) == 0)
        return false;
    if (p->acl == NULL || p->acl->sites_below[0] == '\0' ||
        !fsy_scope_allowed(p->acl->sites_below, site))
        return false;
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->rows[i].site, site) == 0)
            return strcmp(k->rows[i].via, p->origin.site) == 0 ||
                   fsy_since_ms(k->rows[i].updated_ms, env->now_ms) >
                       fsy_health_stale_ms(env->cfg);
    return k->n + k->fresh_news++ < FSY_HEALTH_SITES_MAX;
}

/* Fills what only the parent knows of a row; false if it is left out. */
static bool
s_receive_row(fsy_peer_t *p, const fsy_sync_env_t *env, s_known_t *k, size_t i,
              fsy_site_health_t *h)
{
    uint64_t now = env->now_ms;
    snprintf(h->via, sizeof h->via, "%s", p->origin.site);
    h->updated_ms = now;
    if (i > 0) {
        if (!s_may_relay(p, env, k, h->site))
            return false;
        h->heard_ms = h->heard_ms >= now ? 0 : now - h->heard_ms;
        /* against the child's clock on the wire; against ours here */
        if (p->offset_known)
            h->clock_offset_ms += p->clock_offset_ms;
        return true;
    }
    fsy_peer_clock(p, env, h->reported_ms);
    snprintf(h->parent, sizeof h->parent, "%s",
             fsy_store_origin(env->store)->site);
    snprintf(h->read_scopes, sizeof h->read_scopes, "%s",
             p->acl ? p->acl->read_scopes : "");
    h->connected = true;
    h->heard_ms = now;
    h->clock_offset_ms = p->offset_known ? p->clock_offset_ms : 0;
    return true;
}

static int
s_store_report(fsy_peer_t *p, const fsy_sync_env_t *env, const fsy_msg_t *m,
               s_known_t *k)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->rows[i].site, fsy_store_origin(env->store)->site) == 0)
            k->parent = k->rows[i].parent;
    /* shallow copies: the vectors stay the message's */
    fsy_site_health_t *v = malloc(m->n_sites * sizeof *v);
    if (v == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    size_t kept = 0;
    for (size_t i = 0; i < m->n_sites; i++) {
        v[kept] = m->sites[i];
        kept += s_receive_row(p, env, k, i, &v[kept]);
    }
    if (kept < m->n_sites)
        fsy_log("warn", "health-dropped",
                "peer=%s sites=%zu why=\"not %s's to report\"", p->name,
                m->n_sites - kept, p->name);
    int rc = fsy_store_sites_put(env->store, v, kept);
    free(v);
    return rc;
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
    /* A report is one durable transaction of up to FSY_HEALTH_SITES_MAX
     * rows: a child gets one in each half health period (and one after
     * each HELLO), however often it sends them. */
    if (!fsy_peer_report_due(p, env, env->cfg->health_ms / 2))
        return FSY_OK;
    s_known_t k = {.parent = ""};
    int rc = fsy_store_sites(env->store, &k.rows, &k.n);
    if (rc == FSY_OK)
        rc = s_store_report(p, env, m, &k);
    fsy_site_health_free(k.rows, k.n);
    return rc;
}
