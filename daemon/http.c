/*
 * fieldsync — the daemon's HTTP endpoints. See http.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "metrics.h"
#include "status_page.h"
#include "fieldsync/status_view.h"
#include "fieldsync/store.h"
#include "fieldsync/wallclock.h"
#include "api.h"
#include "http.h"
#include "log.h"
#include "wire_zstream.h"

/* The sync loop turns every 50 ms; one batch may hold it for seconds. */
#define S_LOOP_STALL_MS 30000
#define S_PAGE_REFRESH_S 10

/* A probe is a durable write competing with the sync loop for the
 * replica's lock: one every few seconds, however often /healthz is asked. */
#define S_PROBE_CACHE_MS 2000

struct fsy_http {
    struct MHD_Daemon *mhd;
    fsy_api_t *api;    /* /api/...: documents, read-only (api.c) */
    fsy_http_opts_t o; /* o.cfg is &cfg below */
    /* a copy of the daemon's configuration: a reload replaces it under
     * the write lock, each request holds the read lock */
    fsy_config_t cfg;
    pthread_rwlock_t cfg_lock;
    /* only the server's one thread touches these */
    uint64_t probed_ms;
    char probe_why[512]; /* "" when the last probe was healthy */
};

static uint64_t
s_file_size(const char *path, const char *suffix)
{
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof p, "%s%s", path, suffix);
    return stat(p, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* The view of every site, or a 503 reply saying why there is none. */
static int
s_view(const fsy_http_t *h, fsy_reply_t *r, fsy_status_view_t *v)
{
    fsy_store_t *s = NULL;
    int rc = fsy_store_open(&s, h->o.cfg->db);
    if (rc == FSY_OK)
        rc = fsy_status_view_load(s, h->o.cfg, true, fsy_wall_ms(), v);
    fsy_store_close(&s);
    if (rc != FSY_OK)
        fsy_reply_text(r, 503, "cannot read the replica: %s\n",
                       fsy_errdetail());
    return rc;
}

static uint64_t
s_sync_failures(const fsy_http_t *h)
{
    return h->o.disk_sync_failed ? atomic_load(h->o.disk_sync_failed) : 0;
}

static void
s_status(const fsy_http_t *h, fsy_reply_t *r, int what)
{
    fsy_status_view_t v;
    if (s_view(h, r, &v) != FSY_OK)
        return;
    if (what == 'j') {
        r->type = "application/json";
        r->body = fsy_status_view_json(&v);
    } else if (what == 'm') {
        uint64_t now = fsy_wall_ms();
        fsy_process_info_t p = {
            .uptime_s = (now - h->o.started_ms) / 1000,
            .replica_bytes = s_file_size(h->o.cfg->db, "") +
                             s_file_size(h->o.cfg->db, "-wal"),
            .stream_bytes = {fsy_zstream_held(0), fsy_zstream_held(1)},
            .turn_max_us = atomic_load(h->o.turn_max_us),
            .disk_sync_failed = s_sync_failures(h)};
        r->type = "text/plain; version=0.0.4; charset=utf-8";
        r->body = fsy_metrics_render(&v, &p);
    } else {
        r->type = "text/html; charset=utf-8";
        r->body = fsy_status_page_render(&v, S_PAGE_REFRESH_S);
    }
    r->status = 200;
    fsy_status_view_free(&v);
}

/* Free space where the replica lives, below [http] min_free_bytes? */
static bool
s_room(const char *db, size_t min_free, char *why, size_t len)
{
    char dir[4096];
    struct statvfs st;
    snprintf(dir, sizeof dir, "%s", db);
    if (statvfs(dirname(dir), &st) != 0) {
        char e[128] = "";
        snprintf(why, len, "cannot check free space: %s",
                 strerror_r(errno, e, sizeof e) == 0 ? e : "error");
        return false;
    }
    uint64_t avail = (uint64_t)st.f_bavail * st.f_frsize;
    if (avail >= min_free)
        return true;
    snprintf(why, len,
             "disk nearly full: %" PRIu64 " bytes free, [http] "
             "min_free_bytes is %zu",
             avail, min_free);
    return false;
}

/* "" when healthy, else why not. */
static void
s_health_check(fsy_http_t *h, char *why, size_t len)
{
    uint64_t loop = atomic_load(h->o.loop_ms), now = fsy_wall_ms();
    why[0] = '\0';
    if (fsy_since_ms(loop, now) > S_LOOP_STALL_MS) {
        snprintf(why, len, "the sync loop has not turned for %" PRIu64 " s",
                 fsy_since_ms(loop, now) / 1000);
        return;
    }
    if (!s_room(h->o.cfg->db, h->o.cfg->min_free_bytes, why, len))
        return;
    /* a failed fsync may have dropped pages the kernel then calls clean:
     * what the replica holds is in doubt until someone looks */
    uint64_t failed = s_sync_failures(h);
    if (failed > 0) {
        snprintf(why, len,
                 "a disk sync of the replica's write-ahead log failed (%" PRIu64
                 " times since the start): the disk may be failing; check it "
                 "(the kernel log, the daemon's event=sync lines), then "
                 "restart fieldsyncd",
                 failed);
        return;
    }
    if (h->probed_ms == 0 ||
        fsy_since_ms(h->probed_ms, now) >= S_PROBE_CACHE_MS) {
        fsy_store_t *s = NULL;
        int rc = fsy_store_open(&s, h->o.cfg->db);
        if (rc == FSY_OK)
            rc = fsy_store_probe_write(s);
        h->probe_why[0] = '\0';
        if (rc != FSY_OK)
            snprintf(h->probe_why, sizeof h->probe_why,
                     "replica not writable: %s", fsy_errdetail());
        fsy_store_close(&s);
        h->probed_ms = now;
    }
    snprintf(why, len, "%s", h->probe_why);
}

static void
s_healthz(fsy_http_t *h, fsy_reply_t *r)
{
    char why[512];
    s_health_check(h, why, sizeof why);
    if (why[0] != '\0')
        fsy_reply_text(r, 503, "unhealthy: %s\n", why);
    else
        fsy_reply_text(r, 200, "ok%s\n", "");
}

/* Answers, or returns false when the request waits (suspended). */
static bool
s_route(fsy_http_t *h, struct MHD_Connection *c, const char *url,
        fsy_api_req_t *req, fsy_reply_t *r)
{
    if (fsy_api_serves(url))
        return fsy_api_handle(h->api, c, url, req, r);
    if (strcmp(url, "/") == 0)
        s_status(h, r, 'h');
    else if (strcmp(url, "/status") == 0)
        s_status(h, r, 'j');
    else if (strcmp(url, "/metrics") == 0)
        s_status(h, r, 'm');
    else if (strcmp(url, "/healthz") == 0)
        s_healthz(h, r);
    else
        fsy_reply_text(r, 404,
                       "not found: try /, /status, /metrics, /healthz, "
                       "/api/changes or /api/docs%s\n",
                       "");
    return true;
}

/* Queues r on c; r's strings are handed over (freed here). */
static enum MHD_Result
s_queue(struct MHD_Connection *c, fsy_reply_t *r)
{
    struct MHD_Response *resp =
        r->body == NULL ? NULL
                        : MHD_create_response_from_buffer(
                              strlen(r->body), r->body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) { /* out of memory: drop the connection */
        free(r->body);
        free(r->header_value);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", r->type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    /* pages hold text from every site: nothing of theirs may run */
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; style-src 'unsafe-inline'; "
                            "form-action 'self'");
    if (r->header != NULL && r->header_value != NULL)
        MHD_add_response_header(resp, r->header, r->header_value);
    if (r->ask_auth)
        MHD_add_response_header(resp, "WWW-Authenticate",
                                "Basic realm=\"fieldsync\", charset=\"UTF-8\"");
    if (r->status == 405)
        MHD_add_response_header(resp, "Allow", "GET, HEAD");
    free(r->header_value);
    enum MHD_Result ok = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *c, const char *url,
         const char *method, const char *version, const char *upload,
         size_t *upload_len, void **state)
{
    (void)version;
    (void)upload;
    if (*state == NULL) { /* headers only so far: answer on the next call */
        *state = calloc(1, sizeof(fsy_api_req_t));
        return *state != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_len != 0) { /* no endpoint takes a body: drop it */
        *upload_len = 0;
        return MHD_YES;
    }
    fsy_reply_t r = {0};
    fsy_http_t *h = cls;
    bool answered = true;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        fsy_reply_text(&r, 405, "only GET and HEAD%s\n", "");
    else {
        pthread_rwlock_rdlock(&h->cfg_lock);
        answered = s_route(h, c, url, *state, &r);
        pthread_rwlock_unlock(&h->cfg_lock);
    }
    if (!answered)
        return MHD_YES; /* waiting for a change: resumed later */
    return s_queue(c, &r);
}

/* A request is over (answered or dropped): its state goes. */
static void
s_completed(void *cls, struct MHD_Connection *c, void **state,
            enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    free(*state);
    *state = NULL;
}

static void
s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    fsy_log("warn", "http", "msg=\"%s\"", msg);
}

