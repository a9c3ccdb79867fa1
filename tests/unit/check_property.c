/*
 * fieldsync — property suite: random writes, deletes, re-creates and
 * resolves at several replicas, delivered in random orders that are only
 * contiguous per (scope, origin) — never assumed causal — with cuts,
 * duplicates, replays and gaps. After a final exchange every replica must
 * show the same digest, the same visible documents and conflicts, and hold
 * every change ever written, exactly once.
 *
 * Text runs add many short runs on one document whose body sites edit
 * line by line, so concurrent edits merge (or overlap) all the time.
 *
 * Seeds are fixed so a failure reproduces; FSY_PROPERTY_SEEDS,
 * FSY_PROPERTY_OPS and FSY_PROPERTY_TEXT_RUNS (per part, five parts) make
 * the run longer (e.g. for a soak in bench/).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fieldsync/query.h"
#include "testutil.h"

#define N_SITES 4

static const char *const s_sites[N_SITES] = {"hq", "bamako", "gao", "kidal"};
static const char *const s_scopes[] = {"MLI", "SSD"};
static const char *const s_docs[] = {"isf-2027", "jmac-weekly", "risk-north",
                                     "poc-plan"};
static const char *const s_fields[] = {"title", "status", "body"};
static const char *const s_values[] = {"draft", "under review", "endorsed",
                                       "final", ""};
static const char *const s_kinds[] = {"plan", "analysis"};

#define PICK(a) (a)[s_rand() % (sizeof(a) / sizeof((a)[0]))]

static uint64_t s_state;

/* Text runs: one document, mostly line edits of its body, written first
 * at HQ and received everywhere, so concurrent edits share a base. */
static bool s_text;

static uint32_t
s_rand(void)
{
    /* xorshift64*: small, deterministic, good enough to shuffle. */
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return (uint32_t)((s_state * 0x2545F4914F6CDD1Dull) >> 32);
}

typedef struct world {
    fsy_store_t *site[N_SITES];
    uint64_t written; /* changes minted by local writes, all sites */
    uint64_t seed;
} world_t;

static uint64_t
s_own_seq_total(fsy_store_t *s)
{
    fsy_vv_t *vv;
    ck_ok(fsy_store_vv(s, &vv));
    uint64_t n = 0;
    for (size_t i = 0; i < vv->n; i++)
        if (fsy_origin_eq(&vv->v[i].origin, fsy_store_origin(s)))
            n += vv->v[i].seq;
    fsy_vv_free(&vv);
    return n;
}

/* ---- random local operations ------------------------------------------ */

/* ---- text: a body of a few lines, edited line by line ------------------ */

static const char *const s_lines[] = {
    "Patrols resumed on the Gao-Ansongo road.",
    "Fuel stocks last six weeks.",
    "Floods may cut the ferry at Bourem.",
    "",
    "Two convoys were delayed.",
    "The humanitarian country team met on Monday."};

#define BODY_MAX 4096

/* A fresh body of 8 to 12 lines into buf. */
static size_t
s_new_body(char *buf)
{
    size_t len = 0, n = 8 + s_rand() % 5;
    for (size_t i = 0; i < n; i++)
        len +=
            (size_t)snprintf(buf + len, BODY_MAX - len, "%s\n", PICK(s_lines));
    return len;
}

/* One random line edit of the body `d` shows (replace, insert or delete
 * a line), or a fresh body when it shows none; into buf. */
