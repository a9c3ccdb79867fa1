/*
 * fieldsync — the site configuration file. See include/fieldsync/config.h.
 *
 * inih is built here without line numbers in the handler, but ini_parse()
 * returns the line of the first handler failure, so the handler records
 * what was wrong and the loader adds file and line.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <ini.h>

#include "fieldsync/attachment.h"
#include "fieldsync/config.h"
#include "fieldsync/error.h"
#include "fieldsync/ident.h"
#include "fieldsync/keys.h"
#include "merge.h"

typedef struct s_parse {
    fsy_config_t *cfg;
    char why[256];
} s_parse_t;

static int s_id_list(s_parse_t *p, const char *where, const char *value,
                     char *out, size_t size, int (*check)(const char *));

const char *const fsy_log_level_names[4] = {"debug", "info", "warn", "error"};

void
fsy_config_defaults(fsy_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_clock_skew_ms = 3600u * 1000u;
    cfg->max_value_bytes = FSY_VALUE_MAX;
    cfg->max_attachment_bytes = FSY_ATTACHMENT_MAX_DEFAULT;
    cfg->batch_changes = 1000;
    cfg->batch_bytes = (size_t)1 << 20;
    cfg->window = 4;
    cfg->heartbeat_ms = 1000;
    cfg->timeout_ms = 5000;
    cfg->reconnect_ms = 200;
    cfg->reconnect_max_ms = 30000;
    cfg->max_message_bytes = (size_t)64 << 20;
    cfg->verify_at_start = 1;
    cfg->health_ms = 10000;
    snprintf(cfg->http_listen, sizeof cfg->http_listen, "127.0.0.1:7480");
    memcpy(cfg->http_ip, (const uint8_t[4]){127, 0, 0, 1}, 4);
    cfg->http_port = 7480;
    cfg->min_free_bytes = (size_t)16 << 20;
    cfg->thresholds = (fsy_thresholds_t){.amber_after_s = 60,
                                         .red_after_s = 900,
                                         .amber_behind = 1000,
                                         .red_behind = 100000,
                                         .amber_clock_offset_s = 60,
                                         .courier_amber_after_s = 8 * 86400,
                                         .courier_red_after_s = 30 * 86400};
    cfg->log_level = FSY_LOG_INFO;
}

static int
s_parse_u64(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (v[0] == '-' || v[0] == '\0')
        return 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < lo || x > hi)
        return 0;
    *out = x;
    return 1;
}

static int
s_site_key(s_parse_t *p, const char *key, const char *value)
{
    fsy_config_t *cfg = p->cfg;
    uint64_t n;
    if (strcmp(key, "id") == 0) {
        if (fsy_check_site(value) != FSY_OK) {
            snprintf(p->why, sizeof p->why, "[site] id: %s", fsy_errdetail());
            return 0;
        }
        snprintf(cfg->site_id, sizeof cfg->site_id, "%s", value);
    } else if (strcmp(key, "author") == 0) {
        if (value[0] == '\0' || fsy_check_author(value) != FSY_OK) {
            snprintf(p->why, sizeof p->why, "[site] author: %s",
                     value[0] == '\0' ? "empty" : fsy_errdetail());
            return 0;
        }
        snprintf(cfg->author, sizeof cfg->author, "%s", value);
    } else if (strcmp(key, "db") == 0) {
        if (value[0] == '\0' || strlen(value) >= sizeof cfg->db) {
            snprintf(p->why, sizeof p->why, "[site] db: empty or too long");
            return 0;
        }
        snprintf(cfg->db, sizeof cfg->db, "%s", value);
    } else if (strcmp(key, "secret_key_file") == 0) {
        if (value[0] == '\0' || strlen(value) >= sizeof cfg->secret_key_file) {
            snprintf(p->why, sizeof p->why,
                     "[site] secret_key_file: empty "
                     "or too long");
            return 0;
        }
        snprintf(cfg->secret_key_file, sizeof cfg->secret_key_file, "%s",
                 value);
    } else if (strcmp(key, "write_scopes") == 0) {
        return s_id_list(p, "[site] write_scopes", value, cfg->write_scopes,
                         sizeof cfg->write_scopes, fsy_check_scope);
    } else if (strcmp(key, "insecure") == 0 ||
               strcmp(key, "verify_at_start") == 0) {
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            snprintf(p->why, sizeof p->why, "[site] %s: want true or false",
                     key);
            return 0;
        }
        *(key[0] == 'i' ? &cfg->insecure : &cfg->verify_at_start) =
            strcmp(value, "true") == 0;
    } else if (strcmp(key, "max_clock_skew") == 0) {
        if (!s_parse_u64(value, 1, 30u * 86400u, &n)) {
            snprintf(p->why, sizeof p->why,
                     "[site] max_clock_skew: want "
                     "seconds between 1 and 2592000");
            return 0;
        }
        cfg->max_clock_skew_ms = n * 1000u;
    } else {
        snprintf(p->why, sizeof p->why, "unknown key '%s' in [site]", key);
        return 0;
    }
    return 1;
}

static int
s_limits_key(s_parse_t *p, const char *key, const char *value)
{
    uint64_t n;
    if (strcmp(key, "max_attachment_bytes") == 0) {
        if (!s_parse_u64(value, 1, FSY_ATTACHMENT_SIZE_MAX, &n)) {
            snprintf(p->why, sizeof p->why,
                     "[limits] max_attachment_bytes: want bytes between 1 "
                     "and 2^53");
            return 0;
        }
        p->cfg->max_attachment_bytes = n;
        return 1;
    }
    if (strcmp(key, "max_value_bytes") != 0) {
        snprintf(p->why, sizeof p->why, "unknown key '%s' in [limits]", key);
        return 0;
    }
    if (!s_parse_u64(value, 1, FSY_VALUE_MAX, &n)) {
        snprintf(p->why, sizeof p->why,
                 "[limits] max_value_bytes: want "
                 "bytes between 1 and %u",
                 FSY_VALUE_MAX);
        return 0;
    }
    p->cfg->max_value_bytes = (size_t)n;
    return 1;
}

static int
s_public_key(s_parse_t *p, const char *where, const char *value, char out[41],
             uint8_t curve_pk[32])
{
    if (fsy_public_key_parse(value, NULL, curve_pk) != FSY_OK) {
        snprintf(p->why, sizeof p->why, "%s: %s", where, fsy_errdetail());
        return 0;
    }
    snprintf(out, 41, "%s", value);
    return 1;
}

/* [listen] and [parent]: one ZeroMQ endpoint each (and the parent's key). */
static int
s_endpoint_key(s_parse_t *p, const char *section, const char *key,
               const char *value, char *out, size_t size)
{
    uint8_t ignored[32];
    if (strcmp(section, "parent") == 0 && strcmp(key, "server_public_key") == 0)
        return s_public_key(p, "[parent] server_public_key", value,
                            p->cfg->parent_public_key, ignored);
    if (strcmp(key, "endpoint") != 0) {
        snprintf(p->why, sizeof p->why, "unknown key '%s' in [%s]", key,
                 section);
        return 0;
    }
    if (strncmp(value, "tcp://", 6) != 0 && strncmp(value, "ipc://", 6) != 0) {
        snprintf(p->why, sizeof p->why,
                 "[%s] endpoint: want tcp://HOST:PORT "
                 "or ipc://PATH",
                 section);
        return 0;
    }
    if (strlen(value) >= size) {
        snprintf(p->why, sizeof p->why, "[%s] endpoint: too long", section);
        return 0;
    }
    snprintf(out, size, "%s", value);
    return 1;
}

