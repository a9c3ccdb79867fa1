/* fieldsync — one site id, one running daemon. See site_claim.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/error.h"
#include "log.h"
#include "site_claim.h"
#include "wire.h"

/* Another slot of rid's site, under another routing id (another run). */
static fsy_child_slot_t *
s_other_run(fsy_daemon_t *d, const uint8_t *rid, size_t rid_len)
{
    size_t site_len = fsy_transport_rid_site_len(rid, rid_len);
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++) {
        fsy_child_slot_t *c = &d->children[i];
        if (!c->used ||
            (c->rid_len == rid_len && memcmp(c->rid, rid, rid_len) == 0))
            continue;
        if (fsy_transport_rid_site_len(c->rid, c->rid_len) == site_len &&
            memcmp(c->rid, rid, site_len) == 0)
            return c;
    }
    return NULL;
}

/* Is c's session live and its connection still open? Asked by sending
 * it a heartbeat, which only an open connection takes. */
static bool
s_still_there(fsy_daemon_t *d, fsy_child_slot_t *c, const fsy_sync_env_t *env)
{
    if (!fsy_peer_connected(&c->peer, env))
        return false;
    fsy_msg_t hb = {.type = FSY_MSG_HEARTBEAT, .sent_ms = env->now_ms};
    uint8_t *buf;
    size_t len;
    if (fsy_wire_encode_msg(&hb, &buf, &len) != FSY_OK)
        return true; /* cannot tell: the live session stays */
    int rc = fsy_transport_send_if_there(&d->tr, c->rid, c->rid_len, buf, len);
    free(buf);
    return rc != FSY_ENOTFOUND;
}

/* A run as people name it: "ws-gao-01 pid 811 (10.20.0.5)". */
static void
s_name(const char *instance, const char *address, char *out, size_t len)
{
    snprintf(out, len, "%s (%s)",
             instance[0] ? instance : "an older fieldsyncd",
             address[0] ? address : "address unknown");
    fsy_text_clean(out); /* the address is ZeroMQ's, the rest the peer's */
}

static void
s_refuse(fsy_daemon_t *d, fsy_child_slot_t *live, const uint8_t *rid,
         size_t rid_len, const fsy_msg_t *hello, const fsy_frame_from_t *from,
         const fsy_sync_env_t *env)
{
    const char *site = hello->origin.site;
    char first[FSY_INSTANCE_MAX + 80], second[FSY_INSTANCE_MAX + 80], since[32];
    s_name(live->instance, live->address, first, sizeof first);
    s_name(hello->instance, from->address, second, sizeof second);
    fsy_log_iso(live->since_ms, since, sizeof since);
    fsy_msg_t r = {.type = FSY_MSG_REFUSE, .retry_ms = FSY_CLAIM_RETRY_MS};
    /* Long names are cut at the end: the start says what to do. */
    if (snprintf(r.reason, sizeof r.reason,
                 "%s already runs on %s, connected since %s; this is %s. One "
                 "site, one machine: stop one, or give the copy a site id of "
                 "its own",
                 site, first, since, second) < 0)
        r.reason[0] = '\0';
    uint8_t *buf;
    size_t len;
    if (fsy_wire_encode_msg(&r, &buf, &len) == FSY_OK) {
        fsy_transport_send(&d->tr, rid, rid_len, buf, len);
        free(buf);
    }
    char note[sizeof live->peer.last_error];
    if (snprintf(note, sizeof note,
                 "two machines run as %s: this session is with %s; %s is "
                 "refused: stop one, or give the copy a site id of its own",
                 site, first, second) < 0)
        note[0] = '\0';
    fsy_peer_link_problem(&live->peer, note);
    live->claimed_ms = env->now_ms;
    static uint64_t seen;
    if (fsy_log_worth(++seen))
        fsy_log("error", "site-claimed",
                "site=%s live=\"%s\" refused=\"%s\" action=refused "
                "count=%" PRIu64,
                site, first, second, seen);
}

bool
fsy_claim_admit(fsy_daemon_t *d, const uint8_t *rid, size_t rid_len,
                const fsy_msg_t *hello, const fsy_frame_from_t *from,
                const fsy_sync_env_t *env, fsy_child_slot_t **gone)
{
    fsy_child_slot_t *other = s_other_run(d, rid, rid_len);
    *gone = NULL;
    if (other == NULL)
        return true;
    if (s_still_there(d, other, env)) {
        s_refuse(d, other, rid, rid_len, hello, from, env);
        return false;
    }
    fsy_log("info", "replaced",
            "peer=%s why=\"its connection is gone and another run of the "
            "site said hello\"",
            other->peer.name);
    *gone = other;
    return true;
}

void
fsy_claim_introduce(fsy_child_slot_t *c, const fsy_msg_t *hello,
                    const fsy_frame_from_t *from, const fsy_sync_env_t *env)
{
    snprintf(c->instance, sizeof c->instance, "%s", hello->instance);
    snprintf(c->address, sizeof c->address, "%s", from->address);
    if (c->since_ms == 0)
        c->since_ms = env->now_ms;
}

void
fsy_claim_tick(fsy_child_slot_t *c, const fsy_sync_env_t *env)
{
    if (c->claimed_ms == 0 ||
        env->now_ms - c->claimed_ms < 3 * (uint64_t)FSY_CLAIM_RETRY_MS)
        return;
    c->claimed_ms = 0;
    fsy_peer_link_ok(&c->peer);
}