static size_t
s_edit_body(const fsy_doc_t *d, char *buf)
{
    const fsy_field_t *f = d != NULL ? fsy_doc_field(d, "body") : NULL;
    const fsy_head_t *h = f != NULL ? fsy_field_shown(f) : NULL;
    if (h == NULL || h->absent || h->value_len == 0 ||
        h->value_len > BODY_MAX / 2 ||
        memchr(h->value, '\n', h->value_len) == NULL || s_rand() % 8 == 0)
        return s_new_body(buf);
    size_t lines = 0, len = 0, target, op = s_rand() % 3;
    for (size_t i = 0; i < h->value_len; i++)
        lines += h->value[i] == '\n';
    target = s_rand() % (lines + 1);
    const char *p = (const char *)h->value, *end = p + h->value_len;
    for (size_t i = 0; p < end || i == target; i++) {
        const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        size_t n =
            p < end ? (nl ? (size_t)(nl - p) + 1 : (size_t)(end - p)) : 0;
        if (i == target && op != 2) /* replace or insert a line here */
            len += (size_t)snprintf(buf + len, BODY_MAX - len, "%s %u\n",
                                    PICK(s_lines), s_rand() % 100);
        if (n > 0 && !(i == target && op != 1)) { /* keep the old line */
            memcpy(buf + len, p, n);
            len += n;
        }
        p += n;
        if (n == 0)
            break;
    }
    return len;
}

static int
s_op_put(fsy_store_t *s, const char *scope, const char *doc, fsy_doc_t *d)
{
    fsy_field_set_t sets[2] = {0};
    char body[BODY_MAX];
    size_t n = 1 + s_rand() % 2;
    sets[0].field = s_text && s_rand() % 4 ? "body" : PICK(s_fields);
    sets[1].field = sets[0].field == s_fields[0] ? s_fields[1] : s_fields[0];
    for (size_t i = 0; i < n; i++) {
        const char *v = PICK(s_values);
        sets[i].value = (const uint8_t *)v;
        sets[i].len = strlen(v);
        if (strcmp(sets[i].field, "body") == 0 &&
            (s_text || s_rand() % 5 != 0)) {
            sets[i].len = s_edit_body(d, body);
            sets[i].value = (const uint8_t *)body;
        }
    }
    const char *kind = NULL;
    if (d == NULL || !d->visible)
        kind = d != NULL && d->kind[0] && s_rand() % 4 ? NULL : PICK(s_kinds);
    return fsy_store_put(s, scope, doc, kind, sets, n);
}

static int
s_op_resolve(fsy_store_t *s, const fsy_doc_t *d)
{
    for (size_t i = 0; i < d->n_fields; i++) {
        const fsy_field_t *f = &d->fields[i];
        if (!f->conflict && !(d->deleted_conflict && f->name[0] != '_'))
            continue;
        if (s_rand() % 2) {
            char keep[64];
            fsy_version_label(&f->heads[s_rand() % f->n_heads].version, keep,
                              sizeof keep);
            return fsy_store_resolve(s, d->scope, d->id, f->name, keep, NULL,
                                     0);
        }
        const char *v = f->name[0] == '_' ? PICK(s_kinds) : PICK(s_values);
        return fsy_store_resolve(s, d->scope, d->id, f->name, NULL,
                                 (const uint8_t *)v, strlen(v));
    }
    return FSY_OK;
}

static void
s_random_op(world_t *w, int site)
{
    fsy_store_t *s = w->site[site];
    const char *scope = s_text ? s_scopes[0] : PICK(s_scopes);
    const char *doc = s_text ? s_docs[0] : PICK(s_docs);
    fsy_doc_t *d = NULL;
    int rc = fsy_store_get(s, scope, doc, &d);
    ck_assert_msg(rc == FSY_OK || rc == FSY_ENOTFOUND, "get: %s",
                  fsy_errdetail());
    uint64_t before = s_own_seq_total(s);
    uint32_t pick = s_rand() % (s_text ? 20 : 10);
    if (pick < 6 || d == NULL)
        rc = s_op_put(s, scope, doc, d);
    else if (pick < 8 && d->visible)
        rc = fsy_store_delete(s, scope, doc);
    else
        rc = s_op_resolve(s, d);
    ck_assert_msg(rc == FSY_OK, "seed %" PRIu64 ": op at %s on %s/%s: %s",
                  w->seed, s_sites[site], scope, doc, fsy_errdetail());
    w->written += s_own_seq_total(s) - before;
    fsy_doc_free(&d);
}

