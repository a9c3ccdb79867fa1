/*
 * fieldsync — the status view. See fieldsync/status_view.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/attachment.h"
#include "fieldsync/health.h"
#include "fieldsync/ident.h"
#include "fieldsync/status_view.h"
#include "fieldsync/version.h"

/* A neighbour record the daemon has not refreshed for this long means no
 * daemon runs here: nothing is connected, whatever the record says. */
#define S_STALE_MS 15000 /* the daemon refreshes every 5 s at least */

uint64_t
fsy_transfer_eta_s(uint64_t waiting, uint64_t rate)
{
    return rate == 0 ? 0 : (waiting + rate - 1) / rate;
}

/* "sending 12.4 MB to bamako, about 7 min" */
static size_t
s_way(char *buf, size_t len, const char *verb, const char *site,
      uint64_t waiting, uint64_t rate)
{
    char b[16], when[32];
    uint64_t eta = fsy_transfer_eta_s(waiting, rate);
    if (eta == 0)
        snprintf(when, sizeof when, "rate unknown yet");
    else if (eta < 120)
        snprintf(when, sizeof when, "about %" PRIu64 " s", eta);
    else if (eta < 2 * 3600)
        snprintf(when, sizeof when, "about %" PRIu64 " min", (eta + 59) / 60);
    else
        snprintf(when, sizeof when, "about %" PRIu64 " h", (eta + 3599) / 3600);
    int n =
        snprintf(buf, len, "%s %s %s %s, %s", verb, fsy_bytes_text(waiting, b),
                 verb[0] == 's' ? "to" : "from", site, when);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

const char *
fsy_transfer_text(const fsy_site_row_t *r, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    if (r->att_out_waiting > 0)
        off = s_way(buf, len, "sending", r->site, r->att_out_waiting,
                    r->att_out_rate);
    if (r->att_in_waiting > 0 && off + 2 < len) {
        if (off > 0)
            off += (size_t)snprintf(buf + off, len - off, "; ");
        s_way(buf + off, len - off, "receiving", r->site, r->att_in_waiting,
              r->att_in_rate);
    }
    return buf;
}

const char *
fsy_level_name(fsy_level_t l)
{
    return l == FSY_LEVEL_RED     ? "red"
           : l == FSY_LEVEL_AMBER ? "amber"
                                  : "green";
}

const char *
fsy_index_pending_text(const fsy_store_counts_t *c, char *buf, size_t len)
{
    uint64_t n = c->index_pending;
    bool over = n > FSY_INDEX_PENDING_COUNTED;
    if (n == 0)
        snprintf(buf, len, "%s", "");
    else
        snprintf(buf, len,
                 "search index: %s%" PRIu64 " document%s waiting to be "
                 "indexed (fieldsyncd writes them when its links are quiet; "
                 "a search writes them first)",
                 over ? "over " : "",
                 over ? (uint64_t)FSY_INDEX_PENDING_COUNTED : n,
                 n == 1 ? "" : "s");
    return buf;
}

const char *
fsy_pending_text(const fsy_pending_t *p, uint64_t now_ms, char *buf, size_t len)
{
    char age[32], parent[96] = "";
    if (p->is_root)
        snprintf(buf, len, "%s", "");
    else if (p->changes == 0)
        snprintf(buf, len, "everything written here is at HQ");
    else {
        if (p->changes_not_at_parent > 0)
            snprintf(parent, sizeof parent,
                     "; %" PRIu64 " of them (%" PRIu64
                     " changes) not yet at the parent",
                     p->docs_not_at_parent, p->changes_not_at_parent);
        snprintf(buf, len,
                 "%" PRIu64 " document%s (%" PRIu64
                 " changes) not yet at HQ, oldest written %s%s",
                 p->docs, p->docs == 1 ? "" : "s", p->changes,
                 fsy_age(p->oldest_ms, now_ms, age, sizeof age), parent);
    }
    return buf;
}

void
fsy_status_view_free(fsy_status_view_t *v)
{
    free(v->rows);
    memset(v, 0, sizeof *v);
}

/* ---- levels ----------------------------------------------------------- */

/* The first reason found at the highest level is the one shown. */
static void
s_raise(fsy_site_row_t *r, fsy_level_t l, const char *why)
{
    if (l > r->level || (l == r->level && r->why[0] == '\0')) {
        r->level = l;
        snprintf(r->why, sizeof r->why, "%s", why);
    }
}

/* A problem said in words (a refused key, a blocked stream, a recovery)
 * is never green; the error clears when the problem is over. */
static void
s_said(fsy_site_row_t *r)
{
    if (r->last_error[0] != '\0')
        s_raise(r, FSY_LEVEL_AMBER,
                strncmp(r->last_error, "blocked", 7) == 0 ? "stream blocked"
                                                          : "error");
}

/* A site heard of by courier only: by the age of its last bundle. */
static void
s_courier_level(fsy_site_row_t *r, const fsy_thresholds_t *t, uint64_t now)
{
    char b[80], age[32];
    uint64_t s = fsy_since_ms(r->last_contact_ms, now) / 1000;
    snprintf(b, sizeof b, "last bundle imported %s",
             fsy_age(r->last_contact_ms, now, age, sizeof age));
    if (s >= t->courier_red_after_s)
        s_raise(r, FSY_LEVEL_RED, b);
    else if (s >= t->courier_amber_after_s)
        s_raise(r, FSY_LEVEL_AMBER, b);
    if (r->conflicts > 0)
        s_raise(r, FSY_LEVEL_AMBER, "open conflicts");
}

static void
s_level(fsy_site_row_t *r, const fsy_thresholds_t *t, uint64_t now)
{
    char b[128], age[32];
    r->level = FSY_LEVEL_GREEN;
    r->why[0] = '\0';
    snprintf(b, sizeof b, "%" PRIu64 " open conflict(s)", r->conflicts);
    if (strcmp(r->role, "self") == 0) {
        if (r->recovering)
            s_raise(r, FSY_LEVEL_AMBER, "recovering from a restore");
        if (r->conflicts > 0)
            s_raise(r, FSY_LEVEL_AMBER, b);
        s_said(r);
        return;
    }
    uint64_t age_s = fsy_since_ms(r->last_contact_ms, now) / 1000;
    uint64_t apart = r->behind > r->ahead ? r->behind : r->ahead;
    uint64_t skew = fsy_abs_ms(r->clock_offset_ms);
    char heard[64], changes[64], clock[64];
    snprintf(heard, sizeof heard, "last heard %s",
             fsy_age(r->last_contact_ms, now, age, sizeof age));
    snprintf(changes, sizeof changes, "%" PRIu64 " changes apart", apart);
    snprintf(clock, sizeof clock, "clock off by %" PRIu64 " s", skew / 1000);
    if (strcmp(r->role, "courier") == 0) {
        s_courier_level(r, t, now);
        return;
    }
    if (r->last_contact_ms == 0)
        s_raise(r, FSY_LEVEL_RED,
                strcmp(r->role, "child") == 0 ? "never connected"
                                              : "never heard from");
    if (age_s >= t->red_after_s)
        s_raise(r, FSY_LEVEL_RED, heard);
    if (apart >= t->red_behind)
        s_raise(r, FSY_LEVEL_RED, changes);
    if (strcmp(r->state, "connected") != 0)
        s_raise(r, FSY_LEVEL_AMBER,
                strcmp(r->state, "disconnected") == 0
                    ? "disconnected"
                    : "no news: the path to it is down");
    if (age_s >= t->amber_after_s)
        s_raise(r, FSY_LEVEL_AMBER, heard);
    if (apart >= t->amber_behind)
        s_raise(r, FSY_LEVEL_AMBER, changes);
    if (r->offset_known && skew >= (uint64_t)t->amber_clock_offset_s * 1000)
        s_raise(r, FSY_LEVEL_AMBER, clock);
    if (r->conflicts > 0)
        s_raise(r, FSY_LEVEL_AMBER, b);
    if (strcmp(r->state, "unreachable") != 0) /* else its news is old */
        s_said(r);
}

/* ---- rows ------------------------------------------------------------- */

typedef struct s_src {
    fsy_vv_t *vv;
    fsy_peer_status_t *peers;
    size_t n_peers;
    fsy_site_health_t *sites;
    size_t n_sites;
    fsy_courier_t *couriers;
    size_t n_couriers;
    fsy_as_of_t *as_of;
    size_t n_as_of;
} s_src_t;

static void
s_src_free(s_src_t *src)
{
    fsy_vv_free(&src->vv);
    fsy_peer_status_free(src->peers, src->n_peers);
    fsy_site_health_free(src->sites, src->n_sites);
    free(src->couriers);
    free(src->as_of);
}

static const fsy_peer_status_t *
s_peer(const s_src_t *src, const char *site)
{
    for (size_t i = 0; i < src->n_peers; i++)
        if (strcmp(src->peers[i].name, site) == 0)
            return &src->peers[i];
    return NULL;
}

/* A record the daemon refreshed lately (every 5 s while it runs)? */
static bool
s_fresh(uint64_t updated_ms, uint64_t now, uint64_t within)
{
    return updated_ms >= now || now - updated_ms < within;
}

static bool
s_live(const fsy_peer_status_t *p, uint64_t now)
{
    return p != NULL && p->connected && s_fresh(p->updated_ms, now, S_STALE_MS);
}

static void
s_from_health(fsy_site_row_t *r, const fsy_site_health_t *h)
{
    r->reported = true;
    r->conflicts = h->conflicts;
    r->pending = h->pending;
    r->uptime_s = h->uptime_s;
    snprintf(r->version, sizeof r->version, "%s", h->version);
    snprintf(r->parent, sizeof r->parent, "%s", h->parent);
    snprintf(r->via, sizeof r->via, "%s", h->via);
}

static const fsy_site_health_t *
s_health_of(const fsy_site_health_t *v, size_t n, const char *site)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].site, site) == 0)
            return &v[i];
    return NULL;
}

