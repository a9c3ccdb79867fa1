/*
 * fieldsyncd — attachments on the live link. See transfer.h for the model.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "transfer.h"

/* ---- rates -------------------------------------------------------------- */

static void
s_rate_add(fsy_rate_t *r, uint64_t now_ms, uint64_t n)
{
    uint64_t s = now_ms / 1000;
    if (r->first_s == 0 || s < r->last_s || s - r->last_s >= FSY_XFER_RATE_S) {
        memset(r->bucket, 0, sizeof r->bucket); /* idle a minute, or a
                                                   clock that went back */
        r->first_s = s;
    } else {
        for (uint64_t t = r->last_s + 1; t <= s; t++)
            r->bucket[t % FSY_XFER_RATE_S] = 0;
    }
    r->last_s = s;
    r->bucket[s % FSY_XFER_RATE_S] += n;
}

uint64_t
fsy_rate_per_s(const fsy_rate_t *r, uint64_t now_ms)
{
    uint64_t s = now_ms / 1000, sum = 0;
    if (r->first_s == 0 || s < r->last_s || s - r->last_s >= FSY_XFER_RATE_S)
        return 0;
    uint64_t lo = s + 1 - FSY_XFER_RATE_S;
    if (s + 1 < FSY_XFER_RATE_S || lo < r->first_s)
        lo = r->first_s;
    for (uint64_t t = lo; t <= r->last_s; t++)
        sum += r->bucket[t % FSY_XFER_RATE_S];
    return sum / (s - lo + 1); /* over the last minute, or since it began */
}

/* ---- who fetches what --------------------------------------------------- */

static bool
s_hub_take(fsy_xfer_hub_t *h, const uint8_t *hash)
{
    for (size_t i = 0; i < h->n_busy; i++)
        if (memcmp(h->busy[i], hash, FSY_BLOB_HASH_LEN) == 0)
            return false;
    if (h->n_busy == FSY_XFER_HUB_MAX)
        return false;
    memcpy(h->busy[h->n_busy++], hash, FSY_BLOB_HASH_LEN);
    return true;
}

static void
s_hub_drop(fsy_xfer_hub_t *h, const uint8_t *hash)
{
    for (size_t i = 0; i < h->n_busy; i++)
        if (memcmp(h->busy[i], hash, FSY_BLOB_HASH_LEN) == 0) {
            memcpy(h->busy[i], h->busy[--h->n_busy], FSY_BLOB_HASH_LEN);
            return;
        }
}

void
fsy_xfer_init(fsy_xfer_t *x, fsy_xfer_hub_t *hub)
{
    memset(x, 0, sizeof *x);
    x->hub = hub;
}

static void
s_stop_fetch(fsy_xfer_t *x)
{
    if (x->fetching)
        s_hub_drop(x->hub, x->hash);
    x->fetching = false;
    x->n_asked = 0;
}

void
fsy_xfer_reset(fsy_xfer_t *x)
{
    s_stop_fetch(x);
    x->n_serve = 0;
    x->n_skipped = x->skip_next = 0;
    x->serve_size = x->serve_have = 0;
}

static const char *
s_short(const uint8_t *hash, char buf[9])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 4; i++) {
        buf[2 * i] = hex[hash[i] >> 4];
        buf[2 * i + 1] = hex[hash[i] & 15];
    }
    buf[8] = '\0';
    return buf;
}

/* ---- receiving ---------------------------------------------------------- */

static bool
s_skipped(const fsy_xfer_t *x, const uint8_t *hash)
{
    for (size_t i = 0; i < x->n_skipped; i++)
        if (memcmp(x->skipped[i], hash, FSY_BLOB_HASH_LEN) == 0)
            return true;
    return false;
}

/* Whether this neighbour is to be asked for w. */
static bool
s_may_ask(const fsy_peer_t *p, const fsy_blob_wanted_t *w)
{
    if (!p->is_parent)
        return true; /* a child sends up what it attached */
    /* asked for by a person: even under "none", so that the parent's
     * refusal says why in our log */
    return p->attachments == FSY_ATTACH_ALL || w->fetch;
}