/* ---- random delivery -------------------------------------------------- */

static bool
s_same_stream(const fsy_change_t *a, const fsy_change_t *b)
{
    return strcmp(a->scope, b->scope) == 0 &&
           fsy_origin_eq(&a->version.origin, &b->version.origin);
}

/* One whole transaction: changes [first, first + len) of the export. */
typedef struct unit {
    size_t first, len;
} unit_t;

/* Transactions are contiguous in a log, ending with txn_end. */
static size_t
s_units(const fsy_change_list_t *all, unit_t *u)
{
    size_t n = 0;
    for (size_t i = 0; i < all->n; i++) {
        if (i == 0 || all->v[i - 1].txn_end)
            u[n++] = (unit_t){i, 0};
        u[n - 1].len++;
    }
    return n;
}

static bool
s_same_unit_stream(const fsy_change_list_t *all, unit_t a, unit_t b)
{
    return s_same_stream(&all->v[a.first], &all->v[b.first]);
}

/*
 * Picks what a lossy, reordering courier delivers of `all`, in whole
 * transactions: per stream, nothing, a prefix, everything, or (rarely) a
 * suffix that leaves a gap; then interleaves streams at random keeping
 * each stream's order. Never causal: a change may come without the
 * changes it was based on.
 */
static size_t
s_select(const fsy_change_list_t *all, const unit_t *u, size_t nu, unit_t *out)
{
    size_t k = 0;
    bool *seen = calloc(nu ? nu : 1, sizeof *seen);
    for (size_t i = 0; i < nu; i++) {
        if (seen[i])
            continue;
        size_t count = 0, idx = 0, from = 0, to;
        for (size_t j = i; j < nu; j++)
            count += s_same_unit_stream(all, u[i], u[j]);
        to = count;
        uint32_t mode = s_rand() % 8;
        if (mode == 0)
            to = 0;
        else if (mode <= 2)
            to = 1 + s_rand() % count;
        else if (mode == 3 && count > 1)
            from = 1 + s_rand() % (count - 1); /* a gap */
        for (size_t j = i; j < nu; j++) {
            if (!s_same_unit_stream(all, u[i], u[j]))
                continue;
            seen[j] = true;
            if (idx >= from && idx < to)
                out[k++] = u[j];
            idx++;
        }
    }
    free(seen);
    for (size_t r = 0; k > 1 && r < k * 2; r++) {
        size_t i = s_rand() % (k - 1);
        if (!s_same_unit_stream(all, out[i], out[i + 1])) {
            unit_t t = out[i];
            out[i] = out[i + 1];
            out[i + 1] = t;
        }
    }
    return k;
}

static void
s_apply_units(fsy_store_t *s, const fsy_change_list_t *all, const unit_t *u,
              size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += u[i].len;
    fsy_change_t *flat = malloc((total ? total : 1) * sizeof *flat);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < u[i].len; j++)
            flat[k++] = all->v[u[i].first + j]; /* shallow: all owns */
    fsy_apply_stats_t st;
    ck_ok(fsy_store_apply(s, flat, k, &st));
    free(flat);
}

/* One courier run from a to b, in random batches, with replays. */
static void
s_random_delivery(world_t *w, int a, int b)
{
    fsy_change_list_t all = {0};
    fsy_vv_t *vv = NULL;
    /* Sometimes export against an empty vector: old news and replays. */
    if (s_rand() % 3)
        ck_ok(fsy_store_vv(w->site[b], &vv));
    ck_ok(fsy_store_export(w->site[a], vv, tu_collect, &all));
    fsy_vv_free(&vv);
    unit_t *units = malloc((all.n ? all.n : 1) * sizeof *units);
    unit_t *sel = malloc((all.n ? all.n : 1) * sizeof *sel);
    size_t n = s_select(&all, units, s_units(&all, units), sel);
    for (size_t off = 0; off < n;) {
        size_t len = 1 + s_rand() % (n - off);
        s_apply_units(w->site[b], &all, sel + off, len);
        if (s_rand() % 5 == 0) /* a duplicate delivery */
            s_apply_units(w->site[b], &all, sel + off, len);
        off += len;
    }
    free(units);
    free(sel);
    fsy_change_list_clear(&all);
}

