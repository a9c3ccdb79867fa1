/*
 * fieldsync CLI — status: this site and what its daemon knows of each
 * neighbour, with how far apart they are.
 *
 * The daemon records each neighbour in the replica every second; this
 * command reads it, so it works whether or not the daemon runs (a daemon
 * that stopped shows its neighbours as disconnected since then).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fieldsync/wallclock.h"

static const char s_status_usage[] = "fieldsync status [--json]";

static const char s_status_help[] =
    "Shows this site (replica, changes, documents, open conflicts) and\n"
    "each neighbour its daemon syncs with: whether it is connected, when\n"
    "it was last heard from, and how far apart the two are, as far as\n"
    "known from the neighbour's last version vector: THEY LACK counts the\n"
    "changes held here that the neighbour does not have yet, WE LACK the\n"
    "reverse.\n"
    "\n"
    "  --json   print one JSON object\n"
    "\n"
    "Example:\n"
    "  fieldsync --db gao.db status\n";

/* Changes in `a` that `b` lacks, as far as the two vectors tell. */
static uint64_t
s_lacks(const fsy_vv_t *a, const fsy_vv_t *b)
{
    uint64_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        uint64_t have = fsy_vv_get(b, a->v[i].scope, &a->v[i].origin);
        if (a->v[i].seq > have)
            n += a->v[i].seq - have;
    }
    return n;
}

/* "3h12m ago", "45s ago" */
static const char *
s_age(uint64_t then_ms, char *buf, size_t len)
{
    uint64_t now = fsy_wall_ms();
    uint64_t s = then_ms == 0 ? 0 : (now > then_ms ? now - then_ms : 0) / 1000;
    if (then_ms == 0)
        snprintf(buf, len, "never");
    else if (s < 60)
        snprintf(buf, len, "%" PRIu64 "s ago", s);
    else if (s < 3600)
        snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s ago", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m ago", s / 3600,
                 s / 60 % 60);
    else
        snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h ago", s / 86400,
                 s / 3600 % 24);
    return buf;
}

typedef struct s_view {
    fsy_store_counts_t counts;
    fsy_vv_t *vv;
    fsy_peer_status_t *peers;
    size_t n_peers;
    uint64_t *they_lack, *we_lack;
} s_view_t;

static void
s_view_free(s_view_t *v)
{
    fsy_vv_free(&v->vv);
    fsy_peer_status_free(v->peers, v->n_peers);
    free(v->they_lack);
    free(v->we_lack);
}