static void
s_neighbour(fsy_site_row_t *r, const fsy_peer_status_t *p,
            const fsy_site_health_t *h, const fsy_vv_t *ours,
            const fsy_config_t *cfg, uint64_t now)
{
    snprintf(r->site, sizeof r->site, "%s", p->name);
    r->role = strcmp(p->role, "parent") == 0 ? "parent" : "child";
    r->neighbour = true;
    r->state = s_live(p, now) ? "connected" : "disconnected";
    r->last_contact_ms = p->last_contact_ms;
    r->changes_sent = p->changes_sent;
    r->changes_received = p->changes_received;
    r->bytes_sent = p->bytes_sent;
    r->bytes_received = p->bytes_received;
    r->refused = p->refused;
    r->offset_known = p->offset_known;
    r->clock_offset_ms = p->clock_offset_ms;
    r->att_in_waiting = p->att_in_waiting;
    r->att_in_rate = p->att_in_rate;
    r->att_out_waiting = p->att_out_waiting;
    r->att_out_rate = p->att_out_rate;
    snprintf(r->last_error, sizeof r->last_error, "%s", p->last_error);
    if (h != NULL)
        s_from_health(r, h);
    const fsy_child_conf_t *acl = fsy_config_child(cfg, p->name);
    const char *scopes = h ? h->read_scopes : acl ? acl->read_scopes : "";
    fsy_vv_t *theirs = NULL;
    if (fsy_vv_parse(p->vv, &theirs) == FSY_OK) {
        r->behind = fsy_vv_missing(ours, theirs, scopes);
        r->ahead = fsy_vv_missing(theirs, ours, "");
        fsy_vv_free(&theirs);
    }
}