/* Clients that open connections and dribble a request must not keep a
 * monitor's /healthz out: room for many (epoll, not select), and a
 * connection idle this long is closed. */
#define FSY_HTTP_CONNECTIONS 512
#define FSY_HTTP_IDLE_S 5

static void
s_free(fsy_http_t *h)
{
    pthread_rwlock_destroy(&h->cfg_lock);
    fsy_config_free(&h->cfg);
    free(h);
}

int
fsy_http_start(fsy_http_t **out, const fsy_http_opts_t *o)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(o->cfg->http_port)};
    memcpy(&sa.sin_addr, o->cfg->http_ip, sizeof o->cfg->http_ip);
    fsy_http_t *h = calloc(1, sizeof *h);
    if (h == NULL || fsy_config_copy(&h->cfg, o->cfg) != FSY_OK) {
        free(h);
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    }
    h->o = *o;
    h->o.cfg = &h->cfg;
    pthread_rwlock_init(&h->cfg_lock, NULL);
    int rc = fsy_api_start(&h->api, &h->cfg);
    if (rc != FSY_OK) {
        s_free(h);
        return rc;
    }
    h->mhd = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME,
        0, NULL, NULL, s_handle, h, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)FSY_HTTP_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)FSY_HTTP_IDLE_S, MHD_OPTION_END);
    if (h->mhd == NULL) {
        fsy_api_free(&h->api);
        s_free(h);
        return fsy_err_set(FSY_EIO,
                           "cannot serve HTTP at %s (address in use?): "
                           "change [http] listen, or set it to off",
                           o->cfg->http_listen);
    }
    *out = h;
    return FSY_OK;
}

void
fsy_http_stop(fsy_http_t **hp)
{
    if (hp == NULL || *hp == NULL)
        return;
    /* waiting requests are answered first: the server must hold no
     * suspended connection when it stops */
    fsy_api_stop((*hp)->api);
    MHD_stop_daemon((*hp)->mhd);
    fsy_api_free(&(*hp)->api);
    s_free(*hp);
    *hp = NULL;
}

int
fsy_http_reconfigure(fsy_http_t *h, const fsy_config_t *cfg)
{
    fsy_config_t fresh, old;
    if (h == NULL)
        return FSY_OK;
    if (fsy_config_copy(&fresh, cfg) != FSY_OK)
        return FSY_ENOMEM;
    pthread_rwlock_wrlock(&h->cfg_lock);
    old = h->cfg;
    h->cfg = fresh;
    pthread_rwlock_unlock(&h->cfg_lock);
    fsy_config_free(&old);
    return FSY_OK;
}
