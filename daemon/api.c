/*
 * fieldsync — the documents over HTTP, read-only. See api.h.
 */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "fieldsync/doc_json.h"
#include "fieldsync/error.h"
#include "fieldsync/ident.h"
#include "fieldsync/query.h"
#include "fieldsync/store.h"
#include "fieldsync/wallclock.h"
#include "api_args.h"
#include "browse.h"

#define S_TOKEN_MIN 16
#define S_TOKEN_MAX 512
#define S_WAITERS_MAX 64
#define S_TICK_MS 200
/* One answer of the feed stays under this many bytes (one line may pass
 * it alone: a value of up to 1 MiB, escaped). */
#define S_FEED_BYTES ((size_t)8 << 20)
#define S_FEED_FULL (-1) /* not an fsy_err_t: the callback's own stop */

typedef struct s_waiter {
    struct MHD_Connection *c;
    fsy_api_req_t *req;
} s_waiter_t;

struct fsy_api {
    const fsy_config_t *cfg;     /* the server's: read under its read lock */
    char db[4096];               /* the waiter thread's own copy of cfg->db */
    char token[S_TOKEN_MAX + 1]; /* "" when documents are loopback only */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    s_waiter_t waiters[S_WAITERS_MAX];
    size_t n_waiters;
};

/* ---- who may read ------------------------------------------------------- */

static int
s_read_token(const char *path, char *out)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return fsy_err_set(FSY_EIO, "cannot read [http] token_file %s: %s",
                           path, strerror(errno));
    size_t n = fread(out, 1, S_TOKEN_MAX + 1, f);
    fclose(f);
    while (n > 0 &&
           (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        n--;
    out[n <= S_TOKEN_MAX ? n : 0] = '\0';
    for (size_t i = 0; i < n && n <= S_TOKEN_MAX; i++)
        if (out[i] <= ' ' || out[i] > '~')
            n = 0;
    if (n < S_TOKEN_MIN || n > S_TOKEN_MAX)
        return fsy_err_set(FSY_EINVAL,
                           "[http] token_file %s: a token is one line of %d "
                           "to %d printable characters without spaces "
                           "(e.g. openssl rand -hex 32)",
                           path, S_TOKEN_MIN, S_TOKEN_MAX);
    return FSY_OK;
}

/* Deadlines of long polls: a wall clock stepped back must not hold them. */
static uint64_t
s_mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static bool
s_token_ok(const fsy_api_t *a, const char *given)
{
    size_t n = strlen(a->token);
    return given != NULL && strlen(given) == n &&
           sodium_memcmp(given, a->token, n) == 0;
}

static bool
s_loopback(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL ||
        ci->client_addr->sa_family != AF_INET)
        return false;
    const struct sockaddr_in *in = (const struct sockaddr_in *)ci->client_addr;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
}

/* The Host a loopback client asked for is a loopback name: a page that
 * rebinds its own name to 127.0.0.1 (DNS rebinding) gets no documents. */
static bool
s_loopback_host(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (h == NULL)
        return true; /* HTTP/1.0 tools: no page can omit it */
    size_t n = strcspn(h, ":");
    return (n == 9 && strncmp(h, "localhost", 9) == 0) ||
           (n >= 7 && strncmp(h, "127.", 4) == 0 &&
            strspn(h, "0123456789.") == n);
}

bool
fsy_api_allowed(const fsy_api_t *a, struct MHD_Connection *c, fsy_reply_t *r)
{
    if (a->token[0] == '\0') {
        if (s_loopback(c) && s_loopback_host(c))
            return true;
        fsy_reply_text(r, 403,
                       "documents are served on loopback only: set [http] "
                       "token_file to serve them to others%s\n",
                       "");
        return false;
    }
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    bool ok = auth != NULL && strncmp(auth, "Bearer ", 7) == 0 &&
              s_token_ok(a, auth + 7);
    if (!ok) {
        char *pass = NULL,
             *user = MHD_basic_auth_get_username_password(c, &pass);
        ok = s_token_ok(a, pass);
        MHD_free(user);
        MHD_free(pass);
    }
    if (!ok) {
        fsy_reply_text(r, 401,
                       "this needs the token of [http] token_file: send "
                       "'Authorization: Bearer TOKEN' (a browser asks for it "
                       "as the password)%s\n",
                       "");
        r->ask_auth = true;
    }
    return ok;
}

/* ---- the change feed ---------------------------------------------------- */

typedef struct s_feed {
    const char *scopes; /* [http] read_scopes */
    char *buf;
    size_t len, cap;
    size_t lines;
    fsy_cursor_t last; /* the last change handled (sent, or not served) */
    bool handled, oom;
} s_feed_t;

