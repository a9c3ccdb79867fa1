/*
 * fieldsync — ZeroMQ sockets for fieldsyncd. Knows nothing of documents.
 *
 * A site that accepts children binds a ROUTER; a site with a parent
 * connects a DEALER whose routing id is its site id, a '/' and a nonce
 * drawn at each start ("gao/3f9c0b1e2d4a5c6e"): a link that comes back
 * takes over its run's id at once (ROUTER_HANDOVER), while a second
 * machine running as the same site gets an id of its own, so it cannot
 * steal the first one's connection and the parent can refuse it. With CURVE
 * (the default) the ROUTER is a CURVE server and a ZAP handler admits only
 * configured child keys, naming each connection's site in the frames' User-Id;
 * `user` returns it with every frame from a child. Frames are bounded by
 * FSY_MSG_MAX at the socket (ZMQ_MAXMSGSIZE): a peer sending more is
 * disconnected by ZeroMQ itself.
 *
 * errno and ZeroMQ errors are translated here (FSY_EIO with a detail).
 */
#ifndef FSY_TRANSPORT_H
#define FSY_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FSY_RID_MAX 255

/* Where the connection to the parent stands, as ZeroMQ's monitor last
 * said (FSY_CONN_UNKNOWN without a parent). */
typedef enum fsy_conn_state {
    FSY_CONN_UNKNOWN = 0,
    FSY_CONN_WAITING,    /* waiting out the reconnect back-off */
    FSY_CONN_CONNECTING, /* a TCP connection on its way */
    FSY_CONN_CONNECTED,  /* TCP up: the handshake, then the session */
} fsy_conn_state_t;

typedef struct fsy_transport {
    void *ctx;
    void *router;           /* NULL without [listen] */
    void *dealer;           /* NULL without [parent] */
    void *zap;              /* ZAP handler socket, with CURVE and [listen] */
    void *mon;              /* events of the parent connection */
    bool curve;             /* handshake events are CURVE's */
    fsy_conn_state_t conn;  /* the parent connection, from the events */
    uint64_t conn_since_ms; /* ... since (monotonic ms) */
} fsy_transport_t;

/* What became of a handshake with the parent (ZMQ socket monitor). */
typedef enum fsy_link_event {
    FSY_LINK_OK = 0,       /* handshake done (keys accepted) */
    FSY_LINK_KEY_REFUSED,  /* the parent refused our key (ZAP 400) */
    FSY_LINK_KEY_MISMATCH, /* the handshake broke off: most often the
                              parent is not who [parent] says */
} fsy_link_event_t;

/* One handshake event of the parent connection: 1 (*ev set) or 0 when
 * none is waiting. Never blocks. Connection events read on the way
 * update t->conn. */
int fsy_transport_parent_event(fsy_transport_t *t, fsy_link_event_t *ev);

/* What the sockets need from the configuration. */
typedef struct fsy_transport_opts {
    const char *listen;     /* "" for none */
    const char *parent;     /* "" for none */
    const char *routing_id; /* the DEALER's: fsy_transport_routing_id() */
    unsigned reconnect_ms, reconnect_max_ms;
    /* ZMTP heartbeats: a connection silent for timeout_ms is dropped and
     * made again, rather than left to TCP's own patience (~15 minutes) */
    unsigned heartbeat_ms, timeout_ms;
    size_t max_message_bytes;
    /* CURVE (off only with insecure = true): this site's derived key pair,
     * and the parent's public key. */
    int curve;
    const uint8_t *curve_pk, *curve_sk, *parent_curve_pk;
} fsy_transport_opts_t;

/*
 * Admission of a connecting child (ZAP): given its CURVE public key (and
 * the address it connects from, for messages), write the user id its
 * frames will carry (the site it is admitted as, and what the caller
 * needs to know of the key) and return 1, or return 0 to refuse.
 */
typedef int (*fsy_admit_fn)(void *ctx, const uint8_t key[32],
                            const char *address, char site[FSY_RID_MAX + 1]);

/* Answers pending ZAP requests (call every turn). */
void fsy_transport_zap(fsy_transport_t *t, fsy_admit_fn admit, void *ctx);

int fsy_transport_open(fsy_transport_t *t, const fsy_transport_opts_t *o);
void fsy_transport_close(fsy_transport_t *t);

/* Sends one frame, without blocking (a full queue drops it: the session's
 * acknowledgements and timeouts recover). rid NULL: to the parent. */
int fsy_transport_send(fsy_transport_t *t, const uint8_t *rid, size_t rid_len,
                       const uint8_t *buf, size_t len);

/* Writes a routing id for site: the site, '/', 16 random hex digits. */
void fsy_transport_routing_id(const char *site, char out[FSY_RID_MAX + 1]);

/* The length of the site id that begins routing id rid (up to its '/'). */
size_t fsy_transport_rid_site_len(const uint8_t *rid, size_t rid_len);

/* Who sent a frame: the site its key was admitted as ("" without CURVE)
 * and the address it connects from ("" if unknown), both from ZeroMQ. */
typedef struct fsy_frame_from {
    char user[FSY_RID_MAX + 1];
    char address[64];
} fsy_frame_from_t;

/* Whether another frame is already waiting on the parent's socket
 * (from_parent) or the children's: the commit of what came before it need
 * not wait for the disk (store_durable.c). False on any doubt. */
bool fsy_transport_waiting(fsy_transport_t *t, int from_parent);

/*
 * Receives one frame if any is waiting: *len = 0 when none. From the
 * ROUTER (from_parent false) rid receives the sender's routing id. The
 * caller frees *buf.
 */
int fsy_transport_recv(fsy_transport_t *t, int from_parent, uint8_t *rid,
                       size_t *rid_len, uint8_t **buf, size_t *len,
                       fsy_frame_from_t *from);

/* Sends one frame to child rid only if its connection is still open:
 * FSY_OK (sent, or its queue is full: it is there), FSY_ENOTFOUND when
 * no connection has that routing id any more, else FSY_EIO. */
int fsy_transport_send_if_there(fsy_transport_t *t, const uint8_t *rid,
                                size_t rid_len, const uint8_t *buf, size_t len);

/* The parent connection's state and how long it has been so (ms). */
fsy_conn_state_t fsy_transport_parent_state(const fsy_transport_t *t,
                                            uint64_t *for_ms);

/* Drops the connection to the parent (endpoint `parent`, as opened) and
 * connects again at once, whatever ZeroMQ's reconnect back-off had
 * reached. FSY_OK, or FSY_EIO with a detail. */
int fsy_transport_reconnect(fsy_transport_t *t, const char *parent);

/* Waits up to timeout_ms for something to read on the sockets or on fd
 * (-1: none); FSY_OK also on EINTR. */
int fsy_transport_wait(fsy_transport_t *t, long timeout_ms, int fd);

#endif
