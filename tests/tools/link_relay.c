/*
 * link_relay — the reliability scenarios' link emulator, for a kernel
 * without netem: a TCP relay that holds each direction of every connection
 * for a one-way delay (plus jitter, never reordering). Rate and loss come
 * from the kernel on the namespaces' veth links (tc tbf, nft numgen), cuts
 * from nft; tests/integration/lib_netns.sh puts them together and
 * link_profile.sh measures that they give what the profiles claim.
 *
 *   link_relay relay LISTEN_PORT TARGET_IP:PORT DELAY_MS [JITTER_MS]
 *       listens on 127.0.0.1:LISTEN_PORT of the namespace it runs in
 *   link_relay echo PORT
 *       echoes every byte back (0.0.0.0:PORT)
 *   link_relay probe IP:PORT PINGS BULK_BYTES
 *       prints "rtt_ms_median=N rtt_ms_p90=N bulk_bytes=N bulk_ms=N
 *       kbit_s=N": round trips of one byte, then BULK_BYTES echoed back
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 64
#define CHUNK 16384
#define QUEUE_MAX (64u << 10) /* per direction: then stop reading */
#define CONNECT_MS 5000       /* a target that does not answer: give up */

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static int
parse_addr(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int
listen_on(uint32_t addr, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(addr)};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 16))
        die("listen");
    return fd;
}