/* Something to fetch from this neighbour, at most once a second. */
static int
s_pick(fsy_xfer_t *x, const fsy_peer_t *p, const fsy_sync_env_t *env)
{
    if (env->now_ms - x->pick_ms < 1000)
        return FSY_OK;
    x->pick_ms = env->now_ms;
    if (env->now_ms - x->skipped_ms >= FSY_XFER_RETRY_MS) {
        x->n_skipped = x->skip_next = 0; /* ask again: it may have it now */
        x->skipped_ms = env->now_ms;
    }
    /* from a parent that sends on demand (or none), only what was asked
     * for: looking further would never reach the one a person fetched */
    bool fetched_only = p->is_parent && p->attachments != FSY_ATTACH_ALL;
    /* a page of the list a look: blobs nobody can serve at its head never
     * hide the ones behind them */
    fsy_blob_wanted_t w[32];
    size_t n = 0;
    int rc = fsy_store_blobs_wanted(env->store, fetched_only, x->pick_from, w,
                                    32, &n);
    x->pick_from = n < 32 ? 0 : x->pick_from + n;
    for (size_t i = 0; rc == FSY_OK && i < n; i++) {
        if (!s_may_ask(p, &w[i]) || s_skipped(x, w[i].hash) ||
            !s_hub_take(x->hub, w[i].hash))
            continue;
        x->stalls = 0;
        x->fetching = true;
        memcpy(x->hash, w[i].hash, FSY_BLOB_HASH_LEN);
        x->size = w[i].size;
        x->fetch = w[i].fetch;
        x->next = 0;
        x->n_asked = 0;
        x->progress_ms = env->now_ms;
        char h8[9];
        fsy_log("info", "attachment-fetch",
                "peer=%s hash=%s size=%" PRIu64 " have=%" PRIu64, p->name,
                s_short(x->hash, h8), x->size, w[i].have);
        break;
    }
    return rc;
}

/* Chunks to have in flight: one on a slow link, so that what is queued
 * ahead of the next batch crosses well within timeout_ms (64 KiB at 32
 * kbit/s is 16 s); two otherwise, to keep the link busy across the
 * round trip. */
static size_t
s_window(const fsy_xfer_t *x, const fsy_sync_env_t *env)
{
    uint64_t rate = fsy_rate_per_s(&x->in_rate, env->now_ms);
    return rate > 0 && rate < FSY_XFER_SLOW_BPS ? 1 : FSY_XFER_WINDOW;
}

/* Asks for the next missing chunks, up to the window. */
static int
s_ask(fsy_xfer_t *x, fsy_peer_t *p, const fsy_sync_env_t *env)
{
    size_t window = s_window(x, env), n = 0;
    if (x->n_asked >= window)
        return FSY_OK;
    size_t room = window - x->n_asked;
    fsy_msg_t m = {.type = FSY_MSG_WANT, .fetch = x->fetch};
    int rc = fsy_store_blob_missing(env->store, x->hash, x->size, x->next,
                                    m.want, room, &n);
    if (rc != FSY_OK || n == 0)
        return rc;
    memcpy(m.chunk.hash, x->hash, FSY_BLOB_HASH_LEN);
    m.chunk.size = x->size;
    m.n_want = n;
    fsy_blob_state_t bs;
    if (fsy_store_blob_state(env->store, x->hash, &bs) == FSY_OK)
        m.have = bs.have;
    for (size_t i = 0; i < n; i++)
        x->asked[x->n_asked++] = m.want[i];
    x->next = m.want[n - 1] + 1;
    return fsy_peer_send(p, env, &m);
}

/* This neighbour will not do for this blob (it lacks it, sent it damaged,
 * or stays silent): another may fetch it; this one asks again later. */
static void
s_skip(fsy_xfer_t *x, const uint8_t *hash)
{
    if (!s_skipped(x, hash)) {
        memcpy(x->skipped[x->skip_next], hash, FSY_BLOB_HASH_LEN);
        x->skip_next = (x->skip_next + 1) % FSY_XFER_SKIP;
        if (x->n_skipped < FSY_XFER_SKIP)
            x->n_skipped++;
    }
    s_stop_fetch(x);
}

static int
s_fetch_more(fsy_xfer_t *x, fsy_peer_t *p, const fsy_sync_env_t *env)
{
    if (!x->fetching)
        s_pick(x, p, env);
    if (!x->fetching)
        return FSY_OK;
    /* silence: what was asked for may be lost; ask again from the start,
     * a few times, then leave the blob to another neighbour */
    if (x->n_asked > 0 &&
        env->now_ms - x->progress_ms >= env->cfg->timeout_ms) {
        char h8[9];
        if (++x->stalls >= FSY_XFER_STALLS) {
            fsy_log("warn", "attachment-stalled", "peer=%s hash=%s", p->name,
                    s_short(x->hash, h8));
            s_skip(x, x->hash);
            return FSY_OK;
        }
        x->n_asked = 0;
        x->next = 0;
        x->progress_ms = env->now_ms;
    }
    bool asked_before = x->n_asked > 0;
    int rc = s_ask(x, p, env);
    if (rc == FSY_OK && x->n_asked == 0 && !asked_before) {
        fsy_blob_state_t bs;
        rc = fsy_store_blob_state(env->store, x->hash, &bs);
        if (rc == FSY_OK && bs.complete)
            s_stop_fetch(x);
        else if (rc == FSY_OK && x->next == 0)
            s_skip(x, x->hash); /* nothing to ask for, yet not whole */
        else if (rc == FSY_OK)
            x->next = 0; /* a chunk went missing: look again from 0 */
    }
    return rc;
}

