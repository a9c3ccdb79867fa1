/*
 * fieldsync — health suite: summaries on the wire (HEALTH frames), what a
 * parent keeps of a child's report, what a child reports upwards, and the
 * status view with its levels, JSON, Prometheus text and HTML renderings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fieldsync/health.h"
#include "metrics.h"
#include "status_page.h"
#include "fieldsync/status_view.h"
#include "health.h"
#include "testutil.h"
#include "wire.h"

#define NOW 1800000000000ull

static fsy_site_health_t
s_summary(const char *site, const char *parent)
{
    fsy_site_health_t h;
    memset(&h, 0, sizeof h);
    snprintf(h.site, sizeof h.site, "%s", site);
    snprintf(h.parent, sizeof h.parent, "%s", parent);
    snprintf(h.version, sizeof h.version, "0.1.0");
    h.connected = true;
    h.reported_ms = NOW;
    h.uptime_s = 3600;
    return h;
}

/* A vector of one entry (owned by the caller). */
static fsy_vv_t
s_vv(const char *scope, const char *site, uint64_t seq)
{
    fsy_vv_t vv = {calloc(1, sizeof(fsy_vv_entry_t)), 1};
    ck_assert_ptr_nonnull(vv.v);
    snprintf(vv.v[0].scope, sizeof vv.v[0].scope, "%s", scope);
    snprintf(vv.v[0].origin.site, sizeof vv.v[0].origin.site, "%s", site);
    vv.v[0].origin.incarnation = 7;
    vv.v[0].seq = seq;
    return vv;
}

/* Encodes m and decodes it again into out. */
static int
s_round_trip(const fsy_msg_t *m, fsy_msg_t *out)
{
    uint8_t *buf;
    size_t len;
    ck_ok(fsy_wire_encode_msg(m, &buf, &len));
    int rc = fsy_wire_decode_msg(buf, len, out);
    free(buf);
    return rc;
}

START_TEST(test_health_frame_round_trips_every_field)
{
    fsy_site_health_t v[2] = {s_summary("gao", "bamako"),
                              s_summary("kidal", "gao")};
    v[0].vv = s_vv("MLI", "gao", 42);
    v[0].pending = 5;
    v[0].conflicts = 2;
    v[0].clock_offset_ms = -10800000;
    v[1].heard_ms = 65000; /* an age on the wire */
    v[1].connected = false;
    snprintf(v[1].last_error, sizeof v[1].last_error, "silence");
    snprintf(v[1].read_scopes, sizeof v[1].read_scopes, "MLI, global");
    fsy_msg_t m = {.type = FSY_MSG_HEALTH, .sites = v, .n_sites = 2}, d;
    ck_ok(s_round_trip(&m, &d));
    ck_assert_int_eq(d.type, FSY_MSG_HEALTH);
    ck_assert_uint_eq(d.n_sites, 2);
    ck_assert_str_eq(d.sites[0].site, "gao");
    ck_assert_str_eq(d.sites[0].parent, "bamako");
    ck_assert_uint_eq(d.sites[0].pending, 5);
    ck_assert_uint_eq(d.sites[0].conflicts, 2);
    ck_assert_int_eq(d.sites[0].clock_offset_ms, -10800000);
    ck_assert_uint_eq(d.sites[0].vv.n, 1);
    ck_assert_uint_eq(d.sites[0].vv.v[0].seq, 42);
    ck_assert(!d.sites[1].connected);
    ck_assert_uint_eq(d.sites[1].heard_ms, 65000);
    ck_assert_str_eq(d.sites[1].last_error, "silence");
    ck_assert_str_eq(d.sites[1].read_scopes, "MLI, global");
    fsy_msg_clear(&d);
    free(v[0].vv.v);
}
END_TEST

