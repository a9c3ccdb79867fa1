/*
 * fieldsyncd — checking a configuration, and reloading it. See reconfig.h.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "fieldsync/error.h"
#include "fieldsync/keys.h"
#include "log.h"
#include "reconfig.h"

int
fsy_reconfig_check(const fsy_config_t *c, const char *path, char *why,
                   size_t len)
{
    const char *bad = NULL;
    if (c->db[0] == '\0')
        bad = "[site] db is required";
    else if (c->timeout_ms <= 2 * c->heartbeat_ms)
        bad = "[sync] timeout_ms must be more than twice heartbeat_ms, or "
              "idle sessions would restart forever";
    else if (c->listen[0] == '\0' && c->parent[0] == '\0')
        bad = "neither [listen] nor [parent]: nothing to sync with";
    else if (!c->insecure && c->secret_key_file[0] == '\0')
        bad = "no [site] secret_key_file: create one with 'fieldsync "
              "keygen -o NAME' (or set insecure = true to run without "
              "encryption)";
    else if (!c->insecure && c->parent[0] != '\0' &&
             fsy_public_key_parse(c->parent_public_key, NULL,
                                  (uint8_t[32]){0}) != FSY_OK)
        bad = "[parent] server_public_key is required with CURVE: the "
              "parent's .pub file";
    if (bad != NULL)
        snprintf(why, len, "%s: %s", path, bad);
    return bad != NULL;
}

/* ---- what a reload does not change ------------------------------------ */

typedef struct s_field {
    const char *name; /* as written in the file; NULL: part of another */
    size_t off, len;
} s_field_t;

#define S_F(name, f)                                                           \
    {                                                                          \
        name, offsetof(fsy_config_t, f), sizeof(((fsy_config_t *)0)->f)        \
    }

/* Keys whose value is taken once, at start (sockets, keys, the replica,
 * the merge rule peers agreed on): a reload keeps the old value. Keys
 * only the tool reads ([site] author, write_scopes, [limits]
 * max_attachment_bytes) are simply taken. */
static const s_field_t s_restart_only[] = {
    S_F("[site] id", site_id),
    S_F("[site] db", db),
    S_F("[site] secret_key_file", secret_key_file),
    S_F("[site] insecure", insecure),
    S_F("[site] verify_at_start", verify_at_start),
    S_F("[listen] endpoint", listen),
    S_F("[parent] endpoint", parent),
    S_F("[parent] server_public_key", parent_public_key),
    S_F("[sync] heartbeat_ms", heartbeat_ms),
    S_F("[sync] timeout_ms", timeout_ms),
    S_F("[sync] reconnect_ms", reconnect_ms),
    S_F("[sync] reconnect_max_ms", reconnect_max_ms),
    S_F("[sync] max_message_bytes", max_message_bytes),
    S_F("[http] listen", http_listen),
    S_F(NULL, http_ip),
    S_F(NULL, http_port),
    S_F("[http] token_file", http_token_file),
    S_F("[http] read_scopes", http_read_scopes),
    S_F("[merge] whole_value_fields", whole_value_fields),
    S_F(NULL, whole_value_fields_set),
};

/* Puts the old values of restart-only keys back into n, naming those
 * that differed in names[len] (", "-separated; "" if none). */
static void
s_keep_restart_only(fsy_config_t *n, const fsy_config_t *old, char *names,
                    size_t len)
{
    size_t used = 0;
    names[0] = '\0';
    for (size_t i = 0; i < sizeof s_restart_only / sizeof *s_restart_only;
         i++) {
        const s_field_t *f = &s_restart_only[i];
        char *to = (char *)n + f->off;
        const char *from = (const char *)old + f->off;
        if (memcmp(to, from, f->len) == 0)
            continue;
        memcpy(to, from, f->len);
        if (f->name != NULL && used < len)
            used += (size_t)snprintf(names + used, len - used, "%s%s",
                                     used ? ", " : "", f->name);
    }
}

/* ---- children ---------------------------------------------------------- */

static bool
s_same_child(const fsy_child_conf_t *a, const fsy_child_conf_t *b)
{
    return strcmp(a->public_key, b->public_key) == 0 &&
           memcmp(a->curve_pk, b->curve_pk, sizeof a->curve_pk) == 0 &&
           strcmp(a->read_scopes, b->read_scopes) == 0 &&
           strcmp(a->write_scopes, b->write_scopes) == 0 &&
           strcmp(a->sites_below, b->sites_below) == 0 &&
           a->attachments == b->attachments;
}

/* Appends site to a ", "-separated list. */
static void
s_list_add(char *list, size_t len, const char *site)
{
    size_t used = strlen(list);
    if (used < len)
        snprintf(list + used, len - used, "%s%s", used ? "," : "", site);
}

typedef struct s_changes {
    char added[256], changed[256], removed[256];
} s_changes_t;

/* Sessions under a section that changed or went are marked to end (they
 * come back under the new one); the others now point into the new table.
 * Called with d->cfg already the new configuration and old still
 * allocated. */
