/*
 * fieldsync — store suite: the replica's schema, local writes, remote
 * apply, the conflict and delete rules of the design, verification.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "clock.h"
#include "fieldsync/query.h"
#include "store_internal.h"
#include "testutil.h"

static bool
s_has_conflict(fsy_store_t *s, const char *scope, const char *doc,
               const char *field)
{
    fsy_doc_t *d;
    ck_ok(fsy_store_get(s, scope, doc, &d));
    const fsy_field_t *f = fsy_doc_field(d, field);
    bool c = f != NULL && f->conflict;
    fsy_doc_free(&d);
    return c;
}

static bool
s_visible(fsy_store_t *s, const char *scope, const char *doc)
{
    fsy_doc_t *d;
    if (fsy_store_get(s, scope, doc, &d) != FSY_OK)
        return false;
    bool v = d->visible;
    fsy_doc_free(&d);
    return v;
}

static size_t
s_conflicts(fsy_store_t *s, const char *scope, const char *doc)
{
    fsy_doc_t *d;
    ck_ok(fsy_store_get(s, scope, doc, &d));
    size_t n = d->n_conflicts;
    fsy_doc_free(&d);
    return n;
}

static void
s_assert_same(fsy_store_t *a, fsy_store_t *b)
{
    char da[65], db[65];
    tu_digest(a, da);
    tu_digest(b, db);
    ck_assert_str_eq(da, db);
}

/* Both ways, so a and b end with the same set of changes. */
static void
s_exchange(fsy_store_t *a, fsy_store_t *b)
{
    tu_sync(a, b);
    tu_sync(b, a);
}

/* ---- opening ---------------------------------------------------------- */

START_TEST(test_store_reopen_keeps_identity_and_data)
{
    fsy_store_t *s = tu_replica("gao");
    fsy_origin_t o = *fsy_store_origin(s);
    tu_put(s, "MLI", "isf-mli-2027", "plan", "title", "ISF Mali 2027");
    fsy_store_close(&s);
    ck_ok(fsy_store_open(&s, tu_path("gao.db")));
    ck_assert_str_eq(fsy_store_origin(s)->site, "gao");
    ck_assert(fsy_origin_eq(fsy_store_origin(s), &o));
    ck_assert_str_eq(tu_get(s, "MLI", "isf-mli-2027", "title"),
                     "ISF Mali 2027");
    fsy_store_close(&s);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_store_create_refuses_existing_file)
{
    fsy_store_t *s = tu_replica("gao"), *t = NULL;
    ck_assert_int_eq(fsy_store_create(&t, tu_path("gao.db"), "gao"),
                     FSY_EEXIST);
    ck_assert_int_eq(fsy_store_create(&t, tu_path("x.db"), "Bad Site"),
                     FSY_EINVAL);
    fsy_store_close(&s);
}
END_TEST

START_TEST(test_store_open_refuses_missing_foreign_and_newer)
{
    fsy_store_t *s = NULL;
    ck_assert_int_eq(fsy_store_open(&s, tu_path("none.db")), FSY_ENOTFOUND);
    FILE *f = fopen(tu_path("notes.txt"), "w");
    fputs("minutes of the coordination meeting\n", f);
    fclose(f);
    ck_assert_int_eq(fsy_store_open(&s, tu_path("notes.txt")), FSY_EFORMAT);
    s = tu_replica("juba");
    fsy_store_close(&s);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(tu_path("juba.db"), &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL);
    sqlite3_close(db);
    ck_assert_int_eq(fsy_store_open(&s, tu_path("juba.db")), FSY_EVERSION);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "upgrade"));
}
END_TEST

START_TEST(test_store_replica_is_wal_with_full_sync)
{
    fsy_store_t *s = tu_replica("goma");
    fsy_store_close(&s);
    sqlite3 *db;
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_open(tu_path("goma.db"), &db), SQLITE_OK);
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}
END_TEST

/* ---- local writes ----------------------------------------------------- */

START_TEST(test_store_put_multi_field_is_one_transaction)
{
    fsy_store_t *s = tu_replica("hq");
    fsy_field_set_t sets[] = {
        {"title", (const uint8_t *)"Mission concept", 15, false},
        {"status", (const uint8_t *)"draft", 5, false},
        {"owner", (const uint8_t *)"Strategic Planning Unit", 23, false},
    };
    ck_ok(fsy_store_put(s, "global", "mc-2027", "plan", sets, 3));
    ck_assert_str_eq(tu_get(s, "global", "mc-2027", "_kind"), "plan");
    ck_assert_str_eq(tu_get(s, "global", "mc-2027", "owner"),
                     "Strategic Planning Unit");
    /* _kind + 3 fields, seqs 1..4, only the last ends the transaction. */
    fsy_vv_t *vv;
    ck_ok(fsy_store_vv(s, &vv));
    ck_assert_uint_eq(vv->n, 1);
    ck_assert_uint_eq(vv->v[0].seq, 4);
    fsy_vv_free(&vv);
    ck_assert_uint_eq(tu_changes(s), 4);
    fsy_store_close(&s);
}
END_TEST

/* ---- the text index, written behind the changes (schema 9) ----------- */

static long
s_pending(const char *db_name)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long n = -1;
    ck_assert_int_eq(sqlite3_open(tu_path(db_name), &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM index_pending", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int
s_count_hit(const fsy_hit_t *h, void *ctx)
{
    (void)h;
    (*(int *)ctx)++;
    return 0;
}

static int
s_search(fsy_store_t *s, const char *text)
{
    int n = 0;
    fsy_query_t q = {.text = text};
    ck_ok(fsy_store_query(s, &q, s_count_hit, &n));
    return n;
}

START_TEST(test_store_text_index_written_behind_and_before_search)
{
    fsy_store_t *s = tu_replica("hq");
    tu_put(s, "MLI", "jmac-gao-48", "analysis", "body",
           "Convoys to Menaka moved under escort");
    /* the write marks the document; the rows come later */
    ck_assert_int_eq(s_pending("hq.db"), 1);
    bool more = true;
    ck_ok(fsy_store_index_catch_up(s, 0, 0, &more));
    ck_assert(more); /* nothing done: one still waits */
    ck_assert_int_eq(s_pending("hq.db"), 1);
    /* a search writes what waits first: the document is found */
    ck_assert_int_eq(s_search(s, "menaka"), 1);
    ck_assert_int_eq(s_pending("hq.db"), 0);
    /* an edit: the old word no longer finds it, the new one does */
    tu_put(s, "MLI", "jmac-gao-48", NULL, "body",
           "Convoys to Ansongo were delayed");
    ck_assert_int_eq(s_pending("hq.db"), 1);
    ck_assert_int_eq(s_search(s, "menaka"), 0);
    ck_assert_int_eq(s_search(s, "ansongo"), 1);
    /* in batches: two more documents, one at a time */
    tu_put(s, "MLI", "jmac-gao-49", "analysis", "body", "Kidal quiet");
    tu_put(s, "MLI", "jmac-gao-50", "analysis", "body", "Kidal tense");
    ck_ok(fsy_store_index_catch_up(s, 1, 0, &more));
    ck_assert(more);
    ck_assert_int_eq(s_pending("hq.db"), 1);
    ck_ok(fsy_store_index_catch_up(s, 1, 0, &more));
    ck_assert(!more);
    ck_assert_int_eq(s_pending("hq.db"), 0);
    ck_assert_int_eq(s_search(s, "kidal"), 2);
    /* inside a group: the group's own writer indexes, and a pending
     * document is never found by its old text meanwhile */
    ck_ok(fsy_store_begin(s));
    tu_put(s, "MLI", "jmac-gao-49", NULL, "body", "Gao calm");
    ck_assert_int_eq(s_search(s, "gao"), 1);
    ck_assert_int_eq(s_search(s, "quiet"), 0);
    ck_ok(fsy_store_commit(s));
    ck_assert_int_eq(s_pending("hq.db"), 0);
    /* nothing waiting: no work, no error */
    ck_ok(fsy_store_index_catch_up(s, SIZE_MAX, 0, &more));
    ck_assert(!more);
    fsy_store_close(&s);
}
END_TEST

START_TEST(test_store_put_rejects_bad_input_and_changes_nothing)
{
    fsy_store_t *s = tu_replica("hq");
    tu_put(s, "MLI", "risk-2027", "analysis", "title", "Risk assessment");
    char before[65], after[65];
    tu_digest(s, before);
    uint8_t big[64];
    memset(big, 'x', sizeof big);
    fsy_field_set_t bad_name = {"_secret", (const uint8_t *)"v", 1, false};
    fsy_field_set_t eq_name = {"a=b", (const uint8_t *)"v", 1, false};
    fsy_field_set_t ok = {"status", (const uint8_t *)"final", 5, false};
    fsy_field_set_t huge = {"body", big, sizeof big, false};
    ck_assert_int_eq(fsy_store_put(s, "MLI", "risk-2027", NULL, &bad_name, 1),
                     FSY_EINVAL);
    ck_assert_int_eq(fsy_store_put(s, "MLI", "risk-2027", NULL, &eq_name, 1),
                     FSY_EINVAL);
    ck_assert_int_eq(fsy_store_put(s, "MLI", "new-doc", NULL, &ok, 1),
                     FSY_EINVAL); /* no kind at creation */
    ck_assert_int_eq(fsy_store_put(s, "MLI", "risk-2027", "plan", &ok, 1),
                     FSY_EINVAL); /* kind is fixed */
    ck_assert_int_eq(fsy_store_put(s, "MLI", "bad\xff", "plan", &ok, 1),
                     FSY_EINVAL);
    ck_assert_int_eq(fsy_store_put(s, "M L I", "x", "plan", &ok, 1),
                     FSY_EINVAL);
    fsy_store_set_max_value(s, 32);
    ck_assert_int_eq(fsy_store_put(s, "MLI", "risk-2027", NULL, &huge, 1),
                     FSY_ETOOBIG);
    fsy_field_set_t twice[] = {ok, ok};
    ck_assert_int_eq(fsy_store_put(s, "MLI", "risk-2027", NULL, twice, 2),
                     FSY_EINVAL);
    tu_digest(s, after);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(tu_changes(s), 2);
    fsy_store_close(&s);
}
END_TEST

START_TEST(test_store_find_doc_reports_ambiguous_scopes)
{
    fsy_store_t *s = tu_replica("hq");
    tu_put(s, "MLI", "jmac-weekly", "analysis", "title", "Mali");
    tu_put(s, "SSD", "jmac-weekly", "analysis", "title", "South Sudan");
    char scope[FSY_SCOPE_MAX + 1];
    ck_assert_int_eq(fsy_store_find_doc(s, "jmac-weekly", NULL, scope),
                     FSY_EAMBIGUOUS);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "MLI, SSD"));
    ck_ok(fsy_store_find_doc(s, "jmac-weekly", "SSD", scope));
    ck_assert_str_eq(scope, "SSD");
    ck_assert_int_eq(fsy_store_find_doc(s, "nothing", NULL, scope),
                     FSY_ENOTFOUND);
    fsy_store_close(&s);
}
END_TEST