/* Numeric keys: where each lives in fsy_config_t and its range. */
typedef struct s_tuning {
    const char *section, *key;
    uint64_t lo, hi;
    size_t off, width;
} s_tuning_t;

#define S_NUM(sec, k, member, lo, hi)                                          \
    {                                                                          \
        sec, k, lo, hi, offsetof(fsy_config_t, member),                        \
            sizeof(((fsy_config_t *)0)->member)                                \
    }
#define S_TUNING(k, lo, hi) S_NUM("sync", #k, k, lo, hi)
#define S_LIMIT(k, lo, hi) S_NUM("status", #k, thresholds.k, lo, hi)

static const s_tuning_t s_tunings[] = {
    S_TUNING(batch_changes, 1, FSY_TXN_MAX * 64),
    S_TUNING(batch_bytes, 1024, (uint64_t)32 << 20),
    S_TUNING(window, 1, 1024),
    S_TUNING(compression_level, 0, 19),
    S_TUNING(heartbeat_ms, 50, 600000),
    S_TUNING(timeout_ms, 200, 3600000),
    S_TUNING(reconnect_ms, 10, 600000),
    S_TUNING(reconnect_max_ms, 10, 3600000),
    /* at least what the largest transaction needs (FSY_TXN_BYTES_MAX) */
    S_TUNING(max_message_bytes, (uint64_t)40 << 20, (uint64_t)64 << 20),
    S_TUNING(health_ms, 100, 3600000),
    S_NUM("http", "min_free_bytes", min_free_bytes, 0, (uint64_t)1 << 40),
    S_LIMIT(amber_after_s, 1, 30u * 86400u),
    S_LIMIT(red_after_s, 1, 30u * 86400u),
    S_LIMIT(amber_behind, 1, (uint64_t)1 << 40),
    S_LIMIT(red_behind, 1, (uint64_t)1 << 40),
    S_LIMIT(amber_clock_offset_s, 1, 30u * 86400u),
    S_LIMIT(courier_amber_after_s, 1, 365u * 86400u),
    S_LIMIT(courier_red_after_s, 1, 365u * 86400u),
};

