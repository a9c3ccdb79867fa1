/*
 * fieldsync — peer suite: the sync session state machine, driven without a
 * network. Two replicas, a child-side and a parent-side session, and two
 * in-memory queues of encoded frames between them that the tests deliver,
 * drop or reorder at will; time is a number the tests advance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "testutil.h"

#define QMAX 256

typedef struct queue {
    uint8_t *frame[QMAX];
    size_t len[QMAX];
    size_t n;
} queue_t;

typedef struct link {
    fsy_store_t *gao, *hq;
    fsy_child_conf_t child; /* [child gao] at hq */
    fsy_peer_t child_side;  /* at gao: its parent */
    fsy_peer_t parent_side; /* at hq: its child */
    queue_t up, down;       /* gao -> hq, hq -> gao */
    fsy_config_t cfg;
    fsy_sync_env_t env_gao, env_hq;
} link_t;

static int
s_enqueue(void *ctx, const fsy_msg_t *m)
{
    queue_t *q = ctx;
    ck_assert_uint_lt(q->n, QMAX);
    ck_ok(fsy_wire_encode_msg(m, &q->frame[q->n], &q->len[q->n]));
    q->n++;
    return FSY_OK;
}

static void
s_link_init(link_t *l, unsigned window, size_t batch_changes)
{
    memset(l, 0, sizeof *l);
    l->gao = tu_replica("gao");
    l->hq = tu_replica("hq");
    fsy_config_defaults(&l->cfg);
    l->cfg.window = window;
    l->cfg.batch_changes = batch_changes;
    snprintf(l->child.site, sizeof l->child.site, "gao");
    l->cfg.children = &l->child; /* borrowed: never freed by the test */
    l->cfg.n_children = 1;
    l->env_gao = (fsy_sync_env_t){
        .store = l->gao, .cfg = &l->cfg, .now_ms = 1000, .started_ms = 1000};
    l->env_hq = (fsy_sync_env_t){
        .store = l->hq, .cfg = &l->cfg, .now_ms = 1000, .started_ms = 1000};
    l->child_side.is_parent = true;
    snprintf(l->child_side.name, sizeof l->child_side.name, "parent");
    l->child_side.send = s_enqueue;
    l->child_side.send_ctx = &l->up;
    l->parent_side.send = s_enqueue;
    l->parent_side.send_ctx = &l->down;
    ck_ok(fsy_peer_start(&l->parent_side, &l->env_hq));
    ck_ok(fsy_peer_start(&l->child_side, &l->env_gao));
}

static void
s_link_free(link_t *l)
{
    for (size_t i = 0; i < l->up.n; i++)
        free(l->up.frame[i]);
    for (size_t i = 0; i < l->down.n; i++)
        free(l->down.frame[i]);
    fsy_peer_clear(&l->child_side);
    fsy_peer_clear(&l->parent_side);
    fsy_store_close(&l->gao);
    fsy_store_close(&l->hq);
}

/* Takes frame i out of q (the caller frees it). */
static uint8_t *
s_take(queue_t *q, size_t i, size_t *len)
{
    uint8_t *f = q->frame[i];
    *len = q->len[i];
    memmove(&q->frame[i], &q->frame[i + 1], (q->n - i - 1) * sizeof *q->frame);
    memmove(&q->len[i], &q->len[i + 1], (q->n - i - 1) * sizeof *q->len);
    q->n--;
    return f;
}

static void
s_deliver_one(queue_t *q, size_t i, fsy_peer_t *to, const fsy_sync_env_t *env)
{
    size_t len;
    uint8_t *f = s_take(q, i, &len);
    fsy_msg_t m;
    ck_ok(fsy_wire_decode_msg(f, len, &m));
    ck_ok(fsy_peer_on_msg(to, env, &m));
    fsy_msg_clear(&m);
    free(f);
}

static fsy_msg_type_t
s_type_at(queue_t *q, size_t i)
{
    fsy_msg_t m;
    ck_ok(fsy_wire_decode_msg(q->frame[i], q->len[i], &m));
    fsy_msg_type_t t = m.type;
    fsy_msg_clear(&m);
    return t;
}

/* Pumps and delivers everything both ways until nothing moves. */
static void
s_settle(link_t *l)
{
    for (int round = 0; round < 1000; round++) {
        ck_ok(fsy_peer_pump(&l->child_side, &l->env_gao));
        ck_ok(fsy_peer_pump(&l->parent_side, &l->env_hq));
        if (l->up.n == 0 && l->down.n == 0)
            return;
        while (l->up.n > 0)
            s_deliver_one(&l->up, 0, &l->parent_side, &l->env_hq);
        while (l->down.n > 0)
            s_deliver_one(&l->down, 0, &l->child_side, &l->env_gao);
    }
    ck_abort_msg("the link did not settle");
}

static void
s_assert_same(link_t *l)
{
    char a[65], b[65];
    tu_digest(l->gao, a);
    tu_digest(l->hq, b);
    ck_assert_str_eq(a, b);
    ck_assert_uint_eq(tu_changes(l->gao), tu_changes(l->hq));
}