START_TEST(test_health_frame_text_is_cleaned_and_bad_figures_refused)
{
    static const char *const bad[][2] = {{"\xff\xfe", "??"},
                                         {"line\nbreak", "line?break"},
                                         {"esc\x1b[31m", "esc?[31m"},
                                         {"d\xc3\xa9j\xc3", "d\xc3\xa9j?"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fsy_site_health_t h = s_summary("gao", "bamako");
        snprintf(h.last_error, sizeof h.last_error, "%s", bad[i][0]);
        fsy_msg_t m = {.type = FSY_MSG_HEALTH, .sites = &h, .n_sites = 1}, d;
        ck_ok(s_round_trip(&m, &d));
        ck_assert_str_eq(d.sites[0].last_error, bad[i][1]);
        fsy_msg_clear(&d);
    }
    fsy_site_health_t h = s_summary("gao", "bamako");
    h.clock_offset_ms = INT64_MIN;
    fsy_msg_t m = {.type = FSY_MSG_HEALTH, .sites = &h, .n_sites = 1}, d;
    ck_assert_int_eq(s_round_trip(&m, &d), FSY_EINVAL);
    ck_assert_ptr_null(d.sites);
    h.clock_offset_ms = 0;
    snprintf(h.site, sizeof h.site, "no spaces");
    ck_assert_int_ne(s_round_trip(&m, &d), FSY_OK);
    m.n_sites = 0;
    ck_assert_int_eq(s_round_trip(&m, &d), FSY_EINVAL);
}
END_TEST

START_TEST(test_health_frame_decoding_to_too_many_entries_is_refused)
{
    /* 30 sites of 10,000-entry vectors: small once compressed, 300,000
     * entries decoded */
    fsy_vv_t vv = {calloc(10000, sizeof(fsy_vv_entry_t)), 10000};
    ck_assert_ptr_nonnull(vv.v);
    for (size_t i = 0; i < vv.n; i++) {
        snprintf(vv.v[i].scope, sizeof vv.v[i].scope, "S%zu", i);
        snprintf(vv.v[i].origin.site, sizeof vv.v[i].origin.site, "gao");
        vv.v[i].seq = i + 1;
    }
    fsy_site_health_t v[30];
    for (int i = 0; i < 30; i++) {
        v[i] = s_summary("gao", "bamako");
        snprintf(v[i].site, sizeof v[i].site, "site%d", i);
        v[i].vv = vv; /* borrowed by the encoder */
    }
    fsy_msg_t m = {.type = FSY_MSG_HEALTH, .sites = v, .n_sites = 30}, d;
    ck_assert_int_eq(s_round_trip(&m, &d), FSY_ETOOBIG);
    ck_assert_ptr_null(d.sites);
    m.n_sites = 20; /* 200,000: taken */
    ck_ok(s_round_trip(&m, &d));
    ck_assert_uint_eq(d.n_sites, 20);
    fsy_msg_clear(&d);
    free(vv.v);
}
END_TEST

/* ---- a parent receiving a child's report ------------------------------ */

typedef struct parent_side {
    fsy_store_t *hq;
    fsy_config_t cfg;
    fsy_sync_env_t env;
    fsy_peer_t child;
} parent_side_t;

static void
s_parent_init(parent_side_t *p, const char *sites_below)
{
    memset(p, 0, sizeof *p);
    p->hq = tu_replica("hq");
    fsy_config_defaults(&p->cfg);
    p->cfg.children = calloc(1, sizeof *p->cfg.children);
    ck_assert_ptr_nonnull(p->cfg.children);
    p->cfg.n_children = 1;
    snprintf(p->cfg.children[0].site, sizeof p->cfg.children[0].site, "bamako");
    snprintf(p->cfg.children[0].read_scopes,
             sizeof p->cfg.children[0].read_scopes, "MLI");
    snprintf(p->cfg.children[0].sites_below,
             sizeof p->cfg.children[0].sites_below, "%s", sites_below);
    p->env = (fsy_sync_env_t){.store = p->hq,
                              .cfg = &p->cfg,
                              .now_ms = NOW,
                              .started_ms = NOW - 60000};
    snprintf(p->child.origin.site, sizeof p->child.origin.site, "bamako");
    snprintf(p->child.name, sizeof p->child.name, "bamako");
    p->child.acl = &p->cfg.children[0];
    p->child.state = FSY_PEER_LIVE;
}

static void
s_parent_free(parent_side_t *p)
{
    fsy_store_close(&p->hq);
    fsy_config_free(&p->cfg);
}

static const fsy_site_health_t *
s_row(const fsy_site_health_t *v, size_t n, const char *site)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].site, site) == 0)
            return &v[i];
    return NULL;
}