/* ---- merging ---------------------------------------------------------- */

START_TEST(test_store_concurrent_edits_same_field_conflict_then_resolve)
{
    fsy_store_t *a = tu_replica("bamako"), *b = tu_replica("gao");
    tu_put(a, "MLI", "isf", "plan", "status", "draft");
    s_exchange(a, b);
    tu_put(a, "MLI", "isf", NULL, "status", "under review");
    tu_put(b, "MLI", "isf", NULL, "status", "endorsed");
    s_exchange(a, b);
    s_assert_same(a, b);
    ck_assert(s_has_conflict(a, "MLI", "isf", "status"));
    ck_assert(s_has_conflict(b, "MLI", "isf", "status"));
    /* An ordinary put names only the winner: the conflict stays open. */
    tu_put(a, "MLI", "isf", NULL, "status", "draft 2");
    ck_assert(s_has_conflict(a, "MLI", "isf", "status"));
    ck_ok(fsy_store_resolve(b, "MLI", "isf", "status", NULL,
                            (const uint8_t *)"endorsed", 8));
    s_exchange(a, b);
    s_assert_same(a, b);
    /* b's resolve named the heads it saw; a's later put raced it. */
    ck_assert(s_has_conflict(a, "MLI", "isf", "status"));
    fsy_doc_t *d;
    ck_ok(fsy_store_get(a, "MLI", "isf", &d));
    const fsy_field_t *f = fsy_doc_field(d, "status");
    char keep[64];
    fsy_version_label(&f->heads[0].version, keep, sizeof keep);
    char *want = calloc(1, f->heads[0].value_len + 1);
    memcpy(want, f->heads[0].value, f->heads[0].value_len);
    fsy_doc_free(&d);
    ck_ok(fsy_store_resolve(a, "MLI", "isf", "status", keep, NULL, 0));
    s_exchange(a, b);
    ck_assert(!s_has_conflict(a, "MLI", "isf", "status"));
    ck_assert(!s_has_conflict(b, "MLI", "isf", "status"));
    ck_assert_str_eq(tu_get(b, "MLI", "isf", "status"), want);
    s_assert_same(a, b);
    free(want);
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_store_concurrent_edits_different_fields_merge)
{
    fsy_store_t *a = tu_replica("bamako"), *b = tu_replica("gao");
    tu_put(a, "MLI", "wp", "plan", "title", "Work plan");
    s_exchange(a, b);
    tu_put(a, "MLI", "wp", NULL, "budget", "1.2M");
    tu_put(b, "MLI", "wp", NULL, "timeline", "Q1-Q3");
    s_exchange(a, b);
    s_assert_same(a, b);
    ck_assert_uint_eq(s_conflicts(a, "MLI", "wp"), 0);
    ck_assert_str_eq(tu_get(b, "MLI", "wp", "budget"), "1.2M");
    ck_assert_str_eq(tu_get(a, "MLI", "wp", "timeline"), "Q1-Q3");
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_store_equal_values_are_not_a_conflict)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("juba");
    tu_put(a, "SSD", "r", "analysis", "status", "draft");
    s_exchange(a, b);
    tu_put(a, "SSD", "r", NULL, "status", "final");
    tu_put(b, "SSD", "r", NULL, "status", "final");
    s_exchange(a, b);
    ck_assert(!s_has_conflict(a, "SSD", "r", "status"));
    s_assert_same(a, b);
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_store_same_id_created_with_different_kinds_conflicts)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("goma");
    tu_put(a, "COD", "north-kivu", "plan", "title", "Plan");
    tu_put(b, "COD", "north-kivu", "analysis", "title", "Analysis");
    s_exchange(a, b);
    s_assert_same(a, b);
    ck_assert(s_has_conflict(a, "COD", "north-kivu", "_kind"));
    ck_assert(s_has_conflict(a, "COD", "north-kivu", "title"));
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

/* ---- the delete cases of the design ----------------------------------- */

/* The counts status reads (kept as docs rows change, the vector's sum) are what
 * counting every row says. */
static void
s_assert_counts(fsy_store_t *s, const char *site)
{
    char name[64];
    snprintf(name, sizeof name, "%s.db", site);
    sqlite3 *db;
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_open(tu_path(name), &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM changes), (SELECT "
                           "count(*) FROM docs WHERE visible = 1), (SELECT "
                           "coalesce(sum(n_conflicts), 0) FROM docs)",
                           -1, &st, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    fsy_store_counts_t c;
    ck_ok(fsy_store_counts(s, &c));
    ck_assert_uint_eq(c.changes, (uint64_t)sqlite3_column_int64(st, 0));
    ck_assert_uint_eq(c.documents, (uint64_t)sqlite3_column_int64(st, 1));
    ck_assert_uint_eq(c.conflicts, (uint64_t)sqlite3_column_int64(st, 2));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

START_TEST(test_store_delete_concurrent_with_edit_keeps_doc_with_conflict)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("gao");
    tu_put(a, "MLI", "brief", "analysis", "body", "v1");
    s_exchange(a, b);
    ck_ok(fsy_store_delete(a, "MLI", "brief"));
    ck_assert(!s_visible(a, "MLI", "brief"));
    tu_put(b, "MLI", "brief", NULL, "body", "v2");
    s_exchange(a, b);
    s_assert_same(a, b);
    ck_assert(s_visible(a, "MLI", "brief"));
    ck_assert(s_visible(b, "MLI", "brief"));
    ck_assert_uint_gt(s_conflicts(a, "MLI", "brief"), 0);
    s_assert_counts(a, "hq");
    s_assert_counts(b, "gao");
    /* Keeping the edit keeps the document and clears both conflicts. */
    fsy_doc_t *d;
    ck_ok(fsy_store_get(b, "MLI", "brief", &d));
    ck_assert(d->deleted_conflict);
    const fsy_field_t *f = fsy_doc_field(d, "body");
    char keep[64] = "";
    for (size_t i = 0; i < f->n_heads; i++)
        if (!f->heads[i].absent)
            fsy_version_label(&f->heads[i].version, keep, sizeof keep);
    fsy_doc_free(&d);
    ck_ok(fsy_store_resolve(b, "MLI", "brief", "body", keep, NULL, 0));
    s_exchange(a, b);
    ck_assert_uint_eq(s_conflicts(a, "MLI", "brief"), 0);
    ck_assert_str_eq(tu_get(a, "MLI", "brief", "body"), "v2");
    s_assert_same(a, b);
    s_assert_counts(a, "hq");
    ck_ok(fsy_store_delete(a, "MLI", "brief"));
    s_assert_counts(a, "hq");
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_store_delete_then_recreate_is_visible_without_conflict)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("gao");
    tu_put(a, "MLI", "brief", "analysis", "body", "v1");
    s_exchange(a, b);
    ck_ok(fsy_store_delete(b, "MLI", "brief"));
    tu_put(b, "MLI", "brief", NULL, "body", "again");
    s_exchange(a, b);
    s_assert_same(a, b);
    ck_assert(s_visible(a, "MLI", "brief"));
    ck_assert_uint_eq(s_conflicts(a, "MLI", "brief"), 0);
    ck_assert_str_eq(tu_get(a, "MLI", "brief", "body"), "again");
    ck_assert_str_eq(tu_get(a, "MLI", "brief", "_kind"), "analysis");
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_store_delete_concurrent_with_delete_stays_deleted)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("gao");
    tu_put(a, "MLI", "brief", "analysis", "body", "v1");
    s_exchange(a, b);
    ck_ok(fsy_store_delete(a, "MLI", "brief"));
    ck_ok(fsy_store_delete(b, "MLI", "brief"));
    s_exchange(a, b);
    s_assert_same(a, b);
    ck_assert(!s_visible(a, "MLI", "brief"));
    ck_assert_uint_eq(s_conflicts(a, "MLI", "brief"), 0);
    ck_assert_int_eq(fsy_store_delete(a, "MLI", "brief"), FSY_ENOTFOUND);
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_store_delete_concurrent_with_new_field_conflicts)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("gao");
    tu_put(a, "MLI", "brief", "analysis", "body", "v1");
    s_exchange(a, b);
    ck_ok(fsy_store_delete(a, "MLI", "brief"));
    tu_put(b, "MLI", "brief", NULL, "annex", "casualty figures");
    s_exchange(a, b);
    s_assert_same(a, b);
    ck_assert(s_visible(a, "MLI", "brief"));
    fsy_doc_t *d;
    ck_ok(fsy_store_get(a, "MLI", "brief", &d));
    ck_assert(d->deleted_conflict);
    fsy_doc_free(&d);
    /* Deleting again confirms the delete everywhere. */
    ck_ok(fsy_store_delete(a, "MLI", "brief"));
    s_exchange(a, b);
    ck_assert(!s_visible(b, "MLI", "brief"));
    ck_assert_uint_eq(s_conflicts(b, "MLI", "brief"), 0);
    s_assert_same(a, b);
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

/* ---- remote apply ----------------------------------------------------- */

static void
s_all(fsy_store_t *s, fsy_change_list_t *l)
{
    ck_ok(fsy_store_export(s, NULL, tu_collect, l));
}