static void
s_reports(fsy_store_t *s, const char *prefix, int n)
{
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%03d", prefix, i);
        tu_put(s, "MLI", id, "analysis", "title", id);
    }
}

/* The HELLOs both ways: the session is live at both ends. */
static void
s_hellos(link_t *l)
{
    s_deliver_one(&l->up, 0, &l->parent_side, &l->env_hq);
    s_deliver_one(&l->down, 0, &l->child_side, &l->env_gao);
}

/* As if gao's session had measured a fast link and receiver (pace.h). */
static void
s_measured_fast(link_t *l)
{
    l->child_side.pace.rate = 1u << 30;
    l->child_side.pace.raw_rate = 1u << 30;
}

START_TEST(test_peer_hello_then_both_sides_stream_what_the_other_lacks)
{
    link_t l;
    s_link_init(&l, 4, 1000);
    s_reports(l.gao, "sitrep-gao", 5);
    s_reports(l.hq, "isf-hq", 3);
    ck_assert_int_eq(l.child_side.state, FSY_PEER_WAIT_HELLO);
    ck_assert_uint_eq(l.up.n, 1); /* the child's HELLO */
    s_settle(&l);
    ck_assert_int_eq(l.child_side.state, FSY_PEER_LIVE);
    ck_assert_int_eq(l.parent_side.state, FSY_PEER_LIVE);
    ck_assert_str_eq(l.parent_side.name, "gao");
    s_assert_same(&l);
    ck_assert_uint_eq(l.child_side.changes_sent, 10);
    ck_assert_uint_eq(l.parent_side.changes_received, 10);
    /* Nothing echoes back to where it came from. */
    ck_assert_uint_eq(l.parent_side.changes_sent, 6);
    s_reports(l.gao, "more-gao", 2);
    s_settle(&l);
    ck_assert_uint_eq(l.parent_side.changes_sent, 6);
    ck_assert_uint_eq(l.child_side.changes_sent, 14);
    s_link_free(&l);
}
END_TEST

/* n documents of `fields` fields each, a transaction a document. */
static void
s_wide_docs(fsy_store_t *s, const char *scope, int n, int fields)
{
    fsy_field_set_t *sets = calloc((size_t)fields, sizeof *sets);
    char(*names)[16] = calloc((size_t)fields, sizeof *names);
    for (int f = 0; f < fields; f++) {
        snprintf(names[f], sizeof names[f], "line-%03d", f);
        sets[f] =
            (fsy_field_set_t){names[f], (const uint8_t *)"approved", 8, false};
    }
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "budget-%03d", i);
        ck_ok(fsy_store_put(s, scope, id, "plan", sets, (size_t)fields));
    }
    free(sets);
    free(names);
}

/* A session start finds what the peer lacks per stream: with nothing new
 * the sender's first pump puts its cursor at the log's end without
 * scanning the log (a hub restarting with a long log), and what is
 * written afterwards still goes. */