START_TEST(test_health_parent_keeps_what_the_child_may_report)
{
    parent_side_t p;
    s_parent_init(&p, "gao");
    fsy_site_health_t v[4] = {s_summary("bamako", ""),
                              s_summary("gao", "bamako"), s_summary("hq", ""),
                              s_summary("juba", "hq")};
    v[0].reported_ms = NOW + 3000; /* bamako's clock is 3 s ahead */
    v[1].heard_ms = 20000;         /* gao last heard 20 s ago */
    v[1].clock_offset_ms = 7000;
    v[1].connected = false;
    fsy_msg_t m = {.type = FSY_MSG_HEALTH, .sites = v, .n_sites = 4};
    ck_ok(fsy_health_receive(&p.child, &p.env, &m));

    fsy_site_health_t *rows;
    size_t n;
    ck_ok(fsy_store_sites(p.hq, &rows, &n));
    ck_assert_uint_eq(n, 2); /* not hq itself, not juba (not below bamako) */
    const fsy_site_health_t *b = s_row(rows, n, "bamako");
    const fsy_site_health_t *g = s_row(rows, n, "gao");
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(g);
    ck_assert(b->connected);
    ck_assert_uint_eq(b->heard_ms, NOW);
    ck_assert_str_eq(b->parent, "hq");
    ck_assert_str_eq(b->read_scopes, "MLI"); /* from our [child] section */
    ck_assert_int_eq(b->clock_offset_ms, 3000);
    ck_assert_str_eq(g->via, "bamako");
    ck_assert(!g->connected);
    ck_assert_uint_eq(g->heard_ms, NOW - 20000);
    ck_assert_int_eq(g->clock_offset_ms, 10000); /* 7 s past bamako's */
    fsy_site_health_free(rows, n);

    /* a report that does not start with the sender is ignored whole */
    fsy_site_health_t other = s_summary("gao", "bamako");
    other.uptime_s = 99;
    fsy_msg_t m2 = {.type = FSY_MSG_HEALTH, .sites = &other, .n_sites = 1};
    ck_ok(fsy_health_receive(&p.child, &p.env, &m2));
    ck_ok(fsy_store_sites(p.hq, &rows, &n));
    ck_assert_uint_eq(s_row(rows, n, "gao")->uptime_s, 3600);
    fsy_site_health_free(rows, n);
    s_parent_free(&p);
}
END_TEST

/* A report with bamako first, then the given sites, at time now. */
static void
s_report(parent_side_t *p, uint64_t now, const char *site, uint64_t uptime)
{
    fsy_site_health_t v[2] = {s_summary("bamako", ""), s_summary(site, "x")};
    v[1].uptime_s = uptime;
    p->env.now_ms = now;
    fsy_msg_t m = {.type = FSY_MSG_HEALTH, .sites = v, .n_sites = 2};
    ck_ok(fsy_health_receive(&p->child, &p->env, &m));
}

static uint64_t
s_uptime_of(fsy_store_t *s, const char *site)
{
    fsy_site_health_t *rows;
    size_t n;
    ck_ok(fsy_store_sites(s, &rows, &n));
    const fsy_site_health_t *r = s_row(rows, n, site);
    uint64_t up = r ? r->uptime_s : 0;
    fsy_site_health_free(rows, n);
    return up;
}

