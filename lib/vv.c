/*
 * fieldsync — version vectors: lookup, raise, copy, what one lacks, and the
 * status line form. See fieldsync/vv.h; the vv file is in vv_file.c.
 *
 * Vectors are small (a scope per origin that ever wrote to it), so lookups
 * are linear scans: a hub's vector of a few hundred entries is scanned in
 * microseconds, and a sorted layout would have to be kept sorted by every
 * raise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"
#include "fieldsync/vv.h"

void
fsy_vv_free(fsy_vv_t **vp)
{
    if (vp == NULL || *vp == NULL)
        return;
    free((*vp)->v);
    free(*vp);
    *vp = NULL;
}

fsy_vv_entry_t *
fsy_vv_find(fsy_vv_t *vv, const char *scope, const fsy_origin_t *o)
{
    for (size_t i = 0; vv != NULL && i < vv->n; i++)
        if (strcmp(vv->v[i].scope, scope) == 0 &&
            fsy_origin_eq(&vv->v[i].origin, o))
            return &vv->v[i];
    return NULL;
}

uint64_t
fsy_vv_get(const fsy_vv_t *vv, const char *scope, const fsy_origin_t *origin)
{
    /* find does not write through the pointer: the cast only shares it */
    const fsy_vv_entry_t *e = fsy_vv_find((fsy_vv_t *)vv, scope, origin);
    return e ? e->seq : 0;
}

/* Room for n entries, doubling; vv->v untouched on failure. */
static int
s_reserve(fsy_vv_t *vv, size_t *cap, size_t n)
{
    if (n <= *cap)
        return FSY_OK;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < n)
        ncap *= 2;
    fsy_vv_entry_t *v = realloc(vv->v, ncap * sizeof *v);
    if (v == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    vv->v = v;
    *cap = ncap;
    return FSY_OK;
}

int
fsy_vv_raise(fsy_vv_t *vv, size_t *cap, const char *scope,
             const fsy_origin_t *o, uint64_t seq)
{
    fsy_vv_entry_t *e = fsy_vv_find(vv, scope, o);
    if (e == NULL) {
        int rc = s_reserve(vv, cap, vv->n + 1);
        if (rc != FSY_OK)
            return rc;
        e = &vv->v[vv->n++];
        snprintf(e->scope, sizeof e->scope, "%s", scope);
        e->origin = *o;
        e->seq = 0;
    }
    if (seq > e->seq)
        e->seq = seq;
    return FSY_OK;
}

int
fsy_vv_copy(fsy_vv_t *vv, size_t *cap, const fsy_vv_t *src)
{
    int rc = s_reserve(vv, cap, src->n);
    if (rc != FSY_OK)
        return rc;
    if (src->n > 0)
        memcpy(vv->v, src->v, src->n * sizeof *vv->v);
    vv->n = src->n;
    return FSY_OK;
}

uint64_t
fsy_vv_missing(const fsy_vv_t *have, const fsy_vv_t *other, const char *scopes)
{
    uint64_t n = 0;
    for (size_t i = 0; i < have->n; i++) {
        const fsy_vv_entry_t *e = &have->v[i];
        if (scopes[0] != '\0' && !fsy_scope_allowed(scopes, e->scope))
            continue;
        uint64_t seen = fsy_vv_get(other, e->scope, &e->origin);
        if (e->seq > seen)
            n += e->seq - seen;
    }
    return n;
}

int
fsy_vv_format(const fsy_vv_t *vv, char **out)
{
    size_t cap = 1 + vv->n * (FSY_SCOPE_MAX + FSY_SITE_MAX + 48);
    char *buf = malloc(cap);
    if (buf == NULL)
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < vv->n; i++)
        off += (size_t)snprintf(buf + off, cap - off,
                                "%s %s %016" PRIx64 " %" PRIu64 "\n",
                                vv->v[i].scope, vv->v[i].origin.site,
                                vv->v[i].origin.incarnation, vv->v[i].seq);
    *out = buf;
    return FSY_OK;
}

static int
s_parse_line(const char *line, fsy_vv_entry_t *e)
{
    char scope[64], site[64], inc[32], seq[32];
    if (sscanf(line, "%63s %63s %31s %31s", scope, site, inc, seq) != 4 ||
        strlen(scope) > FSY_SCOPE_MAX || strlen(site) > FSY_SITE_MAX ||
        fsy_check_scope(scope) != FSY_OK || fsy_check_site(site) != FSY_OK)
        return fsy_err_set(FSY_EINVAL, "malformed vector line");
    char *end;
    e->origin.incarnation = strtoull(inc, &end, 16);
    if (*end != '\0')
        return fsy_err_set(FSY_EINVAL, "malformed incarnation");
    e->seq = strtoull(seq, &end, 10);
    if (*end != '\0')
        return fsy_err_set(FSY_EINVAL, "malformed seq");
    memcpy(e->scope, scope, strlen(scope) + 1); /* lengths checked above */
    memcpy(e->origin.site, site, strlen(site) + 1);
    return FSY_OK;
}

int
fsy_vv_parse(const char *text, fsy_vv_t **out)
{
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    fsy_vv_t *vv = calloc(1, sizeof *vv);
    if (vv != NULL)
        vv->v = calloc(lines + 1, sizeof *vv->v);
    if (vv == NULL || vv->v == NULL) {
        fsy_vv_free(&vv);
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    }
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[256];
        if (len >= sizeof line || vv->n == lines + 1 ||
            (memcpy(line, p, len), line[len] = '\0',
             s_parse_line(line, &vv->v[vv->n]) != FSY_OK)) {
            fsy_vv_free(&vv);
            return fsy_err_set(FSY_EINVAL, "malformed peer vector");
        }
        vv->n++;
        p += len + (nl != NULL);
    }
    *out = vv;
    return FSY_OK;
}