START_TEST(test_peer_session_start_scans_nothing_when_nothing_is_new)
{
    link_t l;
    s_link_init(&l, 4, 1000);
    s_wide_docs(l.hq, "MINUSMA-HQ", 45, 200); /* 9,045 changes */
    s_settle(&l);
    s_assert_same(&l);
    uint64_t end;
    ck_ok(fsy_store_log_last(l.hq, &end));
    ck_assert_uint_gt(end, 9000);
    ck_ok(fsy_peer_start(&l.parent_side, &l.env_hq));
    ck_ok(fsy_peer_start(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.up.n, 1); /* the child's HELLO */
    s_deliver_one(&l.up, 0, &l.parent_side, &l.env_hq);
    ck_assert_int_eq(l.parent_side.state, FSY_PEER_LIVE);
    ck_ok(fsy_peer_pump(&l.parent_side, &l.env_hq));
    ck_assert_uint_eq(l.parent_side.cursor, end);
    s_settle(&l);
    tu_put(l.hq, "MLI", "isf-mali-2027", "plan", "title", "ISF Mali 2027");
    s_settle(&l);
    s_assert_same(&l);
    s_link_free(&l);
}
END_TEST

/* An edit made long after the report was sent (its compression stream
 * long given back) costs what changed: it travels as a delta against the
 * version hq holds, and hq rebuilds it byte for byte. */
START_TEST(test_peer_late_edit_travels_as_a_delta)
{
    link_t l;
    s_link_init(&l, 4, 1000);
    char *body = tu_long_report(-1), *edited = tu_long_report(80);
    tu_put(l.gao, "MLI", "jmac-mli-long", "analysis", "body", body);
    s_settle(&l);
    s_assert_same(&l);
    l.env_gao.now_ms += 3600 * 1000; /* an hour later */
    l.env_hq.now_ms += 3600 * 1000;
    fsy_peer_tick(&l.child_side, &l.env_gao);
    fsy_peer_tick(&l.parent_side, &l.env_hq);
    s_settle(&l);                              /* the heartbeats of the hour */
    ck_assert_ptr_null(l.child_side.ztx.cctx); /* the stream was given back */
    tu_put(l.gao, "MLI", "jmac-mli-long", NULL, "body", edited);
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    size_t cost = 0; /* the frames the edit takes, as encoded */
    for (size_t i = 0; i < l.up.n; i++)
        cost += l.up.len[i];
    ck_assert_uint_gt(cost, 0);
    s_settle(&l);
    s_assert_same(&l);
    fsy_doc_t *d;
    ck_ok(fsy_store_get(l.hq, "MLI", "jmac-mli-long", &d));
    const fsy_head_t *h = &fsy_doc_field(d, "body")->heads[0];
    ck_assert_uint_eq(h->value_len, strlen(edited));
    ck_assert(memcmp(h->value, edited, h->value_len) == 0);
    fsy_doc_free(&d);
    printf("one sentence changed in a %zu-byte report an hour later: %zu "
           "bytes sent\n",
           strlen(edited), cost);
    ck_assert_uint_lt(cost, 600);
    free(body);
    free(edited);
    s_link_free(&l);
}
END_TEST

/* The compression level follows the link: a satellite link's rate gets
 * zstd's highest level (free beside the link's time), a LAN's a fast
 * one; [sync] compression_level forces one. */
START_TEST(test_peer_compression_level_follows_the_link)
{
    link_t l;
    s_link_init(&l, 4, 1000);
    s_settle(&l);
    static const struct {
        uint64_t rate; /* bytes/s measured */
        int level;
    } t[] = {
        {8000, 19}, {32000, 19}, {150000, 15}, {2000000, 9}, {100000000, 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        l.child_side.pace.rate = t[i].rate;
        l.child_side.pace.rate_ms = l.env_gao.now_ms;
        char id[32];
        snprintf(id, sizeof id, "sitrep-%zu", i);
        tu_put(l.gao, "MLI", id, "analysis", "title", id);
        ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
        ck_assert_msg(l.child_side.ztx.used_level == t[i].level,
                      "%llu B/s: level %d, not %d",
                      (unsigned long long)t[i].rate,
                      l.child_side.ztx.used_level, t[i].level);
        s_settle(&l);
    }
    l.cfg.compression_level = 4; /* forced */
    l.child_side.pace.rate = 8000;
    tu_put(l.gao, "MLI", "isf", "plan", "title", "ISF");
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    ck_assert_int_eq(l.child_side.ztx.used_level, 4);
    s_settle(&l);
    s_assert_same(&l);
    s_link_free(&l);
}
END_TEST

START_TEST(test_peer_window_bounds_batches_in_flight)
{
    link_t l;
    s_link_init(&l, 2, 1);
    s_reports(l.gao, "sitrep", 6); /* 6 transactions of 2 changes */
    s_hellos(&l);
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.up.n, 2); /* the window, not six */
    ck_assert_uint_eq(l.child_side.pace.n, 2);
    /* An ACK for no batch in flight frees no credit. */
    fsy_msg_t forged = {.type = FSY_MSG_ACK, .id = 424242};
    ck_ok(fsy_peer_on_msg(&l.child_side, &l.env_gao, &forged));
    ck_assert_uint_eq(l.child_side.pace.n, 2);
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.up.n, 2);
    s_deliver_one(&l.up, 0, &l.parent_side, &l.env_hq);
    s_deliver_one(&l.down, 0, &l.child_side, &l.env_gao); /* its ACK */
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.up.n, 2);
    s_settle(&l);
    s_assert_same(&l);
    s_link_free(&l);
}
END_TEST

/* Changes written at gao that gao does not know to be at its parent. */
static uint64_t
s_not_at_parent(fsy_store_t *gao)
{
    fsy_pending_t p;
    ck_ok(fsy_store_pending(gao, NULL, NULL, &p));
    return p.changes_not_at_parent;
}

/* A batch HQ commits without a disk sync (another message waits behind
 * it) is acknowledged at once, for the window, but its ACK's vector leaves
 * it out: gao counts it as at its parent only once HQ synced and sent the
 * whole vector (an ACK of no batch). A stale such ACK lowers nothing. */