static void
nonblock(int fd)
{
    int one = 1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- relay ------------------------------------------------------------ */

typedef struct chunk {
    struct chunk *next;
    uint64_t release;
    size_t len, off;
    char data[];
} chunk_t;

typedef struct dir {
    chunk_t *head, *tail;
    size_t queued;
    uint64_t last_release;
    bool eof;  /* its source sent FIN */
    bool shut; /* FIN passed on */
} dir_t;

typedef struct pair {
    bool used, connecting;
    uint64_t connect_by; /* while connecting: the deadline */
    int fd[2];           /* 0: the client we accepted, 1: the target */
    dir_t d[2];          /* d[i]: read from fd[i], written to fd[1 - i] */
} pair_t;

static pair_t pairs[MAX_PAIRS];
static int accepted; /* connections so far, for the log */
static unsigned delay_ms, jitter_ms;

static void
pair_close(pair_t *p)
{
    for (int i = 0; i < 2; i++) {
        close(p->fd[i]);
        for (chunk_t *c = p->d[i].head, *n; c; c = n) {
            n = c->next;
            free(c);
        }
    }
    memset(p, 0, sizeof *p);
}

static void
pair_open(int lfd, const struct sockaddr_in *target)
{
    int c = accept(lfd, NULL, NULL);
    if (c < 0)
        return;
    pair_t *p = NULL;
    for (int i = 0; i < MAX_PAIRS && p == NULL; i++)
        if (!pairs[i].used)
            p = &pairs[i];
    int t = p ? socket(AF_INET, SOCK_STREAM, 0) : -1;
    if (t < 0) {
        close(c);
        return;
    }
    nonblock(c);
    nonblock(t);
    if (connect(t, (const struct sockaddr *)target, sizeof *target) != 0 &&
        errno != EINPROGRESS) {
        close(c);
        close(t);
        return;
    }
    fprintf(stderr, "link_relay: connection %d accepted\n", ++accepted);
    memset(p, 0, sizeof *p);
    p->used = p->connecting = true;
    p->connect_by = now_ms() + CONNECT_MS;
    p->fd[0] = c;
    p->fd[1] = t;
}

/* Reads what fd i has into its direction's queue; false: close the pair. */
static bool
pair_read(pair_t *p, int i)
{
    dir_t *d = &p->d[i];
    chunk_t *c = malloc(sizeof *c + CHUNK);
    if (c == NULL)
        return false;
    ssize_t n = read(p->fd[i], c->data, CHUNK);
    if (n <= 0) {
        free(c);
        if (n == 0) {
            d->eof = true;
            return true;
        }
        return errno == EAGAIN || errno == EINTR;
    }
    uint64_t r = now_ms() + delay_ms +
                 (jitter_ms ? (uint64_t)(rand() % (int)(jitter_ms + 1)) : 0);
    c->release = r > d->last_release ? r : d->last_release; /* in order */
    d->last_release = c->release;
    c->len = (size_t)n;
    c->off = 0;
    c->next = NULL;
    if (d->tail)
        d->tail->next = c;
    else
        d->head = c;
    d->tail = c;
    d->queued += (size_t)n;
    return true;
}

/* Writes direction i's released chunks to fd 1-i; false: close the pair. */
static bool
pair_write(pair_t *p, int i)
{
    dir_t *d = &p->d[i];
    uint64_t now = now_ms();
    while (d->head && d->head->release <= now) {
        chunk_t *c = d->head;
        ssize_t n = write(p->fd[1 - i], c->data + c->off, c->len - c->off);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        c->off += (size_t)n;
        d->queued -= (size_t)n;
        if (c->off < c->len)
            return true;
        d->head = c->next;
        if (d->head == NULL)
            d->tail = NULL;
        free(c);
    }
    if (d->head == NULL && d->eof && !d->shut) {
        shutdown(p->fd[1 - i], SHUT_WR);
        d->shut = true;
    }
    return true;
}

/* Direction i has a chunk due (or one partly written): wake for its
 * destination being writable. Not before: the loop would spin. */
static bool
due(const dir_t *d, uint64_t now)
{
    return d->head && (d->head->release <= now || d->head->off > 0);
}

static int
relay_timeout(void)
{
    uint64_t now = now_ms(), next = now + 1000;
    for (int k = 0; k < MAX_PAIRS; k++)
        for (int i = 0; pairs[k].used && i < 2; i++)
            if (pairs[k].d[i].head && pairs[k].d[i].head->release < next)
                next = pairs[k].d[i].head->release;
    return next <= now ? 0 : (int)(next - now);
}

static void
relay_turn(pair_t *p, const struct pollfd *fds)
{
    if (p->connecting) {
        if (now_ms() > p->connect_by ||
            (fds[0].revents & (POLLHUP | POLLERR))) {
            pair_close(p); /* the link is cut, or the client gave up */
            return;
        }
        if (!(fds[1].revents & (POLLOUT | POLLERR | POLLHUP)))
            return;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(p->fd[1], SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            pair_close(p);
            return;
        }
        p->connecting = false;
    }
    bool ok = true;
    for (int i = 0; ok && i < 2; i++)
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
            ok = pair_read(p, i);
    for (int i = 0; ok && i < 2; i++)
        ok = pair_write(p, i);
    if (!ok || (p->d[0].shut && p->d[1].shut))
        pair_close(p);
}

static int
relay(int port, const char *target_s, unsigned delay, unsigned jitter)
{
    struct sockaddr_in target;
    if (parse_addr(target_s, &target) != 0)
        return fprintf(stderr, "link_relay: bad target %s\n", target_s), 2;
    delay_ms = delay;
    jitter_ms = jitter;
    int lfd = listen_on(INADDR_LOOPBACK, port);
    nonblock(lfd);
    for (;;) {
        struct pollfd fds[1 + 2 * MAX_PAIRS];
        uint64_t now = now_ms();
        fds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (int k = 0; k < MAX_PAIRS; k++) {
            pair_t *p = &pairs[k];
            for (int i = 0; i < 2; i++) {
                struct pollfd *f = &fds[1 + 2 * k + i];
                *f = (struct pollfd){.fd = p->used ? p->fd[i] : -1};
                if (!p->used)
                    continue;
                /* no reading while connecting: nothing to pass it to */
                if (!p->connecting && !p->d[i].eof &&
                    p->d[i].queued < QUEUE_MAX)
                    f->events |= POLLIN;
                if ((!p->connecting && due(&p->d[1 - i], now)) ||
                    (i == 1 && p->connecting))
                    f->events |= POLLOUT;
            }
        }
        if (poll(fds, 1 + 2 * MAX_PAIRS, relay_timeout()) < 0 && errno != EINTR)
            die("poll");
        if (fds[0].revents & POLLIN)
            pair_open(lfd, &target);
        for (int k = 0; k < MAX_PAIRS; k++)
            if (pairs[k].used)
                relay_turn(&pairs[k], &fds[1 + 2 * k]);
    }
}

/* ---- echo and probe ---------------------------------------------------- */

static int
echo(int port)
{
    int lfd = listen_on(INADDR_ANY, port);
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0) {
            char buf[CHUNK];
            ssize_t n;
            while ((n = read(c, buf, sizeof buf)) > 0)
                for (ssize_t off = 0, w; off < n; off += w)
                    if ((w = write(c, buf + off, (size_t)(n - off))) <= 0)
                        _exit(0);
            _exit(0);
        }
        close(c);
    }
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void
read_exactly(int fd, size_t want)
{
    char buf[CHUNK];
    while (want > 0) {
        ssize_t n = read(fd, buf, want < sizeof buf ? want : sizeof buf);
        if (n <= 0)
            die("probe read");
        want -= (size_t)n;
    }
}