static int
s_feed_line(const fsy_change_t *c, const fsy_cursor_t *at, void *ctx)
{
    s_feed_t *f = ctx;
    if (!fsy_scope_allowed(f->scopes, c->scope)) {
        f->last = *at;
        f->handled = true;
        return 0;
    }
    char *line = fsy_feed_json(c, at);
    size_t n = line != NULL ? strlen(line) : 0;
    if (line != NULL && f->lines > 0 && f->len + n > S_FEED_BYTES) {
        free(line); /* the rest comes with the next request */
        return S_FEED_FULL;
    }
    if (line != NULL && f->len + n + 2 > f->cap) {
        size_t cap = (f->cap ? f->cap * 2 : 4096) + n + 2;
        char *b = realloc(f->buf, cap);
        if (b == NULL) {
            free(line);
            line = NULL;
        } else {
            f->buf = b;
            f->cap = cap;
        }
    }
    if (line == NULL) {
        f->oom = true;
        return 1;
    }
    memcpy(f->buf + f->len, line, n);
    f->len += n;
    f->buf[f->len++] = '\n';
    f->buf[f->len] = '\0';
    f->lines++;
    f->last = *at;
    f->handled = true;
    free(line);
    return 0;
}

/* Parks the request until a change or its deadline; false when there is
 * no room or the server is stopping (answer at once). The check and the
 * add are one critical section: a stop cannot slip between them and leave
 * a suspended connection nobody resumes. */