START_TEST(test_store_apply_is_idempotent)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("juba");
    tu_put(a, "SSD", "r1", "analysis", "title", "Upper Nile");
    tu_put(a, "SSD", "r1", NULL, "title", "Upper Nile, revised");
    fsy_change_list_t l = {0};
    s_all(a, &l);
    fsy_apply_stats_t st;
    ck_ok(fsy_store_apply(b, l.v, l.n, &st));
    ck_assert_uint_eq(st.applied, 3);
    char d1[65], d2[65];
    tu_digest(b, d1);
    ck_ok(fsy_store_apply(b, l.v, l.n, &st));
    ck_assert_uint_eq(st.applied, 0);
    ck_assert_uint_eq(st.duplicates, 3);
    tu_digest(b, d2);
    ck_assert_str_eq(d1, d2);
    ck_assert_uint_eq(tu_changes(b), 3);
    /* Own changes coming back change nothing either. */
    ck_ok(fsy_store_apply(a, l.v, l.n, &st));
    ck_assert_uint_eq(st.duplicates, 3);
    fsy_change_list_clear(&l);
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_store_apply_refuses_altered_duplicate_stream_only)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("juba"),
                *c = tu_replica("wau");
    tu_put(a, "SSD", "r1", "analysis", "title", "Upper Nile");
    fsy_change_list_t l = {0};
    s_all(a, &l);
    ck_ok(fsy_store_apply(b, l.v, l.n, NULL));
    char d1[65], d2[65];
    /* Same identity, other content, resealed: a forged or buggy sender;
     * sent together with an innocent stream from another site. */
    fsy_change_t *x = &l.v[l.n - 1];
    x->value[0] = 'X';
    fsy_change_seal(x);
    tu_put(c, "SSD", "r2", "analysis", "title", "Wau sitrep");
    ck_ok(fsy_store_export(c, NULL, tu_collect, &l));
    fsy_apply_stats_t st;
    ck_ok(fsy_store_apply(b, l.v, l.n, &st));
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_str_eq(st.refused_origin.site, "hq");
    ck_assert_ptr_nonnull(strstr(st.refused_why, "differs"));
    ck_assert_uint_eq(st.applied, 2);
    ck_assert_str_eq(tu_get(b, "SSD", "r1", "title"), "Upper Nile");
    ck_assert_str_eq(tu_get(b, "SSD", "r2", "title"), "Wau sitrep");
    /* And an unsealed alteration fails its checksum: nothing applies. */
    tu_digest(b, d1);
    x->value[0] = 'Y';
    ck_assert_int_eq(fsy_store_apply(b, l.v, l.n, NULL), FSY_ECORRUPT);
    tu_digest(b, d2);
    ck_assert_str_eq(d1, d2);
    fsy_change_list_clear(&l);
    fsy_store_close(&a);
    fsy_store_close(&b);
    fsy_store_close(&c);
}
END_TEST

/* Two changes naming each other leave a field with no head at all: a
 * legal state (not visible), never an error that blocks other streams. */
START_TEST(test_store_bases_naming_each_other_block_nothing)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("juba");
    fsy_change_t x[2] = {0};
    for (int i = 0; i < 2; i++) {
        fsy_change_t *c = &x[i];
        c->version.hlc = fsy_hlc_from_ms(1790000000000ull) + (uint64_t)i;
        snprintf(c->version.origin.site, sizeof c->version.origin.site, "%s",
                 i ? "rumbek" : "bor");
        c->version.origin.incarnation = 42;
        c->version.seq = 1;
        snprintf(c->scope, sizeof c->scope, "SSD");
        snprintf(c->doc, sizeof c->doc, "loop");
        snprintf(c->field, sizeof c->field, "title");
        c->value = (uint8_t *)(i ? "B" : "A");
        c->value_len = 1;
        c->txn_end = true;
    }
    x[0].bases = &x[1].version;
    x[1].bases = &x[0].version;
    x[0].n_bases = x[1].n_bases = 1;
    fsy_change_seal(&x[0]);
    fsy_change_seal(&x[1]);
    ck_ok(fsy_store_apply(b, &x[0], 1, NULL));
    tu_put(a, "SSD", "innocent", "analysis", "title", "Bor sitrep");
    fsy_change_list_t l = {0};
    s_all(a, &l);
    fsy_change_t *c;
    ck_ok(fsy_change_list_push(&l, &c));
    ck_ok(fsy_change_copy(c, &x[1]));
    fsy_apply_stats_t st;
    ck_ok(fsy_store_apply(b, l.v, l.n, &st));
    ck_assert_uint_eq(st.applied, 3);
    ck_assert(!s_visible(b, "SSD", "loop"));
    ck_assert_str_eq(tu_get(b, "SSD", "innocent", "title"), "Bor sitrep");
    fsy_verify_report_t r;
    ck_ok(fsy_store_verify(b, &r));
    fsy_change_list_clear(&l);
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_store_apply_drops_changes_beyond_a_gap)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("juba");
    tu_put(a, "SSD", "r1", "analysis", "title", "one");
    tu_put(a, "SSD", "r1", NULL, "title", "two");
    tu_put(a, "SSD", "r1", NULL, "title", "three");
    fsy_change_list_t l = {0};
    s_all(a, &l); /* seqs 1 (_kind), 2, 3, 4 */
    fsy_apply_stats_t st;
    ck_ok(fsy_store_apply(b, &l.v[2], 2, &st));
    ck_assert_uint_eq(st.applied, 0);
    ck_assert_uint_eq(st.gapped, 2);
    ck_assert_uint_eq(st.gap_have, 0);
    ck_assert_uint_eq(st.gap_got, 3);
    ck_assert_uint_eq(tu_changes(b), 0);
    /* A contiguous run applies; a gap inside a batch drops the rest. */
    fsy_change_t mixed[3] = {l.v[0], l.v[1], l.v[3]};
    ck_ok(fsy_store_apply(b, mixed, 3, &st));
    ck_assert_uint_eq(st.applied, 2);
    ck_assert_uint_eq(st.gapped, 1);
    ck_ok(fsy_store_apply(b, l.v, l.n, &st));
    ck_assert_uint_eq(st.applied, 2);
    ck_assert_str_eq(tu_get(b, "SSD", "r1", "title"), "three");
    s_assert_same(a, b);
    fsy_change_list_clear(&l);
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_store_apply_refuses_half_a_transaction)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("juba");
    fsy_field_set_t sets[] = {{"title", (const uint8_t *)"Sitrep", 6, false},
                              {"status", (const uint8_t *)"final", 5, false}};
    ck_ok(fsy_store_put(a, "SSD", "sitrep", "analysis", sets, 2));
    fsy_change_list_t l = {0};
    s_all(a, &l);
    ck_assert_uint_eq(l.n, 3);
    ck_assert(!l.v[1].txn_end && l.v[2].txn_end);
    fsy_apply_stats_t st;
    ck_assert_int_eq(fsy_store_apply(b, l.v, 2, &st), FSY_EINVAL);
    ck_assert_uint_eq(tu_changes(b), 0);
    ck_assert_int_eq(fsy_store_get(b, "SSD", "sitrep", &(fsy_doc_t *){0}),
                     FSY_ENOTFOUND);
    ck_ok(fsy_store_apply(b, l.v, 3, &st));
    ck_assert_uint_eq(st.applied, 3);
    fsy_change_list_clear(&l);
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

START_TEST(test_store_base_arriving_before_its_target_is_harmless)
{
    /* gao edits on top of hq's version; juba hears from gao first. */
    fsy_store_t *hq = tu_replica("hq"), *gao = tu_replica("gao"),
                *juba = tu_replica("juba");
    tu_put(hq, "MLI", "p", "plan", "title", "from hq");
    tu_sync(hq, gao);
    tu_put(gao, "MLI", "p", NULL, "title", "from gao");
    fsy_change_list_t l = {0};
    ck_ok(fsy_store_export(gao, NULL, tu_collect, &l));
    /* Only gao's own stream, without hq's changes it was based on. */
    fsy_change_list_t own = {0};
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.v[i].version.origin.site, "gao") == 0) {
            fsy_change_t *c;
            ck_ok(fsy_change_list_push(&own, &c));
            ck_ok(fsy_change_copy(c, &l.v[i]));
        }
    ck_ok(fsy_store_apply(juba, own.v, own.n, NULL));
    ck_assert_str_eq(tu_get(juba, "MLI", "p", "title"), "from gao");
    tu_sync(hq, juba); /* now the superseded version arrives */
    ck_assert(!s_has_conflict(juba, "MLI", "p", "title"));
    ck_assert_str_eq(tu_get(juba, "MLI", "p", "title"), "from gao");
    s_assert_same(juba, gao);
    fsy_change_list_clear(&l);
    fsy_change_list_clear(&own);
    fsy_store_close(&hq);
    fsy_store_close(&gao);
    fsy_store_close(&juba);
}
END_TEST

/* A base naming a change that exists but is another field's version is
 * bogus: it ends no head (through the field's index entries or the log
 * row), and either order of arrival shows the same thing everywhere. */
START_TEST(test_store_base_naming_another_field_is_ignored)
{
    fsy_store_t *hq = tu_replica("hq"), *x = tu_replica("juba"),
                *y = tu_replica("goma");
    tu_put(hq, "MLI", "p", "plan", "title", "Mopti plan");
    tu_put(hq, "MLI", "p", NULL, "status", "draft");
    fsy_change_list_t l = {0};
    s_all(hq, &l);
    const fsy_change_t *title = NULL, *status = NULL;
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.v[i].field, "title") == 0)
            title = &l.v[i];
        if (strcmp(l.v[i].field, "status") == 0)
            status = &l.v[i];
    }
    ck_assert(title != NULL && status != NULL);
    fsy_change_t forged = {
        .version = {.origin = {.site = "bor", .incarnation = 42},
                    .seq = 1,
                    .hlc = status->version.hlc + 1},
        .scope = "MLI",
        .doc = "p",
        .field = "status",
        .value = (uint8_t *)"final",
        .value_len = 5,
        .bases = (fsy_version_t *)&title->version,
        .n_bases = 1,
        .txn_end = true};
    fsy_change_seal(&forged);
    ck_ok(fsy_store_apply(x, l.v, l.n, NULL));
    ck_ok(fsy_store_apply(x, &forged, 1, NULL));
    ck_ok(fsy_store_apply(y, &forged, 1, NULL));
    ck_ok(fsy_store_apply(y, l.v, l.n, NULL));
    fsy_store_t *both[] = {x, y};
    for (int i = 0; i < 2; i++) {
        ck_assert_str_eq(tu_get(both[i], "MLI", "p", "title"), "Mopti plan");
        ck_assert(!s_has_conflict(both[i], "MLI", "p", "title"));
        /* hq's status is still a head beside bor's */
        ck_assert(s_has_conflict(both[i], "MLI", "p", "status"));
    }
    s_assert_same(x, y);
    fsy_change_list_clear(&l);
    fsy_store_close(&hq);
    fsy_store_close(&x);
    fsy_store_close(&y);
}
END_TEST

START_TEST(test_store_history_lists_every_version)
{
    fsy_store_t *a = tu_replica("hq");
    tu_put(a, "MLI", "p", "plan", "title", "a");
    tu_put(a, "MLI", "p", NULL, "title", "b");
    ck_ok(fsy_store_delete(a, "MLI", "p"));
    fsy_change_list_t l = {0};
    ck_ok(fsy_store_history(a, "MLI", "p", tu_collect, &l));
    ck_assert_uint_eq(l.n, 5); /* _kind, a, b, title absent, _deleted */
    for (size_t i = 1; i < l.n; i++)
        ck_assert_int_lt(fsy_version_cmp(&l.v[i - 1].version, &l.v[i].version),
                         0);
    ck_assert(l.v[3].absent);
    fsy_change_list_clear(&l);
    fsy_store_close(&a);
}
END_TEST

/* ---- clock ------------------------------------------------------------ */

static uint64_t
s_fixed_now(void *ctx)
{
    return *(uint64_t *)ctx;
}