START_TEST(test_peer_batch_committed_lazily_is_delivered_once_on_disk)
{
    link_t l;
    s_link_init(&l, 4, 1000);
    ck_ok(fsy_store_defer_checkpoints(l.hq, 16000)); /* the daemon's way */
    s_settle(&l);
    tu_put(l.gao, "MLI", "sitrep-gao-48", "analysis", "title", "Gao week 48");
    ck_assert_uint_eq(s_not_at_parent(l.gao), 2);
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.up.n, 1);
    fsy_sync_env_t busy = l.env_hq;
    busy.more_waiting = true;
    s_deliver_one(&l.up, 0, &l.parent_side, &busy);
    ck_assert_uint_eq(fsy_store_lazy_commits(l.hq), 1);
    ck_assert_uint_eq(l.down.n, 1); /* the ACK, at once */
    s_deliver_one(&l.down, 0, &l.child_side, &l.env_gao);
    ck_assert_uint_eq(l.child_side.pace.n, 0); /* its credit is back */
    ck_assert_uint_eq(s_not_at_parent(l.gao), 2);
    /* nothing to tell before the sync */
    ck_ok(fsy_peer_vv_update(&l.parent_side, &l.env_hq));
    ck_assert_uint_eq(l.down.n, 0);
    ck_ok(fsy_store_sync(l.hq));
    ck_ok(fsy_peer_vv_update(&l.parent_side, &l.env_hq));
    ck_assert_uint_eq(l.down.n, 1);
    size_t len;
    uint8_t *update = s_take(&l.down, 0, &len);
    fsy_msg_t m;
    ck_ok(fsy_wire_decode_msg(update, len, &m));
    ck_assert_int_eq(m.type, FSY_MSG_ACK);
    ck_assert_uint_eq(m.id, 0);
    ck_ok(fsy_peer_on_msg(&l.child_side, &l.env_gao, &m));
    ck_assert_uint_eq(s_not_at_parent(l.gao), 0);
    /* said once */
    ck_ok(fsy_peer_vv_update(&l.parent_side, &l.env_hq));
    ck_assert_uint_eq(l.down.n, 0);
    /* an older vector in an ACK of no batch changes nothing */
    tu_put(l.gao, "MLI", "sitrep-gao-49", "analysis", "title", "Gao week 49");
    s_settle(&l);
    ck_assert_uint_eq(s_not_at_parent(l.gao), 0);
    fsy_vv_t *known_before = NULL;
    ck_ok(fsy_store_vv(l.gao, &known_before)); /* gao's own: as hq's */
    ck_ok(fsy_peer_on_msg(&l.child_side, &l.env_gao, &m)); /* stale */
    ck_assert_uint_eq(fsy_vv_missing(known_before, &l.child_side.known, ""), 0);
    fsy_vv_free(&known_before);
    fsy_msg_clear(&m);
    free(update);
    s_assert_same(&l);
    s_link_free(&l);
}
END_TEST

/* Delivers the first queued frame, which must be a batch, and says whether
 * it was urgent and how many changes it held (all new at hq: the batch is
 * in the session's compression stream, which only hq follows). */
static void
s_expect_batch(link_t *l, bool urgent, size_t n)
{
    fsy_msg_t m;
    ck_assert_uint_gt(l->up.n, 0);
    ck_ok(fsy_wire_decode_msg(l->up.frame[0], l->up.len[0], &m));
    ck_assert_int_eq(m.type, FSY_MSG_BATCH);
    ck_assert_int_eq(m.urgent, urgent);
    ck_assert_uint_ne(m.zstream, 0);
    fsy_msg_clear(&m);
    uint64_t before = l->parent_side.changes_received;
    s_deliver_one(&l->up, 0, &l->parent_side, &l->env_hq);
    ck_assert_uint_eq(l->parent_side.changes_received - before, n);
}