/* Exchanges until a full round changes nothing anywhere. */
static void
s_settle(world_t *w)
{
    for (int round = 0; round < 10; round++) {
        uint64_t before = 0, after = 0;
        for (int i = 0; i < N_SITES; i++)
            before += tu_changes(w->site[i]);
        for (int i = 0; i < N_SITES; i++)
            for (int j = 0; j < N_SITES; j++)
                if (i != j)
                    tu_sync(w->site[i], w->site[j]);
        for (int i = 0; i < N_SITES; i++)
            after += tu_changes(w->site[i]);
        if (after == before)
            return;
    }
    ck_abort_msg("seed %" PRIu64 ": replicas did not settle", w->seed);
}

/* ---- what must hold at the end ---------------------------------------- */

/* How the fields summarised merged, by fsy_text_merge_state_t: the runs
 * must see clean merges and overlaps, or they tested nothing of them. */
static uint64_t s_merges[4];

typedef struct summary {
    char text[1 << 16];
    size_t len;
} summary_t;

static int
s_summarise(const fsy_doc_t *d, void *ctx)
{
    summary_t *sm = ctx;
    sm->len += (size_t)snprintf(sm->text + sm->len, sizeof sm->text - sm->len,
                                "%s/%s:%zu:%d", d->scope, d->id, d->n_conflicts,
                                d->deleted_conflict);
    for (size_t i = 0; i < d->n_fields && sm->len < sizeof sm->text; i++) {
        const fsy_field_t *f = &d->fields[i];
        s_merges[f->text_merge]++;
        if (f->conflict || f->text_merge == FSY_TEXT_MERGE_CLEAN)
            sm->len += (size_t)snprintf(sm->text + sm->len,
                                        sizeof sm->text - sm->len, ",%s%s",
                                        f->name, f->conflict ? "" : "~merged");
    }
    if (sm->len < sizeof sm->text - 1)
        sm->text[sm->len++] = ';';
    return 0;
}

static void
s_summary(fsy_store_t *s, bool conflicted, summary_t *sm)
{
    sm->len = 0;
    ck_ok(fsy_store_each_doc(s, NULL, NULL, conflicted, s_summarise, sm));
    sm->text[sm->len < sizeof sm->text ? sm->len : sizeof sm->text - 1] = 0;
}

static int
s_log_cmp(const void *x, const void *y)
{
    const fsy_change_t *a = x, *b = y;
    int c = strcmp(a->scope, b->scope);
    return c ? c : fsy_version_cmp(&a->version, &b->version);
}

/* Every log holds the same set of changes, each exactly once. */
static void
s_assert_logs_equal(world_t *w)
{
    fsy_change_list_t ref = {0};
    ck_ok(fsy_store_export(w->site[0], NULL, tu_collect, &ref));
    ck_assert_uint_eq(ref.n, w->written);
    qsort(ref.v, ref.n, sizeof *ref.v, s_log_cmp);
    for (size_t i = 1; i < ref.n; i++)
        ck_assert_int_ne(s_log_cmp(&ref.v[i - 1], &ref.v[i]), 0);
    for (int k = 1; k < N_SITES; k++) {
        fsy_change_list_t l = {0};
        ck_ok(fsy_store_export(w->site[k], NULL, tu_collect, &l));
        ck_assert_uint_eq(l.n, ref.n);
        qsort(l.v, l.n, sizeof *l.v, s_log_cmp);
        for (size_t i = 0; i < l.n; i++)
            ck_assert(memcmp(l.v[i].checksum, ref.v[i].checksum,
                             FSY_CHECKSUM_LEN) == 0);
        fsy_change_list_clear(&l);
    }
    fsy_change_list_clear(&ref);
}

