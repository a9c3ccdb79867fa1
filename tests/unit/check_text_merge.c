/*
 * fieldsync — text merge: the three-way merge of text values and how the
 * store folds a field's concurrent heads with it (docs/REPLICATION.md,
 * "Text merge"): edits to different paragraphs merge, the same at every
 * replica whatever order the changes arrive in; overlapping edits stay a
 * conflict that shows only the overlap; registers, bytes and opted-out
 * fields behave as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fieldsync/text_merge.h"
#include "testutil.h"

#define SCOPE "MLI"
#define DOC "isf-mli-2027"

static const char s_base[] = "1. Context\n"
                             "The transition plan covers Bamako and Gao.\n"
                             "\n"
                             "2. Protection of civilians\n"
                             "Patrols continue on the Gao-Ansongo road.\n"
                             "\n"
                             "3. Logistics\n"
                             "Fuel stocks last six weeks.\n"
                             "\n"
                             "4. Risks\n"
                             "Seasonal floods may cut the ferry.\n";

/* s_base with `old` replaced by `new`; the caller frees it. */
static char *
s_edit(const char *text, const char *old, const char *new)
{
    const char *at = strstr(text, old);
    ck_assert_ptr_nonnull(at);
    size_t n = strlen(text) - strlen(old) + strlen(new) + 1;
    char *out = malloc(n);
    ck_assert_ptr_nonnull(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, new, at + strlen(old));
    return out;
}

/* ---- the pure merge --------------------------------------------------- */

START_TEST(test_text_merge3_combines_edits_to_different_lines)
{
    char *a = s_edit(s_base, "Bamako and Gao", "Bamako, Gao and Timbuktu");
    char *b = s_edit(s_base, "six weeks", "four weeks (convoy delayed)");
    char *out;
    size_t len;
    bool clean;
    ck_ok(fsy_text_merge3(s_base, strlen(s_base), a, strlen(a), b, strlen(b),
                          &clean, &out, &len));
    ck_assert(clean);
    char *want = s_edit(a, "six weeks", "four weeks (convoy delayed)");
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(len, strlen(want));
    free(out);
    /* the other way round gives the same text */
    ck_ok(fsy_text_merge3(s_base, strlen(s_base), b, strlen(b), a, strlen(a),
                          &clean, &out, &len));
    ck_assert(clean);
    ck_assert_str_eq(out, want);
    free(out);
    free(want);
    free(a);
    free(b);
}
END_TEST

typedef struct first_hunk {
    size_t line;
    char a[64], base[64], b[64];
} first_hunk_t;

/* Copies the first hunk: its texts are borrowed for the call only. */
static int
s_first_hunk(const fsy_text_hunk_t *h, void *ctx)
{
    first_hunk_t *x = ctx;
    if (x->line != 0)
        return 0;
    x->line = h->line;
    snprintf(x->a, sizeof x->a, "%.*s", (int)h->a_len, h->a);
    snprintf(x->base, sizeof x->base, "%.*s", (int)h->base_len, h->base);
    snprintf(x->b, sizeof x->b, "%.*s", (int)h->b_len, h->b);
    return 0;
}