START_TEST(test_peer_urgent_write_goes_ahead_of_the_backlog)
{
    link_t l;
    s_link_init(&l, 1, 1000);
    /* A backlog in another stream (global), two reports in the urgent
     * one's own stream (MLI, which must go first: no holes), then the
     * flash report. */
    for (int i = 0; i < 40; i++) {
        char id[32];
        snprintf(id, sizeof id, "archive-%03d", i);
        tu_put(l.gao, "global", id, "plan", "title", id);
    }
    s_reports(l.gao, "sitrep", 2);
    fsy_store_set_urgent(l.gao, true);
    tu_put(l.gao, "MLI", "flash-0412", "analysis", "title",
           "Flash: road Gao-Ansongo closed at km 42");
    fsy_store_set_urgent(l.gao, false);
    tu_put(l.gao, "MLI", "sitrep-later", "analysis", "title", "later");

    s_hellos(&l);
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    /* The first batch: MLI up to the flash report (3 transactions of 2
     * changes), urgent; nothing of the backlog, nothing after it. */
    s_expect_batch(&l, true, 6);
    ck_assert_str_eq(tu_get(l.hq, "MLI", "flash-0412", "title"),
                     "Flash: road Gao-Ansongo closed at km 42");
    ck_assert_uint_eq(tu_changes(l.hq), 6);
    /* hq marks it too, to pass it on first in turn. */
    fsy_urgent_t u[FSY_URGENT_MAX];
    size_t n;
    ck_ok(fsy_store_urgent_list(l.hq, 0, u, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(u[0].scope, "MLI");
    ck_assert_str_eq(u[0].origin.site, "gao");
    ck_assert_uint_eq(u[0].seq, 6);
    /* The rest in log order, each change once. */
    s_deliver_one(&l.down, 0, &l.child_side, &l.env_gao); /* its ACK */
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    s_expect_batch(&l, false, 80 + 2);
    s_settle(&l);
    s_assert_same(&l);
    ck_assert_uint_eq(l.child_side.changes_sent, tu_changes(l.gao));
    ck_assert_uint_eq(l.parent_side.changes_received, tu_changes(l.gao));

    /* More marks than one read returns, all sent: the next urgent write
     * still goes first. */
    fsy_store_set_urgent(l.gao, true);
    s_reports(l.gao, "flash-batch", FSY_URGENT_MAX + 6);
    s_settle(&l);
    ck_assert_uint_gt(l.child_side.urgent_done, FSY_URGENT_MAX);
    fsy_store_set_urgent(l.gao, false);
    tu_put(l.gao, "global", "archive-late", "plan", "title", "late");
    fsy_store_set_urgent(l.gao, true);
    tu_put(l.gao, "MLI", "flash-0413", "analysis", "title", "Flash: Ansongo");
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    s_expect_batch(&l, true, 2);
    s_settle(&l);
    s_assert_same(&l);
    s_link_free(&l);
}
END_TEST

START_TEST(test_pace_bytes_in_flight_follow_the_link_rate)
{
    fsy_pace_t pc;
    fsy_pace_reset(&pc);
    /* No rate yet: two batches, whatever the window. */
    ck_assert(fsy_pace_open(&pc, 8));
    fsy_pace_sent(&pc, 1, 40000, 200000, 0);
    ck_assert(fsy_pace_open(&pc, 8));
    fsy_pace_sent(&pc, 2, 40000, 200000, 0);
    ck_assert(!fsy_pace_open(&pc, 8));
    /* A 256 kbit/s link: 40 kB a 1.25 s. */
    ck_assert(!fsy_pace_acked(&pc, 99, 1250)); /* not in flight */
    ck_assert(fsy_pace_acked(&pc, 1, 1250));
    ck_assert_uint_eq(pc.rate, 32000);
    ck_assert_uint_eq(pc.raw_rate, 160000); /* the batches before zstd */
    ck_assert(fsy_pace_acked(&pc, 2, 2500));
    ck_assert_uint_eq(pc.rate, 32000); /* 80 kB over 2.5 s */
    ck_assert_uint_eq(pc.raw_rate, 160000);
    /* 3 s of it (96 kB) may be in flight: three batches, not eight. */
    unsigned n = 0;
    while (fsy_pace_open(&pc, 8))
        fsy_pace_sent(&pc, 10 + n++, 40000, 200000, 2500);
    ck_assert_uint_eq(n, 3);
    /* The window still bounds a fast link. */
    fsy_pace_reset(&pc);
    ck_assert_uint_eq(pc.raw_rate, 0); /* a new session measures afresh */
    ck_assert_uint_eq(pc.delivered_raw, 0);
    pc.rate = 1u << 30;
    for (n = 0; fsy_pace_open(&pc, 4); n++)
        fsy_pace_sent(&pc, n, 40000, 200000, 0);
    ck_assert_uint_eq(n, 4);
}
END_TEST

/* Where the link and its receiver take a whole batch_bytes in a quarter
 * second, a batch holds twice batch_changes (at most FSY_PACE_GROWN_MAX);
 * anywhere slower, or before any measure, what is configured. */
START_TEST(test_pace_batches_grow_only_on_a_fast_link)
{
    fsy_pace_t pc;
    fsy_pace_reset(&pc);
    const size_t mib = (size_t)1 << 20;
    ck_assert_uint_eq(fsy_pace_batch_changes(&pc, 1000, mib), 1000);
    pc.raw_rate = 160000; /* a 256 kbit/s link's changes */
    ck_assert_uint_eq(fsy_pace_batch_changes(&pc, 1000, mib), 1000);
    pc.raw_rate = 4 * mib - 4; /* just short of a quarter second */
    ck_assert_uint_eq(fsy_pace_batch_changes(&pc, 1000, mib), 1000);
    pc.raw_rate = 4 * mib;
    ck_assert_uint_eq(fsy_pace_batch_changes(&pc, 1000, mib), 2000);
    ck_assert_uint_eq(fsy_pace_batch_changes(&pc, 1500, mib),
                      FSY_PACE_GROWN_MAX);
    ck_assert_uint_eq(fsy_pace_batch_changes(&pc, 5000, mib), 5000);
    ck_assert_uint_eq(fsy_pace_batch_changes(&pc, 1, mib), 2);
}
END_TEST

/* The same through a session: eight transactions of two changes, batches
 * of two configured; measured fast, four batches of four go, not eight. */
START_TEST(test_peer_batches_grow_on_a_fast_link)
{
    link_t l;
    s_link_init(&l, 8, 2);
    s_reports(l.gao, "sitrep", 8);
    s_hellos(&l);
    s_measured_fast(&l);
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.up.n, 4);
    ck_assert_uint_eq(l.child_side.batch_changes, 4);
    s_settle(&l);
    s_assert_same(&l);
    /* an urgent batch stays as configured: the flash report's stream
     * goes in batches of one transaction (two changes), not two */
    s_reports(l.gao, "sitrep-mli", 1);
    fsy_store_set_urgent(l.gao, true);
    tu_put(l.gao, "MLI", "flash-0412", "analysis", "title",
           "Flash: road Gao-Ansongo closed at km 42");
    fsy_store_set_urgent(l.gao, false);
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    s_expect_batch(&l, true, 2);
    s_settle(&l);
    /* slow again (a new measure): as configured */
    l.child_side.pace.raw_rate = 160000;
    s_reports(l.gao, "flash", 4);
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.up.n, 4);
    ck_assert_uint_eq(l.child_side.batch_changes, 2);
    s_settle(&l);
    s_assert_same(&l);
    s_link_free(&l);
}
END_TEST

