/* fieldsync — ZeroMQ sockets for fieldsyncd. See transport.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"
#include "fieldsync/wallclock.h"
#include "transport.h"

static int
s_zerr(const char *what)
{
    return fsy_err_set(FSY_EIO, "%s: %s", what, zmq_strerror(zmq_errno()));
}

static int
s_common_opts(void *sock, const fsy_transport_opts_t *o)
{
    int64_t max = (int64_t)o->max_message_bytes + 4096; /* frame overhead */
    int linger = 1000; /* at stop, give queued frames a second */
    /* Both ends ping: a large frame crossing a thin link one way never
     * hides the other way's pings, and any traffic counts as an answer. */
    int ivl = (int)o->heartbeat_ms, timeout = (int)o->timeout_ms;
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout) !=
            0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TTL, &timeout, sizeof timeout) != 0)
        return s_zerr("socket options");
    return FSY_OK;
}

/* The ZAP handler must be bound before any CURVE connection arrives: with
 * none, libzmq would admit every client key. */
static int
s_open_zap(fsy_transport_t *t)
{
    t->zap = zmq_socket(t->ctx, ZMQ_REP);
    if (t->zap == NULL || zmq_bind(t->zap, "inproc://zeromq.zap.01") != 0)
        return s_zerr("authentication handler");
    return FSY_OK;
}

static int
s_open_router(fsy_transport_t *t, const fsy_transport_opts_t *o)
{
    const char *listen = o->listen;
    int one = 1;
    if (o->curve && s_open_zap(t) != FSY_OK)
        return FSY_EIO;
    t->router = zmq_socket(t->ctx, ZMQ_ROUTER);
    if (t->router == NULL || s_common_opts(t->router, o) != FSY_OK ||
        zmq_setsockopt(t->router, ZMQ_ROUTER_HANDOVER, &one, sizeof one))
        return s_zerr("listening socket");
    if (o->curve &&
        (zmq_setsockopt(t->router, ZMQ_CURVE_SERVER, &one, sizeof one) ||
         zmq_setsockopt(t->router, ZMQ_CURVE_SECRETKEY, o->curve_sk, 32) ||
         zmq_setsockopt(t->router, ZMQ_ZAP_DOMAIN, "fieldsync", 9)))
        return s_zerr("CURVE on the listening socket");
    if (zmq_bind(t->router, listen) != 0)
        return fsy_err_set(FSY_EIO, "cannot listen on %s: %s", listen,
                           zmq_strerror(zmq_errno()));
    return FSY_OK;
}

/* Handshake events of the parent connection, so a refused key is said
 * in words rather than seen as silence. */
#define S_MONITOR "inproc://fieldsync.parent-monitor"

static int
s_open_monitor(fsy_transport_t *t)
{
    int events = ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_CONNECT_DELAYED |
                 ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED;
    if (t->curve)
        events |= ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                  ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                  ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor(t->dealer, S_MONITOR, events) != 0 ||
        (t->mon = zmq_socket(t->ctx, ZMQ_PAIR)) == NULL ||
        zmq_connect(t->mon, S_MONITOR) != 0)
        return s_zerr("parent socket monitor");
    return FSY_OK;
}

static void
s_conn(fsy_transport_t *t, fsy_conn_state_t st)
{
    if (t->conn != st)
        t->conn_since_ms = fsy_mono_us() / 1000;
    t->conn = st;
}