START_TEST(test_health_child_cannot_speak_for_others_nor_flood)
{
    parent_side_t p;
    /* un-hq is our parent: named or not, bamako may not speak for it */
    s_parent_init(&p, "gao, tessit, un-hq");
    fsy_site_health_t mine = s_summary("hq", "un-hq"),
                      theirs = s_summary("tessit", "kidal");
    mine.updated_ms = theirs.updated_ms = NOW;
    snprintf(theirs.via, sizeof theirs.via, "kidal");
    ck_ok(fsy_store_sites_put(p.hq, &mine, 1));
    ck_ok(fsy_store_sites_put(p.hq, &theirs, 1));

    s_report(&p, NOW, "un-hq", 11); /* our own parent */
    ck_assert_uint_eq(s_uptime_of(p.hq, "un-hq"), 0);
    s_report(&p, NOW + p.cfg.health_ms, "tessit", 12); /* kidal's, fresh */
    ck_assert_uint_eq(s_uptime_of(p.hq, "tessit"), 3600);
    s_report(&p, NOW + 2 * p.cfg.health_ms, "gao", 13);
    ck_assert_uint_eq(s_uptime_of(p.hq, "gao"), 13);
    /* a second report within half a health period is not taken ... */
    s_report(&p, NOW + 2 * p.cfg.health_ms + 10, "gao", 14);
    ck_assert_uint_eq(s_uptime_of(p.hq, "gao"), 13);
    /* ... unless the session started again */
    p.child.health_rx_ms = 0;
    s_report(&p, NOW + 2 * p.cfg.health_ms + 20, "gao", 15);
    ck_assert_uint_eq(s_uptime_of(p.hq, "gao"), 15);
    /* once kidal's report of tessit is stale, tessit may have moved */
    s_report(&p, NOW + fsy_health_stale_ms(&p.cfg) + 1000, "tessit", 16);
    ck_assert_uint_eq(s_uptime_of(p.hq, "tessit"), 16);
    /* a site not below bamako: made up, or another hub's */
    p.child.health_rx_ms = 0;
    s_report(&p, NOW + fsy_health_stale_ms(&p.cfg) + 2000, "menaka", 17);
    ck_assert_uint_eq(s_uptime_of(p.hq, "menaka"), 0);
    /* without sites_below, a child speaks for itself alone */
    p.cfg.children[0].sites_below[0] = '\0';
    p.child.health_rx_ms = 0;
    s_report(&p, NOW + fsy_health_stale_ms(&p.cfg) + 3000, "gao", 18);
    ck_assert_uint_eq(s_uptime_of(p.hq, "gao"), 15);
    s_parent_free(&p);
}
END_TEST

/* ---- a child reporting upwards ---------------------------------------- */

static fsy_msg_t s_sent;

static int
s_capture(void *ctx, const fsy_msg_t *m)
{
    (void)ctx;
    fsy_msg_clear(&s_sent);
    return s_round_trip(m, &s_sent);
}