/* A site below a neighbour: what its parent last said, as relayed. No
 * news comes while the neighbour it is heard through is disconnected, or
 * once the relays stop: the path to it is cut, whatever was said last. */
static void
s_below(fsy_site_row_t *r, const fsy_site_health_t *h, const s_src_t *src,
        const fsy_config_t *cfg, uint64_t now)
{
    const fsy_peer_status_t *via = s_peer(src, h->via);
    bool cut = (via != NULL && !s_live(via, now)) ||
               !s_fresh(h->updated_ms, now, fsy_health_stale_ms(cfg));
    snprintf(r->site, sizeof r->site, "%s", h->site);
    r->role = "below";
    r->state = cut            ? "unreachable"
               : h->connected ? "connected"
                              : "disconnected";
    r->last_contact_ms = h->heard_ms;
    r->offset_known = true;
    r->clock_offset_ms = h->clock_offset_ms;
    snprintf(r->last_error, sizeof r->last_error, "%s", h->last_error);
    s_from_health(r, h);
    r->behind = fsy_vv_missing(src->vv, &h->vv, h->read_scopes);
    r->ahead = fsy_vv_missing(&h->vv, src->vv, "");
}

static void
s_self(fsy_status_view_t *v, fsy_site_row_t *r, const fsy_site_health_t *h)
{
    snprintf(r->site, sizeof r->site, "%s", v->site);
    r->role = r->state = "self";
    r->last_contact_ms = v->now_ms;
    r->conflicts = v->counts.conflicts;
    r->offset_known = true;
    snprintf(r->version, sizeof r->version, "%s", FSY_VERSION_STRING);
    if (h != NULL) {
        s_from_health(r, h);
        r->conflicts = v->counts.conflicts; /* fresher than the summary */
        snprintf(r->last_error, sizeof r->last_error, "%s", h->last_error);
    }
    r->recovering = v->recovery.active;
    if (r->recovering) /* the replica's own word, fresher than any */
        snprintf(r->last_error, sizeof r->last_error,
                 "restored from an older copy; %" PRIu64
                 " change(s) written since are set aside until the parent "
                 "sends back this site's old stream (retired incarnation "
                 "%016" PRIx64 "), then written again",
                 v->recovery.displaced, v->recovery.retired.incarnation);
}