/* What a neighbour holds of our own stream, against what we hold: more
 * of it, or other content at a seq we hold, means we went back in time. */
START_TEST(test_store_rollback_is_seen_in_vectors_and_tips)
{
    fsy_store_t *gao = tu_replica("gao");
    tu_put(gao, "MLI", "sitrep-1201", "analysis", "title", "r1");
    fsy_vv_t *vv = NULL;
    ck_ok(fsy_store_vv(gao, &vv));
    fsy_tip_t tips[FSY_TIPS_MAX];
    size_t n;
    ck_ok(fsy_store_tips(gao, vv, fsy_store_origin(gao), tips, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(tips[0].seq, 2);
    bool behind;
    char why[256];
    ck_ok(fsy_store_rolled_back(gao, vv, tips, n, &behind, why, sizeof why));
    ck_assert(!behind); /* the same: all is well */
    tips[0].checksum[0] ^= 1;
    ck_ok(fsy_store_rolled_back(gao, vv, tips, n, &behind, why, sizeof why));
    ck_assert(behind);
    ck_assert_ptr_nonnull(strstr(why, "another change as gao:2 in MLI"));
    vv->v[0].seq = 1; /* a tip not at the end of our stream in their vector
                         is another incarnation's: no verdict from it */
    ck_ok(fsy_store_rolled_back(gao, vv, tips, n, &behind, why, sizeof why));
    ck_assert(!behind);
    vv->v[0].seq = 5; /* the neighbour holds more of our stream */
    ck_ok(fsy_store_rolled_back(gao, vv, NULL, 0, &behind, why, sizeof why));
    ck_assert(behind);
    ck_assert_ptr_nonnull(strstr(why, "up to gao:5 in MLI"));
    fsy_vv_free(&vv);
    fsy_store_close(&gao);
}
END_TEST

/* Only this replica writes its own stream: a change of it from elsewhere
 * (a forgery, or what the tree holds of a replica restored from an older
 * copy) is refused, never applied as this site's work. */
START_TEST(test_store_own_changes_from_elsewhere_are_refused)
{
    fsy_store_t *gao = tu_replica("gao");
    tu_put(gao, "MLI", "sitrep-1201", "analysis", "title", "r1");
    fsy_store_close(&gao);
    /* the copy a backup would keep */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", tu_path("gao.db"),
             tu_path("gao-backup.db"));
    ck_assert_int_eq(system(cmd), 0);
    ck_ok(fsy_store_open(&gao, tu_path("gao.db")));
    tu_put(gao, "MLI", "sitrep-1202", "analysis", "title", "r2");
    fsy_change_list_t l = {0};
    ck_ok(fsy_store_export(gao, NULL, tu_collect, &l));
    fsy_store_t *old;
    ck_ok(fsy_store_open(&old, tu_path("gao-backup.db")));
    fsy_apply_stats_t st;
    ck_ok(fsy_store_apply(old, l.v, l.n, &st));
    ck_assert_uint_eq(st.duplicates, 2);
    ck_assert_uint_eq(st.applied, 0);
    ck_assert_uint_eq(st.refused, 2);
    ck_assert_ptr_nonnull(strstr(st.refused_why, "this site's own change"));
    ck_assert_ptr_null(tu_get(old, "MLI", "sitrep-1202", "title"));
    fsy_change_list_clear(&l);
    fsy_store_close(&old);
    fsy_store_close(&gao);
}
END_TEST

static void
s_copy_file(const char *from, const char *to)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", tu_path(from), tu_path(to));
    ck_assert_int_eq(system(cmd), 0);
}

static void
s_delivered(fsy_store_t *child, fsy_store_t *parent)
{
    fsy_vv_t *vv = NULL;
    ck_ok(fsy_store_vv(parent, &vv));
    ck_ok(fsy_store_delivered(child, vv));
    fsy_vv_free(&vv);
}

static fsy_recover_result_t
s_finish(fsy_store_t *child, fsy_store_t *parent)
{
    fsy_vv_t *vv = NULL;
    fsy_recover_result_t r;
    ck_ok(fsy_store_vv(parent, &vv));
    ck_ok(fsy_store_recover_finish(child, vv, &r));
    fsy_vv_free(&vv);
    return r;
}

static void
s_verify(fsy_store_t *s)
{
    fsy_verify_report_t rep;
    ck_ok(fsy_store_verify(s, &rep));
}

/*
 * A restored replica recovers by itself, with nothing lost: what it wrote
 * after the restore is set aside, the tree's version of its old stream
 * comes back, and only what the tree lacks is written again, under a new
 * incarnation, bases following their targets.
 */
static bool s_feed_found;

/* Feed callback: notes whether a change with value ctx went by. */
static int
s_feed_count(const fsy_change_t *c, const fsy_cursor_t *at, void *ctx)
{
    (void)at;
    if (ctx != NULL && c->value_len == strlen(ctx) &&
        memcmp(c->value, ctx, c->value_len) == 0)
        s_feed_found = true;
    return 0;
}

START_TEST(test_store_restored_replica_recovers)
{
    fsy_store_t *hq = tu_replica("hq"), *gao = tu_replica("gao");
    tu_put(gao, "MLI", "sitrep-1201", "analysis", "title", "r1");
    tu_sync(gao, hq);
    s_delivered(gao, hq); /* hq acknowledged r1 */
    tu_put(gao, "MLI", "sitrep-1200", "analysis", "title", "r0");
    tu_sync(gao, hq); /* at hq, but its acknowledgement was not recorded */
    fsy_store_close(&gao);
    s_copy_file("gao.db", "gao-copy.db");
    ck_ok(fsy_store_open(&gao, tu_path("gao.db")));
    tu_put(gao, "MLI", "sitrep-1202", "analysis", "title", "r2");
    tu_put(gao, "MLI", "sitrep-1201", NULL, "title", "r1 (lost edit)");
    tu_sync(gao, hq);
    fsy_store_close(&gao);
    s_copy_file("gao-copy.db", "gao.db");
    ck_ok(fsy_store_open(&gao, tu_path("gao.db")));
    fsy_origin_t old = *fsy_store_origin(gao);
    tu_put(gao, "MLI", "sitrep-1203", "analysis", "title", "r3");
    tu_put(gao, "MLI", "sitrep-1203", NULL, "title", "r3, revised");
    tu_put(gao, "MLI", "sitrep-1201", NULL, "title", "r1 (new edit)");

    fsy_cursor_t seen; /* a feed follower has handled everything so far */
    ck_ok(fsy_store_feed(gao, &(fsy_cursor_t){0}, 1000, s_feed_count, NULL,
                         &seen));
    ck_assert_uint_eq(seen.epoch, 0);

    fsy_recovery_t rec;
    ck_ok(fsy_store_recover_begin(gao, &rec));
    ck_assert(rec.active);
    ck_assert_uint_eq(rec.retired.incarnation, old.incarnation);
    ck_assert_uint_eq(rec.displaced, 2 + 3 + 1); /* r0, r3 twice, r1 edit */
    ck_assert_uint_ne(fsy_store_origin(gao)->incarnation, old.incarnation);
    ck_assert(!s_visible(gao, "MLI", "sitrep-1203")); /* set aside */
    ck_assert_str_eq(tu_get(gao, "MLI", "sitrep-1201", "title"), "r1");
    ck_assert_int_eq(fsy_store_recover_begin(gao, &rec), FSY_EINVAL);
    s_verify(gao);
    fsy_pending_t p; /* set aside: at neither the parent nor HQ */
    ck_ok(fsy_store_pending(gao, NULL, NULL, &p));
    ck_assert_uint_eq(p.changes, 6);
    ck_assert_uint_eq(p.changes_not_at_parent, 6);
    ck_assert_uint_eq(p.docs, 3);

    fsy_recover_result_t r = s_finish(gao, hq); /* gao lacks hq's r0, r2 */
    ck_assert(!r.done);
    tu_sync(hq, gao); /* the old stream comes back, as hq holds it */
    r = s_finish(gao, hq);
    ck_assert(r.done);
    ck_assert_uint_eq(r.dropped, 2); /* r0: hq holds it, identical */
    ck_assert_uint_eq(r.reissued, 3 + 1);
    ck_ok(fsy_store_recovery(gao, &rec));
    ck_assert(!rec.active);

    ck_assert_str_eq(tu_get(gao, "MLI", "sitrep-1200", "title"), "r0");
    ck_assert_str_eq(tu_get(gao, "MLI", "sitrep-1202", "title"), "r2");
    ck_assert_str_eq(tu_get(gao, "MLI", "sitrep-1203", "title"),
                     "r3, revised"); /* its base followed it: no conflict */
    ck_assert_uint_eq(s_conflicts(gao, "MLI", "sitrep-1203"), 0);
    ck_assert(s_has_conflict(gao, "MLI", "sitrep-1201", "title"));
    s_exchange(gao, hq);
    s_assert_same(gao, hq);
    ck_assert_str_eq(tu_get(hq, "MLI", "sitrep-1203", "title"), "r3, revised");
    /* the follower resumes in the new epoch, below the positions reused,
     * and sees the re-issued changes: nothing missed */
    s_feed_found = false;
    fsy_cursor_t next = seen; /* one object, as `fieldsync changes` has */
    ck_ok(fsy_store_feed(gao, &next, 1000, s_feed_count, "r3, revised", &next));
    ck_assert_uint_eq(next.epoch, 1);
    ck_assert(s_feed_found);
    ck_assert_int_eq(fsy_store_feed(gao, &(fsy_cursor_t){.epoch = 5}, 10,
                                    s_feed_count, NULL, &next),
                     FSY_EINVAL);
    s_verify(gao);
    s_verify(hq);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
}
END_TEST

/* What was written here and is not yet at the parent, or at the root:
 * per document, from what the parent and the root are known to hold. */