static int
probe(const char *addr, int pings, size_t bulk)
{
    struct sockaddr_in sa;
    if (parse_addr(addr, &sa) != 0 || pings < 1 || pings > 1000)
        return fprintf(stderr, "link_relay: bad probe arguments\n"), 2;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("probe connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint64_t rtt[1000];
    for (int i = 0; i < pings; i++) {
        uint64_t t0 = now_ms();
        if (write(fd, "x", 1) != 1)
            die("probe write");
        read_exactly(fd, 1);
        rtt[i] = now_ms() - t0;
    }
    qsort(rtt, (size_t)pings, sizeof rtt[0], cmp_u64);
    uint64_t t0 = now_ms();
    if (fork() == 0) { /* the writer: the parent reads the echo meanwhile */
        static char buf[CHUNK];
        memset(buf, 'y', sizeof buf);
        for (size_t left = bulk; left > 0;) {
            ssize_t w = write(fd, buf, left < sizeof buf ? left : sizeof buf);
            if (w <= 0)
                _exit(1);
            left -= (size_t)w;
        }
        _exit(0);
    }
    read_exactly(fd, bulk);
    uint64_t ms = now_ms() - t0;
    uint64_t net = ms > rtt[pings / 2] ? ms - rtt[pings / 2] : 1;
    printf("rtt_ms_median=%llu rtt_ms_p90=%llu bulk_bytes=%zu bulk_ms=%llu "
           "kbit_s=%llu\n",
           (unsigned long long)rtt[pings / 2],
           (unsigned long long)rtt[pings * 9 / 10], bulk,
           (unsigned long long)ms,
           (unsigned long long)(bulk * 8 / (net ? net : 1)));
    return 0;
}

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN);
    if (argc >= 5 && strcmp(argv[1], "relay") == 0)
        return relay(atoi(argv[2]), argv[3], (unsigned)atoi(argv[4]),
                     argc > 5 ? (unsigned)atoi(argv[5]) : 0);
    if (argc == 3 && strcmp(argv[1], "echo") == 0)
        return echo(atoi(argv[2]));
    if (argc == 5 && strcmp(argv[1], "probe") == 0)
        return probe(argv[2], atoi(argv[3]), (size_t)atoll(argv[4]));
    fprintf(stderr, "usage: link_relay relay LISTEN_PORT TARGET_IP:PORT "
                    "DELAY_MS [JITTER_MS]\n"
                    "       link_relay echo PORT\n"
                    "       link_relay probe IP:PORT PINGS BULK_BYTES\n");
    return 2;
}