START_TEST(test_health_child_reports_itself_then_its_subtree)
{
    fsy_store_t *bamako = tu_replica("bamako");
    tu_put(bamako, "MLI", "jmac-weekly-48", "analysis", "title", "JMAC 48");
    fsy_site_health_t gao = s_summary("gao", "bamako");
    gao.heard_ms = NOW - 5000;  /* our clock */
    gao.clock_offset_ms = 2000; /* to ours */
    ck_ok(fsy_store_sites_put(bamako, &gao, 1));
    fsy_config_t cfg;
    fsy_config_defaults(&cfg);
    fsy_sync_env_t env = {.store = bamako,
                          .cfg = &cfg,
                          .now_ms = NOW,
                          .started_ms = NOW - 120000};
    fsy_peer_t parent;
    memset(&parent, 0, sizeof parent);
    parent.is_parent = true;
    parent.state = FSY_PEER_LIVE;
    parent.last_rx_ms = NOW;
    snprintf(parent.origin.site, sizeof parent.origin.site, "hq");
    parent.send = s_capture;
    ck_ok(fsy_health_tick(&parent, &env));

    ck_assert_int_eq(s_sent.type, FSY_MSG_HEALTH);
    ck_assert_uint_eq(s_sent.n_sites, 2);
    const fsy_site_health_t *own = &s_sent.sites[0], *g = &s_sent.sites[1];
    ck_assert_str_eq(own->site, "bamako");
    ck_assert_str_eq(own->parent, "hq");
    ck_assert(own->connected);
    ck_assert_uint_eq(own->uptime_s, 120);
    ck_assert_uint_eq(own->pending, 2); /* hq's known vector is empty */
    ck_assert_uint_eq(own->vv.n, 1);
    ck_assert_str_eq(g->site, "gao");
    ck_assert_uint_eq(g->heard_ms, 5000);       /* an age */
    ck_assert_int_eq(g->clock_offset_ms, 2000); /* to ours: hq adds ours */
    fsy_msg_clear(&s_sent);

    /* and it recorded its own row */
    fsy_site_health_t *rows;
    size_t n;
    ck_ok(fsy_store_sites(bamako, &rows, &n));
    ck_assert_ptr_nonnull(s_row(rows, n, "bamako"));
    fsy_site_health_free(rows, n);
    fsy_config_free(&cfg);
    fsy_store_close(&bamako);
}
END_TEST

/* ---- the status view -------------------------------------------------- */

static const fsy_site_row_t *
s_view_row(const fsy_status_view_t *v, const char *site)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->rows[i].site, site) == 0)
            return &v->rows[i];
    return NULL;
}