/* ---- the search index, checked against the documents themselves ---- */

static const char *const s_words[] = {"draft", "under", "review", "endorsed",
                                      "final"};

typedef struct idset {
    char *v[256];
    size_t n;
} idset_t;

static void
s_idset_add(idset_t *set, const char *scope, const char *id)
{
    ck_assert_uint_lt(set->n, 256);
    char buf[FSY_SCOPE_MAX + FSY_DOC_MAX + 2];
    snprintf(buf, sizeof buf, "%s/%s", scope, id);
    set->v[set->n++] = strdup(buf);
}

static int
s_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The set as one sorted, comma-separated string (freed by the caller). */
static char *
s_idset_text(idset_t *set)
{
    qsort(set->v, set->n, sizeof set->v[0], s_strcmp);
    size_t len = 1;
    for (size_t i = 0; i < set->n; i++)
        len += strlen(set->v[i]) + 1;
    char *t = calloc(1, len);
    for (size_t i = 0; i < set->n; i++) {
        strcat(t, set->v[i]);
        strcat(t, ",");
        free(set->v[i]);
    }
    set->n = 0;
    return t;
}

/* Whether text value v holds word w as a whole token, ignoring case. */
static bool
s_has_word(const uint8_t *v, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && (isalnum(v[j]) || v[j] >= 0x80))
            j++;
        if (j - i == wl && strncasecmp((const char *)v + i, w, wl) == 0)
            return true;
        i = j + 1;
    }
    return false;
}

typedef struct brute {
    const char *word;
    idset_t *set;
} brute_t;

/* The expected hits: a visible document with the word in any head of a
 * user field (both sides of a conflict are searched). */
static int
s_brute_doc(const fsy_doc_t *d, void *ctx)
{
    brute_t *b = ctx;
    for (size_t i = 0; i < d->n_fields; i++) {
        const fsy_field_t *f = &d->fields[i];
        for (size_t k = 0; f->name[0] != '_' && k < f->n_heads; k++) {
            const fsy_head_t *h = &f->heads[k];
            if (!h->absent && !h->ref &&
                s_has_word(h->value, h->value_len, b->word)) {
                s_idset_add(b->set, d->scope, d->id);
                return 0;
            }
        }
    }
    return 0;
}

static int
s_hit_doc(const fsy_hit_t *h, void *ctx)
{
    s_idset_add(ctx, h->doc->scope, h->doc->id);
    return 0;
}

/* Every word of the vocabulary finds exactly the documents holding it. */
static void
s_assert_index_exact(world_t *w, int k)
{
    static idset_t want, got;
    for (size_t i = 0; i < sizeof s_words / sizeof s_words[0]; i++) {
        brute_t b = {.word = s_words[i], .set = &want};
        ck_ok(
            fsy_store_each_doc(w->site[k], NULL, NULL, false, s_brute_doc, &b));
        fsy_query_t q = {.text = s_words[i]};
        ck_ok(fsy_store_query(w->site[k], &q, s_hit_doc, &got));
        char *tw = s_idset_text(&want), *tg = s_idset_text(&got);
        ck_assert_msg(strcmp(tw, tg) == 0,
                      "seed %" PRIu64 ", %s: '%s' should find %s, found %s",
                      w->seed, s_sites[k], s_words[i], tw, tg);
        free(tw);
        free(tg);
    }
}

static int
s_count_doc(const fsy_doc_t *d, void *ctx)
{
    uint64_t *n = ctx;
    n[0] += d->visible;
    n[1] += d->n_conflicts;
    return 0;
}