static bool
s_waiter_add(fsy_api_t *a, struct MHD_Connection *c, fsy_api_req_t *req)
{
    pthread_mutex_lock(&a->mu);
    bool room = !a->stop && a->n_waiters < S_WAITERS_MAX;
    if (room) {
        MHD_suspend_connection(c); /* before a resume can be asked */
        a->waiters[a->n_waiters++] = (s_waiter_t){c, req};
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return room;
}

/* Reads the feed after since; false when there is nothing yet and the
 * request should wait (it was suspended). */
static bool
s_changes(fsy_api_t *a, struct MHD_Connection *c, fsy_api_req_t *req,
          const fsy_api_args_t *args, fsy_reply_t *r)
{
    fsy_store_t *s = NULL;
    s_feed_t f = {.scopes = a->cfg->http_read_scopes};
    fsy_cursor_t next;
    int rc = fsy_store_open(&s, a->cfg->db);
    if (rc == FSY_OK)
        rc = fsy_store_feed(s, &args->since, args->limit, s_feed_line, &f,
                            &next);
    if (rc == S_FEED_FULL) /* the byte budget: stopped on purpose */
        rc = FSY_OK;
    fsy_store_close(&s);
    if (f.oom || rc != FSY_OK) {
        free(f.buf);
        fsy_reply_text(r, rc == FSY_EINVAL ? 400 : 503, "%s\n",
                       f.oom ? "out of memory" : fsy_errdetail());
        return true;
    }
    if (f.lines == 0 && !f.handled && args->wait_s > 0 && !req->waited) {
        req->deadline = s_mono_ms() + (uint64_t)args->wait_s * 1000;
        req->after = next.lseq;
        if (s_waiter_add(a, c, req)) {
            free(f.buf);
            return false;
        }
    }
    char cur[FSY_CURSOR_LEN];
    fsy_cursor_format(f.handled ? &f.last : &next, cur);
    r->status = 200;
    r->type = "application/x-ndjson; charset=utf-8";
    r->body = f.buf != NULL ? f.buf : strdup("");
    r->header = "X-Fieldsync-Cursor";
    r->header_value = strdup(cur);
    return true;
}

/* ---- documents ---------------------------------------------------------- */

static int
s_hit(const fsy_hit_t *h, void *ctx)
{
    cJSON *o = fsy_hit_json(h);
    if (o != NULL && cJSON_AddItemToArray(ctx, o))
        return 0;
    cJSON_Delete(o);
    return FSY_ENOMEM;
}

static void
s_json_reply(fsy_reply_t *r, cJSON *root)
{
    r->body = root != NULL ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    r->status = 200;
    r->type = "application/json; charset=utf-8";
}

static void
s_docs(const fsy_api_t *a, const fsy_api_args_t *args, fsy_reply_t *r)
{
    fsy_store_t *s = NULL;
    cJSON *arr = cJSON_CreateArray();
    fsy_err_clear();
    int rc = arr != NULL ? fsy_store_open(&s, a->cfg->db) : FSY_ENOMEM;
    if (rc == FSY_OK)
        rc = fsy_store_query(s, &args->q, s_hit, arr);
    fsy_store_close(&s);
    if (rc != FSY_OK) {
        cJSON_Delete(arr);
        fsy_reply_text(r, rc == FSY_EINVAL ? 400 : 503, "%s\n",
                       rc == FSY_ENOMEM ? "out of memory" : fsy_errdetail());
        return;
    }
    s_json_reply(r, arr);
}

/* /api/docs/SCOPE/ID */
static void
s_doc(const fsy_api_t *a, const char *path, fsy_reply_t *r)
{
    char scope[FSY_SCOPE_MAX + 1];
    const char *id;
    if (!fsy_api_doc_path(path, a->cfg->http_read_scopes, "/api/docs", scope,
                          &id, r))
        return;
    fsy_store_t *s = NULL;
    fsy_doc_t *d = NULL;
    fsy_stamp_t cr = {0}, up = {0};
    fsy_err_clear();
    int rc = fsy_store_open(&s, a->cfg->db);
    if (rc == FSY_OK)
        rc = fsy_store_get(s, scope, id, &d);
    if (rc == FSY_OK)
        rc = fsy_store_stamps(s, scope, id, &cr, &up);
    fsy_store_close(&s);
    if (rc == FSY_OK)
        s_json_reply(r, fsy_doc_json(d, &cr, &up));
    else
        fsy_reply_text(r, rc == FSY_ENOTFOUND ? 404 : 503, "%s\n",
                       fsy_errdetail());
    fsy_doc_free(&d);
}

bool
fsy_api_serves(const char *url)
{
    return strncmp(url, "/api/", 5) == 0 || strcmp(url, "/docs") == 0 ||
           strncmp(url, "/docs/", 6) == 0;
}

bool
fsy_api_handle(fsy_api_t *a, struct MHD_Connection *c, const char *url,
               fsy_api_req_t *req, fsy_reply_t *r)
{
    if (!fsy_api_allowed(a, c, r))
        return true;
    fsy_api_args_t args = {0};
    bool feed = strcmp(url, "/api/changes") == 0;
    bool list = strcmp(url, "/api/docs") == 0 || strcmp(url, "/docs") == 0;
    if ((feed || list) &&
        !fsy_api_args(c, a->cfg->http_read_scopes, feed, &args, r))
        return true;
    bool done = true;
    if (feed)
        done = s_changes(a, c, req, &args, r);
    else if (strcmp(url, "/api/docs") == 0)
        s_docs(a, &args, r);
    else if (strncmp(url, "/api/docs/", 10) == 0)
        s_doc(a, url + 10, r);
    else if (strcmp(url, "/docs") == 0)
        fsy_browse_search(a->cfg, c, &args, r);
    else if (strncmp(url, "/docs/", 6) == 0)
        fsy_browse_doc(a->cfg, url + 6, r);
    else
        fsy_reply_text(r, 404,
                       "not found: try /api/changes, /api/docs or "
                       "/api/docs/SCOPE/ID%s\n",
                       "");
    if (feed || list)
        fsy_api_args_free(&args);
    return done;
}

/* ---- the waiter thread -------------------------------------------------- */

static void
s_sleep_ms(unsigned ms)
{
    struct timespec t = {0, (long)ms * 1000000L};
    nanosleep(&t, NULL);
}

/* Resumes the waiters whose change has come or whose time is up (all of
 * them when stopping). Called with the lock held. */
static void
s_wake(fsy_api_t *a, uint64_t last, bool all)
{
    uint64_t now = s_mono_ms();
    size_t k = 0;
    for (size_t i = 0; i < a->n_waiters; i++) {
        s_waiter_t *w = &a->waiters[i];
        if (all || last > w->req->after || now >= w->req->deadline) {
            w->req->waited = true;
            MHD_resume_connection(w->c);
        } else {
            a->waiters[k++] = *w;
        }
    }
    a->n_waiters = k;
}

static void *
s_waiter_main(void *arg)
{
    fsy_api_t *a = arg;
    fsy_store_t *s = NULL;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        if (a->n_waiters == 0) {
            pthread_cond_wait(&a->cv, &a->mu);
            continue;
        }
        pthread_mutex_unlock(&a->mu);
        s_sleep_ms(S_TICK_MS);
        uint64_t last = 0;
        if (s == NULL && fsy_store_open(&s, a->db) != FSY_OK)
            s = NULL; /* answered at their deadline, empty */
        if (s != NULL && fsy_store_log_last(s, &last) != FSY_OK)
            last = 0;
        pthread_mutex_lock(&a->mu);
        s_wake(a, last, false);
    }
    pthread_mutex_unlock(&a->mu);
    fsy_store_close(&s);
    return NULL;
}

int
fsy_api_start(fsy_api_t **out, const fsy_config_t *cfg)
{
    fsy_api_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    a->cfg = cfg;
    snprintf(a->db, sizeof a->db, "%s", cfg->db);
    int rc = cfg->http_token_file[0] != '\0'
                 ? s_read_token(cfg->http_token_file, a->token)
                 : FSY_OK;
    if (rc != FSY_OK) {
        free(a);
        return rc;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->thread, NULL, s_waiter_main, a) != 0) {
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        free(a);
        return fsy_err_set(FSY_EIO, "cannot start a thread for the API");
    }
    *out = a;
    return FSY_OK;
}

void
fsy_api_stop(fsy_api_t *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    bool running = !a->stop;
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (running)
        pthread_join(a->thread, NULL);
    pthread_mutex_lock(&a->mu);
    s_wake(a, 0, true);
    pthread_mutex_unlock(&a->mu);
}

void
fsy_api_free(fsy_api_t **ap)
{
    if (ap == NULL || *ap == NULL)
        return;
    fsy_api_t *a = *ap;
    fsy_api_stop(a);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    sodium_memzero(a->token, sizeof a->token);
    free(a);
    *ap = NULL;
}