/* A new, zeroed row; NULL when out of memory. */
static fsy_site_row_t *
s_push(fsy_status_view_t *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        fsy_site_row_t *r = realloc(v->rows, cap * sizeof *r);
        if (r == NULL)
            return NULL;
        v->rows = r;
        v->cap = cap;
    }
    fsy_site_row_t *r = &v->rows[v->n++];
    memset(r, 0, sizeof *r);
    return r;
}

static bool
s_listed(const fsy_status_view_t *v, const char *site)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->rows[i].site, site) == 0)
            return true;
    return false;
}

/* A site the configuration names that never connected (or was never
 * heard of): red, "never connected", in every view. */
static bool
s_unheard(fsy_status_view_t *v, const char *site, const char *role,
          const char *via)
{
    if (s_listed(v, site))
        return true;
    fsy_site_row_t *r = s_push(v);
    if (r == NULL)
        return false;
    snprintf(r->site, sizeof r->site, "%s", site);
    snprintf(r->via, sizeof r->via, "%s", via);
    r->role = role;
    r->state = "disconnected";
    r->neighbour = strcmp(role, "child") == 0;
    return true;
}

static bool
s_by_courier(const s_src_t *src, const char *site)
{
    for (size_t i = 0; i < src->n_couriers; i++)
        if (strcmp(src->couriers[i].site, site) == 0)
            return true;
    return false;
}

/* Configured children and the sites below them, however they came; one
 * whose bundles were imported is a courier site, not a silent one. */
static bool
s_configured(fsy_status_view_t *v, const s_src_t *src, const fsy_config_t *cfg,
             bool all_sites)
{
    for (size_t i = 0; i < cfg->n_children; i++) {
        const fsy_child_conf_t *k = &cfg->children[i];
        if (!s_by_courier(src, k->site) && !s_unheard(v, k->site, "child", ""))
            return false;
        char list[sizeof k->sites_below], *save = NULL;
        snprintf(list, sizeof list, "%s", k->sites_below);
        for (char *t = strtok_r(list, ", \t", &save); all_sites && t;
             t = strtok_r(NULL, ", \t", &save))
            if (fsy_check_site(t) == FSY_OK && !s_by_courier(src, t) &&
                !s_unheard(v, t, "below", k->site))
                return false;
    }
    return true;
}