START_TEST(test_health_view_counts_behind_in_its_scopes_and_grades_sites)
{
    fsy_store_t *hq = tu_replica("hq");
    tu_put(hq, "MLI", "isf-mli-2027", "plan", "title", "ISF Mali");
    tu_put(hq, "SSD", "poc-ssd", "plan", "title", "PoC Juba");
    fsy_config_t cfg;
    fsy_config_defaults(&cfg);
    fsy_site_health_t v[3] = {s_summary("gao", "bamako"),
                              s_summary("kidal", "bamako"),
                              s_summary("timbuktu", "bamako")};
    for (int i = 0; i < 3; i++) {
        v[i].updated_ms = NOW - 1000;
        v[i].heard_ms = NOW - 2000;
        snprintf(v[i].read_scopes, sizeof v[i].read_scopes, "MLI");
    }
    v[1].heard_ms = NOW - 1000000; /* > red_after_s (900) */
    v[1].connected = false;
    v[2].updated_ms = NOW - 3600000; /* no relay for an hour */
    v[2].clock_offset_ms = 3 * 3600000;
    ck_ok(fsy_store_sites_put(hq, v, 3));

    fsy_status_view_t view;
    ck_ok(fsy_status_view_load(hq, &cfg, true, NOW, &view));
    ck_assert_uint_eq(view.n, 4);
    ck_assert_str_eq(view.rows[0].role, "self");
    const fsy_site_row_t *g = s_view_row(&view, "gao");
    const fsy_site_row_t *k = s_view_row(&view, "kidal");
    const fsy_site_row_t *t = s_view_row(&view, "timbuktu");
    /* each lacks hq's MLI changes (2: kind and title), not the SSD ones */
    ck_assert_uint_eq(g->behind, 2);
    ck_assert_str_eq(g->state, "connected");
    ck_assert_int_eq(g->level, FSY_LEVEL_GREEN);
    ck_assert_str_eq(k->state, "disconnected");
    ck_assert_int_eq(k->level, FSY_LEVEL_RED);
    ck_assert_str_eq(k->why, "last heard 16m40s ago");
    ck_assert_str_eq(t->state, "unreachable");
    ck_assert_int_eq(t->level, FSY_LEVEL_AMBER);

    char *json = fsy_status_view_json(&view);
    ck_assert_ptr_nonnull(json);
    ck_assert_ptr_nonnull(strstr(json, "\"site\":\t\"kidal\""));
    ck_assert_ptr_nonnull(strstr(json, "\"health\":\t\"red\""));
    free(json);

    fsy_process_info_t pi = {
        .uptime_s = 12, .replica_bytes = 4096, .disk_sync_failed = 3};
    char *metrics = fsy_metrics_render(&view, &pi);
    ck_assert_ptr_nonnull(metrics);
    ck_assert_ptr_nonnull(
        strstr(metrics, "\n# TYPE fieldsync_disk_sync_failures_total counter\n"
                        "fieldsync_disk_sync_failures_total 3\n"));
    ck_assert_ptr_nonnull(
        strstr(metrics, "\nfieldsync_site_changes_behind{site=\"gao\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(metrics, "\nfieldsync_site_connected{site=\"kidal\"} 0\n"));
    ck_assert_ptr_nonnull(
        strstr(metrics,
               "\nfieldsync_site_last_contact_seconds{site=\"kidal\"} 1000\n"));
    ck_assert_ptr_nonnull(strstr(
        metrics,
        "\nfieldsync_site_clock_offset_seconds{site=\"timbuktu\"} 10800\n"));
    ck_assert_ptr_nonnull(
        strstr(metrics, "\nfieldsync_site_health{site=\"kidal\"} 2\n"));
    free(metrics);
    fsy_status_view_free(&view);

    /* the thresholds are the configuration's */
    cfg.thresholds.red_behind = 2;
    ck_ok(fsy_status_view_load(hq, &cfg, true, NOW, &view));
    g = s_view_row(&view, "gao");
    ck_assert_int_eq(g->level, FSY_LEVEL_RED);
    ck_assert_str_eq(g->why, "2 changes apart");
    fsy_status_view_free(&view);

    /* without --all-sites: only this site and its neighbours */
    ck_ok(fsy_status_view_load(hq, &cfg, false, NOW, &view));
    ck_assert_uint_eq(view.n, 1);
    fsy_status_view_free(&view);
    fsy_config_free(&cfg);
    fsy_store_close(&hq);
}
END_TEST

START_TEST(test_health_status_page_escapes_what_sites_report)
{
    fsy_store_t *hq = tu_replica("hq");
    fsy_config_t cfg;
    fsy_config_defaults(&cfg);
    fsy_site_health_t h = s_summary("gao", "bamako");
    h.heard_ms = h.updated_ms = NOW;
    snprintf(h.last_error, sizeof h.last_error, "<script>alert('x')</script>");
    ck_ok(fsy_store_sites_put(hq, &h, 1));
    fsy_status_view_t view;
    ck_ok(fsy_status_view_load(hq, &cfg, true, NOW, &view));
    char *page = fsy_status_page_render(&view, 10);
    ck_assert_ptr_nonnull(page);
    ck_assert_ptr_null(strstr(page, "<script"));
    ck_assert_ptr_nonnull(strstr(page, "&lt;script&gt;alert(&#39;x&#39;)"));
    ck_assert_ptr_nonnull(
        strstr(page, "http-equiv=\"refresh\" content=\"10\""));
    ck_assert_ptr_null(strstr(page, "src="));
    free(page);
    fsy_status_view_free(&view);
    fsy_config_free(&cfg);
    fsy_store_close(&hq);
}
END_TEST

/* The text index written behind is never silent: the page, /metrics and
 * the status line say how many documents wait, up to the counted bound. */
START_TEST(test_health_views_say_the_index_waits)
{
    fsy_store_t *hq = tu_replica("hq");
    fsy_config_t cfg;
    fsy_config_defaults(&cfg);
    fsy_status_view_t view;
    ck_ok(fsy_status_view_load(hq, &cfg, true, NOW, &view));
    ck_assert_uint_eq(view.counts.index_pending, 0);
    char buf[256];
    ck_assert_str_eq(fsy_index_pending_text(&view.counts, buf, sizeof buf), "");
    char *page = fsy_status_page_render(&view, 10);
    ck_assert_ptr_null(strstr(page, "index-pending"));
    free(page);
    view.counts.index_pending = 7;
    page = fsy_status_page_render(&view, 10);
    ck_assert_ptr_nonnull(strstr(
        page, "<p id=\"index-pending\">search index: 7 documents waiting"));
    free(page);
    fsy_process_info_t pi = {.uptime_s = 1};
    char *metrics = fsy_metrics_render(&view, &pi);
    ck_assert_ptr_nonnull(
        strstr(metrics, "\nfieldsync_index_pending_documents 7\n"));
    free(metrics);
    view.counts.index_pending = FSY_INDEX_PENDING_COUNTED + 1;
    ck_assert_ptr_nonnull(
        strstr(fsy_index_pending_text(&view.counts, buf, sizeof buf),
               "over 10000 documents"));
    view.counts.index_pending = 1;
    ck_assert_ptr_nonnull(
        strstr(fsy_index_pending_text(&view.counts, buf, sizeof buf),
               "1 document waiting"));
    fsy_status_view_free(&view);
    fsy_config_free(&cfg);
    fsy_store_close(&hq);
}
END_TEST

/* The one text value sql gives is want. */
static void
s_assert_query(sqlite3 *db, const char *sql, const char *want)
{
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), want);
    sqlite3_finalize(st);
}