/* A grown batch ends once its decoded size reaches half of what a
 * receiver takes at any compression ratio: batches of 4 changes
 * configured, 8 grown, values of 800 KB: the third transaction takes it
 * past 2 MiB, so 6 changes go, not 8. */
START_TEST(test_peer_grown_batch_ends_under_the_bomb_floor)
{
    link_t l;
    s_link_init(&l, 8, 4);
    l.cfg.batch_bytes = (size_t)32 << 20;
    size_t len = 800 * 1000;
    char *v = malloc(len + 1);
    ck_assert_ptr_nonnull(v);
    memset(v, 'a', len);
    v[len] = '\0';
    for (int i = 0; i < 4; i++) {
        char id[32];
        snprintf(id, sizeof id, "annex-%d", i);
        v[i] = 'b'; /* each value its own */
        tu_put(l.gao, "MLI", id, "annex", "table", v);
    }
    free(v);
    s_hellos(&l);
    s_measured_fast(&l);
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.child_side.batch_changes, 8);
    s_expect_batch(&l, false, 6);
    s_settle(&l);
    s_assert_same(&l);
    s_link_free(&l);
}
END_TEST

/* A batch refused (a gapped ACK: here a frame that overtook the one
 * before it) stops the growth for the rest of the session: whatever was
 * refused goes again as configured. */
START_TEST(test_peer_gapped_ack_stops_the_growth)
{
    link_t l;
    s_link_init(&l, 8, 2);
    s_reports(l.gao, "sitrep", 8);
    s_hellos(&l);
    s_measured_fast(&l);
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.up.n, 4); /* grown: four batches of four */
    ck_assert(!l.child_side.grow_off);
    s_deliver_one(&l.up, 1, &l.parent_side, &l.env_hq);
    s_settle(&l);
    s_assert_same(&l);
    ck_assert(l.child_side.grow_off);
    ck_assert_uint_eq(l.child_side.batch_changes, 2);
    s_link_free(&l);
}
END_TEST

/* A session up over a fast link, gao's four reports sent as four batches
 * and none delivered yet. */
static void
s_four_batches_in_flight(link_t *l)
{
    s_link_init(l, 4, 1);
    s_reports(l->gao, "sitrep", 4);
    s_hellos(l);
    l->child_side.pace.rate = 1u << 30; /* as if measured: a fast link */
    ck_ok(fsy_peer_pump(&l->child_side, &l->env_gao));
    ck_assert_uint_eq(l->up.n, 4);
}

START_TEST(test_peer_reordered_batches_rewind_and_converge)
{
    link_t l;
    s_four_batches_in_flight(&l);
    /* The second batch overtakes the first: a gap at hq. */
    s_deliver_one(&l.up, 1, &l.parent_side, &l.env_hq);
    ck_assert_uint_eq(tu_changes(l.hq), 0);
    s_settle(&l);
    s_assert_same(&l);
    s_link_free(&l);
}
END_TEST

/* A frame of the compression stream lost on the way: the next one cannot
 * be inflated, hq asks for a resend at once (no timeout), and gao resends
 * from hq's vector in a new stream. */
START_TEST(test_peer_lost_stream_frame_is_resent_in_a_new_stream)
{
    link_t l;
    s_four_batches_in_flight(&l);
    uint64_t first_stream = l.child_side.ztx.id;
    size_t len;
    free(s_take(&l.up, 1, &len)); /* lost */
    s_settle(&l);
    s_assert_same(&l);
    ck_assert_uint_ge(l.parent_side.frames_lost, 1);
    ck_assert_uint_ne(l.child_side.ztx.id, first_stream);
    ck_assert_uint_eq(l.parent_side.zrx.id, l.child_side.ztx.id);
    s_link_free(&l);
}
END_TEST