START_TEST(test_store_pending_follows_parent_and_root)
{
    fsy_store_t *hq = tu_replica("hq"), *gao = tu_replica("gao");
    ck_ok(fsy_store_set_root(hq, true));
    tu_put(gao, "MLI", "jmac-flash-01", "analysis", "title", "a");
    tu_put(gao, "MLI", "jmac-flash-02", "analysis", "title", "b");
    tu_put(hq, "MLI", "isf-mli-2027", "plan", "title", "ISF");
    tu_sync(hq, gao); /* others' changes are never pending here */
    fsy_pending_t p;
    ck_ok(fsy_store_pending(gao, NULL, NULL, &p));
    ck_assert(!p.is_root);
    ck_assert_uint_eq(p.docs, 2);
    ck_assert_uint_eq(p.changes, 4);
    ck_assert_uint_eq(p.docs_not_at_parent, 2);
    ck_assert_uint_ne(p.oldest_ms, 0);

    tu_sync(gao, hq); /* the parent is the root here */
    s_delivered(gao, hq);
    ck_ok(fsy_store_pending(gao, NULL, NULL, &p));
    ck_assert_uint_eq(p.docs, 2); /* at the parent, root not heard yet */
    ck_assert_uint_eq(p.docs_not_at_parent, 0);
    tu_put(gao, "MLI", "jmac-flash-01", NULL, "title", "a2");
    fsy_vv_t *root = NULL;
    ck_ok(fsy_store_root_vv(hq, &root));
    ck_ok(fsy_store_root_delivered(gao, root));
    fsy_vv_free(&root);
    ck_ok(fsy_store_pending(gao, NULL, NULL, &p));
    ck_assert_uint_eq(p.docs, 1); /* only the edit after */
    ck_assert_uint_eq(p.changes, 1);
    ck_assert_uint_eq(p.changes_not_at_parent, 1);
    ck_ok(fsy_store_pending_doc(gao, "MLI", "jmac-flash-02", &p));
    ck_assert_uint_eq(p.changes, 0);
    ck_ok(fsy_store_root_vv(gao, &root)); /* what gao relays to its own */
    ck_assert_uint_eq(fsy_vv_get(root, "MLI", fsy_store_origin(gao)), 4);
    fsy_vv_free(&root);
    ck_ok(fsy_store_pending(hq, NULL, NULL, &p));
    ck_assert(p.is_root);
    ck_assert_uint_eq(p.docs, 0);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
}
END_TEST

static int
s_collect_log(const fsy_change_t *c, uint64_t lseq, void *ctx)
{
    (void)lseq;
    return tu_collect(c, ctx);
}

START_TEST(test_store_urgent_marks_are_numbered_and_lapse)
{
    uint64_t now = 1790000000000ull; /* ms */
    fsy_store_t *s = tu_replica("gao");
    fsy_store_set_wallclock(s, s_fixed_now, &now);
    tu_put(s, "MLI", "sitrep-1201", "analysis", "title", "not urgent");
    fsy_store_set_urgent(s, true);
    tu_put(s, "MLI", "flash-0412", "analysis", "title", "road closed");
    tu_put(s, "SSD", "flash-0413", "analysis", "title", "camp flooded");
    fsy_store_set_urgent(s, false);
    fsy_urgent_t u[FSY_URGENT_MAX];
    size_t n;
    ck_ok(fsy_store_urgent_list(s, 0, u, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(u[0].scope, "MLI");
    ck_assert_uint_eq(u[0].seq, 4); /* the txn's last change: title, _kind */
    ck_assert_str_eq(u[1].scope, "SSD");
    ck_assert_uint_gt(u[1].id, u[0].id);
    /* A sender's place: only what follows it. */
    ck_ok(fsy_store_urgent_list(s, u[0].id, u, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(u[0].scope, "SSD");
    /* Reading a stream in order, from a seq on. */
    fsy_change_list_t l = {0};
    fsy_origin_t o = *fsy_store_origin(s);
    ck_ok(fsy_store_stream_after(s, "MLI", &o, 2, 100, s_collect_log, &l));
    ck_assert_uint_eq(l.n, 2);
    ck_assert_uint_eq(l.v[0].version.seq, 3);
    ck_assert_str_eq(l.v[0].doc, "flash-0412");
    fsy_change_list_clear(&l);
    /* A week on, the marks have lapsed. */
    now += FSY_URGENT_TTL_MS + 1;
    ck_ok(fsy_store_urgent_list(s, 0, u, &n));
    ck_assert_uint_eq(n, 0);
    fsy_store_close(&s);
}
END_TEST

/* A document's first change is the earliest by clock whatever the order
 * its changes arrive in, and later edits keep it: the same stamp as on a
 * replica that had them all at once. */
START_TEST(test_store_first_change_is_the_earliest_by_clock)
{
    uint64_t early = 1790000000000ull, late = early + 60 * 1000;
    fsy_store_t *gao = tu_replica("gao"), *hq = tu_replica("hq"),
                *x = tu_replica("juba"), *y = tu_replica("goma");
    fsy_store_set_wallclock(gao, s_fixed_now, &early);
    fsy_store_set_wallclock(hq, s_fixed_now, &late);
    tu_put(gao, "MLI", "p", "plan", "title", "Gao draft");
    tu_put(hq, "MLI", "p", "plan", "status", "draft");
    fsy_stamp_t c, u, cy, uy;
    tu_sync(hq, x);
    ck_ok(fsy_store_stamps(x, "MLI", "p", &c, &u));
    ck_assert_str_eq(c.site, "hq");
    tu_sync(gao, x); /* the earlier one arrives second */
    ck_ok(fsy_store_stamps(x, "MLI", "p", &c, &u));
    ck_assert_str_eq(c.site, "gao");
    tu_put(x, "MLI", "p", NULL, "title", "Gao draft, reviewed");
    tu_put(x, "MLI", "p", NULL, "status", "final");
    ck_ok(fsy_store_stamps(x, "MLI", "p", &c, &u));
    ck_assert_str_eq(c.site, "gao");
    ck_assert_str_eq(u.site, "juba");
    tu_sync(x, y); /* all at once */
    ck_ok(fsy_store_stamps(y, "MLI", "p", &cy, &uy));
    ck_assert_str_eq(cy.site, "gao");
    ck_assert_uint_eq(cy.hlc, c.hlc);
    ck_assert_uint_eq(uy.hlc, u.hlc);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
    fsy_store_close(&x);
    fsy_store_close(&y);
}
END_TEST

/* One call whose changes come back to a document after another's (three
 * sites' transactions, relayed together): the document's derived state is
 * refreshed as each run of it ends, and the second run, holding the
 * earlier clock, still makes the first change and both fields shown. */
START_TEST(test_store_document_met_twice_in_one_apply)
{
    uint64_t early = 1790000000000ull, late = early + 60 * 1000;
    fsy_store_t *gao = tu_replica("gao"), *hq = tu_replica("hq"),
                *juba = tu_replica("juba"), *y = tu_replica("goma");
    fsy_store_set_wallclock(gao, s_fixed_now, &late);
    fsy_store_set_wallclock(hq, s_fixed_now, &early);
    tu_put(gao, "MLI", "p", "plan", "title", "Gao draft");
    tu_put(juba, "SSD", "q", "report", "title", "Juba weekly");
    tu_put(hq, "MLI", "p", "plan", "status", "draft");
    fsy_change_list_t l = {0};
    ck_ok(fsy_store_export(gao, NULL, tu_collect, &l));
    ck_ok(fsy_store_export(juba, NULL, tu_collect, &l));
    ck_ok(fsy_store_export(hq, NULL, tu_collect, &l));
    fsy_apply_stats_t st;
    ck_ok(fsy_store_apply(y, l.v, l.n, &st));
    ck_assert_uint_eq(st.applied, l.n);
    fsy_change_list_clear(&l);
    fsy_stamp_t c, u;
    ck_ok(fsy_store_stamps(y, "MLI", "p", &c, &u));
    ck_assert_str_eq(c.site, "hq"); /* earlier, though applied last */
    ck_assert_str_eq(u.site, "gao");
    ck_assert_str_eq(tu_get(y, "MLI", "p", "title"), "Gao draft");
    ck_assert_str_eq(tu_get(y, "MLI", "p", "status"), "draft");
    fsy_store_counts_t n;
    ck_ok(fsy_store_counts(y, &n));
    ck_assert_uint_eq(n.documents, 2);
    ck_assert_uint_eq(n.conflicts, 0);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
    fsy_store_close(&juba);
    fsy_store_close(&y);
}
END_TEST

static long
s_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* n long reports from jmac-gao-<from>, 50 to a commit. */
static void
s_put_reports(fsy_store_t *s, int from, int n, const char *body)
{
    char id[32];
    for (int i = from; i < from + n; i++) {
        if ((i - from) % 50 == 0)
            ck_ok(fsy_store_begin(s));
        snprintf(id, sizeof id, "jmac-gao-%04d", i);
        tu_put(s, "MLI", id, "analysis", "body", body);
        if ((i - from) % 50 == 49 || i == from + n - 1) {
            ck_ok(fsy_store_commit(s));
            /* a busy writer never takes the log past the hard limit */
            ck_assert_uint_lt(fsy_store_wal_kib(s), 16000);
        }
    }
}

/* With checkpoints deferred (the daemon's way), commits leave what they
 * wrote in the write-ahead log until fsy_store_checkpoint copies it into
 * the database, or until the log holds the hard limit. */
START_TEST(test_store_checkpoints_when_told)
{
    fsy_store_t *s = tu_replica("hq");
    ck_ok(fsy_store_defer_checkpoints(s, 16000));
    char *body = tu_long_report(-1);
    long empty = s_file_size(tu_path("hq.db"));
    s_put_reports(s, 0, 600, body);
    /* past SQLite's threshold: 1,000 pages of 8 KiB */
    ck_assert_uint_ge(fsy_store_wal_kib(s), 8000);
    ck_assert_int_eq(s_file_size(tu_path("hq.db")), empty);
    ck_ok(fsy_store_checkpoint(s));
    ck_assert_uint_eq(fsy_store_wal_kib(s), 0);
    ck_assert_int_gt(s_file_size(tu_path("hq.db")), empty + 8 * 1024 * 1024);
    s_put_reports(s, 600, 1200, body); /* crosses the hard limit */
    const char *got = tu_get(s, "MLI", "jmac-gao-1700", "body");
    ck_assert(got != NULL && strncmp(got, body, 4000) == 0);
    free(body);
    fsy_store_close(&s);
}
END_TEST

/* The first len bytes of from, as to (a file a power loss cut short). */
static void
s_copy_prefix(const char *from, const char *to, long len)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert(in != NULL && out != NULL);
    char buf[8192];
    for (long left = len; left > 0;) {
        size_t want = left < (long)sizeof buf ? (size_t)left : sizeof buf;
        size_t got = fread(buf, 1, want, in);
        ck_assert_uint_eq(got, want);
        ck_assert_uint_eq(fwrite(buf, 1, got, out), got);
        left -= (long)got;
    }
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

/* Whether two vectors name the same changes. */
static bool
s_vv_same(const fsy_vv_t *a, const fsy_vv_t *b)
{
    return fsy_vv_missing(a, b, "") == 0 && fsy_vv_missing(b, a, "") == 0;
}

/* What hq lacks of gao's log, applied without a disk sync or with one. */
static void
s_catch_up(fsy_store_t *gao, fsy_store_t *hq, bool lazy)
{
    fsy_vv_t *have;
    ck_ok(fsy_store_vv(hq, &have));
    fsy_change_list_t l = {0};
    ck_ok(fsy_store_export(gao, have, tu_collect, &l));
    fsy_vv_free(&have);
    fsy_apply_stats_t st;
    ck_ok(lazy ? fsy_store_apply_lazy(hq, l.v, l.n, &st)
               : fsy_store_apply_validated(hq, l.v, l.n, &st));
    ck_assert_uint_eq(st.applied, l.n);
    fsy_change_list_clear(&l);
}

/* Gao's sitrep of week w (two changes), and hq catching up with it. */
static void
s_sitrep(fsy_store_t *gao, fsy_store_t *hq, int w, bool lazy)
{
    char id[32], title[32];
    snprintf(id, sizeof id, "sitrep-gao-%d", w);
    snprintf(title, sizeof title, "Gao week %d", w);
    tu_put(gao, "MLI", id, "analysis", "title", title);
    s_catch_up(gao, hq, lazy);
}

/* The vector hq gives away is its whole vector. */
static void
s_given_is_whole(fsy_store_t *hq)
{
    fsy_vv_t *given, *now;
    ck_ok(fsy_store_durable_vv(hq, &given));
    ck_ok(fsy_store_vv(hq, &now));
    ck_assert(s_vv_same(given, now));
    fsy_vv_free(&given);
    fsy_vv_free(&now);
}

/* A batch committed without a disk sync (the daemon's, when another
 * message waits) stays out of the vector this replica gives away until a
 * synced commit or fsy_store_sync puts it on disk: that vector is what a
 * power loss leaves. */
START_TEST(test_store_lazy_commits_stay_out_of_the_vector_given)
{
    fsy_store_t *gao = tu_replica("gao"), *hq = tu_replica("hq");
    ck_ok(fsy_store_defer_checkpoints(hq, 16000));
    tu_put(gao, "MLI", "sitrep-gao-48", "analysis", "title", "Gao week 48");
    tu_sync(gao, hq); /* a synced commit */
    fsy_vv_t *before, *given, *now;
    ck_ok(fsy_store_vv(hq, &before));
    long synced = s_file_size(tu_path("hq.db-wal"));
    fsy_store_t *tool = NULL; /* the tool's handle, open all along */
    ck_ok(fsy_store_open(&tool, tu_path("hq.db")));
    s_sitrep(gao, hq, 49, true);
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 1);
    ck_ok(fsy_store_durable_vv(hq, &given));
    ck_ok(fsy_store_vv(hq, &now));
    ck_assert(s_vv_same(given, before));
    ck_assert_uint_eq(fsy_vv_missing(now, given, ""), 2); /* kind, title */
    /* the feed stops before them too, from any handle (the tool's) */
    ck_assert_uint_eq(tu_feed_size(hq), 2);
    ck_assert_uint_eq(tu_feed_size(tool), 2);
    /* a status write (a group without a sync) syncs nothing */
    fsy_peer_status_t peer = {.name = "gao", .role = "child"};
    ck_ok(fsy_store_begin_volatile(hq));
    ck_ok(fsy_store_peer_put(hq, &peer));
    ck_ok(fsy_store_commit(hq));
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 1);
    /* a power loss: the write-ahead log without what followed its sync */
    ck_assert_int_gt(s_file_size(tu_path("hq.db-wal")), synced);
    s_copy_prefix(tu_path("hq.db"), tu_path("lost.db"),
                  s_file_size(tu_path("hq.db")));
    s_copy_prefix(tu_path("hq.db-wal"), tu_path("lost.db-wal"), synced);
    fsy_store_t *lost = NULL;
    ck_ok(fsy_store_open(&lost, tu_path("lost.db")));
    fsy_vv_t *left;
    ck_ok(fsy_store_vv(lost, &left));
    ck_assert(s_vv_same(left, given));
    fsy_vv_free(&left);
    fsy_store_close(&lost);
    /* a second lazy commit: the vector given still waits for the disk */
    s_sitrep(gao, hq, 50, true);
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 2);
    fsy_vv_free(&given);
    ck_ok(fsy_store_durable_vv(hq, &given));
    ck_assert(s_vv_same(given, before));
    /* hq's own writes, through another handle, are given at once */
    tu_put(tool, "MLI", "isf-mli-2027", "plan", "title", "ISF Mali 2027");
    fsy_vv_free(&given);
    ck_ok(fsy_store_durable_vv(hq, &given));
    ck_assert_uint_eq(fsy_vv_get(given, "MLI", fsy_store_origin(hq)), 2);
    ck_assert_uint_eq(tu_feed_size(tool), 2);
    /* the sync: all of it given, all of it in the feed */
    ck_ok(fsy_store_sync(hq));
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 0);
    ck_assert_uint_eq(tu_feed_size(tool), 8);
    s_given_is_whole(hq);
    /* a local write's commit is synced, and every lazy one before it */
    s_sitrep(gao, hq, 51, true);
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 1);
    tu_put(hq, "MLI", "isf-mli-2027", NULL, "status", "draft");
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 0);
    s_given_is_whole(hq);
    /* the feed waits for the sync the daemon makes as its reads run dry */
    ck_assert_uint_eq(tu_feed_size(tool), 8);
    ck_ok(fsy_store_sync(hq));
    ck_assert_uint_eq(tu_feed_size(tool), 11);
    /* a daemon stopped before its sync leaves the feed held back; the
     * next handle to open the replica (the daemon's again, or the tool's,
     * even while a daemon runs) syncs and lets it go */
    s_sitrep(gao, hq, 52, true);
    ck_assert_uint_eq(tu_feed_size(tool), 11);
    fsy_store_close(&hq);
    ck_assert_uint_eq(tu_feed_size(tool), 11);
    ck_ok(fsy_store_open(&hq, tu_path("hq.db")));
    ck_assert_uint_eq(tu_feed_size(tool), 13);
    /* a synced apply (the daemon's when nothing waits) lets it go too */
    ck_ok(fsy_store_defer_checkpoints(hq, 16000));
    s_sitrep(gao, hq, 53, true);
    ck_assert_uint_eq(tu_feed_size(tool), 13);
    s_sitrep(gao, hq, 54, false);
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 0);
    ck_assert_uint_eq(tu_feed_size(tool), 17);
    fsy_store_close(&tool);
    /* where commits are not watched (no deferred checkpoints), each syncs */
    fsy_store_t *juba = tu_replica("juba");
    s_catch_up(gao, juba, true);
    ck_assert_uint_eq(fsy_store_lazy_commits(juba), 0);
    fsy_vv_free(&before);
    fsy_vv_free(&given);
    fsy_vv_free(&now);
    fsy_store_close(&juba);
    fsy_store_close(&hq);
    fsy_store_close(&gao);
}
END_TEST