/* The counts status reads are what the documents say. */
static void
s_assert_counted(world_t *w, int k)
{
    uint64_t shown[2] = {0, 0}, open[2] = {0, 0};
    ck_ok(
        fsy_store_each_doc(w->site[k], NULL, NULL, false, s_count_doc, shown));
    ck_ok(fsy_store_each_doc(w->site[k], NULL, NULL, true, s_count_doc, open));
    uint64_t n[2] = {shown[0], open[1]};
    fsy_store_counts_t c;
    ck_ok(fsy_store_counts(w->site[k], &c));
    ck_assert_msg(c.documents == n[0] && c.conflicts == n[1],
                  "seed %" PRIu64 ", %s: counted %" PRIu64 " documents and "
                  "%" PRIu64 " conflicts, holds %" PRIu64 " and %" PRIu64,
                  w->seed, s_sites[k], c.documents, c.conflicts, n[0], n[1]);
}

/* The log position of d's greatest head (0: none), which doc_meta calls
 * its latest version. */
static uint64_t
s_latest(const fsy_doc_t *d)
{
    const fsy_head_t *best = NULL;
    for (size_t i = 0; i < d->n_fields; i++)
        for (size_t k = 0; k < d->fields[i].n_heads; k++)
            if (best == NULL || fsy_version_cmp(&d->fields[i].heads[k].version,
                                                &best->version) > 0)
                best = &d->fields[i].heads[k];
    return best != NULL ? best->lseq : 0;
}

/* Every docs row says what deriving its document in full says: the
 * apply's shortcuts (a document derived from the changes in hand, an
 * edit that keeps what the document shows) change nothing. */