START_TEST(test_peer_lost_batch_restarts_the_session_after_timeout)
{
    link_t l;
    s_link_init(&l, 1, 1);
    s_reports(l.gao, "sitrep", 3);
    s_hellos(&l);
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    size_t len;
    free(s_take(&l.up, 0, &len)); /* the link loses the batch */
    ck_ok(fsy_peer_pump(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.up.n, 0); /* credit spent: nothing moves */
    /* Heartbeats still flow, yet the unacknowledged batch restarts it. */
    l.env_gao.now_ms += l.cfg.timeout_ms;
    l.env_hq.now_ms += l.cfg.timeout_ms;
    l.child_side.last_rx_ms = l.env_gao.now_ms;
    ck_assert(fsy_peer_tick(&l.child_side, &l.env_gao));
    ck_assert_int_eq(l.child_side.state, FSY_PEER_WAIT_HELLO);
    ck_assert_uint_eq(s_type_at(&l.up, l.up.n - 1), FSY_MSG_HELLO);
    s_settle(&l);
    s_assert_same(&l);
    s_link_free(&l);
}
END_TEST

START_TEST(test_peer_parent_refuses_a_child_it_does_not_know)
{
    link_t l;
    s_link_init(&l, 4, 1000);
    s_settle(&l);
    /* hq restarts: its session with gao is new and waits for HELLO. */
    fsy_peer_clear(&l.parent_side);
    l.parent_side.send = s_enqueue;
    l.parent_side.send_ctx = &l.down;
    ck_ok(fsy_peer_start(&l.parent_side, &l.env_hq));
    l.env_gao.now_ms += l.cfg.heartbeat_ms;
    ck_assert(fsy_peer_tick(&l.child_side, &l.env_gao)); /* a heartbeat */
    s_deliver_one(&l.up, 0, &l.parent_side, &l.env_hq);
    ck_assert_uint_eq(s_type_at(&l.down, 0), FSY_MSG_REFUSE);
    s_deliver_one(&l.down, 0, &l.child_side, &l.env_gao);
    ck_assert_int_eq(l.child_side.state, FSY_PEER_WAIT_HELLO);
    ck_assert_uint_eq(l.up.n, 0); /* no instant ping-pong ... */
    l.env_gao.now_ms += l.cfg.heartbeat_ms;
    ck_assert(fsy_peer_tick(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(s_type_at(&l.up, 0), FSY_MSG_HELLO); /* ... later */
    s_reports(l.gao, "after-restart", 2);
    s_settle(&l);
    s_assert_same(&l);
    s_link_free(&l);
}
END_TEST

/* A flood of HELLOs from a live child earns one window, not one each. */
START_TEST(test_peer_hello_flood_is_rate_limited)
{
    link_t l;
    s_link_init(&l, 2, 1);
    s_reports(l.hq, "isf", 20);
    s_deliver_one(&l.up, 0, &l.parent_side, &l.env_hq);
    ck_ok(fsy_peer_pump(&l.parent_side, &l.env_hq));
    size_t after_first = l.down.n;
    for (int i = 0; i < 50; i++) {
        l.env_gao.now_ms += 1;
        l.env_hq.now_ms += 1;
        l.child_side.hello_tx_ms = 0; /* force a HELLO each tick */
        l.child_side.state = FSY_PEER_WAIT_HELLO;
        ck_assert(fsy_peer_tick(&l.child_side, &l.env_gao));
        while (l.up.n > 0)
            s_deliver_one(&l.up, 0, &l.parent_side, &l.env_hq);
        ck_ok(fsy_peer_pump(&l.parent_side, &l.env_hq));
    }
    /* the HELLO reply plus one window of batches, not fifty */
    ck_assert_uint_le(l.down.n, after_first + 2);
    s_link_free(&l);
}
END_TEST

START_TEST(test_peer_hello_with_other_limits_is_refused)
{
    link_t l;
    s_link_init(&l, 4, 1000);
    size_t len;
    free(s_take(&l.up, 0, &len));
    fsy_msg_t hello = {.type = FSY_MSG_HELLO};
    snprintf(hello.origin.site, sizeof hello.origin.site, "gao");
    hello.origin.incarnation = 1;
    hello.max_value = FSY_VALUE_MAX / 2;
    hello.max_txn_changes = FSY_TXN_MAX;
    ck_ok(fsy_peer_on_msg(&l.parent_side, &l.env_hq, &hello));
    ck_assert_int_eq(l.parent_side.state, FSY_PEER_WAIT_HELLO);
    ck_assert_uint_eq(s_type_at(&l.down, 0), FSY_MSG_REFUSE);
    s_link_free(&l);
}
END_TEST

START_TEST(test_peer_refusals_of_an_old_session_do_not_put_hello_off)
{
    link_t l;
    s_link_init(&l, 4, 1000);
    s_settle(&l);
    ck_assert_int_eq(l.child_side.state, FSY_PEER_LIVE);
    fsy_msg_t r = {.type = FSY_MSG_REFUSE};
    snprintf(r.reason, sizeof r.reason, "say hello first");
    ck_ok(fsy_peer_on_msg(&l.child_side, &l.env_gao, &r));
    ck_assert_int_eq(l.child_side.state, FSY_PEER_WAIT_HELLO);
    uint64_t hello_at = l.child_side.hello_tx_ms;
    /* a link back from a cut delivers the refusals of every queued frame */
    for (int i = 0; i < 20; i++) {
        l.env_gao.now_ms += 100;
        ck_ok(fsy_peer_on_msg(&l.child_side, &l.env_gao, &r));
    }
    ck_assert_uint_eq(l.child_side.hello_tx_ms, hello_at);
    ck_assert_str_eq(l.child_side.last_error, "say hello first");
    size_t before = l.up.n;
    ck_assert(fsy_peer_tick(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.up.n, before + 1); /* the HELLO goes now */
    ck_assert_int_eq(s_type_at(&l.up, before), FSY_MSG_HELLO);
    s_link_free(&l);
}
END_TEST

/* A parent that refuses with a time to try again (another machine runs as
 * this site: site_claim.h) is left alone until then, its reason on show,
 * whatever the silence meanwhile; then the HELLO goes, naming this run. */
START_TEST(test_peer_refusal_with_retry_time_quiets_hello_until_then)
{
    link_t l;
    s_link_init(&l, 4, 1000);
    l.env_gao.instance = "ws-gao-02 pid 977\x1b[2J";
    size_t len;
    free(s_take(&l.up, 0, &len)); /* the first HELLO */
    fsy_msg_t r = {.type = FSY_MSG_REFUSE, .retry_ms = 15000};
    snprintf(r.reason, sizeof r.reason, "gao already runs on ws-gao-01");
    uint8_t *f;
    ck_ok(fsy_wire_encode_msg(&r, &f, &len));
    fsy_msg_t got;
    ck_ok(fsy_wire_decode_msg(f, len, &got));
    free(f);
    ck_assert_uint_eq(got.retry_ms, 15000);
    ck_ok(fsy_peer_on_msg(&l.child_side, &l.env_gao, &got));
    for (int i = 0; i < 149; i++) { /* silence, far beyond the timeout */
        l.env_gao.now_ms += 100;
        ck_assert(fsy_peer_tick(&l.child_side, &l.env_gao));
    }
    ck_assert_uint_eq(l.up.n, 0);
    ck_assert_str_eq(l.child_side.last_error, "gao already runs on ws-gao-01");
    l.env_gao.now_ms += 100;
    ck_assert(fsy_peer_tick(&l.child_side, &l.env_gao));
    ck_assert_uint_eq(l.up.n, 1);
    fsy_msg_t hello;
    ck_ok(fsy_wire_decode_msg(l.up.frame[0], l.up.len[0], &hello));
    ck_assert_int_eq(hello.type, FSY_MSG_HELLO);
    ck_assert_str_eq(hello.instance, "ws-gao-02 pid 977?[2J"); /* cleaned */
    fsy_msg_clear(&hello);
    /* a parent cannot silence a child for longer than ten minutes */
    r.retry_ms = UINT64_MAX / 2;
    ck_ok(fsy_peer_on_msg(&l.child_side, &l.env_gao, &r));
    ck_assert_uint_le(l.child_side.retry_at_ms,
                      l.env_gao.now_ms + 10 * 60 * 1000);
    s_link_free(&l);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *su = suite_create("peer");
    TCase *tc = tcase_create("peer");
    tcase_add_checked_fixture(tc, NULL, tu_cleanup);
    tcase_add_test(tc,
                   test_peer_hello_then_both_sides_stream_what_the_other_lacks);
    tcase_add_test(tc,
                   test_peer_session_start_scans_nothing_when_nothing_is_new);
    tcase_add_test(tc, test_peer_late_edit_travels_as_a_delta);
    tcase_add_test(tc, test_peer_compression_level_follows_the_link);
    tcase_add_test(tc, test_peer_window_bounds_batches_in_flight);
    tcase_add_test(tc,
                   test_peer_batch_committed_lazily_is_delivered_once_on_disk);
    tcase_add_test(tc, test_peer_reordered_batches_rewind_and_converge);
    tcase_add_test(tc, test_peer_urgent_write_goes_ahead_of_the_backlog);
    tcase_add_test(tc, test_pace_bytes_in_flight_follow_the_link_rate);
    tcase_add_test(tc, test_pace_batches_grow_only_on_a_fast_link);
    tcase_add_test(tc, test_peer_batches_grow_on_a_fast_link);
    tcase_add_test(tc, test_peer_grown_batch_ends_under_the_bomb_floor);
    tcase_add_test(tc, test_peer_gapped_ack_stops_the_growth);
    tcase_add_test(tc, test_peer_lost_batch_restarts_the_session_after_timeout);
    tcase_add_test(tc, test_peer_lost_stream_frame_is_resent_in_a_new_stream);
    tcase_add_test(tc, test_peer_parent_refuses_a_child_it_does_not_know);
    tcase_add_test(tc, test_peer_hello_with_other_limits_is_refused);
    tcase_add_test(tc, test_peer_hello_flood_is_rate_limited);
    tcase_add_test(tc,
                   test_peer_refusal_with_retry_time_quiets_hello_until_then);
    tcase_add_test(tc,
                   test_peer_refusals_of_an_old_session_do_not_put_hello_off);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    return tu_run(s_suite());
}