/* The daemon puts lazy commits on disk on another thread (a sync of the
 * log file): once it says a point is synced, the vector given and the
 * feed move up to that point and no further; a failed sync promises
 * nothing, ever; a synced commit overtakes a point still out. */
START_TEST(test_store_lazy_commits_synced_elsewhere_move_up_to_the_point)
{
    fsy_store_t *gao = tu_replica("gao"), *hq = tu_replica("hq");
    fsy_store_t *tool = NULL;
    ck_ok(fsy_store_defer_checkpoints(hq, 16000));
    tu_put(gao, "MLI", "sitrep-gao-48", "analysis", "title", "Gao week 48");
    tu_sync(gao, hq);
    ck_ok(fsy_store_open(&tool, tu_path("hq.db")));
    uint64_t point;
    ck_ok(fsy_store_lazy_point(hq, &point));
    ck_assert_uint_eq(point, 0); /* nothing waits for the disk */
    ck_assert_ptr_nonnull(fsy_store_wal_file(hq));
    ck_assert(strstr(fsy_store_wal_file(hq), "hq.db-wal") != NULL);
    s_sitrep(gao, hq, 49, true);
    ck_ok(fsy_store_lazy_point(hq, &point));
    ck_assert_uint_ne(point, 0);
    s_sitrep(gao, hq, 50, true); /* after the point */
    fsy_vv_t *given, *now;
    ck_assert(fsy_store_lazy_synced(hq, point, true));
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 1);
    ck_ok(fsy_store_durable_vv(hq, &given));
    ck_ok(fsy_store_vv(hq, &now));
    ck_assert_uint_eq(fsy_vv_missing(now, given, ""), 2); /* week 50 */
    ck_assert_uint_eq(fsy_vv_get(given, "MLI", fsy_store_origin(gao)), 4);
    fsy_vv_free(&given);
    /* the feed moves with the next lazy commit: up to week 49 */
    ck_assert_uint_eq(tu_feed_size(tool), 2);
    s_sitrep(gao, hq, 51, true);
    ck_assert_uint_eq(tu_feed_size(tool), 4);
    /* a point with nothing after it: all given; the feed's end goes with
     * the small synced commit the daemon makes as its reads run dry */
    ck_ok(fsy_store_lazy_point(hq, &point));
    ck_assert(fsy_store_lazy_synced(hq, point, true));
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 0);
    s_given_is_whole(hq);
    ck_ok(fsy_store_sync(hq));
    ck_assert_uint_eq(tu_feed_size(tool), 8);
    /* a synced commit overtakes a point still out: it is ignored */
    s_sitrep(gao, hq, 52, true);
    ck_ok(fsy_store_lazy_point(hq, &point));
    s_sitrep(gao, hq, 53, false);
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 0);
    s_sitrep(gao, hq, 54, true);
    ck_assert(!fsy_store_lazy_synced(hq, point, true));
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 1);
    /* a failed sync: never given, and no lazy commit again */
    fsy_vv_t *before;
    ck_ok(fsy_store_durable_vv(hq, &before));
    ck_ok(fsy_store_lazy_point(hq, &point));
    ck_assert(!fsy_store_lazy_synced(hq, point, false));
    ck_assert_uint_eq(fsy_store_lazy_commits(hq), 1);
    uint64_t total = fsy_store_lazy_total(hq);
    s_sitrep(gao, hq, 55, true);
    ck_assert_uint_eq(fsy_store_lazy_total(hq), total);
    ck_ok(fsy_store_durable_vv(hq, &given));
    ck_assert(s_vv_same(given, before));
    ck_ok(fsy_store_lazy_point(hq, &point));
    ck_assert_uint_eq(point, 0);
    fsy_vv_free(&given);
    fsy_vv_free(&before);
    fsy_vv_free(&now);
    fsy_store_close(&tool);
    fsy_store_close(&hq);
    fsy_store_close(&gao);
}
END_TEST