static int
s_open_dealer(fsy_transport_t *t, const fsy_transport_opts_t *o)
{
    const char *parent = o->parent, *rid = o->routing_id;
    int one = 1, ivl = (int)o->reconnect_ms, ivl_max = (int)o->reconnect_max_ms;
    t->dealer = zmq_socket(t->ctx, ZMQ_DEALER);
    if (t->dealer == NULL || s_common_opts(t->dealer, o) != FSY_OK ||
        zmq_setsockopt(t->dealer, ZMQ_ROUTING_ID, rid, strlen(rid)) ||
        zmq_setsockopt(t->dealer, ZMQ_IMMEDIATE, &one, sizeof one) ||
        zmq_setsockopt(t->dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) ||
        zmq_setsockopt(t->dealer, ZMQ_RECONNECT_IVL_MAX, &ivl_max,
                       sizeof ivl_max))
        return s_zerr("parent socket");
    if (o->curve &&
        (zmq_setsockopt(t->dealer, ZMQ_CURVE_SERVERKEY, o->parent_curve_pk,
                        32) ||
         zmq_setsockopt(t->dealer, ZMQ_CURVE_PUBLICKEY, o->curve_pk, 32) ||
         zmq_setsockopt(t->dealer, ZMQ_CURVE_SECRETKEY, o->curve_sk, 32)))
        return s_zerr("CURVE on the parent socket");
    /* the monitor first: events of the first connection are not lost */
    int rc = s_open_monitor(t);
    if (rc != FSY_OK)
        return rc;
    if (zmq_connect(t->dealer, parent) != 0)
        return fsy_err_set(FSY_EIO, "cannot connect to %s: %s", parent,
                           zmq_strerror(zmq_errno()));
    s_conn(t, FSY_CONN_CONNECTING);
    return FSY_OK;
}

fsy_conn_state_t
fsy_transport_parent_state(const fsy_transport_t *t, uint64_t *for_ms)
{
    *for_ms = t->conn == FSY_CONN_UNKNOWN
                  ? 0
                  : fsy_mono_us() / 1000 - t->conn_since_ms;
    return t->conn;
}

int
fsy_transport_open(fsy_transport_t *t, const fsy_transport_opts_t *o)
{
    memset(t, 0, sizeof *t);
    t->ctx = zmq_ctx_new();
    if (t->ctx == NULL)
        return s_zerr("ZeroMQ context");
    int rc = FSY_OK;
    t->curve = o->curve != 0;
    if (o->listen[0] != '\0')
        rc = s_open_router(t, o);
    if (rc == FSY_OK && o->parent[0] != '\0')
        rc = s_open_dealer(t, o);

    if (rc != FSY_OK)
        fsy_transport_close(t);
    return rc;
}

void
fsy_transport_close(fsy_transport_t *t)
{
    if (t->router != NULL)
        zmq_close(t->router);
    if (t->dealer != NULL)
        zmq_close(t->dealer);
    if (t->zap != NULL)
        zmq_close(t->zap);
    if (t->mon != NULL)
        zmq_close(t->mon);
    if (t->ctx != NULL)
        zmq_ctx_term(t->ctx);
    memset(t, 0, sizeof *t);
}