/* 1: handled; 0: bad value (p->why says why); -1: not a numeric key. */
static int
s_number_key(s_parse_t *p, const char *section, const char *key,
             const char *value)
{
    for (size_t i = 0; i < sizeof s_tunings / sizeof s_tunings[0]; i++) {
        const s_tuning_t *t = &s_tunings[i];
        uint64_t n;
        if (strcmp(section, t->section) != 0 || strcmp(key, t->key) != 0)
            continue;
        if (!s_parse_u64(value, t->lo, t->hi, &n)) {
            snprintf(p->why, sizeof p->why,
                     "[%s] %s: want a number from "
                     "%llu to %llu",
                     section, key, (unsigned long long)t->lo,
                     (unsigned long long)t->hi);
            return 0;
        }
        char *field = (char *)p->cfg + t->off;
        if (t->width == sizeof(unsigned))
            *(unsigned *)(void *)field = (unsigned)n;
        else
            *(size_t *)(void *)field = (size_t)n;
        return 1;
    }
    return -1;
}

/* [http] listen: "off", or IPv4-ADDRESS:PORT. */
static int
s_http_listen(s_parse_t *p, const char *value)
{
    char *out = p->cfg->http_listen;
    if (strcmp(value, "off") == 0) {
        out[0] = '\0';
        return 1;
    }
    const char *colon = strrchr(value, ':');
    uint64_t port;
    char host[64];
    struct in_addr a;
    if (colon == NULL || (size_t)(colon - value) >= sizeof host ||
        !s_parse_u64(colon + 1, 1, 65535, &port) ||
        (memcpy(host, value, (size_t)(colon - value)),
         host[colon - value] = '\0', inet_pton(AF_INET, host, &a) != 1)) {
        snprintf(p->why, sizeof p->why,
                 "[http] listen: want off or ADDRESS:PORT, "
                 "such as 127.0.0.1:7480");
        return 0;
    }
    snprintf(out, sizeof p->cfg->http_listen, "%s", value);
    memcpy(p->cfg->http_ip, &a, sizeof p->cfg->http_ip);
    p->cfg->http_port = (uint16_t)port;
    return 1;
}

