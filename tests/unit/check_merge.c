/*
 * fieldsync — merge suite: the rules of lib/merge.h on hand-built
 * documents (version order, winner, conflicts, visibility, delete-versus-
 * edit), and that the result depends on the set of heads only, never on
 * the order they are handed in.
 *
 * Documents are allocated the way fsy_doc_free() expects (doc, fields,
 * heads and values each malloc'd), so each test frees with it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "testutil.h"

#define MAX_HEADS 6
#define MAX_FIELDS 6

/* One head: value NULL means absent; len is used when val has NULs. */
typedef struct s_hspec {
    uint64_t hlc;
    const char *site;
    uint64_t inc;
    uint64_t seq;
    const char *val;
    size_t len; /* 0: strlen(val) */
} s_hspec_t;

typedef struct s_fspec {
    const char *name;
    size_t n;
    s_hspec_t h[MAX_HEADS];
} s_fspec_t;

#define ABSENT NULL

static void
s_head_fill(fsy_head_t *h, const s_hspec_t *sp)
{
    memset(h, 0, sizeof *h);
    h->version = tu_version(sp->hlc, sp->site, sp->inc, sp->seq);
    h->absent = sp->val == NULL;
    if (!h->absent) {
        size_t len = sp->len ? sp->len : strlen(sp->val);
        if (len > 0) {
            h->value = malloc(len);
            ck_assert_ptr_nonnull(h->value);
            memcpy(h->value, sp->val, len);
        }
        h->value_len = len;
    }
}

/* Heads in the order given by perm (NULL: as listed). */
static void
s_field_fill(fsy_field_t *f, const s_fspec_t *sp, const size_t *perm)
{
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", sp->name);
    f->n_heads = sp->n;
    if (sp->n > 0) {
        f->heads = malloc(sp->n * sizeof *f->heads);
        ck_assert_ptr_nonnull(f->heads);
    }
    for (size_t i = 0; i < sp->n; i++)
        s_head_fill(&f->heads[i], &sp->h[perm ? perm[i] : i]);
    /* Stale results from an earlier merge must not survive. */
    f->winner = 12345;
    f->conflict = true;
}

/* perms[i] reorders field i's heads (NULL: as listed). */
static fsy_doc_t *
s_doc_new(const s_fspec_t *fields, size_t n, const size_t *const *perms)
{
    fsy_doc_t *d = calloc(1, sizeof *d);
    ck_assert_ptr_nonnull(d);
    snprintf(d->scope, sizeof d->scope, "MLI");
    snprintf(d->id, sizeof d->id, "isf-mli-2027");
    snprintf(d->kind, sizeof d->kind, "stale");
    d->visible = true;
    d->deleted_conflict = true;
    d->n_conflicts = 99;
    d->updated_hlc = 99;
    d->n_fields = n;
    d->fields = malloc((n ? n : 1) * sizeof *d->fields);
    ck_assert_ptr_nonnull(d->fields);
    for (size_t i = 0; i < n; i++)
        s_field_fill(&d->fields[i], &fields[i], perms ? perms[i] : NULL);
    return d;
}

static fsy_doc_t *
s_merged(const s_fspec_t *fields, size_t n)
{
    fsy_doc_t *d = s_doc_new(fields, n, NULL);
    fsy_merge_doc(d);
    return d;
}

static void
s_field_free(fsy_field_t *f)
{
    for (size_t i = 0; i < f->n_heads; i++)
        free(f->heads[i].value);
    free(f->heads);
    f->heads = NULL;
    f->n_heads = 0;
}

static const fsy_field_t *
s_field(const fsy_doc_t *d, const char *name)
{
    const fsy_field_t *f = fsy_doc_field(d, name);
    ck_assert_msg(f != NULL, "no field %s", name);
    return f;
}

static void
s_assert_version(const fsy_version_t *v, uint64_t hlc, const char *site,
                 uint64_t inc, uint64_t seq)
{
    ck_assert_uint_eq(v->hlc, hlc);
    ck_assert_str_eq(v->origin.site, site);
    ck_assert_uint_eq(v->origin.incarnation, inc);
    ck_assert_uint_eq(v->seq, seq);
}

/* ---- version order ---------------------------------------------------- */