static void
s_unask(fsy_xfer_t *x, uint64_t idx)
{
    for (size_t i = 0; i < x->n_asked; i++)
        if (x->asked[i] == idx) {
            x->asked[i] = x->asked[--x->n_asked];
            return;
        }
}

static int
s_on_chunk(fsy_xfer_t *x, fsy_peer_t *p, const fsy_sync_env_t *env,
           const fsy_chunk_t *c)
{
    bool done = false,
         ours = x->fetching && memcmp(c->hash, x->hash, FSY_BLOB_HASH_LEN) == 0;
    int rc = fsy_store_blob_chunk_put(env->store, c, &done);
    x->in_bytes += c->len;
    s_rate_add(&x->in_rate, env->now_ms, c->len);
    char h8[9];
    if (rc == FSY_ECORRUPT) { /* dropped: fetch it whole again */
        fsy_log("warn", "attachment-damaged", "peer=%s hash=%s why=\"%s\"",
                p->name, s_short(c->hash, h8), fsy_errdetail());
        if (ours)
            x->next = x->n_asked = 0;
        return FSY_OK;
    }
    if (rc != FSY_OK || !ours)
        return rc;
    s_unask(x, c->idx);
    x->progress_ms = env->now_ms;
    if (done) {
        fsy_log("info", "attachment-complete", "peer=%s hash=%s size=%" PRIu64,
                p->name, s_short(c->hash, h8), x->size);
        s_stop_fetch(x);
    }
    return s_fetch_more(x, p, env);
}

static int
s_on_nothave(fsy_xfer_t *x, fsy_peer_t *p, const fsy_msg_t *m)
{
    char h8[9];
    if (!x->fetching || memcmp(m->chunk.hash, x->hash, FSY_BLOB_HASH_LEN))
        return FSY_OK;
    /* a child lacking what we asked all children for is routine */
    fsy_log(p->is_parent ? "info" : "debug", "attachment-not-there",
            "peer=%s hash=%s why=\"%s\"", p->name, s_short(m->chunk.hash, h8),
            m->reason);
    s_skip(x, x->hash);
    return FSY_OK;
}

/* ---- serving ------------------------------------------------------------ */

static int
s_nothave(fsy_peer_t *p, const fsy_sync_env_t *env, const uint8_t *hash,
          const char *why)
{
    fsy_msg_t m = {.type = FSY_MSG_NOTHAVE};
    memcpy(m.chunk.hash, hash, FSY_BLOB_HASH_LEN);
    snprintf(m.reason, sizeof m.reason, "%s", why);
    return fsy_peer_send(p, env, &m);
}

/* Why this neighbour may not have the bytes it asks for, or NULL. */
static const char *
s_refusal(const fsy_peer_t *p, const fsy_msg_t *m)
{
    if (p->is_parent || p->acl == NULL)
        return NULL;
    if (p->acl->attachments == FSY_ATTACH_NONE)
        return "this site sends you no attachments ([child] attachments = "
               "none)";
    if (p->acl->attachments == FSY_ATTACH_ON_DEMAND && !m->fetch)
        return "attachments come on demand: fieldsync fetch DOC FIELD";
    return NULL;
}