/* Sites heard of by courier only. */
static bool
s_couriers(fsy_status_view_t *v, const s_src_t *src)
{
    for (size_t i = 0; i < src->n_couriers; i++) {
        const fsy_courier_t *c = &src->couriers[i];
        if (s_listed(v, c->site))
            continue;
        fsy_site_row_t *r = s_push(v);
        if (r == NULL)
            return false;
        snprintf(r->site, sizeof r->site, "%s", c->site);
        r->role = r->state = "courier";
        r->last_contact_ms = c->imported_ms;
    }
    return true;
}

/* Data as of, and the last bundle, for every row. */
static void
s_dates(fsy_status_view_t *v, const s_src_t *src)
{
    for (size_t i = 0; i < v->n; i++) {
        fsy_site_row_t *r = &v->rows[i];
        for (size_t j = 0; j < src->n_as_of; j++)
            if (strcmp(src->as_of[j].site, r->site) == 0)
                r->as_of_ms = src->as_of[j].newest_ms;
        for (size_t j = 0; j < src->n_couriers; j++)
            if (strcmp(src->couriers[j].site, r->site) == 0)
                r->courier_ms = src->couriers[j].imported_ms;
    }
}

static int
s_rows(fsy_status_view_t *v, const s_src_t *src, const fsy_config_t *cfg,
       bool all_sites)
{
    fsy_site_row_t *r = s_push(v);
    if (r == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    s_self(v, r, s_health_of(src->sites, src->n_sites, v->site));
    for (size_t i = 0; i < src->n_peers; i++) {
        if ((r = s_push(v)) == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        s_neighbour(r, &src->peers[i],
                    s_health_of(src->sites, src->n_sites, src->peers[i].name),
                    src->vv, cfg, v->now_ms);
    }
    for (size_t i = 0; all_sites && i < src->n_sites; i++) {
        const fsy_site_health_t *h = &src->sites[i];
        if (strcmp(h->site, v->site) == 0 || s_peer(src, h->site) != NULL)
            continue;
        if ((r = s_push(v)) == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        s_below(r, h, src, cfg, v->now_ms);
    }
    if (!s_configured(v, src, cfg, all_sites) ||
        (all_sites && !s_couriers(v, src)))
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    s_dates(v, src);
    for (size_t i = 0; i < v->n; i++)
        s_level(&v->rows[i], &cfg->thresholds, v->now_ms);
    return FSY_OK;
}

int
fsy_status_view_load(fsy_store_t *s, const fsy_config_t *cfg, bool all_sites,
                     uint64_t now_ms, fsy_status_view_t *out)
{
    memset(out, 0, sizeof *out);
    s_src_t src = {0};
    int rc = fsy_store_counts(s, &out->counts);
    if (rc == FSY_OK)
        rc = fsy_store_recovery(s, &out->recovery);
    if (rc == FSY_OK)
        rc = fsy_store_pending(s, NULL, NULL, &out->pending);
    if (rc == FSY_OK)
        rc = fsy_store_vv(s, &src.vv);
    if (rc == FSY_OK)
        rc = fsy_store_peers(s, &src.peers, &src.n_peers);
    if (rc == FSY_OK)
        rc = fsy_store_sites(s, &src.sites, &src.n_sites);
    if (rc == FSY_OK)
        rc = fsy_store_couriers(s, &src.couriers, &src.n_couriers);
    if (rc == FSY_OK)
        rc = fsy_store_as_of(s, &src.as_of, &src.n_as_of);
    if (rc == FSY_OK) {
        const fsy_origin_t *o = fsy_store_origin(s);
        snprintf(out->site, sizeof out->site, "%s", o->site);
        snprintf(out->incarnation, sizeof out->incarnation, "%016" PRIx64,
                 o->incarnation);
        out->now_ms = now_ms;
        rc = s_rows(out, &src, cfg, all_sites);
    }
    s_src_free(&src);
    if (rc != FSY_OK)
        fsy_status_view_free(out);
    return rc;
}