int
fsy_transport_send(fsy_transport_t *t, const uint8_t *rid, size_t rid_len,
                   const uint8_t *buf, size_t len)
{
    void *sock = rid ? t->router : t->dealer;
    if (sock == NULL)
        return fsy_err_set(FSY_EINTERNAL, "no socket for that peer");
    if (rid && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return s_zerr("send");
    if (zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0)
        return s_zerr("send");
    return FSY_OK;
}

void
fsy_transport_routing_id(const char *site, char out[FSY_RID_MAX + 1])
{
    uint8_t nonce[8];
    randombytes_buf(nonce, sizeof nonce);
    int n = snprintf(out, FSY_RID_MAX + 1, "%.*s/", FSY_RID_MAX - 17, site);
    for (size_t i = 0; i < sizeof nonce; i++)
        snprintf(out + n + 2 * i, 3, "%02x", nonce[i]);
}

size_t
fsy_transport_rid_site_len(const uint8_t *rid, size_t rid_len)
{
    const uint8_t *slash = memchr(rid, '/', rid_len);
    return slash ? (size_t)(slash - rid) : rid_len;
}

int
fsy_transport_send_if_there(fsy_transport_t *t, const uint8_t *rid,
                            size_t rid_len, const uint8_t *buf, size_t len)
{
    int on = 1, off = 0, rc = FSY_OK;
    /* Unroutable frames fail rather than vanish, for this send only. */
    if (t->router == NULL ||
        zmq_setsockopt(t->router, ZMQ_ROUTER_MANDATORY, &on, sizeof on) != 0)
        return s_zerr("send");
    if (zmq_send(t->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        rc = zmq_errno() == EHOSTUNREACH ? FSY_ENOTFOUND
             : zmq_errno() == EAGAIN     ? FSY_OK
                                         : s_zerr("send");
    else if (zmq_send(t->router, buf, len, ZMQ_DONTWAIT) < 0)
        rc = zmq_errno() == EAGAIN ? FSY_OK : s_zerr("send");
    zmq_setsockopt(t->router, ZMQ_ROUTER_MANDATORY, &off, sizeof off);
    return rc;
}

/* Reads one message part into a fresh buffer (and who sent it, if any). */
static int
s_recv_part_from(void *sock, uint8_t **buf, size_t *len, int *more,
                 fsy_frame_from_t *from)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return zmq_errno() == EAGAIN ? FSY_ENOTFOUND : s_zerr("receive");
    }
    *len = zmq_msg_size(&msg);
    *more = zmq_msg_more(&msg);
    if (from != NULL) {
        const char *u = zmq_msg_gets(&msg, "User-Id");
        const char *a = zmq_msg_gets(&msg, "Peer-Address");
        snprintf(from->user, sizeof from->user, "%s", u ? u : "");
        snprintf(from->address, sizeof from->address, "%s", a ? a : "");
    }
    *buf = malloc(*len ? *len : 1);
    if (*buf != NULL && *len > 0)
        memcpy(*buf, zmq_msg_data(&msg), *len);
    zmq_msg_close(&msg);
    return *buf ? FSY_OK : fsy_err_set(FSY_ENOMEM, "out of memory");
}

static int
s_recv_part(void *sock, uint8_t **buf, size_t *len, int *more)
{
    return s_recv_part_from(sock, buf, len, more, NULL);
}

/* Drops the rest of a multipart message nobody understands. */
static void
s_drain(void *sock, int more)
{
    while (more) {
        uint8_t *b;
        size_t l;
        if (s_recv_part(sock, &b, &l, &more) != FSY_OK)
            return;
        free(b);
    }
}

int
fsy_transport_parent_event(fsy_transport_t *t, fsy_link_event_t *ev)
{
    for (;;) {
        uint8_t *b = NULL, *endpoint = NULL;
        size_t l = 0, el = 0;
        int more = 0;
        if (t->mon == NULL || s_recv_part(t->mon, &b, &l, &more) != FSY_OK)
            return 0;
        if (more) /* the second frame names the endpoint */
            s_recv_part(t->mon, &endpoint, &el, &more);
        free(endpoint);
        uint16_t what = 0;
        uint32_t value = 0;
        if (l >= 6) {
            memcpy(&what, b, 2);
            memcpy(&value, b + 2, 4);
        }
        free(b);
        if (what == ZMQ_EVENT_CONNECT_RETRIED || what == ZMQ_EVENT_DISCONNECTED)
            s_conn(t, FSY_CONN_WAITING);
        else if (what == ZMQ_EVENT_CONNECT_DELAYED)
            s_conn(t, FSY_CONN_CONNECTING);
        else if (what == ZMQ_EVENT_CONNECTED)
            s_conn(t, FSY_CONN_CONNECTED);
        if (!t->curve)
            continue; /* handshake events are CURVE's only */
        if (what == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            *ev = FSY_LINK_OK;
        else if (what == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            *ev = FSY_LINK_KEY_REFUSED;
        else if ((what == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
                  (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC ||
                   value == ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE)) ||
                 what == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            /* a parent that cannot read our HELLO box (we hold another
             * key for it) closes the connection: seen as no detail */
            *ev = FSY_LINK_KEY_MISMATCH;
        else
            continue; /* other protocol trouble: the session says it */
        return 1;
    }
}

bool
fsy_transport_waiting(fsy_transport_t *t, int from_parent)
{
    void *sock = from_parent ? t->dealer : t->router;
    int events = 0;
    size_t len = sizeof events;
    return sock != NULL &&
           zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) == 0 &&
           (events & ZMQ_POLLIN) != 0;
}

int
fsy_transport_recv(fsy_transport_t *t, int from_parent, uint8_t *rid,
                   size_t *rid_len, uint8_t **buf, size_t *len,
                   fsy_frame_from_t *from)
{
    from->user[0] = from->address[0] = '\0';
    void *sock = from_parent ? t->dealer : t->router;
    int more = 0, rc;
    *len = 0;
    *buf = NULL;
    if (sock == NULL)
        return FSY_OK;
    if (!from_parent) {
        uint8_t *id;
        size_t idl;
        rc = s_recv_part(sock, &id, &idl, &more);
        if (rc != FSY_OK)
            return rc == FSY_ENOTFOUND ? FSY_OK : rc;
        *rid_len = idl < FSY_RID_MAX ? idl : FSY_RID_MAX;
        memcpy(rid, id, *rid_len);
        free(id);
        if (!more)
            return FSY_OK; /* an empty message: ignore */
    }
    rc = s_recv_part_from(sock, buf, len, &more, from);
    if (rc == FSY_ENOTFOUND)
        return FSY_OK;
    s_drain(sock, more);
    return rc;
}

int
fsy_transport_reconnect(fsy_transport_t *t, const char *parent)
{
    if (t->dealer == NULL)
        return FSY_OK;
    /* a connection not made yet is "not found": connect anyway */
    if (zmq_disconnect(t->dealer, parent) != 0 && zmq_errno() != ENOENT)
        return s_zerr("parent socket (disconnect)");
    if (zmq_connect(t->dealer, parent) != 0)
        return fsy_err_set(FSY_EIO, "cannot connect to %s: %s", parent,
                           zmq_strerror(zmq_errno()));
    s_conn(t, FSY_CONN_CONNECTING);
    return FSY_OK;
}

int
fsy_transport_wait(fsy_transport_t *t, long timeout_ms, int fd)
{
    zmq_pollitem_t items[5];
    int n = 0;
    if (fd >= 0)
        items[n++] = (zmq_pollitem_t){NULL, fd, ZMQ_POLLIN, 0};
    if (t->mon)
        items[n++] = (zmq_pollitem_t){t->mon, 0, ZMQ_POLLIN, 0};
    if (t->zap)
        items[n++] = (zmq_pollitem_t){t->zap, 0, ZMQ_POLLIN, 0};
    if (t->router)
        items[n++] = (zmq_pollitem_t){t->router, 0, ZMQ_POLLIN, 0};
    if (t->dealer)
        items[n++] = (zmq_pollitem_t){t->dealer, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(items, n, timeout_ms) < 0 && zmq_errno() != EINTR)
        return s_zerr("poll");
    return FSY_OK;
}

/* ---- ZAP (RFC 27): admission of CURVE clients ------------------------ */

#define ZAP_FRAMES                                                             \
    7 /* version, id, domain, address, identity, mechanism,                    \
         and one credential for CURVE */

static void
s_zap_reply(void *sock, const uint8_t *id, size_t id_len, const char *code,
            const char *text, const char *user)
{
    zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(sock, id, id_len, ZMQ_SNDMORE);
    zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(sock, "", 0, 0);
}

/* Reads one request; frees the parts on return through `parts`. */
static int
s_zap_read(void *sock, uint8_t *part[ZAP_FRAMES], size_t len[ZAP_FRAMES])
{
    int more = 1, n = 0;
    memset(part, 0, ZAP_FRAMES * sizeof *part);
    while (more) {
        uint8_t *b;
        size_t l;
        if (s_recv_part(sock, &b, &l, &more) != FSY_OK)
            return n == 0 ? 0 : -1;
        if (n < ZAP_FRAMES) {
            part[n] = b;
            len[n] = l;
        } else {
            free(b);
        }
        n++;
    }
    return n;
}

void
fsy_transport_zap(fsy_transport_t *t, fsy_admit_fn admit, void *ctx)
{
    for (int k = 0; t->zap != NULL && k < 64; k++) {
        uint8_t *part[ZAP_FRAMES];
        size_t len[ZAP_FRAMES];
        int n = s_zap_read(t->zap, part, len);
        if (n == 0)
            return;
        char site[FSY_RID_MAX + 1] = "", address[64] = "";
        bool curve = n == ZAP_FRAMES && len[5] == 5 &&
                     memcmp(part[5], "CURVE", 5) == 0 && len[6] == 32;
        if (n >= 4)
            snprintf(address, sizeof address, "%.*s", (int)len[3],
                     (const char *)part[3]);
        fsy_text_clean(address); /* from the network */
        if (n >= 2 && curve && admit(ctx, part[6], address, site))
            s_zap_reply(t->zap, part[1], len[1], "200", "OK", site);
        else if (n >= 2)
            s_zap_reply(t->zap, part[1], len[1], "400", "unknown key", "");
        for (int i = 0; i < ZAP_FRAMES; i++)
            free(part[i]);
    }
}