static int
s_on_want(fsy_xfer_t *x, fsy_peer_t *p, const fsy_sync_env_t *env,
          const fsy_msg_t *m)
{
    const char *why = s_refusal(p, m);
    if (why != NULL)
        return s_nothave(p, env, m->chunk.hash, why);
    fsy_blob_state_t bs;
    int rc = fsy_store_blob_state(env->store, m->chunk.hash, &bs);
    if (rc != FSY_OK)
        return rc;
    if (!bs.complete) {
        /* not here (yet): a child's request travels up: ask for it
         * ourselves, so it comes this way (a parent's does not: what is
         * below us has it or not) */
        if (bs.known && !p->is_parent)
            (void)fsy_store_blob_fetch(env->store, m->chunk.hash);
        return s_nothave(p, env, m->chunk.hash,
                         bs.known ? "not here yet: asked for it"
                                  : "not held here");
    }
    if (bs.size != m->chunk.size)
        return s_nothave(p, env, m->chunk.hash, "size differs");
    /* asks pile up while batches hold the link: keep them all (another
     * blob's asks replace these: the asker moved on) */
    if (x->n_serve > 0 &&
        memcmp(x->serve_hash, m->chunk.hash, FSY_BLOB_HASH_LEN) != 0)
        x->n_serve = 0;
    memcpy(x->serve_hash, m->chunk.hash, FSY_BLOB_HASH_LEN);
    x->serve_size = bs.size;
    x->serve_have = m->have;
    /* an honest asker has at most a window in flight: more is not served */
    for (size_t i = 0; i < m->n_want && x->n_serve < FSY_XFER_WINDOW; i++) {
        bool queued = false;
        for (size_t j = 0; j < x->n_serve; j++)
            queued |= x->serve[j] == m->want[i];
        if (!queued)
            x->serve[x->n_serve++] = m->want[i];
    }
    return FSY_OK;
}

/* Sends what was asked for, when no batch is in flight. */
static int
s_serve(fsy_xfer_t *x, fsy_peer_t *p, const fsy_sync_env_t *env)
{
    if (x->n_serve == 0 || !fsy_peer_idle(p))
        return FSY_OK;
    int rc = FSY_OK;
    for (size_t i = 0; rc == FSY_OK && i < x->n_serve; i++) {
        fsy_msg_t m = {.type = FSY_MSG_CHUNK};
        memcpy(m.chunk.hash, x->serve_hash, FSY_BLOB_HASH_LEN);
        m.chunk.size = x->serve_size;
        m.chunk.idx = x->serve[i];
        rc = fsy_store_blob_chunk_get(env->store, x->serve_hash, x->serve[i],
                                      &m.chunk.data, &m.chunk.len);
        if (rc == FSY_OK)
            rc = fsy_peer_send(p, env, &m);
        if (rc == FSY_OK) {
            x->out_bytes += m.chunk.len;
            x->serve_have += m.chunk.len;
            s_rate_add(&x->out_rate, env->now_ms, m.chunk.len);
        }
        free(m.chunk.data);
    }
    x->n_serve = 0;
    return rc;
}

/* ---- entry points ------------------------------------------------------- */

int
fsy_xfer_on_msg(fsy_xfer_t *x, fsy_peer_t *p, const fsy_sync_env_t *env,
                const fsy_msg_t *m)
{
    if (m->type == FSY_MSG_WANT)
        return s_on_want(x, p, env, m);
    if (m->type == FSY_MSG_CHUNK)
        return s_on_chunk(x, p, env, &m->chunk);
    return s_on_nothave(x, p, m);
}

/* Once a second: what is still to come from this neighbour (the wanted
 * blobs it may serve) and to go to it (what it last said it lacks of the
 * blob it asks for), with the rates, for status. */
static int
s_figures(fsy_xfer_t *x, fsy_peer_t *p, const fsy_sync_env_t *env)
{
    if (env->now_ms - x->figures_ms < 1000)
        return FSY_OK;
    x->figures_ms = env->now_ms;
    fsy_blob_wanted_t w[64];
    size_t n = 0;
    uint64_t in = 0;
    bool fetched_only = p->is_parent && p->attachments != FSY_ATTACH_ALL;
    int rc =
        p->state == FSY_PEER_LIVE
            ? fsy_store_blobs_wanted(env->store, fetched_only, 0, w, 64, &n)
            : FSY_OK;
    for (size_t i = 0; rc == FSY_OK && i < n; i++)
        if (s_may_ask(p, &w[i]) && !s_skipped(x, w[i].hash))
            in += w[i].size - (w[i].have < w[i].size ? w[i].have : w[i].size);
    uint64_t out =
        x->serve_have < x->serve_size ? x->serve_size - x->serve_have : 0;
    fsy_peer_set_transfer(p, in, fsy_rate_per_s(&x->in_rate, env->now_ms), out,
                          fsy_rate_per_s(&x->out_rate, env->now_ms));
    return rc;
}

int
fsy_xfer_tick(fsy_xfer_t *x, fsy_peer_t *p, const fsy_sync_env_t *env)
{
    if (p->state != FSY_PEER_LIVE) {
        fsy_xfer_reset(x);
        return s_figures(x, p, env);
    }
    int rc = s_serve(x, p, env);
    if (rc == FSY_OK)
        rc = s_fetch_more(x, p, env);
    return rc == FSY_OK ? s_figures(x, p, env) : rc;
}
