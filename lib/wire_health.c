/*
 * fieldsync — HEALTH frames: a site's health summary and its subtree's,
 * packed as one zstd-compressed HealthReport (vectors repeat site names
 * and scopes; on a 32 kbit/s link that matters). See wire.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"
#include "wire_codec.h"
#include "wire_health.h"

/* A report of 4,096 sites with real vectors packs to a few MB; what it
 * may decode to is bounded by entries, not by its (compressed) size. */
#define FSY_HEALTH_RAW_MAX ((uint64_t)8 << 20)
#define FSY_HEALTH_VV_ENTRIES_MAX 262144 /* ~23 MB decoded, all sites */

typedef struct s_health_enc {
    Fieldsync__HealthReport report;
    Fieldsync__SiteHealth *sites;
    Fieldsync__SiteHealth **ptrs;
    fsy_wire_vv_enc_t *vvs;
    size_t n;
} s_health_enc_t;

static void
s_enc_free(s_health_enc_t *e)
{
    for (size_t i = 0; e->vvs != NULL && i < e->n; i++)
        fsy_wire_vv_enc_free(&e->vvs[i]);
    free(e->sites);
    free(e->ptrs);
    free(e->vvs);
}

static int
s_enc_site(const fsy_site_health_t *h, Fieldsync__SiteHealth *m,
           fsy_wire_vv_enc_t *ve)
{
    fieldsync__site_health__init(m);
    m->site = (char *)h->site;
    m->parent = (char *)h->parent;
    m->connected = h->connected;
    m->age_ms = h->heard_ms; /* an age in a HEALTH message: see wire.h */
    m->reported_ms = h->reported_ms;
    m->clock_offset_ms = h->clock_offset_ms;
    m->uptime_s = h->uptime_s;
    m->conflicts = h->conflicts;
    m->pending = h->pending;
    m->version = (char *)h->version;
    m->last_error = (char *)h->last_error;
    m->read_scopes = (char *)h->read_scopes;
    m->vv = &ve->msg;
    return fsy_wire_vv_build(ve, &h->vv);
}

int
fsy_wire_enc_health(const fsy_msg_t *m, Fieldsync__Health *h, uint8_t **z)
{
    s_health_enc_t e = {.n = m->n_sites};
    size_t n = m->n_sites ? m->n_sites : 1;
    e.sites = calloc(n, sizeof *e.sites);
    e.ptrs = calloc(n, sizeof *e.ptrs);
    e.vvs = calloc(n, sizeof *e.vvs);
    int rc = e.sites && e.ptrs && e.vvs
                 ? FSY_OK
                 : fsy_err_set(FSY_ENOMEM, "out of memory");
    for (size_t i = 0; rc == FSY_OK && i < m->n_sites; i++) {
        rc = s_enc_site(&m->sites[i], &e.sites[i], &e.vvs[i]);
        e.ptrs[i] = &e.sites[i];
    }
    uint8_t *raw = NULL;
    size_t raw_len = 0, zl = 0;
    if (rc == FSY_OK) {
        fieldsync__health_report__init(&e.report);
        e.report.n_sites = m->n_sites;
        e.report.sites = e.ptrs;
        rc = fsy_wire_pack(&e.report.base, &raw, &raw_len);
    }
    if (rc == FSY_OK)
        rc = fsy_wire_compress(raw, raw_len, z, &zl);
    free(raw);
    s_enc_free(&e);
    h->raw_len = raw_len;
    h->payload.data = *z;
    h->payload.len = zl;
    return rc;
}

/* Free text from a peer ends up in logs, a terminal and an HTML page: cut
 * to size and cleaned (fsy_text_clean), never a reason to lose a report. */
static void
s_copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
    fsy_text_clean(dst);
}

static int
s_dec_site(const Fieldsync__SiteHealth *m, fsy_site_health_t *h)
{
    int rc;
    if ((rc = fsy_wire_copy_str(h->site, sizeof h->site, m->site, "site id")) ||
        (rc = fsy_check_site(h->site)) ||
        (rc = fsy_wire_copy_str(h->parent, sizeof h->parent, m->parent,
                                "parent site id")) ||
        (h->parent[0] != '\0' && (rc = fsy_check_site(h->parent))))
        return rc;
    s_copy_text(h->version, sizeof h->version, m->version);
    s_copy_text(h->last_error, sizeof h->last_error, m->last_error);
    s_copy_text(h->read_scopes, sizeof h->read_scopes, m->read_scopes);
    if (m->age_ms > INT64_MAX || m->reported_ms > INT64_MAX ||
        m->uptime_s > INT64_MAX || m->conflicts > INT64_MAX ||
        m->pending > INT64_MAX ||
        fsy_abs_ms(m->clock_offset_ms) > (uint64_t)FSY_CLOCK_OFFSET_MAX_MS)
        return fsy_err_set(FSY_EINVAL, "health figure out of range");
    h->connected = m->connected;
    h->heard_ms = m->age_ms;
    h->reported_ms = m->reported_ms;
    h->clock_offset_ms = m->clock_offset_ms;
    h->uptime_s = m->uptime_s;
    h->conflicts = m->conflicts;
    h->pending = m->pending;
    return fsy_wire_dec_vv(m->vv, &h->vv);
}

static int
s_dec_report(const uint8_t *raw, size_t len, fsy_msg_t *out)
{
    fsy_wire_budget_t budget;
    fsy_wire_budget_init(&budget, len);
    Fieldsync__HealthReport *r =
        fieldsync__health_report__unpack(&budget.a, len, raw);
    if (r == NULL)
        return fsy_err_set(FSY_EFORMAT, "undecodable health report");
    int rc = FSY_OK;
    size_t entries = 0;
    for (size_t i = 0; i < r->n_sites && i <= FSY_HEALTH_SITES_MAX; i++)
        entries += r->sites[i]->vv->n_entries;
    if (r->n_sites == 0 || r->n_sites > FSY_HEALTH_SITES_MAX)
        rc = fsy_err_set(FSY_EINVAL, "health report of %zu sites (1 to %d)",
                         r->n_sites, FSY_HEALTH_SITES_MAX);
    else if (entries > FSY_HEALTH_VV_ENTRIES_MAX)
        rc = fsy_err_set(FSY_ETOOBIG,
                         "health report of %zu vector entries (at most %d)",
                         entries, FSY_HEALTH_VV_ENTRIES_MAX);
    if (rc == FSY_OK &&
        (out->sites = calloc(r->n_sites, sizeof *out->sites)) == NULL)
        rc = fsy_err_set(FSY_ENOMEM, "out of memory");
    for (size_t i = 0; rc == FSY_OK && i < r->n_sites; i++) {
        rc = s_dec_site(r->sites[i], &out->sites[i]);
        out->n_sites = i + 1; /* freed by fsy_msg_clear on error */
    }
    fieldsync__health_report__free_unpacked(r, &budget.a);
    return rc;
}

int
fsy_wire_dec_health(const Fieldsync__Health *h, fsy_msg_t *out)
{
    uint8_t *raw;
    int rc =
        fsy_wire_decompress(&h->payload, h->raw_len, FSY_HEALTH_RAW_MAX, &raw);
    if (rc != FSY_OK)
        return rc;
    rc = s_dec_report(raw, (size_t)h->raw_len, out);
    free(raw);
    return rc;
}
