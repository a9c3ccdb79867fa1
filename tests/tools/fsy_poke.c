/*
 * fsy_poke — a hostile or broken peer for tests: connects to a fieldsyncd
 * endpoint as a child and sends frames it should survive.
 *
 *   fsy_poke ENDPOINT garbage        random bytes as a frame
 *   fsy_poke ENDPOINT truncated      a valid HELLO cut in half
 *   fsy_poke ENDPOINT oversize       a frame over the size limit
 *   fsy_poke ENDPOINT version        a HELLO speaking protocol 99
 *   fsy_poke ENDPOINT hello          a valid HELLO
 *   fsy_poke ENDPOINT KIND COUNT     the same frame COUNT times
 *
 * FSY_POKE_ID names the site it claims (routing id and HELLO; default
 * "poke"). With FSY_POKE_KEY (a site's .key) and FSY_POKE_SERVER (the
 * parent's public key, Z85) it connects with CURVE, as that site. Kind
 * "session-garbage" says HELLO first, so the garbage comes from a session, as
 * from an admitted child gone wrong, and HELLO again after it: frames a
 * peer has not read when the connection closes are lost, so the tool hangs
 * up only after the reply to the last HELLO (up to 10 s), which the peer
 * sends once it has read everything before it; prints "answered" (or
 * "unanswered" if no reply came).
 *
 * Prints the reply frame's type if one arrives within a second ("refuse:
 * REASON", or "none"). Test tool only: never installed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "fieldsync.pb-c.h"
#include "fieldsync/keys.h"
#include "wire.h"

static const char *
s_id(void)
{
    const char *id = getenv("FSY_POKE_ID");
    return id != NULL && id[0] != '\0' ? id : "poke";
}

static size_t
s_hello(uint8_t **out, unsigned protocol)
{
    fsy_msg_t m = {.type = FSY_MSG_HELLO};
    snprintf(m.origin.site, sizeof m.origin.site, "%s", s_id());
    m.origin.incarnation = 1;
    m.max_value = FSY_VALUE_MAX;
    m.max_txn_changes = FSY_TXN_MAX;
    size_t len;
    if (fsy_wire_encode_msg(&m, out, &len) != FSY_OK)
        exit(2);
    if (protocol != FSY_PROTOCOL_VERSION) { /* rewrite the version field */
        Fieldsync__Frame *f = fieldsync__frame__unpack(NULL, len, *out);
        f->protocol = protocol;
        len = fieldsync__frame__pack(f, *out);
        fieldsync__frame__free_unpacked(f, NULL);
    }
    return len;
}

static size_t
s_frame(const char *kind, uint8_t **out)
{
    if (strcmp(kind, "garbage") == 0 || strcmp(kind, "session-garbage") == 0) {
        *out = malloc(4096);
        for (int i = 0; i < 4096; i++)
            (*out)[i] = (uint8_t)(rand() & 0xff);
        return 4096;
    }
    if (strcmp(kind, "oversize") == 0) {
        size_t n = FSY_MSG_MAX + (1u << 20);
        *out = calloc(1, n);
        return n;
    }
    if (strcmp(kind, "truncated") == 0)
        return s_hello(out, FSY_PROTOCOL_VERSION) / 2;
    if (strcmp(kind, "version") == 0)
        return s_hello(out, 99);
    if (strcmp(kind, "hello") == 0)
        return s_hello(out, FSY_PROTOCOL_VERSION);
    fprintf(stderr, "fsy_poke: unknown kind %s\n", kind);
    exit(2);
}

static void
s_print_reply(void *sock)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 1000) <= 0) {
        printf("none\n");
        return;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    zmq_msg_recv(&msg, sock, 0);
    fsy_msg_t m;
    if (fsy_wire_decode_msg(zmq_msg_data(&msg), zmq_msg_size(&msg), &m) ==
            FSY_OK &&
        m.type == FSY_MSG_REFUSE)
        printf("refuse: %s\n", m.reason);
    else
        printf("other\n");
    fsy_msg_clear(&m);
    zmq_msg_close(&msg);
}

/* Reads frames for up to 10 s until one is a HELLO; heartbeats may come
 * first. */
static bool
s_await_hello(void *sock)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    for (int turns = 0; turns < 100; turns++) {
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        zmq_msg_recv(&msg, sock, 0);
        fsy_msg_t m;
        bool hello = fsy_wire_decode_msg(zmq_msg_data(&msg), zmq_msg_size(&msg),
                                         &m) == FSY_OK &&
                     m.type == FSY_MSG_HELLO;
        fsy_msg_clear(&m);
        zmq_msg_close(&msg);
        if (hello)
            return true;
    }
    return false;
}

/* Says HELLO again after the garbage, once the first is answered and half
 * a second later (a daemon takes one HELLO a heartbeat from a live peer),
 * and waits for the answer: every frame before it was read. */
static void
s_hello_after(void *sock)
{
    bool answered = s_await_hello(sock);
    struct timespec half = {0, 500 * 1000 * 1000};
    nanosleep(&half, NULL);
    uint8_t *buf;
    size_t n = s_hello(&buf, FSY_PROTOCOL_VERSION);
    zmq_send(sock, buf, n, 0);
    free(buf);
    answered = answered && s_await_hello(sock);
    printf(answered ? "answered\n" : "unanswered\n");
}

int
main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: fsy_poke ENDPOINT garbage|truncated|"
                        "oversize|version|hello|session-garbage [COUNT]\n");
        return 2;
    }
    int count = argc == 4 ? atoi(argv[3]) : 1;
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 2000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    /* A send never blocks for good: to a CURVE server a plaintext client's
     * connection is torn down and made again, and between the two a
     * DEALER has no pipe to queue on. */
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_ROUTING_ID, s_id(), strlen(s_id()));
    const char *key = getenv("FSY_POKE_KEY"),
               *server = getenv("FSY_POKE_SERVER");
    if (key != NULL && server != NULL) {
        fsy_identity_t id;
        uint8_t server_pk[32];
        if (fsy_identity_load(key, &id) != FSY_OK ||
            fsy_public_key_parse(server, NULL, server_pk) != FSY_OK)
            return fprintf(stderr, "fsy_poke: bad FSY_POKE_KEY or _SERVER\n"),
                   2;
        zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_pk, 32);
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, id.curve_pk, 32);
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, id.curve_sk, 32);
        fsy_identity_wipe(&id);
    }
    if (zmq_connect(sock, argv[1]) != 0)
        return fprintf(stderr, "fsy_poke: %s\n", zmq_strerror(zmq_errno())), 1;
    uint8_t *buf;
    if (strcmp(argv[2], "session-garbage") == 0) {
        size_t n = s_hello(&buf, FSY_PROTOCOL_VERSION);
        zmq_send(sock, buf, n, 0);
        free(buf);
    }
    size_t len = s_frame(argv[2], &buf);
    for (int i = 0; i < count; i++)
        zmq_send(sock, buf, len, 0);
    free(buf);
    if (strcmp(argv[2], "session-garbage") == 0)
        s_hello_after(sock);
    else
        s_print_reply(sock);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}