static void
s_assert_rows_derived(world_t *w, int k)
{
    char name[64];
    snprintf(name, sizeof name, "%s.db", s_sites[k]);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(tu_path(name), &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT d.scope, d.doc, kind, "
                                        "visible, n_conflicts, updated_hlc, "
                                        "head_fields, m.updated_lseq FROM "
                                        "docs d JOIN doc_meta m ON m.scope "
                                        "= d.scope AND m.doc = d.doc",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *scope = (const char *)sqlite3_column_text(st, 0);
        const char *doc = (const char *)sqlite3_column_text(st, 1);
        fsy_doc_t *d = NULL, none = {0};
        int rc = fsy_store_get(w->site[k], scope, doc, &d);
        ck_assert(rc == FSY_OK || rc == FSY_ENOTFOUND);
        const fsy_doc_t *v = d != NULL ? d : &none;
        ck_assert_msg(
            strcmp((const char *)sqlite3_column_text(st, 2), v->kind) == 0 &&
                sqlite3_column_int(st, 3) == v->visible &&
                (uint64_t)sqlite3_column_int64(st, 4) == v->n_conflicts &&
                (uint64_t)sqlite3_column_int64(st, 5) == v->updated_hlc &&
                (size_t)sqlite3_column_int64(st, 6) == v->n_fields &&
                (uint64_t)sqlite3_column_int64(st, 7) == s_latest(v),
            "seed %" PRIu64 ", %s: the docs row of %s/%s is not its "
            "derivation",
            w->seed, s_sites[k], scope, doc);
        fsy_doc_free(&d);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void
s_assert_converged(world_t *w)
{
    char d0[65], dk[65];
    static summary_t v0, vk, c0, ck;
    tu_digest(w->site[0], d0);
    s_summary(w->site[0], false, &v0);
    s_summary(w->site[0], true, &c0);
    for (int k = 1; k < N_SITES; k++) {
        tu_digest(w->site[k], dk);
        ck_assert_msg(strcmp(d0, dk) == 0, "seed %" PRIu64 ": %s and %s differ",
                      w->seed, s_sites[0], s_sites[k]);
        s_summary(w->site[k], false, &vk);
        ck_assert_str_eq(v0.text, vk.text);
        s_summary(w->site[k], true, &ck);
        ck_assert_str_eq(c0.text, ck.text);
        fsy_verify_report_t r;
        ck_ok(fsy_store_verify(w->site[k], &r));
    }
    for (int k = 0; k < N_SITES; k++) {
        s_assert_index_exact(w, k);
        s_assert_counted(w, k);
        s_assert_rows_derived(w, k);
    }
    s_assert_logs_equal(w);
}

/* The text runs' first document, at every site. */
static void
s_text_start(world_t *w)
{
    char body[BODY_MAX];
    fsy_field_set_t set = {"body", (const uint8_t *)body, s_new_body(body),
                           false};
    ck_ok(
        fsy_store_put(w->site[0], s_scopes[0], s_docs[0], s_kinds[0], &set, 1));
    w->written += 2;
    for (int i = 1; i < N_SITES; i++)
        tu_sync(w->site[0], w->site[i]);
}

static void
s_run(uint64_t seed, int ops, bool text)
{
    world_t w = {.seed = seed};
    s_state = seed * 0x9E3779B97F4A7C15ull + 1;
    s_text = text;
    for (int i = 0; i < N_SITES; i++)
        w.site[i] = tu_replica(s_sites[i]);
    if (text)
        s_text_start(&w);
    for (int i = 0; i < ops; i++) {
        if (s_rand() % 3 == 0) {
            int a = (int)(s_rand() % N_SITES), b = (int)(s_rand() % N_SITES);
            if (a != b)
                s_random_delivery(&w, a, b);
        } else {
            s_random_op(&w, (int)(s_rand() % N_SITES));
        }
    }
    for (int i = 0; i < N_SITES; i++) /* mid-way: deliveries partial */
        s_assert_index_exact(&w, i);
    s_settle(&w);
    s_assert_converged(&w);
    for (int i = 0; i < N_SITES; i++)
        fsy_store_close(&w.site[i]);
    tu_cleanup();
}

static int
s_env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? atoi(v) : dflt;
}

START_TEST(test_property_random_delivery_converges)
{
    int ops = s_env_int("FSY_PROPERTY_OPS", 300);
    int seeds = s_env_int("FSY_PROPERTY_SEEDS", 3);
    for (int k = 0; k < seeds; k++)
        s_run((uint64_t)(_i * 1000 + k + 1), ops, false);
}
END_TEST

/* Many short runs, where concurrent line edits of the body meet most
 * often: text merges must converge like everything else. Fewer under the
 * sanitizers, whose build runs the same code ~5x slower. */
START_TEST(test_property_text_merges_converge_over_many_runs)
{
    const char *san = getenv("FSY_SANITIZE");
    int dflt = san != NULL && strcmp(san, "ON") == 0 ? 60 : 400;
    int runs = s_env_int("FSY_PROPERTY_TEXT_RUNS", dflt);
    memset(s_merges, 0, sizeof s_merges);
    for (int k = 0; k < runs; k++)
        s_run((uint64_t)(100000 + _i * runs + k), 16, true);
    fprintf(stderr,
            "text runs %d x 16 ops (part %d): %" PRIu64 " merged, %" PRIu64
            " overlapping, %" PRIu64 " without a base\n",
            runs, _i, s_merges[FSY_TEXT_MERGE_CLEAN],
            s_merges[FSY_TEXT_MERGE_OVERLAP], s_merges[FSY_TEXT_MERGE_NO_BASE]);
    ck_assert_uint_gt(s_merges[FSY_TEXT_MERGE_CLEAN], 0);
    ck_assert_uint_gt(s_merges[FSY_TEXT_MERGE_OVERLAP], 0);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *su = suite_create("property");
    TCase *tc = tcase_create("convergence");
    tcase_add_checked_fixture(tc, NULL, tu_cleanup);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_property_random_delivery_converges, 0, 6);
    tcase_add_loop_test(tc, test_property_text_merges_converge_over_many_runs,
                        0, 5);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    /* Durability is not what this suite checks, and an fsync per commit
     * of four replicas was most of its time: on tmpfs where there is one. */
    if (getenv("FSY_PROPERTY_ON_DISK") == NULL && access("/dev/shm", W_OK) == 0)
        setenv("FSY_TEST_TMP", "/dev/shm", 1);
    return tu_run(s_suite());
}
