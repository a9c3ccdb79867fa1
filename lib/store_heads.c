/*
 * fieldsync — a document's heads as its docs row keeps them (schema 10):
 * the log positions of the versions no received change names as a base,
 * a JSON array in ascending order ("[12,57,58]"). An apply holds the
 * current document's set here while its run of changes lasts and writes
 * it once, with the rest of the docs row, as the run ends.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* The longest position written: 19 digits and a separator. */
#define S_POS_CHARS 20

void
fsy_sq_heads_free(fsy_sq_heads_t *h)
{
    free(h->v);
    free(h->json);
    memset(h, 0, sizeof *h);
}

int
fsy_sq_heads_add(fsy_sq_heads_t *h, int64_t lseq)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        int64_t *v = realloc(h->v, cap * sizeof *v);
        if (v == NULL)
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = lseq;
    return FSY_OK;
}

bool
fsy_sq_heads_del(fsy_sq_heads_t *h, int64_t lseq)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i] == lseq) {
            memmove(&h->v[i], &h->v[i + 1], (h->n - i - 1) * sizeof *h->v);
            h->n--;
            return true;
        }
    return false;
}

static int
s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Parses what a docs row holds: positions, each once; anything else is
 * a damaged row. */
static int
s_parse(fsy_sq_heads_t *h, const char *p)
{
    if (*p++ != '[')
        return FSY_ECORRUPT;
    while (*p != ']') {
        if (h->n > 0 && *p++ != ',')
            return FSY_ECORRUPT;
        int64_t v = 0;
        const char *start = p;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (v > (INT64_MAX - (*p - '0')) / 10)
                return FSY_ECORRUPT;
            v = v * 10 + (*p - '0');
        }
        if (p == start || v == 0)
            return FSY_ECORRUPT;
        if (fsy_sq_heads_add(h, v) != FSY_OK)
            return FSY_ENOMEM;
    }
    if (p[1] != '\0')
        return FSY_ECORRUPT;
    if (h->n > 1)
        qsort(h->v, h->n, sizeof *h->v, s_cmp);
    for (size_t i = 1; i < h->n; i++)
        if (h->v[i] == h->v[i - 1])
            return FSY_ECORRUPT;
    return FSY_OK;
}

int
fsy_sq_heads_load(fsy_store_t *s, const char *scope, const char *doc,
                  fsy_sq_heads_t *h)
{
    h->n = 0;
    sqlite3_stmt *st = fsy_sq_stmt(s, ST_DOC_HEADS_OF);
    if (st == NULL)
        return FSY_EINTERNAL;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), err = FSY_OK;
    h->counted_visible = h->counted_conflicts = 0;
    h->updated_hlc = h->head_fields = 0;
    if (rc == SQLITE_ROW) {
        h->counted_visible = sqlite3_column_int64(st, 1);
        h->counted_conflicts = sqlite3_column_int64(st, 2);
        h->updated_hlc = sqlite3_column_int64(st, 3);
        h->head_fields = sqlite3_column_int64(st, 4);
        const char *text = (const char *)sqlite3_column_text(st, 0);
        err = s_parse(h, text != NULL ? text : "");
        if (err == FSY_ECORRUPT)
            err = fsy_err_set(err,
                              "document %s in scope %s lists its heads as "
                              "\"%.40s\"",
                              doc, scope, text != NULL ? text : "");
    } else if (rc != SQLITE_DONE) {
        err = fsy_sq_err(s, rc, "reading a document's heads");
    }
    sqlite3_reset(st);
    h->n_row = h->n;
    return err;
}

/* A log position in decimal at out (S_POS_CHARS at most, no
 * terminator): its length. snprintf cost more than the rest of the
 * array's making. */
static size_t
s_put_pos(char *out, int64_t v)
{
    FSY_ASSERT(v > 0); /* a log position (a rowid) */
    char tmp[S_POS_CHARS];
    size_t n = 0;
    uint64_t u = (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

const char *
fsy_sq_heads_json(fsy_sq_heads_t *h)
{
    size_t need = 3 + h->n * S_POS_CHARS;
    if (need > h->json_cap) {
        char *j = realloc(h->json, need);
        if (j == NULL) {
            fsy_err_set(FSY_ENOMEM, "out of memory");
            return NULL;
        }
        h->json = j;
        h->json_cap = need;
    }
    if (h->n > 1)
        qsort(h->v, h->n, sizeof *h->v, s_cmp);
    size_t at = 0;
    h->json[at++] = '[';
    for (size_t i = 0; i < h->n; i++) {
        if (i > 0)
            h->json[at++] = ',';
        at += s_put_pos(h->json + at, h->v[i]);
    }
    h->json[at++] = ']';
    h->json[at] = '\0';
    return h->json;
}

sqlite3_stmt *
fsy_sq_heads_bind(fsy_store_t *s, enum fsy_stmt_id id, const char *scope,
                  const char *doc, fsy_sq_heads_t *h, int *rc)
{
    const char *json = fsy_sq_heads_json(h);
    sqlite3_stmt *st = json != NULL ? fsy_sq_stmt(s, id) : NULL;
    *rc = json == NULL ? FSY_ENOMEM : st == NULL ? FSY_EINTERNAL : FSY_OK;
    if (st == NULL)
        return NULL;
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
    return st;
}

int
fsy_sq_heads_store(fsy_store_t *s, const char *scope, const char *doc,
                   fsy_sq_heads_t *h)
{
    int rc;
    sqlite3_stmt *st =
        fsy_sq_heads_bind(s, ST_DOC_HEADS_SET, scope, doc, h, &rc);
    return st == NULL ? rc
                      : fsy_sq_step_done(s, st, "recording a document's heads");
}