START_TEST(test_text_merge3_overlap_reports_only_the_hunk)
{
    char *a = s_edit(s_base, "six weeks", "five weeks");
    char *b = s_edit(s_base, "six weeks", "three weeks");
    char *out;
    size_t len, n;
    bool clean = true;
    ck_ok(fsy_text_merge3(s_base, strlen(s_base), a, strlen(a), b, strlen(b),
                          &clean, &out, &len));
    ck_assert(!clean);
    ck_assert_ptr_null(out);
    first_hunk_t h = {0};
    ck_ok(fsy_text_merge_hunks(s_base, strlen(s_base), a, strlen(a), b,
                               strlen(b), s_first_hunk, &h, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(h.line, 8);
    ck_assert_str_eq(h.a, "Fuel stocks last five weeks.");
    ck_assert_str_eq(h.b, "Fuel stocks last three weeks.");
    ck_assert_str_eq(h.base, "Fuel stocks last six weeks.");
    free(a);
    free(b);
}
END_TEST

typedef struct hunks {
    size_t n;
    char a[3][128];
} hunks_t;

static int
s_keep_hunk(const fsy_text_hunk_t *h, void *ctx)
{
    hunks_t *x = ctx;
    if (x->n < 3)
        snprintf(x->a[x->n], sizeof x->a[0], "%.*s", (int)h->a_len, h->a);
    x->n++;
    return 0;
}

START_TEST(test_text_merge_hunks_tell_markers_in_the_text_apart)
{
    /* Text that itself holds conflict-marker lines must not confuse the
     * reading of the overlaps. */
    const char *base = "<<<<<<< quoted\nA\n=======\nB\n>>>>>>> quoted\nend\n";
    const char *a = "<<<<<<< quoted\nA1\n=======\nB\n>>>>>>> quoted\nend\n";
    const char *b = "<<<<<<< quoted\nA2\n=======\nB\n>>>>>>> quoted\nend\n";
    hunks_t x = {0};
    size_t n;
    ck_ok(fsy_text_merge_hunks(base, strlen(base), a, strlen(a), b, strlen(b),
                               s_keep_hunk, &x, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(x.a[0], "A1");
}
END_TEST

START_TEST(test_text_merge_hunks_read_crlf_text)
{
    const char *base = "one\r\ntwo\r\nthree\r\n";
    const char *a = "one\r\nTWO\r\nthree\r\n";
    const char *b = "one\r\n2\r\nthree\r\n";
    first_hunk_t h = {0};
    size_t n;
    ck_ok(fsy_text_merge_hunks(base, strlen(base), a, strlen(a), b, strlen(b),
                               s_first_hunk, &h, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(h.line, 2);
    ck_assert_str_eq(h.a, "TWO\r");
}
END_TEST

START_TEST(test_text_merge_hunks_show_whole_texts_past_long_marker_runs)
{
    /* A line of 200 '=' would need markers longer than we ask for: the
     * overlap is then shown as the whole texts, never misread. */
    char base[400], a[400], b[400], rule[201];
    memset(rule, '=', 200);
    rule[200] = '\0';
    snprintf(base, sizeof base, "%s\nx\n", rule);
    snprintf(a, sizeof a, "%s\ny\n", rule);
    snprintf(b, sizeof b, "%s\nz\n", rule);
    hunks_t x = {0};
    size_t n;
    ck_ok(fsy_text_merge_hunks(base, strlen(base), a, strlen(a), b, strlen(b),
                               s_keep_hunk, &x, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(strlen(x.a[0]), strlen(a) < 127 ? strlen(a) : 127);
}
END_TEST

START_TEST(test_text_mergeable_wants_lines_of_utf8_text)
{
    ck_assert(fsy_text_mergeable((const uint8_t *)"a\nb", 3));
    ck_assert(!fsy_text_mergeable((const uint8_t *)"draft", 5));
    ck_assert(!fsy_text_mergeable((const uint8_t *)"", 0));
    ck_assert(!fsy_text_mergeable((const uint8_t *)"a\n\0b", 4));
    ck_assert(!fsy_text_mergeable((const uint8_t *)"a\n\xff", 3));
    ck_assert(fsy_text_is_text((const uint8_t *)"", 0));
    ck_assert(fsy_text_is_text((const uint8_t *)"draft", 5));
}
END_TEST

/* ---- the store's fold --------------------------------------------------- */

typedef struct sites {
    fsy_store_t *hq, *s[3];
} sites_t;

static const char *const s_names[3] = {"bamako", "gao", "kidal"};
static const char *const s_old[3] = {"Bamako and Gao", "Gao-Ansongo road",
                                     "ferry."};
static const char *const s_new[3] = {"Bamako, Gao and Timbuktu",
                                     "Gao-Ansongo and Gao-Menaka roads",
                                     "ferry at Bourem."};

/* HQ writes the plan; each of n sites receives it, then edits its own
 * paragraph while the links are down. */
static void
s_sites_edit(sites_t *w, int n)
{
    w->hq = tu_replica("hq");
    tu_put(w->hq, SCOPE, DOC, "plan", "body", s_base);
    for (int i = 0; i < n; i++) {
        w->s[i] = tu_replica(s_names[i]);
        tu_sync(w->hq, w->s[i]);
        char *v = s_edit(s_base, s_old[i], s_new[i]);
        tu_put(w->s[i], SCOPE, DOC, NULL, "body", v);
        free(v);
    }
}

static void
s_sites_close(sites_t *w)
{
    fsy_store_close(&w->hq);
    for (int i = 0; i < 3; i++)
        fsy_store_close(&w->s[i]);
}

/* The body with the edits of the first n sites. */
static char *
s_all_edits(int n)
{
    char *v = strdup(s_base);
    for (int i = 0; i < n; i++) {
        char *next = s_edit(v, s_old[i], s_new[i]);
        free(v);
        v = next;
    }
    return v;
}

static const fsy_field_t *
s_body(fsy_store_t *s, fsy_doc_t **d)
{
    ck_ok(fsy_store_get(s, SCOPE, DOC, d));
    const fsy_field_t *f = fsy_doc_field(*d, "body");
    ck_assert_ptr_nonnull(f);
    return f;
}

START_TEST(test_store_merges_edits_to_different_paragraphs)
{
    sites_t w = {0};
    s_sites_edit(&w, 2);
    tu_sync(w.s[0], w.s[1]);
    tu_sync(w.s[1], w.s[0]);
    char *want = s_all_edits(2);
    ck_assert_str_eq(tu_get(w.s[0], SCOPE, DOC, "body"), want);
    ck_assert_str_eq(tu_get(w.s[1], SCOPE, DOC, "body"), want);
    char d0[65], d1[65];
    tu_digest(w.s[0], d0);
    tu_digest(w.s[1], d1);
    ck_assert_str_eq(d0, d1);
    fsy_doc_t *d;
    const fsy_field_t *f = s_body(w.s[0], &d);
    ck_assert(!f->conflict);
    ck_assert_int_eq(f->text_merge, FSY_TEXT_MERGE_CLEAN);
    ck_assert_uint_eq(d->n_conflicts, 0);
    ck_assert_uint_eq(f->n_heads, 2);
    char note[FSY_MERGE_NOTE_LEN];
    ck_assert_str_eq(fsy_field_merge_note(f, note, sizeof note),
                     "merged bamako:1 and gao:1 over hq:2");
    fsy_doc_free(&d);
    fsy_store_counts_t c;
    ck_ok(fsy_store_counts(w.s[0], &c));
    ck_assert_uint_eq(c.conflicts, 0);
    /* The next edit replaces both heads: the merge is not kept up. */
    char *next = s_edit(want, "Fuel", "Diesel");
    tu_put(w.s[0], SCOPE, DOC, NULL, "body", next);
    f = s_body(w.s[0], &d);
    ck_assert_uint_eq(f->n_heads, 1);
    ck_assert_int_eq(f->text_merge, FSY_TEXT_MERGE_NONE);
    ck_assert_uint_eq(fsy_field_shown(f)->value_len, strlen(next));
    ck_assert(memcmp(fsy_field_shown(f)->value, next, strlen(next)) == 0);
    fsy_doc_free(&d);
    free(next);
    free(want);
    s_sites_close(&w);
}
END_TEST

/* The changes of one origin, as one unit of delivery. */
static void
s_origin_changes(fsy_store_t *s, const char *site, fsy_change_list_t *out)
{
    fsy_change_list_t all = {0};
    ck_ok(fsy_store_export(s, NULL, tu_collect, &all));
    for (size_t i = 0; i < all.n; i++)
        if (strcmp(all.v[i].version.origin.site, site) == 0) {
            fsy_change_t *c;
            ck_ok(fsy_change_list_push(out, &c));
            ck_ok(fsy_change_copy(c, &all.v[i]));
        }
    fsy_change_list_clear(&all);
}

START_TEST(test_store_three_edits_in_every_order_show_one_text)
{
    /* HQ's plan and three concurrent edits: all 24 orders of the four
     * (edits before the plan they edit included) end in one text. */
    sites_t w = {0};
    s_sites_edit(&w, 3);
    fsy_change_list_t unit[4] = {{0}};
    s_origin_changes(w.hq, "hq", &unit[0]);
    for (int i = 0; i < 3; i++)
        s_origin_changes(w.s[i], s_names[i], &unit[i + 1]);
    char *want = s_all_edits(3), first[65] = "";
    int perm[4] = {0, 1, 2, 3}, count = 0;
    for (int p = 0; p < 24; p++) {
        int k = p, pool[4] = {0, 1, 2, 3}, left = 4;
        for (int i = 0; i < 4; i++, left--) { /* the p-th permutation */
            int f = 1;
            for (int j = 2; j < left; j++)
                f *= j;
            int at = k / f;
            k %= f;
            perm[i] = pool[at];
            memmove(&pool[at], &pool[at + 1], (size_t)(left - at - 1) * 4);
        }
        char name[32], dg[65];
        snprintf(name, sizeof name, "juba%d", p);
        fsy_store_t *r = tu_replica(name);
        for (int i = 0; i < 4; i++)
            ck_ok(fsy_store_apply(r, unit[perm[i]].v, unit[perm[i]].n, NULL));
        ck_assert_str_eq(tu_get(r, SCOPE, DOC, "body"), want);
        tu_digest(r, dg);
        if (first[0] == '\0')
            memcpy(first, dg, sizeof dg);
        ck_assert_str_eq(dg, first);
        fsy_store_close(&r);
        count++;
    }
    ck_assert_int_eq(count, 24);
    /* and the sites themselves, by bundle, each in its own order */
    for (int i = 0; i < 3; i++)
        for (int j = 2; j >= 0; j--)
            if (i != j)
                tu_sync_bundle(w.s[j], w.s[i]);
    for (int i = 0; i < 3; i++) {
        char dg[65];
        ck_assert_str_eq(tu_get(w.s[i], SCOPE, DOC, "body"), want);
        tu_digest(w.s[i], dg);
        ck_assert_str_eq(dg, first);
    }
    for (int i = 0; i < 4; i++)
        fsy_change_list_clear(&unit[i]);
    free(want);
    s_sites_close(&w);
}
END_TEST

typedef struct overlap_seen {
    size_t n;
    char a[64], b[64], base[64], a_label[32], b_label[32], base_label[32];
} overlap_seen_t;

static int
s_seen_overlap(const fsy_overlap_t *o, void *ctx)
{
    overlap_seen_t *x = ctx;
    const fsy_text_hunk_t *h = o->hunk;
    snprintf(x->a, sizeof x->a, "%.*s", (int)h->a_len, h->a);
    snprintf(x->b, sizeof x->b, "%.*s", (int)h->b_len, h->b);
    snprintf(x->base, sizeof x->base, "%.*s", (int)h->base_len, h->base);
    ck_assert_uint_eq(o->n_a, 1);
    fsy_version_label(&o->heads[0].version, x->a_label, sizeof x->a_label);
    fsy_version_label(&o->heads[1].version, x->b_label, sizeof x->b_label);
    fsy_version_label(o->base, x->base_label, sizeof x->base_label);
    x->n++;
    return 0;
}

START_TEST(test_store_overlapping_edits_stay_a_conflict_with_the_hunk)
{
    sites_t w = {0};
    w.hq = tu_replica("hq");
    tu_put(w.hq, SCOPE, DOC, "plan", "body", s_base);
    w.s[0] = tu_replica("gao");
    tu_sync(w.hq, w.s[0]);
    char *a = s_edit(s_base, "six weeks", "five weeks");
    char *b = s_edit(s_base, "six weeks", "three weeks");
    tu_put(w.hq, SCOPE, DOC, NULL, "body", a);
    tu_put(w.s[0], SCOPE, DOC, NULL, "body", b);
    tu_sync(w.hq, w.s[0]);
    tu_sync(w.s[0], w.hq);
    char d0[65], d1[65];
    tu_digest(w.hq, d0);
    tu_digest(w.s[0], d1);
    ck_assert_str_eq(d0, d1);
    fsy_doc_t *d;
    const fsy_field_t *f = s_body(w.s[0], &d);
    ck_assert(f->conflict);
    ck_assert_int_eq(f->text_merge, FSY_TEXT_MERGE_OVERLAP);
    ck_assert_uint_eq(d->n_conflicts, 1);
    overlap_seen_t x = {0};
    size_t n;
    ck_ok(fsy_store_overlaps(w.s[0], d, "body", s_seen_overlap, &x, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(x.base, "Fuel stocks last six weeks.");
    ck_assert_str_eq(x.base_label, "hq:2");
    /* heads in version order: the sides are hq:3 and gao:1, either way */
    bool hq_first = strcmp(x.a_label, "hq:3") == 0;
    ck_assert_str_eq(x.a, hq_first ? "Fuel stocks last five weeks."
                                   : "Fuel stocks last three weeks.");
    ck_assert_str_eq(x.b_label, hq_first ? "gao:1" : "hq:3");
    fsy_doc_free(&d);
    /* resolving works as for any conflict */
    ck_ok(fsy_store_resolve(w.s[0], SCOPE, DOC, "body", "gao:1", NULL, 0));
    ck_assert_str_eq(tu_get(w.s[0], SCOPE, DOC, "body"), b);
    free(a);
    free(b);
    s_sites_close(&w);
}
END_TEST

START_TEST(test_store_registers_bytes_and_opted_out_fields_stay_whole)
{
    sites_t w = {0};
    w.hq = tu_replica("hq");
    tu_put(w.hq, SCOPE, DOC, "plan", "status", "draft");
    tu_put(w.hq, SCOPE, DOC, NULL, "owner",
           "Planning unit\nof the mission\nBamako\n");
    w.s[0] = tu_replica("gao");
    tu_sync(w.hq, w.s[0]);
    tu_put(w.hq, SCOPE, DOC, NULL, "status", "endorsed");
    tu_put(w.s[0], SCOPE, DOC, NULL, "status", "draft"); /* re-written */
    tu_put(w.hq, SCOPE, DOC, NULL, "owner",
           "Planning unit\nof the mission\nGao\n");
    tu_put(w.s[0], SCOPE, DOC, NULL, "owner", "JMAC\nof the mission\nBamako\n");
    fsy_field_set_t bin = {"map", (const uint8_t *)"a\n\0b\n", 5, false};
    ck_ok(fsy_store_put(w.hq, SCOPE, DOC, NULL, &bin, 1));
    tu_sync(w.hq, w.s[0]);
    bin.value = (const uint8_t *)"a\n\0c\n";
    ck_ok(fsy_store_put(w.s[0], SCOPE, DOC, NULL, &bin, 1));
    tu_sync(w.hq, w.s[0]);
    tu_sync(w.s[0], w.hq);
    /* "owner" merges (different lines) until listed as a whole value */
    fsy_doc_t *d;
    ck_ok(fsy_store_get(w.s[0], SCOPE, DOC, &d));
    ck_assert(fsy_doc_field(d, "status")->conflict);
    ck_assert_int_eq(fsy_doc_field(d, "owner")->text_merge,
                     FSY_TEXT_MERGE_CLEAN);
    ck_assert_uint_eq(d->n_conflicts, 1);
    fsy_doc_free(&d);
    ck_assert_str_eq(tu_get(w.s[0], SCOPE, DOC, "owner"),
                     "JMAC\nof the mission\nGao\n");
    ck_ok(fsy_store_set_whole_value_fields(w.s[0], " status,owner , status"));
    ck_assert_str_eq(fsy_store_merge_rule(w.s[0]),
                     "lines/1 whole=owner,status");
    ck_ok(fsy_store_get(w.s[0], SCOPE, DOC, &d));
    ck_assert(fsy_doc_field(d, "owner")->conflict);
    ck_assert_int_eq(fsy_doc_field(d, "owner")->text_merge,
                     FSY_TEXT_MERGE_NONE);
    ck_assert_uint_eq(d->n_conflicts, 2);
    fsy_doc_free(&d);
    fsy_store_counts_t c;
    ck_ok(fsy_store_counts(w.s[0], &c)); /* the derived rows followed */
    ck_assert_uint_eq(c.conflicts, 2);
    /* the rule is the replica's: another handle sees it */
    fsy_store_t *again;
    ck_ok(fsy_store_open(&again, tu_path("gao.db")));
    ck_assert_str_eq(fsy_store_merge_rule(again), "lines/1 whole=owner,status");
    fsy_store_close(&again);
    ck_assert_int_eq(fsy_store_set_whole_value_fields(w.s[0], "_kind"),
                     FSY_EINVAL);
    ck_assert_str_eq(fsy_store_merge_rule(w.s[0]),
                     "lines/1 whole=owner,status");
    s_sites_close(&w);
}
END_TEST

START_TEST(test_store_independent_texts_have_no_base)
{
    /* Two sites create the same document: nothing to merge from. */
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("gao");
    tu_put(a, SCOPE, DOC, "plan", "body", "one\ntwo\n");
    tu_put(b, SCOPE, DOC, "plan", "body", "three\nfour\n");
    tu_sync(a, b);
    fsy_doc_t *d;
    ck_ok(fsy_store_get(b, SCOPE, DOC, &d));
    const fsy_field_t *f = fsy_doc_field(d, "body");
    ck_assert(f->conflict);
    ck_assert_int_eq(f->text_merge, FSY_TEXT_MERGE_NO_BASE);
    fsy_doc_free(&d);
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_bundle_from_a_site_merging_otherwise_is_refused)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("gao");
    tu_put(a, SCOPE, DOC, "plan", "body", s_base);
    ck_ok(fsy_store_set_whole_value_fields(a, "body"));
    const char *path = tu_path("hq.bundle");
    ck_ok(fsy_bundle_export(a, NULL, path, NULL));
    fsy_apply_stats_t st;
    ck_assert_int_eq(fsy_bundle_import(b, path, &st), FSY_EINVAL);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "whole_value_fields"));
    ck_assert_uint_eq(tu_changes(b), 0);
    ck_ok(fsy_store_set_whole_value_fields(b, "body"));
    ck_ok(fsy_bundle_import(b, path, &st));
    ck_assert_uint_eq(st.applied, 2);
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_store_follows_a_rule_another_handle_changed)
{
    sites_t w = {0};
    s_sites_edit(&w, 2);
    tu_sync(w.s[1], w.s[0]);
    fsy_store_t *other;
    ck_ok(fsy_store_open(&other, tu_path("bamako.db")));
    ck_ok(fsy_store_set_whole_value_fields(other, "body"));
    fsy_store_close(&other);
    /* w.s[0] opened before the change: it must not derive by its copy */
    ck_assert_str_eq(fsy_store_merge_rule(w.s[0]), "lines/1 whole=body");
    fsy_doc_t *d;
    const fsy_field_t *f = s_body(w.s[0], &d);
    ck_assert(f->conflict);
    ck_assert_int_eq(f->text_merge, FSY_TEXT_MERGE_NONE);
    fsy_doc_free(&d);
    s_sites_close(&w);
}
END_TEST

START_TEST(test_store_merge_longer_than_a_value_stays_a_conflict)
{
    /* Each side adds 600 KB: together more than one value may hold, so
     * an edit of the merge could not be written back. */
    sites_t w = {0};
    w.hq = tu_replica("hq");
    tu_put(w.hq, SCOPE, DOC, "plan", "body", s_base);
    w.s[0] = tu_replica("gao");
    tu_sync(w.hq, w.s[0]);
    size_t big = 600 * 1024, n = strlen(s_base);
    char *a = malloc(big + n + 2), *b = malloc(big + n + 2);
    ck_assert(a != NULL && b != NULL);
    memset(a, 'a', big);
    a[big] = '\n';
    memcpy(a + big + 1, s_base, n + 1);
    memcpy(b, s_base, n);
    memset(b + n, 'b', big);
    b[n + big] = '\n';
    b[n + big + 1] = '\0';
    tu_put(w.hq, SCOPE, DOC, NULL, "body", a);
    tu_put(w.s[0], SCOPE, DOC, NULL, "body", b);
    tu_sync(w.hq, w.s[0]);
    fsy_doc_t *d;
    const fsy_field_t *f = s_body(w.s[0], &d);
    ck_assert(f->conflict);
    ck_assert_int_eq(f->text_merge, FSY_TEXT_MERGE_NONE);
    fsy_doc_free(&d);
    free(a);
    free(b);
    s_sites_close(&w);
}
END_TEST

START_TEST(test_replica_derived_before_text_merge_is_derived_again)
{
    /* A replica whose docs rows an older fieldsync derived (a merged body
     * counted as a conflict, no rule recorded) is derived again at open. */
    sites_t w = {0};
    s_sites_edit(&w, 2);
    tu_sync(w.s[1], w.s[0]);
    fsy_store_close(&w.s[0]);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(tu_path("bamako.db"), &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "UPDATE docs SET n_conflicts = 1;"
                                  /* counted as that fieldsync did */
                                  "UPDATE doc_counts SET conflicts = "
                                  "(SELECT sum(n_conflicts) FROM docs);"
                                  "DELETE FROM meta WHERE key = 'merge_whole'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    ck_ok(fsy_store_open(&w.s[0], tu_path("bamako.db")));
    fsy_store_counts_t c;
    ck_ok(fsy_store_counts(w.s[0], &c));
    ck_assert_uint_eq(c.conflicts, 0);
    ck_assert_str_eq(fsy_store_merge_rule(w.s[0]), "lines/1");
    s_sites_close(&w);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *su = suite_create("text_merge");
    TCase *tc = tcase_create("merge");
    tcase_add_checked_fixture(tc, NULL, tu_cleanup);
    tcase_add_test(tc, test_text_merge3_combines_edits_to_different_lines);
    tcase_add_test(tc, test_text_merge3_overlap_reports_only_the_hunk);
    tcase_add_test(tc, test_text_merge_hunks_tell_markers_in_the_text_apart);
    tcase_add_test(tc, test_text_merge_hunks_read_crlf_text);
    tcase_add_test(
        tc, test_text_merge_hunks_show_whole_texts_past_long_marker_runs);
    tcase_add_test(tc, test_text_mergeable_wants_lines_of_utf8_text);
    tcase_add_test(tc, test_store_merges_edits_to_different_paragraphs);
    tcase_add_test(tc, test_store_three_edits_in_every_order_show_one_text);
    tcase_add_test(tc,
                   test_store_overlapping_edits_stay_a_conflict_with_the_hunk);
    tcase_add_test(tc,
                   test_store_registers_bytes_and_opted_out_fields_stay_whole);
    tcase_add_test(tc, test_store_independent_texts_have_no_base);
    tcase_add_test(tc, test_bundle_from_a_site_merging_otherwise_is_refused);
    tcase_add_test(tc, test_store_follows_a_rule_another_handle_changed);
    tcase_add_test(tc, test_store_merge_longer_than_a_value_stays_a_conflict);
    tcase_add_test(tc, test_replica_derived_before_text_merge_is_derived_again);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    return tu_run(s_suite());
}