START_TEST(test_store_fast_remote_clock_is_accepted_but_bounded)
{
    uint64_t now = 1790000000000ull; /* ms */
    uint64_t fast = now + 3ull * 3600 * 1000;
    fsy_store_t *a = tu_replica("kidal"), *b = tu_replica("hq");
    fsy_store_set_wallclock(a, s_fixed_now, &fast);
    fsy_store_set_wallclock(b, s_fixed_now, &now);
    fsy_store_set_max_clock_skew(b, 60 * 1000);
    tu_put(a, "MLI", "sitrep", "analysis", "body", "3 hours ahead");
    fsy_change_list_t l = {0};
    ck_ok(fsy_store_export(a, NULL, tu_collect, &l));
    fsy_apply_stats_t st;
    ck_ok(fsy_store_apply(b, l.v, l.n, &st));
    fsy_change_list_clear(&l);
    ck_assert_str_eq(st.ahead_origin.site, "kidal");
    ck_assert_uint_ge(st.ahead_ms, 3ull * 3600 * 1000);
    ck_assert_uint_lt(st.ahead_ms, 3ull * 3600 * 1000 + 1000);
    ck_assert_str_eq(tu_get(b, "MLI", "sitrep", "body"), "3 hours ahead");
    fsy_store_counts_t c;
    ck_ok(fsy_store_counts(b, &c));
    ck_assert_uint_le(fsy_hlc_ms(c.clock), now + 60 * 1000);
    tu_put(b, "MLI", "sitrep", NULL, "body", "hq edit");
    ck_assert_str_eq(tu_get(b, "MLI", "sitrep", "body"), "hq edit");
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

/* ---- verify ----------------------------------------------------------- */

/* Runs sql on replica "gao" behind its store's back: *s is closed first
 * and opened again after. */
static void
s_behind_back(fsy_store_t **s, const char *sql)
{
    fsy_store_close(s);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(tu_path("gao.db"), &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_ok(fsy_store_open(s, tu_path("gao.db")));
}

START_TEST(test_store_verify_detects_a_flipped_byte)
{
    fsy_store_t *s = tu_replica("gao");
    tu_put(s, "MLI", "p", "plan", "body", "Protection of civilians");
    fsy_verify_report_t r;
    ck_ok(fsy_store_verify(s, &r));
    ck_assert_uint_eq(r.changes_checked, 2);
    s_behind_back(&s, "UPDATE changes SET value = "
                      "CAST('Protection of civiliaNs' AS BLOB)"
                      " WHERE field = 'body'");
    ck_assert_int_eq(fsy_store_verify(s, &r), FSY_ECORRUPT);
    ck_assert_uint_eq(r.bad_checksums, 1);
    ck_assert_uint_eq(r.first_bad_lseq, 2);
    fsy_store_close(&s);
}
END_TEST

/* A start checks what came since the last check and moves the mark; a
 * damaged newcomer leaves the mark where it was. */
START_TEST(test_store_verify_new_moves_the_mark)
{
    fsy_store_t *s = tu_replica("gao");
    tu_put(s, "MLI", "p", "plan", "body", "Protection of civilians");
    fsy_verify_report_t r;
    bool unmarked = true;
    uint64_t mark = 99;
    ck_ok(fsy_store_verified(s, &mark));
    ck_assert_uint_eq(mark, 0);
    ck_ok(fsy_store_verify_new(s, &r, &unmarked));
    ck_assert_uint_eq(r.changes_checked, 2);
    ck_assert(!unmarked);
    ck_ok(fsy_store_verified(s, &mark));
    ck_assert_uint_eq(mark, 2);
    ck_ok(fsy_store_verify_new(s, &r, &unmarked)); /* nothing new */
    ck_assert_uint_eq(r.changes_checked, 0);
    tu_put(s, "MLI", "q", "plan", "body", "Humanitarian access");
    s_behind_back(&s, "UPDATE changes SET value = "
                      "CAST('Humanitarian acceSs' AS BLOB)"
                      " WHERE doc = 'q' AND field = 'body'");
    ck_assert_int_eq(fsy_store_verify_new(s, &r, &unmarked), FSY_ECORRUPT);
    ck_assert_uint_eq(r.changes_checked, 2); /* only q's two */
    ck_assert_uint_eq(r.first_bad_lseq, 4);
    ck_ok(fsy_store_verified(s, &mark));
    ck_assert_uint_eq(mark, 2);
    fsy_store_close(&s);
}
END_TEST

/* A whole check that finds the log sound moves the mark too (`fieldsync
 * verify`, `fieldsyncd --check`): a start then checks only what came
 * after. One that finds damage leaves it. */
START_TEST(test_store_whole_check_moves_the_mark)
{
    fsy_store_t *s = tu_replica("gao");
    tu_put(s, "MLI", "p", "plan", "body", "Protection of civilians");
    fsy_verify_report_t r;
    uint64_t mark = 99;
    bool unmarked = true;
    ck_ok(fsy_store_verify(s, &r));
    ck_ok(fsy_store_verified(s, &mark));
    ck_assert_uint_eq(mark, 2);
    ck_ok(fsy_store_verify_new(s, &r, &unmarked));
    ck_assert_uint_eq(r.changes_checked, 0);
    /* damage after the mark: found, the mark stays */
    tu_put(s, "MLI", "q", "plan", "body", "Humanitarian access");
    s_behind_back(&s, "UPDATE changes SET value = "
                      "CAST('Humanitarian acceSs' AS BLOB)"
                      " WHERE doc = 'q' AND field = 'body'");
    ck_assert_int_eq(fsy_store_verify(s, &r), FSY_ECORRUPT);
    ck_ok(fsy_store_verified(s, &mark));
    ck_assert_uint_eq(mark, 2);
    /* mended: the next whole check moves it past q */
    s_behind_back(&s, "UPDATE changes SET value = "
                      "CAST('Humanitarian access' AS BLOB)"
                      " WHERE doc = 'q' AND field = 'body'");
    ck_ok(fsy_store_verify(s, &r));
    ck_ok(fsy_store_verified(s, &mark));
    ck_assert_uint_eq(mark, 4);
    fsy_store_close(&s);
}
END_TEST

/* Alters the value of the change at log position lseq behind the store's
 * back (closed meanwhile). */
static void
s_alter_change(fsy_store_t **s, uint64_t lseq)
{
    char sql[128];
    snprintf(sql, sizeof sql,
             "UPDATE changes SET value = CAST('forged' AS BLOB) "
             "WHERE lseq = %" PRIu64,
             lseq);
    s_behind_back(s, sql);
}

/* Many new changes are checked in two halves, one on a thread: damage on
 * either side of the split is found and named, what is before the mark is
 * not checked again, and a sound log moves the mark to its end. */
START_TEST(test_store_verify_new_in_two_halves)
{
    fsy_store_t *s = tu_replica("gao");
    ck_ok(fsy_store_begin(s));
    for (int i = 0; i < 12000; i++) { /* 24,000 changes: over the split */
        char doc[32];
        snprintf(doc, sizeof doc, "sitrep-%05d", i);
        tu_put(s, "MLI", doc, "sitrep", "body", "Patrol reports no incident");
    }
    ck_ok(fsy_store_commit(s));
    fsy_verify_report_t r;
    bool unmarked = true;
    uint64_t mark = 99, halves = fsy_sq_verify_halves();
    ck_ok(fsy_store_verify_new(s, &r, &unmarked));
    ck_assert_uint_eq(r.changes_checked, 24000);
    ck_assert_uint_eq(fsy_sq_verify_halves(), halves + 1);
    ck_assert(!unmarked);
    ck_ok(fsy_store_verified(s, &mark));
    ck_assert_uint_eq(mark, 24000);
    /* from 1,000: halves (1000, 12500] and (12500, 24000] */
    ck_ok(fsy_store_set_verified(s, 1000));
    s_alter_change(&s, 500); /* before the mark: not looked at */
    s_alter_change(&s, 12501);
    ck_assert_int_eq(fsy_store_verify_new(s, &r, &unmarked), FSY_ECORRUPT);
    ck_assert_uint_eq(r.changes_checked, 23000);
    ck_assert_uint_eq(r.bad_checksums, 1);
    ck_assert_uint_eq(r.first_bad_lseq, 12501);
    s_alter_change(&s, 12500);
    ck_assert_int_eq(fsy_store_verify_new(s, &r, &unmarked), FSY_ECORRUPT);
    ck_assert_uint_eq(r.bad_checksums, 2);
    ck_assert_uint_eq(r.first_bad_lseq, 12500);
    ck_assert_uint_eq(fsy_sq_verify_halves(), halves + 3);
    ck_ok(fsy_store_verified(s, &mark));
    ck_assert_uint_eq(mark, 1000);
    fsy_store_close(&s);
}
END_TEST

/* Replica "gao" holding one put, damaged by `sql` behind its back. */
static fsy_store_t *
s_damaged(const char *sql)
{
    fsy_store_t *s = tu_replica("gao");
    tu_put(s, "MLI", "p", "plan", "body", "x");
    s_behind_back(&s, sql);
    return s;
}

/* The vector past the log, or a stream with no vector entry. */
static const char *const s_vv_damage[] = {"UPDATE vv SET seq = 5",
                                          "DELETE FROM vv"};

START_TEST(test_store_verify_detects_vector_disagreeing_with_log)
{
    fsy_store_t *s = s_damaged(s_vv_damage[_i]);
    fsy_verify_report_t r;
    ck_assert_int_eq(fsy_store_verify(s, &r), FSY_ECORRUPT);
    ck_assert_uint_eq(r.vv_holes, 1);
    fsy_store_close(&s);
}
END_TEST

START_TEST(test_store_write_group_rolls_back_whole)
{
    fsy_store_t *s = tu_replica("hq");
    ck_ok(fsy_store_begin(s));
    tu_put(s, "MLI", "a", "plan", "title", "A");
    tu_put(s, "MLI", "b", "plan", "title", "B");
    fsy_store_rollback(s);
    ck_assert_uint_eq(tu_changes(s), 0);
    ck_ok(fsy_store_begin(s));
    tu_put(s, "MLI", "a", "plan", "title", "A");
    tu_put(s, "MLI", "a", NULL, "status", "draft");
    ck_ok(fsy_store_commit(s));
    ck_assert_str_eq(tu_get(s, "MLI", "a", "status"), "draft");
    ck_assert_uint_eq(tu_changes(s), 3);
    fsy_store_close(&s);
}
END_TEST

START_TEST(test_store_write_group_refuses_writes_after_a_failure)
{
    fsy_store_t *s = tu_replica("hq");
    fsy_field_set_t bad = {"_x", (const uint8_t *)"v", 1, false};
    ck_ok(fsy_store_begin(s));
    tu_put(s, "MLI", "a", "plan", "title", "A");
    ck_assert_int_eq(fsy_store_put(s, "MLI", "a", NULL, &bad, 1), FSY_EINVAL);
    fsy_field_set_t ok = {"title", (const uint8_t *)"B", 1, false};
    ck_assert_int_eq(fsy_store_put(s, "MLI", "b", "plan", &ok, 1), FSY_EINVAL);
    ck_assert_int_eq(fsy_store_commit(s), FSY_EINVAL);
    ck_assert_uint_eq(tu_changes(s), 0);
    tu_put(s, "MLI", "c", "plan", "title", "C"); /* usable again */
    ck_assert_uint_eq(tu_changes(s), 2);
    fsy_store_close(&s);
}
END_TEST

/* A docs row whose heads do not parse (damage: nothing writes one) is
 * derived again from the log when a change of its document arrives,
 * instead of stopping every apply that holds one. */
START_TEST(test_store_damaged_heads_row_is_derived_again)
{
    static const char *const damage[] = {"[1,x", "[]]", "[3,3]", "[+1]",
                                         "[99999999999999999999]"};
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        tu_cleanup();
        fsy_store_t *a = tu_replica("gao"), *b = tu_replica("hq");
        tu_put(a, "MLI", "isf-mli-2027", "plan", "title", "ISF Mali");
        tu_sync(a, b);
        fsy_store_close(&b);
        sqlite3 *db;
        ck_assert_int_eq(sqlite3_open(tu_path("hq.db"), &db), SQLITE_OK);
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(db,
                                            "UPDATE docs SET heads = ?1 WHERE "
                                            "doc = 'isf-mli-2027'",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, damage[i], -1, SQLITE_STATIC);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        sqlite3_close(db);
        ck_ok(fsy_store_open(&b, tu_path("hq.db")));
        tu_put(a, "MLI", "isf-mli-2027", "plan", "title", "ISF Mali 2027");
        tu_sync(a, b);
        char da[65], db_[65];
        tu_digest(a, da);
        tu_digest(b, db_);
        ck_assert_str_eq(da, db_);
        ck_assert_str_eq(tu_get(b, "MLI", "isf-mli-2027", "title"),
                         "ISF Mali 2027");
        fsy_store_close(&a);
        fsy_store_close(&b);
    }
}
END_TEST

START_TEST(test_store_resolve_on_deleted_document_recreates_it)
{
    fsy_store_t *s = tu_replica("hq");
    tu_put(s, "MLI", "p", "plan", "title", "v1");
    ck_ok(fsy_store_delete(s, "MLI", "p"));
    ck_ok(fsy_store_resolve(s, "MLI", "p", "title", NULL, (const uint8_t *)"v2",
                            2));
    fsy_doc_t *d;
    ck_ok(fsy_store_get(s, "MLI", "p", &d));
    ck_assert(d->visible);
    ck_assert(!d->deleted_conflict);
    ck_assert_uint_eq(d->n_conflicts, 0);
    fsy_doc_free(&d);
    fsy_store_close(&s);
}
END_TEST

/* A bundle applies batch by batch in one write group: a stream refused in
 * one batch stays refused in the next. */
START_TEST(test_store_refusal_holds_for_the_whole_write_group)
{
    fsy_store_t *a = tu_replica("hq"), *b = tu_replica("juba");
    tu_put(a, "SSD", "r1", "analysis", "title", "one");
    fsy_change_list_t first = {0}, rest = {0};
    ck_ok(fsy_store_export(a, NULL, tu_collect, &first));
    ck_ok(fsy_store_apply(b, first.v, first.n, NULL));
    tu_put(a, "SSD", "r1", NULL, "title", "two");
    fsy_vv_t *vv;
    ck_ok(fsy_store_vv(b, &vv));
    ck_ok(fsy_store_export(a, vv, tu_collect, &rest));
    fsy_vv_free(&vv);
    first.v[first.n - 1].value[0] = 'X'; /* forked history */
    fsy_change_seal(&first.v[first.n - 1]);
    fsy_apply_stats_t st;
    ck_ok(fsy_store_begin(b));
    ck_ok(fsy_store_apply(b, first.v, first.n, &st));
    ck_assert_uint_eq(st.refused, 1);
    ck_ok(fsy_store_apply(b, rest.v, rest.n, &st));
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_uint_eq(st.applied, 0);
    ck_ok(fsy_store_commit(b));
    ck_assert_str_eq(tu_get(b, "SSD", "r1", "title"), "one");
    /* Outside the group, the next bundle is judged afresh. */
    ck_ok(fsy_store_apply(b, rest.v, rest.n, &st));
    ck_assert_uint_eq(st.applied, 1);
    fsy_change_list_clear(&first);
    fsy_change_list_clear(&rest);
    fsy_store_close(&a);
    fsy_store_close(&b);
}
END_TEST

/* Transactions must arrive whole and one at a time, and no larger than
 * any site may write: so every log cuts into bundle records. */
START_TEST(test_store_apply_refuses_interleaved_or_oversized_transactions)
{
    fsy_store_t *a = tu_replica("hq"), *c = tu_replica("wau"),
                *b = tu_replica("juba");
    fsy_field_set_t two[] = {{"title", (const uint8_t *)"t", 1, false},
                             {"status", (const uint8_t *)"s", 1, false}};
    ck_ok(fsy_store_put(a, "SSD", "x", "plan", two, 2));
    ck_ok(fsy_store_put(c, "SSD", "y", "plan", two, 2));
    fsy_change_list_t la = {0}, lc = {0};
    ck_ok(fsy_store_export(a, NULL, tu_collect, &la));
    ck_ok(fsy_store_export(c, NULL, tu_collect, &lc));
    fsy_change_t mixed[6] = {la.v[0], lc.v[0], la.v[1],
                             lc.v[1], la.v[2], lc.v[2]};
    ck_assert_int_eq(fsy_store_apply(b, mixed, 6, NULL), FSY_EINVAL);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "interleaves"));
    ck_assert_uint_eq(tu_changes(b), 0);
    fsy_change_t whole[6] = {la.v[0], la.v[1], la.v[2],
                             lc.v[0], lc.v[1], lc.v[2]};
    ck_ok(fsy_store_apply(b, whole, 6, NULL));
    fsy_change_list_clear(&la);
    fsy_change_list_clear(&lc);
    /* A forged transaction of FSY_TXN_MAX + 1 changes. */
    fsy_change_list_t big = {0};
    for (uint64_t i = 0; i <= FSY_TXN_MAX; i++) {
        fsy_change_t *x;
        ck_ok(fsy_change_list_push(&big, &x));
        x->version = tu_version(UINT64_C(1) << 40, "rumbek", 9, i + 1);
        snprintf(x->scope, sizeof x->scope, "SSD");
        snprintf(x->doc, sizeof x->doc, "big");
        snprintf(x->field, sizeof x->field, "f%04u", (unsigned)i);
        x->absent = true;
        x->txn_end = i == FSY_TXN_MAX;
        fsy_change_seal(x);
    }
    ck_assert_int_eq(fsy_store_apply(b, big.v, big.n, NULL), FSY_ETOOBIG);
    ck_assert_uint_eq(tu_changes(b), 6);
    fsy_change_list_clear(&big);
    fsy_store_close(&a);
    fsy_store_close(&b);
    fsy_store_close(&c);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *su = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, NULL, tu_cleanup);
    tcase_add_test(tc, test_store_reopen_keeps_identity_and_data);
    tcase_add_test(tc, test_store_create_refuses_existing_file);
    tcase_add_test(tc, test_store_text_index_written_behind_and_before_search);
    tcase_add_test(tc, test_store_open_refuses_missing_foreign_and_newer);
    tcase_add_test(tc, test_store_replica_is_wal_with_full_sync);
    tcase_add_test(tc, test_store_put_multi_field_is_one_transaction);
    tcase_add_test(tc, test_store_put_rejects_bad_input_and_changes_nothing);
    tcase_add_test(tc, test_store_find_doc_reports_ambiguous_scopes);
    tcase_add_test(
        tc, test_store_concurrent_edits_same_field_conflict_then_resolve);
    tcase_add_test(tc, test_store_concurrent_edits_different_fields_merge);
    tcase_add_test(tc, test_store_equal_values_are_not_a_conflict);
    tcase_add_test(tc,
                   test_store_same_id_created_with_different_kinds_conflicts);
    tcase_add_test(
        tc, test_store_delete_concurrent_with_edit_keeps_doc_with_conflict);
    tcase_add_test(tc,
                   test_store_delete_then_recreate_is_visible_without_conflict);
    tcase_add_test(tc, test_store_delete_concurrent_with_delete_stays_deleted);
    tcase_add_test(tc, test_store_delete_concurrent_with_new_field_conflicts);
    tcase_add_test(tc, test_store_apply_is_idempotent);
    tcase_add_test(tc, test_store_apply_refuses_altered_duplicate_stream_only);
    tcase_add_test(tc, test_store_bases_naming_each_other_block_nothing);
    tcase_add_test(tc, test_store_apply_drops_changes_beyond_a_gap);
    tcase_add_test(tc, test_store_apply_refuses_half_a_transaction);
    tcase_add_test(tc, test_store_base_arriving_before_its_target_is_harmless);
    tcase_add_test(tc, test_store_base_naming_another_field_is_ignored);
    tcase_add_test(tc, test_store_first_change_is_the_earliest_by_clock);
    tcase_add_test(tc, test_store_document_met_twice_in_one_apply);
    tcase_add_test(tc, test_store_checkpoints_when_told);
    tcase_add_test(tc, test_store_lazy_commits_stay_out_of_the_vector_given);
    tcase_add_test(
        tc, test_store_lazy_commits_synced_elsewhere_move_up_to_the_point);
    tcase_add_test(tc, test_store_history_lists_every_version);
    tcase_add_test(tc, test_store_fast_remote_clock_is_accepted_but_bounded);
    tcase_add_test(tc, test_store_verify_detects_a_flipped_byte);
    tcase_add_test(tc, test_store_verify_new_moves_the_mark);
    tcase_add_test(tc, test_store_whole_check_moves_the_mark);
    tcase_add_test(tc, test_store_verify_new_in_two_halves);
    tcase_add_loop_test(
        tc, test_store_verify_detects_vector_disagreeing_with_log, 0, 2);
    tcase_add_test(tc, test_store_write_group_rolls_back_whole);
    tcase_add_test(tc, test_store_refusal_holds_for_the_whole_write_group);
    tcase_add_test(
        tc, test_store_apply_refuses_interleaved_or_oversized_transactions);
    tcase_add_test(tc, test_store_write_group_refuses_writes_after_a_failure);
    tcase_add_test(tc, test_store_resolve_on_deleted_document_recreates_it);
    tcase_add_test(tc, test_store_urgent_marks_are_numbered_and_lapse);
    tcase_add_test(tc, test_store_own_changes_from_elsewhere_are_refused);
    tcase_add_test(tc, test_store_rollback_is_seen_in_vectors_and_tips);
    tcase_add_test(tc, test_store_restored_replica_recovers);
    tcase_add_test(tc, test_store_pending_follows_parent_and_root);
    tcase_add_test(tc, test_store_damaged_heads_row_is_derived_again);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    return tu_run(s_suite());
}
