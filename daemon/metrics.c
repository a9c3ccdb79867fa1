/*
 * fieldsync — /metrics: the status view in the Prometheus text exposition
 * format (version 0.0.4). Every family has HELP and TYPE lines and its
 * samples together; counters end in _total; per-site series carry a
 * `site` label. Names are an interface (docs/OPERATIONS.md): add, never
 * rename.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "fieldsync/version.h"

/* Label values: backslash, double quote and newline escaped. */
static void
s_label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void
s_family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef double (*s_value_fn)(const fsy_site_row_t *r, uint64_t now, bool *has);

/* One family with a sample per site for which value() has one. */
static void
s_per_site(FILE *f, const fsy_status_view_t *v, const char *name,
           const char *type, const char *help, s_value_fn value)
{
    bool any = false;
    for (size_t i = 0; i < v->n; i++) {
        bool has = true;
        double x = value(&v->rows[i], v->now_ms, &has);
        if (!has)
            continue;
        if (!any)
            s_family(f, name, type, help);
        any = true;
        fprintf(f, "%s{site=\"", name);
        s_label(f, v->rows[i].site);
        fprintf(f, "\"} %.15g\n", x);
    }
}

static bool
s_other(const fsy_site_row_t *r)
{
    return strcmp(r->role, "self") != 0;
}

static double
s_since(const fsy_site_row_t *r, uint64_t now, bool *has)
{
    *has = s_other(r) && r->last_contact_ms != 0;
    return (double)fsy_since_ms(r->last_contact_ms, now) / 1e3;
}

/* A sample of `value` for rows where `when` holds (both of `r`). */
#define S_VALUE(fn, when, value)                                               \
    static double fn(const fsy_site_row_t *r, uint64_t now, bool *has)         \
    {                                                                          \
        (void)now;                                                             \
        *has = (when);                                                         \
        return (double)(value);                                                \
    }
S_VALUE(s_connected, s_other(r), strcmp(r->state, "connected") == 0)
S_VALUE(s_behind, s_other(r), r->behind)
S_VALUE(s_ahead, s_other(r), r->ahead)
S_VALUE(s_conflicts, r->reported || !s_other(r), r->conflicts)
S_VALUE(s_offset, s_other(r) && r->offset_known, r->clock_offset_ms / 1e3)
S_VALUE(s_level, true, r->level)
S_VALUE(s_data_age, r->as_of_ms != 0, fsy_since_ms(r->as_of_ms, now) / 1e3)
S_VALUE(s_bundle_age, r->courier_ms != 0,
        fsy_since_ms(r->courier_ms, now) / 1e3)
/* counters: ours with each neighbour */
S_VALUE(s_bytes_sent, r->neighbour, r->bytes_sent)
S_VALUE(s_bytes_received, r->neighbour, r->bytes_received)
S_VALUE(s_changes_sent, r->neighbour, r->changes_sent)
S_VALUE(s_changes_received, r->neighbour, r->changes_received)
S_VALUE(s_refused, r->neighbour, r->refused)
/* attachments with each neighbour */
S_VALUE(s_att_out, r->neighbour, r->att_out_waiting)
S_VALUE(s_att_in, r->neighbour, r->att_in_waiting)
S_VALUE(s_att_out_rate, r->neighbour, r->att_out_rate)
S_VALUE(s_att_in_rate, r->neighbour, r->att_in_rate)

static void
s_process(FILE *f, const fsy_status_view_t *v, const fsy_process_info_t *p)
{
    s_family(f, "fieldsync_build_info", "gauge",
             "Always 1; labels name this site and the daemon's version.");
    fprintf(f, "fieldsync_build_info{site=\"");
    s_label(f, v->site);
    fprintf(f, "\",version=\"%s\"} 1\n", FSY_VERSION_STRING);
    s_family(f, "fieldsync_uptime_seconds", "gauge",
             "Seconds since the daemon started.");
    fprintf(f, "fieldsync_uptime_seconds %" PRIu64 "\n", p->uptime_s);
    s_family(f, "fieldsync_replica_bytes", "gauge",
             "Size of the replica on disk, write-ahead log included.");
    fprintf(f, "fieldsync_replica_bytes %" PRIu64 "\n", p->replica_bytes);
    s_family(f, "fieldsync_replica_changes", "gauge",
             "Changes in this site's log.");
    fprintf(f, "fieldsync_replica_changes %" PRIu64 "\n", v->counts.changes);
    s_family(f, "fieldsync_replica_documents", "gauge",
             "Documents visible at this site.");
    fprintf(f, "fieldsync_replica_documents %" PRIu64 "\n",
            v->counts.documents);
    s_family(f, "fieldsync_index_pending_documents", "gauge",
             "Documents whose search index rows wait to be written (the "
             "daemon writes them when its links are quiet; counted up to "
             "10001).");
    fprintf(f, "fieldsync_index_pending_documents %" PRIu64 "\n",
            v->counts.index_pending);
    s_family(f, "fieldsync_stream_memory_bytes", "gauge",
             "Memory the sessions' compression streams hold, by direction.");
    fprintf(f,
            "fieldsync_stream_memory_bytes{direction=\"send\"} %" PRIu64 "\n"
            "fieldsync_stream_memory_bytes{direction=\"receive\"} %" PRIu64
            "\n",
            p->stream_bytes[0], p->stream_bytes[1]);
    s_family(f, "fieldsync_loop_turn_longest_seconds", "gauge",
             "The longest turn of the sync loop since the daemon started "
             "(every neighbour waits that long; it should stay under 0.1).");
    fprintf(f, "fieldsync_loop_turn_longest_seconds %.6f\n",
            (double)p->turn_max_us / 1e6);
    s_family(f, "fieldsync_disk_sync_failures_total", "counter",
             "Disk syncs of the replica's write-ahead log that failed since "
             "the daemon started (any is a disk to check; /healthz fails).");
    fprintf(f, "fieldsync_disk_sync_failures_total %" PRIu64 "\n",
            p->disk_sync_failed);
}