static int
s_choice(s_parse_t *p, const char *where, const char *value,
         const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (strcmp(value, names[i]) == 0) {
            *out = i;
            return 1;
        }
    snprintf(p->why, sizeof p->why, "%s: '%s' is not one of %s%s%s%s%s%s%s",
             where, value, names[0], n > 1 ? ", " : "", n > 1 ? names[1] : "",
             n > 2 ? ", " : "", n > 2 ? names[2] : "", n > 3 ? ", " : "",
             n > 3 ? names[3] : "");
    return 0;
}

static int
s_log_key(s_parse_t *p, const char *key, const char *value)
{
    static const char *const targets[] = {"stderr", "syslog"};
    int v;
    if (strcmp(key, "level") == 0)
        return s_choice(p, "[log] level", value, fsy_log_level_names, 4,
                        &p->cfg->log_level);
    if (strcmp(key, "target") == 0) {
        if (!s_choice(p, "[log] target", value, targets, 2, &v))
            return 0;
        p->cfg->log_syslog = v == 1;
        return 1;
    }
    snprintf(p->why, sizeof p->why, "unknown key '%s' in [log]", key);
    return 0;
}

/* [alert] command: an absolute path, run without a shell (daemon/alert.c). */
static int
s_alert_key(s_parse_t *p, const char *key, const char *value)
{
    if (strcmp(key, "command") != 0) {
        snprintf(p->why, sizeof p->why, "unknown key '%s' in [alert]", key);
        return 0;
    }
    if (value[0] != '/' || strlen(value) >= sizeof p->cfg->alert_command) {
        snprintf(p->why, sizeof p->why,
                 "[alert] command: want an absolute path to a program, not "
                 "'%.60s'",
                 value);
        return 0;
    }
    snprintf(p->cfg->alert_command, sizeof p->cfg->alert_command, "%s", value);
    return 1;
}

/* [http] token_file: an absolute path (read when the daemon starts). */
static int
s_http_token_file(s_parse_t *p, const char *value)
{
    if (value[0] != '/' || strlen(value) >= sizeof p->cfg->http_token_file) {
        snprintf(p->why, sizeof p->why,
                 "[http] token_file: want an absolute path, not '%.60s'",
                 value);
        return 0;
    }
    snprintf(p->cfg->http_token_file, sizeof p->cfg->http_token_file, "%s",
             value);
    return 1;
}

/* "MLI, global" or "gao, kidal": identifiers separated by commas and
 * blanks, each passing `check` (fsy_check_scope or fsy_check_site). */
static int
s_id_list(s_parse_t *p, const char *where, const char *value, char *out,
          size_t size, int (*check)(const char *))
{
    char buf[256], *save = NULL;
    if (strlen(value) >= sizeof buf || strlen(value) >= size) {
        snprintf(p->why, sizeof p->why, "%s: too long", where);
        return 0;
    }
    snprintf(buf, sizeof buf, "%s", value);
    for (char *t = strtok_r(buf, ", \t", &save); t;
         t = strtok_r(NULL, ", \t", &save))
        if (check(t) != FSY_OK) {
            snprintf(p->why, sizeof p->why, "%s: %s", where, fsy_errdetail());
            return 0;
        }
    snprintf(out, size, "%s", value);
    return 1;
}