START_TEST(test_merge_version_cmp_orders_by_hlc_site_incarnation_seq)
{
    static const struct {
        const char *what;
        s_hspec_t a, b; /* only the version part is used */
        int want;       /* cmp(a, b) */
    } rows[] = {
        {"equal", {5, "gao", 1, 3, 0, 0}, {5, "gao", 1, 3, 0, 0}, 0},
        {"hlc decides first", {4, "zz", 9, 9, 0, 0}, {5, "aa", 1, 1, 0, 0}, -1},
        {"hlc is unsigned",
         {UINT64_MAX, "a", 1, 1, 0, 0},
         {1, "z", 1, 1, 0, 0},
         1},
        {"site breaks an hlc tie",
         {5, "bamako", 9, 9, 0, 0},
         {5, "gao", 1, 1, 0, 0},
         -1},
        {"site bytes, not length",
         {5, "hq", 1, 1, 0, 0},
         {5, "gao-north", 1, 1, 0, 0},
         1},
        {"a site prefix sorts first",
         {5, "gao", 1, 1, 0, 0},
         {5, "gao2", 1, 1, 0, 0},
         -1},
        {"'-' sorts before '_'",
         {5, "a-1", 1, 1, 0, 0},
         {5, "a_1", 1, 1, 0, 0},
         -1},
        {"incarnation breaks a site tie",
         {5, "gao", 2, 1, 0, 0},
         {5, "gao", 1, 9, 0, 0},
         1},
        {"incarnation is unsigned",
         {5, "gao", UINT64_C(1) << 63, 1, 0, 0},
         {5, "gao", 1, 1, 0, 0},
         1},
        {"seq breaks an incarnation tie",
         {5, "gao", 1, 2, 0, 0},
         {5, "gao", 1, 10, 0, 0},
         -1},
        {"seq is unsigned",
         {5, "gao", 1, UINT64_MAX, 0, 0},
         {5, "gao", 1, 1, 0, 0},
         1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fsy_version_t a = tu_version(rows[i].a.hlc, rows[i].a.site,
                                     rows[i].a.inc, rows[i].a.seq);
        fsy_version_t b = tu_version(rows[i].b.hlc, rows[i].b.site,
                                     rows[i].b.inc, rows[i].b.seq);
        int ab = fsy_version_cmp(&a, &b), ba = fsy_version_cmp(&b, &a);
        ck_assert_msg(ab == rows[i].want, "%s: cmp(a, b) = %d, want %d",
                      rows[i].what, ab, rows[i].want);
        ck_assert_msg(ba == -rows[i].want, "%s: cmp(b, a) = %d, want %d",
                      rows[i].what, ba, -rows[i].want);
        ck_assert_int_eq(fsy_version_cmp(&a, &a), 0);
    }
}
END_TEST

START_TEST(test_merge_version_label_is_site_colon_seq)
{
    static const struct {
        const char *site;
        uint64_t seq;
        size_t len;
        const char *want;
    } rows[] = {
        {"gao", 42, 64, "gao:42"},
        {"hq", 1, 64, "hq:1"},
        {"kidal-north_2", UINT64_MAX, 64, "kidal-north_2:18446744073709551615"},
        {"bamako", 1234, 8, "bamako:"}, /* truncated, still terminated */
        {"bamako", 1234, 1, ""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char buf[64];
        memset(buf, 'X', sizeof buf);
        fsy_version_t v = tu_version(7, rows[i].site, 99, rows[i].seq);
        ck_assert_ptr_eq(fsy_version_label(&v, buf, rows[i].len), buf);
        ck_assert_str_eq(buf, rows[i].want);
        if (rows[i].len < sizeof buf)
            ck_assert_int_eq(buf[rows[i].len], 'X'); /* no overrun */
    }
}
END_TEST

/* ---- winner ----------------------------------------------------------- */

START_TEST(test_merge_concurrent_heads_pick_greatest_version)
{
    /* want: index into h of the winner. */
    static const struct {
        const char *what;
        s_fspec_t f;
        size_t want;
    } rows[] = {
        {"greatest hlc wins whatever the site",
         {"status",
          3,
          {{9, "aa", 1, 1, "b", 0},
           {7, "zz", 9, 9, "a", 0},
           {8, "hq", 1, 4, "c", 0}}},
         0},
        {"hlc tie: greater site bytes win",
         {"status",
          3,
          {{7, "gao", 1, 1, "g", 0},
           {7, "hq", 1, 1, "h", 0},
           {7, "bamako", 9, 9, "b", 0}}},
         1},
        {"hlc and site tie: greater incarnation wins",
         {"status",
          2,
          {{7, "gao", UINT64_C(1) << 63, 1, "new", 0},
           {7, "gao", 5, 900, "old", 0}}},
         0},
        {"hlc, site and incarnation tie: greater seq wins",
         {"status",
          3,
          {{7, "gao", 5, 12, "x", 0},
           {7, "gao", 5, 3, "y", 0},
           {7, "gao", 5, 11, "z", 0}}},
         0},
        {"an absent head can win",
         {"body", 2, {{7, "gao", 1, 1, "v1", 0}, {8, "hq", 1, 2, ABSENT, 0}}},
         1},
        {"single head wins", {"body", 1, {{7, "gao", 1, 1, "v1", 0}}}, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fsy_field_t f;
        s_field_fill(&f, &rows[i].f, NULL);
        fsy_merge_field(&f);
        const s_hspec_t *w = &rows[i].f.h[rows[i].want];
        ck_assert_msg(f.winner == f.n_heads - 1, "%s: winner not last",
                      rows[i].what);
        const fsy_head_t *got = &f.heads[f.winner];
        ck_assert_msg(got->version.hlc == w->hlc &&
                          strcmp(got->version.origin.site, w->site) == 0 &&
                          got->version.origin.incarnation == w->inc &&
                          got->version.seq == w->seq,
                      "%s: winner is %s:%" PRIu64, rows[i].what,
                      got->version.origin.site, got->version.seq);
        ck_assert_int_eq(got->absent, w->val == NULL);
        /* Heads come back sorted, greatest last. */
        for (size_t k = 1; k < f.n_heads; k++)
            ck_assert_msg(fsy_version_cmp(&f.heads[k - 1].version,
                                          &f.heads[k].version) < 0,
                          "%s: heads not sorted at %zu", rows[i].what, k);
        s_field_free(&f);
    }
}
END_TEST

START_TEST(test_merge_field_without_heads_has_no_winner_nor_conflict)
{
    s_fspec_t sp = {"title", 0, {{0}}};
    fsy_field_t f;
    s_field_fill(&f, &sp, NULL);
    fsy_merge_field(&f);
    ck_assert_uint_eq(f.winner, 0);
    ck_assert(!f.conflict);
    s_field_free(&f);
}
END_TEST

/* ---- conflicts -------------------------------------------------------- */

START_TEST(test_merge_conflict_iff_heads_differ_in_value)
{
    static const struct {
        const char *what;
        s_fspec_t f;
        bool want;
    } rows[] = {
        {"one head", {"t", 1, {{1, "a", 1, 1, "x", 0}}}, false},
        {"byte-equal values",
         {"t", 2, {{1, "a", 1, 1, "final", 0}, {2, "b", 1, 1, "final", 0}}},
         false},
        {"three byte-equal values",
         {"t",
          3,
          {{1, "a", 1, 1, "x", 0},
           {2, "b", 1, 1, "x", 0},
           {3, "c", 1, 1, "x", 0}}},
         false},
        {"different values",
         {"t", 2, {{1, "a", 1, 1, "draft", 0}, {2, "b", 1, 1, "final", 0}}},
         true},
        {"odd one out is the greatest",
         {"t",
          3,
          {{1, "a", 1, 1, "x", 0},
           {2, "b", 1, 1, "x", 0},
           {3, "c", 1, 1, "y", 0}}},
         true},
        {"odd one out is the least",
         {"t",
          3,
          {{1, "a", 1, 1, "y", 0},
           {2, "b", 1, 1, "x", 0},
           {3, "c", 1, 1, "x", 0}}},
         true},
        {"odd one out in the middle",
         {"t",
          3,
          {{1, "a", 1, 1, "x", 0},
           {2, "b", 1, 1, "y", 0},
           {3, "c", 1, 1, "x", 0}}},
         true},
        {"prefix is not equal",
         {"t", 2, {{1, "a", 1, 1, "ab", 0}, {2, "b", 1, 1, "abc", 0}}},
         true},
        {"bytes after a NUL count",
         {"t", 2, {{1, "a", 1, 1, "a\0b", 3}, {2, "b", 1, 1, "a\0c", 3}}},
         true},
        {"equal with NULs",
         {"t", 2, {{1, "a", 1, 1, "a\0b", 3}, {2, "b", 1, 1, "a\0b", 3}}},
         false},
        {"absent vs present",
         {"t", 2, {{1, "a", 1, 1, ABSENT, 0}, {2, "b", 1, 1, "x", 0}}},
         true},
        {"present vs absent (absent wins)",
         {"t", 2, {{1, "a", 1, 1, "x", 0}, {2, "b", 1, 1, ABSENT, 0}}},
         true},
        {"absent vs absent",
         {"t", 2, {{1, "a", 1, 1, ABSENT, 0}, {2, "b", 1, 1, ABSENT, 0}}},
         false},
        {"empty vs absent",
         {"t", 2, {{1, "a", 1, 1, "", 0}, {2, "b", 1, 1, ABSENT, 0}}},
         true},
        {"empty vs empty",
         {"t", 2, {{1, "a", 1, 1, "", 0}, {2, "b", 1, 1, "", 0}}},
         false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fsy_field_t f;
        s_field_fill(&f, &rows[i].f, NULL);
        fsy_merge_field(&f);
        ck_assert_msg(f.conflict == rows[i].want, "%s: conflict = %d",
                      rows[i].what, f.conflict);
        /* The pairwise rule agrees for two heads. */
        if (f.n_heads == 2)
            ck_assert_msg(fsy_merge_head_values_equal(
                              &f.heads[0], &f.heads[1]) == !rows[i].want,
                          "%s: values_equal disagrees", rows[i].what);
        s_field_free(&f);
    }
}
END_TEST

START_TEST(
    test_merge_head_values_equal_is_symmetric_and_absent_only_equals_absent)
{
    static const s_hspec_t h[] = {
        {1, "a", 1, 1, ABSENT, 0}, {1, "a", 1, 2, ABSENT, 0},
        {1, "a", 1, 3, "", 0},     {1, "a", 1, 4, "x", 0},
        {1, "a", 1, 5, "x", 0},    {1, "a", 1, 6, "x\0", 2},
    };
    /* Equivalence classes: {0,1} absent, {2} empty, {3,4} "x", {5}. */
    static const int cls[] = {0, 0, 1, 2, 2, 3};
    fsy_head_t heads[sizeof h / sizeof h[0]];
    size_t n = sizeof h / sizeof h[0];
    for (size_t i = 0; i < n; i++)
        s_head_fill(&heads[i], &h[i]);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++)
            ck_assert_msg(fsy_merge_head_values_equal(&heads[i], &heads[k]) ==
                              (cls[i] == cls[k]),
                          "heads %zu and %zu", i, k);
    for (size_t i = 0; i < n; i++)
        free(heads[i].value);
}
END_TEST

/* ---- documents: visibility, delete-versus-edit, counting --------------- */

typedef struct s_dspec {
    const char *what;
    size_t nf;
    s_fspec_t f[MAX_FIELDS]; /* sorted by name */
    bool visible;
    bool deleted_conflict;
    size_t n_conflicts;
    const char *kind;
    uint64_t updated_hlc;
    const char *conflicted; /* space-separated names with conflict set */
} s_dspec_t;

#define KIND(hlc, site, k)                                                     \
    {                                                                          \
        "_kind", 1,                                                            \
        {                                                                      \
            {                                                                  \
                hlc, site, 1, 1, k, 0                                          \
            }                                                                  \
        }                                                                      \
    }

static const s_dspec_t s_docs[] = {
    {.what = "_kind alone is not visible",
     .nf = 1,
     .f = {KIND(10, "hq", "plan")},
     .visible = false,
     .deleted_conflict = false,
     .n_conflicts = 0,
     .kind = "plan",
     .updated_hlc = 10,
     .conflicted = ""},
    {.what = "_kind and _deleted are not visible",
     .nf = 2,
     .f = {{"_deleted", 1, {{20, "hq", 1, 3, "1", 0}}}, KIND(10, "hq", "plan")},
     .visible = false,
     .deleted_conflict = false,
     .n_conflicts = 0,
     .kind = "plan",
     .updated_hlc = 20,
     .conflicted = ""},
    {.what = "absent user fields are not visible",
     .nf = 2,
     .f = {KIND(10, "hq", "plan"),
           {"body",
            2,
            {{30, "hq", 1, 4, ABSENT, 0}, {31, "gao", 1, 2, ABSENT, 0}}}},
     .visible = false,
     .deleted_conflict = false,
     .n_conflicts = 0,
     .kind = "plan",
     .updated_hlc = 31,
     .conflicted = ""},
    {.what = "a user field makes a doc visible without _kind",
     .nf = 1,
     .f = {{"title", 1, {{5, "gao", 1, 1, "Work plan", 0}}}},
     .visible = true,
     .deleted_conflict = false,
     .n_conflicts = 0,
     .kind = "",
     .updated_hlc = 5,
     .conflicted = ""},
    {.what = "an empty value is visible",
     .nf = 2,
     .f = {KIND(10, "hq", "plan"), {"title", 1, {{11, "hq", 1, 2, "", 0}}}},
     .visible = true,
     .deleted_conflict = false,
     .n_conflicts = 0,
     .kind = "plan",
     .updated_hlc = 11,
     .conflicted = ""},
    {.what = "a live head that lost to absent keeps the doc visible",
     .nf = 2,
     .f = {KIND(10, "hq", "analysis"),
           {"body",
            2,
            {{30, "hq", 1, 4, ABSENT, 0}, {25, "gao", 1, 2, "v2", 0}}}},
     .visible = true,
     .deleted_conflict = false,
     .n_conflicts = 1,
     .kind = "analysis",
     .updated_hlc = 30,
     .conflicted = "body"},
    {.what = "delete concurrent with edit: deleted_conflict",
     .nf = 3,
     .f = {{"_deleted", 1, {{40, "hq", 1, 5, "1", 0}}},
           KIND(10, "hq", "analysis"),
           {"body",
            2,
            {{39, "hq", 1, 4, ABSENT, 0}, {35, "gao", 1, 2, "v2", 0}}}},
     .visible = true,
     .deleted_conflict = true,
     .n_conflicts = 2,
     .kind = "analysis",
     .updated_hlc = 40,
     .conflicted = "body"},
    {.what = "delete concurrent with a new field",
     .nf = 4,
     .f = {{"_deleted", 1, {{40, "hq", 1, 5, "1", 0}}},
           KIND(10, "hq", "analysis"),
           {"annex", 1, {{38, "gao", 1, 3, "casualty figures", 0}}},
           {"body", 1, {{39, "hq", 1, 4, ABSENT, 0}}}},
     .visible = true,
     .deleted_conflict = true,
     .n_conflicts = 1,
     .kind = "analysis",
     .updated_hlc = 40,
     .conflicted = ""},
    {.what = "_deleted winner absent: no deleted_conflict",
     .nf = 3,
     .f = {{"_deleted",
            2,
            {{40, "hq", 1, 5, "1", 0}, {41, "gao", 1, 6, ABSENT, 0}}},
           KIND(10, "hq", "plan"),
           {"body", 1, {{42, "gao", 1, 7, "again", 0}}}},
     .visible = true,
     .deleted_conflict = false,
     .n_conflicts = 0,
     .kind = "plan",
     .updated_hlc = 42,
     .conflicted = ""},
    {.what = "_deleted winner 1 over absent: deleted_conflict, not a field one",
     .nf = 3,
     .f = {{"_deleted",
            2,
            {{41, "hq", 1, 5, "1", 0}, {40, "gao", 1, 6, ABSENT, 0}}},
           KIND(10, "hq", "plan"),
           {"body", 1, {{42, "gao", 1, 7, "again", 0}}}},
     .visible = true,
     .deleted_conflict = true,
     .n_conflicts = 1,
     .kind = "plan",
     .updated_hlc = 42,
     .conflicted = ""},
    {.what = "invisible doc counts no conflicts",
     .nf = 4,
     .f = {{"_deleted",
            2,
            {{41, "hq", 1, 5, "1", 0}, {40, "gao", 1, 6, ABSENT, 0}}},
           {"_kind",
            2,
            {{10, "hq", 1, 1, "plan", 0}, {11, "goma", 1, 1, "analysis", 0}}},
           {"body",
            2,
            {{30, "hq", 1, 4, ABSENT, 0}, {31, "gao", 1, 2, ABSENT, 0}}},
           {"title", 1, {{32, "hq", 1, 5, ABSENT, 0}}}},
     .visible = false,
     .deleted_conflict = false,
     .n_conflicts = 0,
     .kind = "analysis",
     .updated_hlc = 41,
     .conflicted = ""},
    {.what = "same id with two kinds conflicts on _kind",
     .nf = 2,
     .f = {{"_kind",
            2,
            {{10, "hq", 1, 1, "plan", 0}, {10, "goma", 1, 1, "analysis", 0}}},
           {"title",
            2,
            {{11, "hq", 1, 2, "Plan", 0}, {11, "goma", 1, 2, "Analysis", 0}}}},
     .visible = true,
     .deleted_conflict = false,
     .n_conflicts = 2,
     .kind = "plan",
     .updated_hlc = 11,
     .conflicted = "_kind title"},
    {.what = "n_conflicts is fields plus deleted_conflict",
     .nf = 5,
     .f = {{"_deleted", 1, {{50, "hq", 1, 9, "1", 0}}},
           {"_kind",
            2,
            {{10, "hq", 1, 1, "plan", 0}, {12, "goma", 1, 1, "analysis", 0}}},
           {"body", 2, {{20, "hq", 1, 2, "a", 0}, {21, "gao", 1, 2, "b", 0}}},
           {"status", 2, {{22, "hq", 1, 3, "x", 0}, {23, "gao", 1, 3, "x", 0}}},
           {"title",
            2,
            {{24, "hq", 1, 4, ABSENT, 0}, {25, "gao", 1, 4, "t", 0}}}},
     .visible = true,
     .deleted_conflict = true,
     .n_conflicts = 4,
     .kind = "analysis",
     .updated_hlc = 50,
     .conflicted = "_kind body title"},
    {.what = "_kind winner absent leaves kind empty",
     .nf = 2,
     .f = {{"_kind",
            2,
            {{10, "hq", 1, 1, "plan", 0}, {12, "hq", 1, 2, ABSENT, 0}}},
           {"title", 1, {{11, "hq", 1, 3, "t", 0}}}},
     .visible = true,
     .deleted_conflict = false,
     .n_conflicts = 1,
     .kind = "",
     .updated_hlc = 12,
     .conflicted = "_kind"},
};

static bool
s_listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

START_TEST(test_merge_doc_follows_visibility_and_conflict_rules)
{
    const s_dspec_t *t = &s_docs[_i];
    fsy_doc_t *d = s_merged(t->f, t->nf);
    ck_assert_msg(d->visible == t->visible, "%s: visible = %d", t->what,
                  d->visible);
    ck_assert_msg(d->deleted_conflict == t->deleted_conflict,
                  "%s: deleted_conflict = %d", t->what, d->deleted_conflict);
    ck_assert_msg(d->n_conflicts == t->n_conflicts, "%s: n_conflicts = %zu",
                  t->what, d->n_conflicts);
    ck_assert_msg(strcmp(d->kind, t->kind) == 0, "%s: kind = '%s'", t->what,
                  d->kind);
    ck_assert_msg(d->updated_hlc == t->updated_hlc,
                  "%s: updated_hlc = %" PRIu64, t->what, d->updated_hlc);
    size_t n_field_conflicts = 0;
    for (size_t i = 0; i < d->n_fields; i++) {
        const fsy_field_t *f = &d->fields[i];
        ck_assert_msg(f->conflict == s_listed(t->conflicted, f->name),
                      "%s: field %s conflict = %d", t->what, f->name,
                      f->conflict);
        n_field_conflicts += f->conflict;
    }
    ck_assert_uint_eq(d->n_conflicts,
                      n_field_conflicts + (d->deleted_conflict ? 1 : 0));
    /* Invariants the rules imply, whatever the row. */
    if (!d->visible)
        ck_assert(!d->deleted_conflict && d->n_conflicts == 0);
    const fsy_field_t *del = fsy_doc_field(d, FSY_FIELD_DELETED);
    if (del != NULL)
        ck_assert_msg(!del->conflict, "%s: _deleted counted as a field",
                      t->what);
    /* Merging again gives the same answer (no state carried over). */
    bool vis = d->visible;
    size_t nc = d->n_conflicts;
    fsy_merge_doc(d);
    ck_assert_int_eq(d->visible, vis);
    ck_assert_uint_eq(d->n_conflicts, nc);
    fsy_doc_free(&d);
    ck_assert_ptr_null(d);
}
END_TEST

START_TEST(test_merge_deleted_conflict_needs_deleted_winner_one)
{
    /* _deleted's winner toggles between "1" and absent by its hlc alone. */
    static const struct {
        uint64_t one_hlc, absent_hlc;
        bool want;
    } rows[] = {{41, 40, true}, {40, 41, false}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        s_fspec_t f[] = {
            {"_deleted",
             2,
             {{rows[i].one_hlc, "hq", 1, 5, "1", 0},
              {rows[i].absent_hlc, "gao", 1, 6, ABSENT, 0}}},
            {"title", 1, {{30, "gao", 1, 2, "kept", 0}}},
        };
        fsy_doc_t *d = s_merged(f, 2);
        ck_assert(d->visible);
        ck_assert_int_eq(d->deleted_conflict, rows[i].want);
        ck_assert_uint_eq(d->n_conflicts, rows[i].want ? 1 : 0);
        ck_assert(!s_field(d, "_deleted")->conflict);
        fsy_doc_free(&d);
    }
}
END_TEST

START_TEST(test_merge_is_user_field_excludes_reserved_names)
{
    static const struct {
        const char *name;
        bool want;
    } rows[] = {
        {"title", true},      {"body", true}, {"Budget", true},
        {"risk_level", true}, {"x_", true},   {"_kind", false},
        {"_deleted", false},  {"_", false},   {"_other", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ck_assert_msg(fsy_merge_is_user_field(rows[i].name) == rows[i].want,
                      "%s", rows[i].name);
}
END_TEST

/* ---- order independence ----------------------------------------------- */

/* Everything the merge decides, as text: equal text, equal result. */
static void
s_describe(const fsy_doc_t *d, char *buf, size_t len)
{
    size_t off = 0;
#define PUT(...)                                                               \
    do {                                                                       \
        int n_ = snprintf(buf + off, len - off, __VA_ARGS__);                  \
        ck_assert(n_ >= 0 && (size_t)n_ < len - off);                          \
        off += (size_t)n_;                                                     \
    } while (0)
    PUT("visible=%d deleted_conflict=%d n=%zu kind=%s updated=%" PRIu64,
        d->visible, d->deleted_conflict, d->n_conflicts, d->kind,
        d->updated_hlc);
    for (size_t i = 0; i < d->n_fields; i++) {
        const fsy_field_t *f = &d->fields[i];
        PUT(" | %s conflict=%d winner=%zu heads:", f->name, f->conflict,
            f->winner);
        for (size_t k = 0; k < f->n_heads; k++) {
            const fsy_head_t *h = &f->heads[k];
            PUT(" %" PRIu64 "/%s/%" PRIu64 "/%" PRIu64 "=", h->version.hlc,
                h->version.origin.site, h->version.origin.incarnation,
                h->version.seq);
            if (h->absent)
                PUT("<absent>");
            else
                PUT("'%.*s'", (int)h->value_len, (const char *)h->value);
        }
    }
#undef PUT
}

/* Calls fn for every permutation of 0..n-1 (Heap's algorithm). */
static void
s_each_perm(size_t *p, size_t k, size_t n, void (*fn)(const size_t *, void *),
            void *ctx)
{
    if (k <= 1) {
        fn(p, ctx);
        return;
    }
    for (size_t i = 0; i < k - 1; i++) {
        s_each_perm(p, k - 1, n, fn, ctx);
        size_t j = (k % 2 == 0) ? i : 0;
        size_t t = p[j];
        p[j] = p[k - 1];
        p[k - 1] = t;
    }
    s_each_perm(p, k - 1, n, fn, ctx);
}

/* A document with ties broken at every level and conflicts of each kind. */
static const s_fspec_t s_busy[] = {
    {"_deleted",
     3,
     {{40, "hq", 1, 9, "1", 0},
      {40, "gao", 1, 9, ABSENT, 0},
      {40, "hq", 1, 8, ABSENT, 0}}},
    {"_kind",
     2,
     {{10, "hq", 1, 1, "plan", 0}, {10, "hq", 2, 1, "analysis", 0}}},
    {"body",
     5,
     {{30, "gao", 7, 3, "v1", 0},
      {30, "gao", 7, 4, ABSENT, 0},
      {30, "gao", 6, 5, "v2", 0},
      {30, "bamako", 9, 9, "v3", 0},
      {29, "zz", 9, 9, "", 0}}},
    {"status",
     4,
     {{22, "hq", 1, 3, "final", 0},
      {23, "gao", 1, 3, "final", 0},
      {22, "gao", 1, 3, "final", 0},
      {21, "kidal", 1, 3, "final", 0}}},
    {"title",
     3,
     {{5, "a", 1, 1, ABSENT, 0},
      {6, "b", 1, 1, ABSENT, 0},
      {4, "c", 1, 1, ABSENT, 0}}},
};
#define N_BUSY (sizeof s_busy / sizeof s_busy[0])

typedef struct s_perm_ctx {
    size_t field;
    const char *want;
    size_t runs;
} s_perm_ctx_t;

static void
s_check_perm(const size_t *perm, void *ctx)
{
    s_perm_ctx_t *pc = ctx;
    const size_t *perms[N_BUSY] = {0};
    perms[pc->field] = perm;
    fsy_doc_t *d = s_doc_new(s_busy, N_BUSY, perms);
    fsy_merge_doc(d);
    char got[2048];
    s_describe(d, got, sizeof got);
    fsy_doc_free(&d);
    ck_assert_msg(strcmp(got, pc->want) == 0,
                  "field %s, order %zu %zu %zu:\n got  %s\n want %s",
                  s_busy[pc->field].name, perm[0], perm[1], perm[2], got,
                  pc->want);
    pc->runs++;
}

START_TEST(test_merge_result_does_not_depend_on_head_order)
{
    char want[2048];
    fsy_doc_t *d = s_merged(s_busy, N_BUSY);
    s_describe(d, want, sizeof want);
    /* The expected outcome, so the comparison is not vacuous. */
    ck_assert(d->visible);
    ck_assert(d->deleted_conflict);
    s_assert_version(&s_field(d, "_deleted")->heads[2].version, 40, "hq", 1, 9);
    ck_assert_str_eq(d->kind, "analysis");
    s_assert_version(&s_field(d, "body")->heads[4].version, 30, "gao", 7, 4);
    ck_assert(s_field(d, "body")->conflict);
    ck_assert(!s_field(d, "status")->conflict);
    ck_assert(!s_field(d, "title")->conflict);
    ck_assert_uint_eq(d->n_conflicts, 3); /* _kind, body, deleted */
    fsy_doc_free(&d);

    size_t total = 0;
    for (size_t i = 0; i < N_BUSY; i++) {
        size_t p[MAX_HEADS] = {0};
        for (size_t k = 0; k < s_busy[i].n; k++)
            p[k] = k;
        s_perm_ctx_t pc = {i, want, 0};
        s_each_perm(p, s_busy[i].n, s_busy[i].n, s_check_perm, &pc);
        size_t fact = 1;
        for (size_t k = 2; k <= s_busy[i].n; k++)
            fact *= k;
        ck_assert_uint_eq(pc.runs, fact);
        total += pc.runs;
    }
    ck_assert_uint_eq(total, 6 + 2 + 120 + 24 + 6);

    /* Every field reversed at once. */
    size_t rev[N_BUSY][MAX_HEADS];
    const size_t *perms[N_BUSY];
    for (size_t i = 0; i < N_BUSY; i++) {
        for (size_t k = 0; k < s_busy[i].n; k++)
            rev[i][k] = s_busy[i].n - 1 - k;
        perms[i] = rev[i];
    }
    d = s_doc_new(s_busy, N_BUSY, perms);
    fsy_merge_doc(d);
    char got[2048];
    s_describe(d, got, sizeof got);
    fsy_doc_free(&d);
    ck_assert_str_eq(got, want);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *su = suite_create("merge");
    TCase *tc = tcase_create("merge");
    tcase_add_checked_fixture(tc, NULL, tu_cleanup);
    tcase_add_test(tc,
                   test_merge_version_cmp_orders_by_hlc_site_incarnation_seq);
    tcase_add_test(tc, test_merge_version_label_is_site_colon_seq);
    tcase_add_test(tc, test_merge_concurrent_heads_pick_greatest_version);
    tcase_add_test(tc,
                   test_merge_field_without_heads_has_no_winner_nor_conflict);
    tcase_add_test(tc, test_merge_conflict_iff_heads_differ_in_value);
    tcase_add_test(
        tc,
        test_merge_head_values_equal_is_symmetric_and_absent_only_equals_absent);
    tcase_add_loop_test(tc,
                        test_merge_doc_follows_visibility_and_conflict_rules, 0,
                        (int)(sizeof s_docs / sizeof s_docs[0]));
    tcase_add_test(tc, test_merge_deleted_conflict_needs_deleted_winner_one);
    tcase_add_test(tc, test_merge_is_user_field_excludes_reserved_names);
    tcase_add_test(tc, test_merge_result_does_not_depend_on_head_order);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    return tu_run(s_suite());
}
