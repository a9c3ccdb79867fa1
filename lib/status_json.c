/*
 * fieldsync — the status view as JSON: `fieldsync status --json` and the
 * daemon's /status print the same document. Field names are part of the
 * interface (docs/OPERATIONS.md): add, never rename.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fieldsync/status_view.h"

static bool
s_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

static bool
s_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) != NULL;
}

static bool
s_counters(cJSON *o, const fsy_site_row_t *r)
{
    return !r->neighbour ||
           (s_num(o, "changes_sent", (double)r->changes_sent) &&
            s_num(o, "changes_received", (double)r->changes_received) &&
            s_num(o, "bytes_sent", (double)r->bytes_sent) &&
            s_num(o, "bytes_received", (double)r->bytes_received) &&
            s_num(o, "batches_refused", (double)r->refused));
}

/* "attachments": {"sending": {...}, "receiving": {...}} per neighbour */
static bool
s_way(cJSON *o, const char *k, uint64_t waiting, uint64_t rate)
{
    cJSON *w = cJSON_AddObjectToObject(o, k);
    uint64_t eta = fsy_transfer_eta_s(waiting, rate);
    return w && s_num(w, "bytes_waiting", (double)waiting) &&
           s_num(w, "bytes_per_s", (double)rate) &&
           (eta == 0 && waiting > 0 ? cJSON_AddNullToObject(w, "eta_s") != NULL
                                    : s_num(w, "eta_s", (double)eta));
}

static bool
s_attachments(cJSON *o, const fsy_site_row_t *r)
{
    if (!r->neighbour)
        return true;
    cJSON *a = cJSON_AddObjectToObject(o, "attachments");
    return a && s_way(a, "sending", r->att_out_waiting, r->att_out_rate) &&
           s_way(a, "receiving", r->att_in_waiting, r->att_in_rate);
}

static bool
s_reported(cJSON *o, const fsy_site_row_t *r)
{
    if (!r->reported && strcmp(r->role, "self") != 0)
        return cJSON_AddNullToObject(o, "version") &&
               cJSON_AddNullToObject(o, "uptime_s") &&
               cJSON_AddNullToObject(o, "conflicts") &&
               cJSON_AddNullToObject(o, "pending");
    return s_str(o, "version", r->version) &&
           s_num(o, "uptime_s", (double)r->uptime_s) &&
           s_num(o, "conflicts", (double)r->conflicts) &&
           s_num(o, "pending", (double)r->pending);
}

static cJSON *
s_row(const fsy_site_row_t *r, uint64_t now)
{
    cJSON *o = cJSON_CreateObject();
    char age[32];
    uint64_t since = fsy_since_ms(r->last_contact_ms, now);
    bool ok =
        o && s_str(o, "site", r->site) && s_str(o, "role", r->role) &&
        s_str(o, "state", r->state) &&
        cJSON_AddBoolToObject(o, "connected",
                              strcmp(r->state, "connected") == 0) &&
        s_str(o, "via", r->via) && s_str(o, "parent", r->parent) &&
        s_num(o, "last_contact_ms", (double)r->last_contact_ms) &&
        s_str(o, "last_contact",
              fsy_age(r->last_contact_ms, now, age, sizeof age)) &&
        (r->last_contact_ms == 0
             ? cJSON_AddNullToObject(o, "seconds_since_contact") != NULL
             : s_num(o, "seconds_since_contact", (double)since / 1000.0)) &&
        s_num(o, "behind", (double)r->behind) &&
        s_num(o, "ahead", (double)r->ahead) && s_reported(o, r) &&
        (r->offset_known
             ? s_num(o, "clock_offset_ms", (double)r->clock_offset_ms)
             : cJSON_AddNullToObject(o, "clock_offset_ms") != NULL) &&
        s_str(o, "last_error", r->last_error) && s_counters(o, r) &&
        s_attachments(o, r) &&
        (r->as_of_ms == 0 ? cJSON_AddNullToObject(o, "data_as_of_ms") != NULL
                          : s_num(o, "data_as_of_ms", (double)r->as_of_ms)) &&
        (r->courier_ms == 0
             ? cJSON_AddNullToObject(o, "last_bundle_ms") != NULL
             : s_num(o, "last_bundle_ms", (double)r->courier_ms)) &&
        s_str(o, "health", fsy_level_name(r->level)) && s_str(o, "why", r->why);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* "recovery": null, or the restore this site is recovering from. */
static bool
s_recovery(cJSON *root, const fsy_recovery_t *r)
{
    if (!r->active)
        return cJSON_AddNullToObject(root, "recovery") != NULL;
    char inc[17];
    snprintf(inc, sizeof inc, "%016" PRIx64, r->retired.incarnation);
    cJSON *o = cJSON_AddObjectToObject(root, "recovery");
    return o != NULL && s_str(o, "retired_incarnation", inc) &&
           s_num(o, "set_aside", (double)r->displaced);
}

/* "delivery": how far up the tree this site's changes are. */
static bool
s_delivery(cJSON *root, const fsy_pending_t *p, uint64_t now)
{
    char text[256];
    cJSON *o = cJSON_AddObjectToObject(root, "delivery");
    return o != NULL && cJSON_AddBoolToObject(o, "root", p->is_root) &&
           s_num(o, "documents_not_at_hq", (double)p->docs) &&
           s_num(o, "changes_not_at_hq", (double)p->changes) &&
           s_num(o, "documents_not_at_parent", (double)p->docs_not_at_parent) &&
           s_num(o, "changes_not_at_parent",
                 (double)p->changes_not_at_parent) &&
           (p->oldest_ms == 0 ? cJSON_AddNullToObject(o, "oldest_ms") != NULL
                              : s_num(o, "oldest_ms", (double)p->oldest_ms)) &&
           s_str(o, "text", fsy_pending_text(p, now, text, sizeof text));
}

char *
fsy_status_view_json(const fsy_status_view_t *v)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *sites = root ? cJSON_AddArrayToObject(root, "sites") : NULL;
    bool ok = sites && s_str(root, "site", v->site) &&
              s_str(root, "incarnation", v->incarnation) &&
              s_num(root, "generated_ms", (double)v->now_ms) &&
              s_num(root, "changes", (double)v->counts.changes) &&
              s_num(root, "documents", (double)v->counts.documents) &&
              s_num(root, "conflicts", (double)v->counts.conflicts) &&
              s_num(root, "index_pending", (double)v->counts.index_pending) &&
              s_recovery(root, &v->recovery) &&
              s_delivery(root, &v->pending, v->now_ms);
    for (size_t i = 0; ok && i < v->n; i++) {
        cJSON *r = s_row(&v->rows[i], v->now_ms);
        ok = r != NULL && cJSON_AddItemToArray(sites, r);
        if (!ok)
            cJSON_Delete(r);
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}