/* The [child NAME] entry, added on its first key. */
static fsy_child_conf_t *
s_child(s_parse_t *p, const char *site)
{
    fsy_config_t *cfg = p->cfg;
    for (size_t i = 0; i < cfg->n_children; i++)
        if (strcmp(cfg->children[i].site, site) == 0)
            return &cfg->children[i];
    if (fsy_check_site(site) != FSY_OK) {
        snprintf(p->why, sizeof p->why, "[child %s]: %s", site,
                 fsy_errdetail());
        return NULL;
    }
    if (cfg->n_children == FSY_MAX_CHILDREN) {
        snprintf(p->why, sizeof p->why, "more than %d [child] sections",
                 FSY_MAX_CHILDREN);
        return NULL;
    }
    fsy_child_conf_t *v =
        realloc(cfg->children, (cfg->n_children + 1) * sizeof *v);
    if (v == NULL) {
        snprintf(p->why, sizeof p->why, "out of memory");
        return NULL;
    }
    cfg->children = v;
    fsy_child_conf_t *c = &v[cfg->n_children++];
    memset(c, 0, sizeof *c);
    snprintf(c->site, sizeof c->site, "%s", site);
    return c;
}

static int
s_child_key(s_parse_t *p, const char *site, const char *key, const char *value)
{
    fsy_child_conf_t *c = s_child(p, site);
    char where[96];
    if (c == NULL)
        return 0;
    snprintf(where, sizeof where, "[child %s] %s", c->site, key);
    if (strcmp(key, "public_key") == 0)
        return s_public_key(p, where, value, c->public_key, c->curve_pk);
    if (strcmp(key, "read_scopes") == 0)
        return s_id_list(p, where, value, c->read_scopes, sizeof c->read_scopes,
                         fsy_check_scope);
    if (strcmp(key, "write_scopes") == 0)
        return s_id_list(p, where, value, c->write_scopes,
                         sizeof c->write_scopes, fsy_check_scope);
    if (strcmp(key, "sites_below") == 0)
        return s_id_list(p, where, value, c->sites_below, sizeof c->sites_below,
                         fsy_check_site);
    if (strcmp(key, "attachments") == 0) {
        static const char *const names[] = {"all", "none", "on-demand"};
        for (int i = 0; i < 3; i++)
            if (strcmp(value, names[i]) == 0) {
                c->attachments = (fsy_attach_policy_t)i;
                return 1;
            }
        snprintf(p->why, sizeof p->why,
                 "%s: want all, none or on-demand, not '%.40s'", where, value);
        return 0;
    }
    snprintf(p->why, sizeof p->why, "unknown key '%s' in [child %s]", key,
             c->site);
    return 0;
}

static int
s_merge_key(s_parse_t *p, const char *key, const char *value)
{
    if (strcmp(key, "whole_value_fields") != 0) {
        snprintf(p->why, sizeof p->why, "unknown key '%s' in [merge]", key);
        return 0;
    }
    if (fsy_merge_list_canon(value, p->cfg->whole_value_fields) != FSY_OK) {
        snprintf(p->why, sizeof p->why, "[merge] %s", fsy_errdetail());
        return 0;
    }
    p->cfg->whole_value_fields_set = true;
    return 1;
}

static int
s_handler(void *user, const char *section, const char *key, const char *value)
{
    s_parse_t *p = user;
    if (strncmp(section, "child ", 6) == 0)
        return s_child_key(p, section + 6, key, value);
    if (strcmp(section, "site") == 0)
        return s_site_key(p, key, value);
    if (strcmp(section, "limits") == 0)
        return s_limits_key(p, key, value);
    if (strcmp(section, "listen") == 0)
        return s_endpoint_key(p, section, key, value, p->cfg->listen,
                              sizeof p->cfg->listen);
    if (strcmp(section, "parent") == 0)
        return s_endpoint_key(p, section, key, value, p->cfg->parent,
                              sizeof p->cfg->parent);
    if (strcmp(section, "http") == 0 && strcmp(key, "listen") == 0)
        return s_http_listen(p, value);
    if (strcmp(section, "http") == 0 && strcmp(key, "read_scopes") == 0)
        return s_id_list(p, "[http] read_scopes", value,
                         p->cfg->http_read_scopes,
                         sizeof p->cfg->http_read_scopes, fsy_check_scope);
    if (strcmp(section, "http") == 0 && strcmp(key, "token_file") == 0)
        return s_http_token_file(p, value);
    if (strcmp(section, "merge") == 0)
        return s_merge_key(p, key, value);
    if (strcmp(section, "log") == 0)
        return s_log_key(p, key, value);
    if (strcmp(section, "alert") == 0)
        return s_alert_key(p, key, value);
    int rc = s_number_key(p, section, key, value);
    if (rc >= 0)
        return rc;
    if (strcmp(section, "sync") == 0 || strcmp(section, "http") == 0 ||
        strcmp(section, "status") == 0)
        snprintf(p->why, sizeof p->why, "unknown key '%s' in [%s]", key,
                 section);
    else
        snprintf(p->why, sizeof p->why, "unknown section [%s]", section);
    return 0;
}