static void
s_rebind_children(fsy_daemon_t *d, const fsy_config_t *old, s_changes_t *ch)
{
    for (size_t i = 0; i < old->n_children; i++) {
        const fsy_child_conf_t *o = &old->children[i];
        const fsy_child_conf_t *n = fsy_config_child(&d->cfg, o->site);
        if (n == NULL)
            s_list_add(ch->removed, sizeof ch->removed, o->site);
        else if (!s_same_child(o, n))
            s_list_add(ch->changed, sizeof ch->changed, o->site);
    }
    for (size_t i = 0; i < d->cfg.n_children; i++)
        if (fsy_config_child(old, d->cfg.children[i].site) == NULL)
            s_list_add(ch->added, sizeof ch->added, d->cfg.children[i].site);
    for (size_t i = 0; i < FSY_MAX_CHILDREN; i++) {
        fsy_child_slot_t *c = &d->children[i];
        if (!c->used || c->peer.acl == NULL)
            continue;
        const fsy_child_conf_t *n =
            fsy_config_child(&d->cfg, c->peer.acl->site);
        if (n != NULL && s_same_child(c->peer.acl, n)) {
            c->peer.acl = n;
            continue;
        }
        /* the loop ends it, now: the old section is about to go */
        c->peer.acl = NULL;
        c->end_why = n == NULL ? "its [child] section was removed"
                               : "its [child] section changed";
    }
}

/* ---- the reload -------------------------------------------------------- */

static int
s_load(fsy_daemon_t *d, fsy_config_t *n, char *why, size_t len)
{
    fsy_config_defaults(n);
    if (fsy_config_load(n, d->config_path) != FSY_OK) {
        snprintf(why, len, "%s", fsy_errdetail());
        return 1;
    }
    if (fsy_reconfig_check(n, d->config_path, why, len) != 0) {
        fsy_config_free(n);
        return 1;
    }
    return 0;
}

/* The live parts that are not read from d->cfg at each use. */
static void
s_apply(fsy_daemon_t *d)
{
    fsy_log_configure(d->cfg.log_level, d->cfg.log_syslog);
    fsy_store_set_max_clock_skew(d->store, d->cfg.max_clock_skew_ms);
    fsy_store_set_max_value(d->store, d->cfg.max_value_bytes);
    if (fsy_http_reconfigure(d->http, &d->cfg) != FSY_OK)
        fsy_log("warn", "reload",
                "msg=\"out of memory: the status page keeps the old "
                "[status] and [child] sections\"");
}

void
fsy_reconfig_reload(fsy_daemon_t *d)
{
    fsy_config_t n, old;
    char why[512], restart[512];
    if (s_load(d, &n, why, sizeof why) != 0) {
        fsy_text_clean(why);
        fsy_log("error", "reload-refused",
                "file=%s error=\"%s\" action=\"kept the running "
                "configuration\"",
                d->config_path, why);
        return;
    }
    s_keep_restart_only(&n, &d->cfg, restart, sizeof restart);
    old = d->cfg;
    d->cfg = n;
    s_changes_t ch = {"", "", ""};
    s_rebind_children(d, &old, &ch);
    fsy_config_free(&old);
    s_apply(d);
    fsy_log("info", "reload",
            "file=%s children=%zu added=%s changed=%s removed=%s "
            "restart_needed=\"%s\"",
            d->config_path, d->cfg.n_children, ch.added[0] ? ch.added : "-",
            ch.changed[0] ? ch.changed : "-", ch.removed[0] ? ch.removed : "-",
            restart);
    if (restart[0] != '\0')
        fsy_log("warn", "reload",
                "msg=\"not applied until fieldsyncd restarts: %s\"", restart);
}

/* ---- keys on every frame ------------------------------------------------ */

#define S_TAG_BYTES 8

void
fsy_reconfig_user_id(const char *site, const uint8_t key[32], char *out,
                     size_t len)
{
    int n = snprintf(out, len, "%s#", site);
    for (size_t i = 0; i < S_TAG_BYTES && n > 0 && (size_t)n + 2 < len; i++)
        n += snprintf(out + n, len - (size_t)n, "%02x", key[i]);
}

bool
fsy_reconfig_key_current(const fsy_config_t *cfg, const char *user, char *site,
                         size_t len)
{
    const char *hash = strchr(user, '#');
    size_t site_len = hash ? (size_t)(hash - user) : strlen(user);
    snprintf(site, len, "%.*s", (int)site_len, user);
    if (hash == NULL) /* no CURVE: no key to check */
        return user[0] == '\0';
    const fsy_child_conf_t *k = fsy_config_child(cfg, site);
    char want[FSY_RID_MAX + 1];
    if (k == NULL || k->public_key[0] == '\0')
        return false;
    fsy_reconfig_user_id(site, k->curve_pk, want, sizeof want);
    return strcmp(want, user) == 0;
}