/* What was written here and is not yet at the parent, or at HQ: one
 * family each, with a `where` label (no series at HQ itself). */
static void
s_delivery(FILE *f, const fsy_status_view_t *v)
{
    const fsy_pending_t *p = &v->pending;
    if (p->is_root)
        return;
    s_family(f, "fieldsync_pending_documents", "gauge",
             "Documents with changes written here not yet stored there.");
    fprintf(f,
            "fieldsync_pending_documents{where=\"parent\"} %" PRIu64 "\n"
            "fieldsync_pending_documents{where=\"hq\"} %" PRIu64 "\n",
            p->docs_not_at_parent, p->docs);
    s_family(f, "fieldsync_pending_changes", "gauge",
             "Changes written here not yet stored there.");
    fprintf(f,
            "fieldsync_pending_changes{where=\"parent\"} %" PRIu64 "\n"
            "fieldsync_pending_changes{where=\"hq\"} %" PRIu64 "\n",
            p->changes_not_at_parent, p->changes);
    s_family(f, "fieldsync_pending_oldest_seconds", "gauge",
             "Age of the oldest change written here not yet at HQ (0: none).");
    uint64_t age = p->oldest_ms == 0 || p->oldest_ms > v->now_ms
                       ? 0
                       : (v->now_ms - p->oldest_ms) / 1000;
    fprintf(f, "fieldsync_pending_oldest_seconds %" PRIu64 "\n", age);
}

char *
fsy_metrics_render(const fsy_status_view_t *v, const fsy_process_info_t *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    s_process(f, v, p);
    s_delivery(f, v);
    s_per_site(f, v, "fieldsync_site_connected", "gauge",
               "1 if the site is connected to its parent.", s_connected);
    s_per_site(f, v, "fieldsync_site_last_contact_seconds", "gauge",
               "Seconds since the site was last heard from.", s_since);
    s_per_site(f, v, "fieldsync_site_changes_behind", "gauge",
               "Changes held here that the site lacks (its scopes).", s_behind);
    s_per_site(f, v, "fieldsync_site_changes_ahead", "gauge",
               "Changes the site holds that are not here yet.", s_ahead);
    s_per_site(f, v, "fieldsync_site_open_conflicts", "gauge",
               "Open conflicts in the site's replica, as last reported.",
               s_conflicts);
    s_per_site(f, v, "fieldsync_site_clock_offset_seconds", "gauge",
               "The site's clock minus this site's, estimated.", s_offset);
    s_per_site(f, v, "fieldsync_site_health", "gauge",
               "0 green, 1 amber, 2 red, by the [status] thresholds.", s_level);
    s_per_site(f, v, "fieldsync_site_data_age_seconds", "gauge",
               "Age of the site's newest change held here.", s_data_age);
    s_per_site(f, v, "fieldsync_site_last_bundle_seconds", "gauge",
               "Seconds since a bundle from the site was last imported.",
               s_bundle_age);
    s_per_site(f, v, "fieldsync_peer_bytes_sent_total", "counter",
               "Bytes sent to a neighbour (resets with its session).",
               s_bytes_sent);
    s_per_site(f, v, "fieldsync_peer_bytes_received_total", "counter",
               "Bytes received from a neighbour (resets with its session).",
               s_bytes_received);
    s_per_site(f, v, "fieldsync_peer_changes_sent_total", "counter",
               "Changes sent to a neighbour (resets with its session).",
               s_changes_sent);
    s_per_site(f, v, "fieldsync_peer_changes_received_total", "counter",
               "Changes received from a neighbour and applied.",
               s_changes_received);
    s_per_site(f, v, "fieldsync_peer_batches_refused_total", "counter",
               "Batches and changes from a neighbour that were refused.",
               s_refused);
    s_per_site(f, v, "fieldsync_peer_attachment_bytes_to_send", "gauge",
               "Bytes of attachments a neighbour still asks for.", s_att_out);
    s_per_site(f, v, "fieldsync_peer_attachment_bytes_to_receive", "gauge",
               "Bytes of attachments still wanted from a neighbour.", s_att_in);
    s_per_site(f, v, "fieldsync_peer_attachment_send_bytes_per_second", "gauge",
               "Attachments sent to a neighbour, last minute.", s_att_out_rate);
    s_per_site(f, v, "fieldsync_peer_attachment_receive_bytes_per_second",
               "gauge", "Attachments received from a neighbour, last minute.",
               s_att_in_rate);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