START_TEST(test_health_replica_of_schema_1_is_upgraded_on_open)
{
    /* documents, one of them with two heads of a field, whose digest
     * must come through the upgrade */
    fsy_store_t *s = tu_replica("gao"), *k = tu_replica("kidal");
    tu_put(s, "MLI", "isf-mli-2027", "plan", "title", "ISF Mali 2027");
    tu_put(s, "MLI", "jmac-weekly-48", "analysis", "title", "JMAC 48");
    tu_sync(s, k);
    tu_put(s, "MLI", "isf-mli-2027", "plan", "title", "ISF Mali 2027-2029");
    tu_put(k, "MLI", "isf-mli-2027", "plan", "title", "ISF Mali, draft 2");
    tu_sync(k, s);
    char before[65], after[65];
    tu_digest(s, before);
    fsy_store_close(&k);
    fsy_store_close(&s);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(tu_path("gao.db"), &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(
            db,
            /* before schema 10: heads in a table of their own */
            "CREATE TABLE heads(scope TEXT NOT NULL, doc TEXT NOT NULL,"
            "  field TEXT NOT NULL, lseq INTEGER NOT NULL,"
            "  PRIMARY KEY(scope, doc, field, lseq)) WITHOUT ROWID;"
            "INSERT INTO heads SELECT d.scope, d.doc, c.field, c.lseq FROM "
            "docs d, json_each(d.heads) h JOIN changes c ON c.lseq = h.value;"
            "ALTER TABLE docs DROP COLUMN heads;"
            "ALTER TABLE docs DROP COLUMN head_fields;"
            "ALTER TABLE peers DROP COLUMN "
            "clock_offset_ms; DROP TABLE sites;"
            "ALTER TABLE changes DROP COLUMN ref;"
            "ALTER TABLE peers DROP COLUMN "
            "att_in_waiting; ALTER TABLE peers DROP "
            "COLUMN att_in_rate; ALTER TABLE peers "
            "DROP COLUMN att_out_waiting; ALTER TABLE "
            "peers DROP COLUMN att_out_rate;"
            "DROP TABLE blobs; DROP TABLE blob_chunks; DROP TABLE urgent;"
            "DROP TABLE delivery; DROP TABLE displaced; DROP TABLE couriers;"
            "DROP TABLE doc_counts;"
            "ALTER TABLE changes DROP COLUMN author;"
            "DROP TABLE doc_meta; DROP TABLE doc_text;"
            "DROP INDEX changes_by_field;"
            "DELETE FROM meta WHERE key = 'merge_whole';"
            "CREATE INDEX changes_by_doc ON changes(scope, doc);"
            "PRAGMA user_version=1;",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    ck_ok(fsy_store_open(&s, tu_path("gao.db")));
    tu_digest(s, after);
    ck_assert_str_eq(after, before);
    tu_put(s, "MLI", "poc-mli", "plan", "title", "Protection of civilians");
    fsy_site_health_t h = s_summary("kidal", "gao");
    ck_ok(fsy_store_sites_put(s, &h, 1));
    fsy_peer_status_t p = {.name = "bamako", .role = "parent", .vv = ""};
    p.offset_known = true;
    p.clock_offset_ms = -42;
    ck_ok(fsy_store_peer_put(s, &p));
    fsy_peer_status_t *peers;
    size_t n;
    ck_ok(fsy_store_peers(s, &peers, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(peers[0].clock_offset_ms, -42);
    fsy_peer_status_free(peers, n);
    fsy_store_close(&s);
    ck_assert_int_eq(sqlite3_open(tu_path("gao.db"), &db), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), FSY_SCHEMA_VERSION);
    sqlite3_finalize(st);
    /* schemas 10 and 11: the heads moved into the docs rows, the table
     * went; heads:fields. isf: title twice and _kind; jmac and poc: title
     * and _kind */
    s_assert_query(db,
                   "SELECT group_concat(json_array_length(heads) || ':' || "
                   "head_fields, ',') FROM docs",
                   "3:2,2:2,2:2");
    /* and the counts, recounted by the upgrade and kept since without
     * triggers: three documents (one written after it), one conflict */
    s_assert_query(db,
                   "SELECT visible || '/' || conflicts FROM doc_counts, "
                   "(SELECT count(*) AS n FROM sqlite_master WHERE "
                   "type = 'trigger') WHERE n = 0",
                   "3/1");
    ck_assert_int_ne(sqlite3_exec(db, "SELECT 1 FROM heads", NULL, NULL, NULL),
                     SQLITE_OK);
    /* schema 8: the version graph's index replaced the per-document one,
     * and the merge rule was recorded as the docs rows were derived */
    sqlite3_prepare_v2(db,
                       "SELECT group_concat(name) FROM sqlite_master WHERE "
                       "type = 'index' AND name LIKE 'changes_by_%'",
                       -1, &st, NULL);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0),
                     "changes_by_field");
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'merge_whole'",
                       -1, &st, NULL);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    sqlite3_finalize(st);
    sqlite3_close(db);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("health");
    TCase *tc = tcase_create("health");
    tcase_add_test(tc, test_health_frame_round_trips_every_field);
    tcase_add_test(tc,
                   test_health_frame_text_is_cleaned_and_bad_figures_refused);
    tcase_add_test(tc,
                   test_health_frame_decoding_to_too_many_entries_is_refused);
    tcase_add_test(tc, test_health_parent_keeps_what_the_child_may_report);
    tcase_add_test(tc, test_health_child_cannot_speak_for_others_nor_flood);
    tcase_add_test(tc, test_health_child_reports_itself_then_its_subtree);
    tcase_add_test(
        tc, test_health_view_counts_behind_in_its_scopes_and_grades_sites);
    tcase_add_test(tc, test_health_status_page_escapes_what_sites_report);
    tcase_add_test(tc, test_health_views_say_the_index_waits);
    tcase_add_test(tc, test_health_replica_of_schema_1_is_upgraded_on_open);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(s_suite());
}