static int
s_view_load(fsy_store_t *s, s_view_t *v)
{
    int rc = fsy_store_counts(s, &v->counts);
    if (rc == FSY_OK)
        rc = fsy_store_vv(s, &v->vv);
    if (rc == FSY_OK)
        rc = fsy_store_peers(s, &v->peers, &v->n_peers);
    if (rc != FSY_OK)
        return rc;
    v->they_lack = calloc(v->n_peers + 1, sizeof *v->they_lack);
    v->we_lack = calloc(v->n_peers + 1, sizeof *v->we_lack);
    if (v->they_lack == NULL || v->we_lack == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    for (size_t i = 0; i < v->n_peers; i++) {
        fsy_vv_t *pv = NULL;
        if (fsy_vv_parse(v->peers[i].vv, &pv) != FSY_OK)
            continue; /* shown as 0: nothing known */
        v->they_lack[i] = s_lacks(v->vv, pv);
        v->we_lack[i] = s_lacks(pv, v->vv);
        fsy_vv_free(&pv);
    }
    return FSY_OK;
}

/* A record the daemon has not refreshed for this long means no daemon is
 * running here: nothing is connected, whatever the record says. */
#define S_STALE_MS 15000 /* the daemon refreshes every 5 s at least */

static bool
s_connected(const fsy_peer_status_t *p)
{
    return p->connected && fsy_wall_ms() - p->updated_ms < S_STALE_MS;
}

static void
s_print_text(fsy_store_t *s, const s_view_t *v)
{
    const fsy_origin_t *o = fsy_store_origin(s);
    char hex[FSY_CLI_HEX64_LEN], age[32];
    printf("site %s (incarnation %s): %" PRIu64 " changes, %" PRIu64
           " documents, %" PRIu64 " open conflict%s\n",
           o->site, fsy_cli_hex64(o->incarnation, hex), v->counts.changes,
           v->counts.documents, v->counts.conflicts,
           v->counts.conflicts == 1 ? "" : "s");
    if (v->n_peers == 0) {
        printf("no neighbours recorded: fieldsyncd has not synced yet\n");
        return;
    }
    printf("%-16s %-7s %-13s %-13s %10s %10s  %s\n", "PEER", "ROLE", "STATE",
           "LAST CONTACT", "THEY LACK", "WE LACK", "LAST ERROR");
    for (size_t i = 0; i < v->n_peers; i++) {
        const fsy_peer_status_t *p = &v->peers[i];
        printf("%-16s %-7s %-13s %-13s %10" PRIu64 " %10" PRIu64 "  %s\n",
               p->name, p->role, s_connected(p) ? "connected" : "disconnected",
               s_age(p->last_contact_ms, age, sizeof age), v->they_lack[i],
               v->we_lack[i], p->last_error[0] ? p->last_error : "-");
    }
}

static cJSON *
s_peer_json(const fsy_peer_status_t *p, uint64_t they, uint64_t we)
{
    cJSON *o = cJSON_CreateObject();
    char age[32];
    bool ok =
        o && fsy_cli_jstr(o, "name", p->name) &&
        fsy_cli_jstr(o, "role", p->role) &&
        fsy_cli_jbool(o, "connected", p->connected) &&
        fsy_cli_jnum(o, "last_contact_ms", (double)p->last_contact_ms) &&
        fsy_cli_jstr(o, "last_contact",
                     s_age(p->last_contact_ms, age, sizeof age)) &&
        fsy_cli_jnum(o, "they_lack", (double)they) &&
        fsy_cli_jnum(o, "we_lack", (double)we) &&
        fsy_cli_jnum(o, "changes_sent", (double)p->changes_sent) &&
        fsy_cli_jnum(o, "changes_received", (double)p->changes_received) &&
        fsy_cli_jnum(o, "bytes_sent", (double)p->bytes_sent) &&
        fsy_cli_jnum(o, "bytes_received", (double)p->bytes_received) &&
        fsy_cli_jnum(o, "batches_refused", (double)p->refused) &&
        fsy_cli_jstr(o, "last_error", p->last_error);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int
s_print_json(const fsy_cli_t *cli, fsy_store_t *s, const s_view_t *v)
{
    const fsy_origin_t *o = fsy_store_origin(s);
    char hex[FSY_CLI_HEX64_LEN];
    cJSON *root = cJSON_CreateObject(), *peers = cJSON_CreateArray();
    bool ok =
        root && peers && fsy_cli_jstr(root, "site", o->site) &&
        fsy_cli_jstr(root, "incarnation", fsy_cli_hex64(o->incarnation, hex)) &&
        fsy_cli_jnum(root, "changes", (double)v->counts.changes) &&
        fsy_cli_jnum(root, "documents", (double)v->counts.documents) &&
        fsy_cli_jnum(root, "conflicts", (double)v->counts.conflicts);
    for (size_t i = 0; ok && i < v->n_peers; i++)
        ok = fsy_cli_jpush(
            peers, s_peer_json(&v->peers[i], v->they_lack[i], v->we_lack[i]));
    if (ok)
        ok = fsy_cli_jadd(root, "peers", peers);
    else
        cJSON_Delete(peers);
    return fsy_cli_json_print(cli, root, ok);
}

int
fsy_cmd_status(fsy_cli_t *cli, int argc, char **argv)
{
    fsy_store_t *s = NULL;
    s_view_t v = {0};
    bool json;
    int rc;

    cli->usage = s_status_usage;
    rc = fsy_cli_json_only(cli, argc, argv, s_status_help, &json);
    if (rc == 0)
        rc = fsy_cli_open(cli, &s);
    if (rc == 0) {
        fsy_err_clear();
        rc = fsy_cli_check(cli, s_view_load(s, &v));
    }
    if (rc == 0 && json)
        rc = s_print_json(cli, s, &v);
    else if (rc == 0)
        s_print_text(s, &v);
    s_view_free(&v);
    fsy_store_close(&s);
    return rc;
}