/*
 * inih calls the handler per key only, so a [child NAME] section with no
 * keys (a plaintext link, nothing restricted) would go unseen: its
 * headers are read in a second pass. Returns the line of a bad name, 0.
 */
static int
s_child_sections(FILE *f, s_parse_t *p)
{
    char line[512];
    int n = 0;
    rewind(f);
    while (fgets(line, sizeof line, f) != NULL) {
        n++;
        const char *l = line + strspn(line, " \t");
        if (strncmp(l, "[child", 6) != 0 || (l[6] != ' ' && l[6] != '\t'))
            continue;
        const char *name = l + 6 + strspn(l + 6, " \t");
        size_t len = strcspn(name, " \t]");
        char site[FSY_SITE_MAX + 2];
        snprintf(site, sizeof site, "%.*s", (int)len, name);
        if (len > FSY_SITE_MAX || s_child(p, site) == NULL) {
            if (p->why[0] == '\0')
                snprintf(p->why, sizeof p->why, "[child %.40s]: not a site id",
                         name);
            return n;
        }
    }
    return 0;
}

int
fsy_config_load(fsy_config_t *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return fsy_err_set(FSY_ENOTFOUND, "cannot open config %s: %s", path,
                           strerror(errno));
    fsy_config_t tmp = *cfg;
    tmp.children = NULL;
    tmp.n_children = 0;
    s_parse_t p = {.cfg = &tmp};
    int line = ini_parse_file(f, s_handler, &p);
    if (line == 0)
        line = s_child_sections(f, &p);
    fclose(f);
    if (line != 0) {
        fsy_config_free(&tmp);
        return fsy_err_set(FSY_EINVAL, "%s:%d: %s", path, line,
                           p.why[0] ? p.why : "syntax error");
    }
    fsy_config_free(cfg);
    *cfg = tmp; /* only a fully valid file replaces the configuration */
    return FSY_OK;
}

void
fsy_config_free(fsy_config_t *cfg)
{
    free(cfg->children);
    cfg->children = NULL;
    cfg->n_children = 0;
}

const fsy_child_conf_t *
fsy_config_child(const fsy_config_t *cfg, const char *site)
{
    for (size_t i = 0; i < cfg->n_children; i++)
        if (strcmp(cfg->children[i].site, site) == 0)
            return &cfg->children[i];
    return NULL;
}

int
fsy_config_copy(fsy_config_t *dst, const fsy_config_t *src)
{
    fsy_child_conf_t *kids = NULL;
    if (src->n_children > 0) {
        kids = malloc(src->n_children * sizeof *kids);
        if (kids == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        memcpy(kids, src->children, src->n_children * sizeof *kids);
    }
    *dst = *src;
    dst->children = kids;
    return FSY_OK;
}

const char *
fsy_config_default_path(bool *from_env)
{
    const char *env = getenv("FIELDSYNC_CONFIG");
    *from_env = env != NULL && env[0] != '\0';
    return *from_env ? env : FSY_DEFAULT_CONFIG;
}
