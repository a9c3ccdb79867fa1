/*
 * fieldsync — attachment suite: the reference's one text form (hostile
 * input refused), media types, the blob store (content kept once, written
 * back whole, damage detected), and references as values (checksum, merge,
 * replication through a bundle).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "fieldsync/attachment.h"
#include "fieldsync/error.h"
#include "merge.h"
#include "testutil.h"

static fsy_ref_t
s_ref(const char *name, const char *type, uint64_t size)
{
    fsy_ref_t r;
    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < FSY_BLOB_HASH_LEN; i++)
        r.hash[i] = (uint8_t)(0xa0 + i);
    r.size = size;
    snprintf(r.name, sizeof r.name, "%s", name);
    snprintf(r.type, sizeof r.type, "%s", type);
    return r;
}

START_TEST(test_attachment_ref_round_trips_in_one_form)
{
    fsy_ref_t r = s_ref("gao-region-map.pdf", "application/pdf", 900000), back;
    char text[FSY_REF_TEXT_MAX + 1];
    size_t len;
    ck_ok(fsy_ref_format(&r, text, &len));
    ck_assert_str_eq(text, "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8"
                           "b9babbbcbdbebf 900000 application/pdf "
                           "gao-region-map.pdf");
    ck_assert_uint_eq(len, strlen(text));
    ck_ok(fsy_ref_parse((const uint8_t *)text, len, &back));
    ck_assert_int_eq(memcmp(&back, &r, sizeof r), 0);
    /* a name with spaces is the rest of the line */
    r = s_ref("Rapport mensuel JMAC.pdf", "application/pdf", 1);
    ck_ok(fsy_ref_format(&r, text, &len));
    ck_ok(fsy_ref_parse((const uint8_t *)text, len, &back));
    ck_assert_str_eq(back.name, "Rapport mensuel JMAC.pdf");
    ck_assert_uint_eq(back.size, 1);
}
END_TEST

/* Each would let two sites spell one reference two ways, or is junk. */
static const char *const s_bad_refs[] = {
    "",
    "a0a1 12 application/pdf x.pdf",
    "A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF 1 "
    "application/pdf x.pdf",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf 012 "
    "application/pdf x.pdf",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf +1 "
    "application/pdf x.pdf",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf "
    "99999999999999999 application/pdf x.pdf",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf 1 "
    "Application/PDF x.pdf",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf 1 pdf "
    "x.pdf",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf 1 "
    "application/pdf ../etc/passwd",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf 1 "
    "application/pdf ..",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf 1 "
    "application/pdf map\x1b[2J.pdf",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf 1 "
    "application/pdf ",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf  "
    "application/pdf x.pdf",
    /* C1 control, and a right-to-left override that hides an extension */
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf 1 "
    "application/pdf map\xc2\x85.pdf",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf 1 "
    "application/pdf map\xe2\x80\xae"
    "fdp.exe",
    /* empty, with the hash of something else: nobody could ever send it */
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf 0 "
    "application/pdf empty.pdf",
};

START_TEST(test_attachment_ref_hostile_texts_refused)
{
    fsy_ref_t r;
    const char *t = s_bad_refs[_i];
    ck_assert_int_eq(fsy_ref_parse((const uint8_t *)t, strlen(t), &r),
                     FSY_EINVAL);
    /* and with a NUL inside */
    uint8_t nul[] = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babb"
                    "bcbdbebf 1 application/pdf x\0.pdf";
    ck_assert_int_eq(fsy_ref_parse(nul, sizeof nul - 1, &r), FSY_EINVAL);
}
END_TEST

START_TEST(test_attachment_type_guessed_from_name)
{
    ck_assert_str_eq(fsy_ref_guess_type("gao-region-map.PDF"),
                     "application/pdf");
    ck_assert_str_eq(fsy_ref_guess_type("patrol.jpeg"), "image/jpeg");
    ck_assert_str_eq(fsy_ref_guess_type("README"), "application/octet-stream");
    ck_assert_str_eq(fsy_ref_guess_type(".pdf"), "application/octet-stream");
    ck_ok(fsy_ref_check_type(fsy_ref_guess_type("a.docx")));
}
END_TEST

/* A file of n bytes of a repeating pattern; its path. */
static const char *
s_file(const char *name, size_t n, uint8_t seed)
{
    const char *path = tu_path(name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++)
        fputc((int)((i * 31 + seed) & 0xff), f);
    fclose(f);
    return path;
}

static uint64_t
s_count(fsy_store_t *s, const char *db, const char *sql)
{
    (void)s;
    sqlite3 *h;
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_open(tu_path(db), &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    uint64_t n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

START_TEST(test_attachment_blob_kept_once_and_written_back_whole)
{
    fsy_store_t *s = tu_replica("gao");
    size_t n = 3 * FSY_CHUNK_BYTES + 123;
    const char *path = s_file("map.pdf", n, 7);
    fsy_ref_t a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ck_ok(fsy_store_blob_put_file(s, path, 1 << 20, &a));
    ck_ok(fsy_store_blob_put_file(s, path, 1 << 20, &b));
    ck_assert_uint_eq(a.size, n);
    ck_assert_int_eq(memcmp(a.hash, b.hash, sizeof a.hash), 0);
    fsy_blob_state_t st;
    ck_ok(fsy_store_blob_state(s, a.hash, &st));
    ck_assert(st.known && st.complete);
    ck_assert_uint_eq(st.have, n);
    ck_assert_uint_eq(s_count(s, "gao.db", "SELECT count(*) FROM blob_chunks"),
                      4);
    /* written back: the same bytes */
    int fd = open(tu_path("out.pdf"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_ok(fsy_store_blob_write(s, a.hash, fd));
    close(fd);
    fsy_ref_t c;
    memset(&c, 0, sizeof c);
    ck_ok(fsy_store_blob_put_file(s, tu_path("out.pdf"), 1 << 20, &c));
    ck_assert_int_eq(memcmp(a.hash, c.hash, sizeof a.hash), 0);
    /* over the limit: refused, with the limit named */
    ck_assert_int_eq(fsy_store_blob_put_file(s, path, 1000, &c), FSY_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "max_attachment_bytes"));
    ck_assert_int_eq(
        fsy_store_blob_put_file(s, tu_path("missing.pdf"), 1000, &c),
        FSY_ENOTFOUND);
    fsy_store_close(&s);
}
END_TEST

START_TEST(test_attachment_damaged_blob_is_not_written_out)
{
    fsy_store_t *s = tu_replica("gao");
    const char *path = s_file("photo.jpg", 2 * FSY_CHUNK_BYTES, 3);
    fsy_ref_t a;
    memset(&a, 0, sizeof a);
    ck_ok(fsy_store_blob_put_file(s, path, 1 << 20, &a));
    fsy_store_close(&s);
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(tu_path("gao.db"), &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h,
                                  "UPDATE blob_chunks SET data = "
                                  "zeroblob(65536) WHERE idx = 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    ck_ok(fsy_store_open(&s, tu_path("gao.db")));
    int fd = open(tu_path("out.jpg"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_eq(fsy_store_blob_write(s, a.hash, fd), FSY_ECORRUPT);
    close(fd);
    /* and a blob nobody has is not complete here */
    uint8_t nobody[FSY_BLOB_HASH_LEN] = {1};
    ck_assert_int_eq(fsy_store_blob_write(s, nobody, 1), FSY_ENOTFOUND);
    fsy_store_close(&s);
}
END_TEST

/* put with one attachment reference */
static void
s_put_ref(fsy_store_t *s, const char *doc, const fsy_ref_t *r)
{
    char text[FSY_REF_TEXT_MAX + 1];
    size_t len;
    ck_ok(fsy_ref_format(r, text, &len));
    fsy_field_set_t set = {"annex", (const uint8_t *)text, len, true};
    ck_ok(fsy_store_put(s, "MLI", doc, "analysis", &set, 1));
}

START_TEST(test_attachment_reference_is_a_value_that_replicates_and_merges)
{
    fsy_store_t *gao = tu_replica("gao"), *hq = tu_replica("hq");
    fsy_ref_t r = s_ref("map.pdf", "application/pdf", 5 << 20);
    s_put_ref(gao, "jmac-monthly-11", &r);
    tu_sync_bundle(gao, hq);
    fsy_doc_t *d = NULL;
    ck_ok(fsy_store_get(hq, "MLI", "jmac-monthly-11", &d));
    const fsy_field_t *f = fsy_doc_field(d, "annex");
    ck_assert_ptr_nonnull(f);
    ck_assert(f->heads[f->winner].ref);
    fsy_doc_free(&d);
    /* the receiver holds the reference, not yet the bytes */
    fsy_blob_state_t st;
    ck_ok(fsy_store_blob_state(hq, r.hash, &st));
    ck_assert(!st.complete);
    /* concurrent: a reference at one site, text of the same bytes at the
     * other: a conflict, never "equal" */
    char text[FSY_REF_TEXT_MAX + 1];
    size_t len;
    ck_ok(fsy_ref_format(&r, text, &len));
    fsy_field_set_t bytes = {"annex", (const uint8_t *)text, len, false};
    ck_ok(fsy_store_put(hq, "MLI", "jmac-monthly-11", NULL, &bytes, 1));
    fsy_ref_t r2 = s_ref("map-v2.pdf", "application/pdf", 6 << 20);
    s_put_ref(gao, "jmac-monthly-11", &r2);
    tu_sync_bundle(gao, hq);
    tu_sync_bundle(hq, gao);
    char dg[65], dh[65];
    tu_digest(gao, dg);
    tu_digest(hq, dh);
    ck_assert_str_eq(dg, dh);
    ck_ok(fsy_store_get(gao, "MLI", "jmac-monthly-11", &d));
    ck_assert_uint_eq(d->n_conflicts, 1);
    fsy_doc_free(&d);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
}
END_TEST

START_TEST(test_attachment_empty_file_needs_no_bytes)
{
    fsy_store_t *gao = tu_replica("gao"), *hq = tu_replica("hq");
    const char *path = s_file("empty.txt", 0, 0);
    fsy_ref_t r;
    memset(&r, 0, sizeof r);
    ck_ok(fsy_store_blob_put_file(gao, path, 1 << 20, &r));
    ck_assert_uint_eq(r.size, 0);
    snprintf(r.name, sizeof r.name, "empty.txt");
    snprintf(r.type, sizeof r.type, "text/plain");
    s_put_ref(gao, "note", &r);
    tu_sync(gao, hq); /* the reference alone */
    fsy_blob_state_t st;
    ck_ok(fsy_store_blob_state(hq, r.hash, &st));
    ck_assert(st.known && st.complete);
    int fd = open(tu_path("out.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_ok(fsy_store_blob_write(hq, r.hash, fd));
    close(fd);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
}
END_TEST

START_TEST(test_attachment_flag_is_in_the_checksum)
{
    fsy_head_t a = {.ref = true, .value = (uint8_t *)"x", .value_len = 1};
    fsy_head_t b = {.ref = false, .value = (uint8_t *)"x", .value_len = 1};
    ck_assert(!fsy_merge_head_values_equal(&a, &b));
    fsy_change_t c;
    memset(&c, 0, sizeof c);
    c.version = tu_version(1 << 16, "gao", 1, 1);
    snprintf(c.scope, sizeof c.scope, "MLI");
    snprintf(c.doc, sizeof c.doc, "d");
    snprintf(c.field, sizeof c.field, "annex");
    fsy_ref_t r = s_ref("m.pdf", "application/pdf", 1);
    char text[FSY_REF_TEXT_MAX + 1];
    size_t len;
    ck_ok(fsy_ref_format(&r, text, &len));
    c.value = (uint8_t *)text;
    c.value_len = len;
    c.txn_end = true;
    c.ref = true;
    fsy_change_seal(&c);
    ck_ok(fsy_change_validate(&c));
    c.ref = false; /* a relay flipping the flag is caught */
    ck_assert_int_eq(fsy_change_validate(&c), FSY_ECORRUPT);
    c.ref = true;
    c.value = (uint8_t *)"not a reference";
    c.value_len = 15;
    fsy_change_seal(&c);
    ck_assert_int_eq(fsy_change_validate(&c), FSY_EINVAL);
}
END_TEST

START_TEST(test_attachment_chunks_from_elsewhere_checked_whole)
{
    fsy_store_t *gao = tu_replica("gao"), *hq = tu_replica("hq");
    const char *path = s_file("sitrep.pdf", 2 * FSY_CHUNK_BYTES + 10, 9);
    fsy_ref_t r;
    memset(&r, 0, sizeof r);
    ck_ok(fsy_store_blob_put_file(gao, path, 1 << 20, &r));
    /* the chunks as gao holds them */
    uint8_t *bytes = malloc(r.size);
    FILE *f = fopen(path, "rb");
    ck_assert_uint_eq(fread(bytes, 1, r.size, f), r.size);
    fclose(f);
    fsy_chunk_t c = {.size = r.size};
    memcpy(c.hash, r.hash, sizeof c.hash);
    bool done;
    /* bytes no reference names are not kept */
    c.idx = 0;
    c.data = bytes;
    c.len = FSY_CHUNK_BYTES;
    ck_assert_int_eq(fsy_store_blob_chunk_put(hq, &c, &done), FSY_ENOTFOUND);
    fsy_blob_state_t st;
    ck_ok(fsy_store_blob_state(hq, r.hash, &st));
    ck_assert(!st.known);
    snprintf(r.name, sizeof r.name, "sitrep.pdf");
    snprintf(r.type, sizeof r.type, "application/pdf");
    s_put_ref(hq, "sitrep-0412", &r);
    /* nor a size other than the reference's */
    c.size = r.size + 1;
    ck_assert_int_eq(fsy_store_blob_chunk_put(hq, &c, &done), FSY_EINVAL);
    c.size = r.size;
    /* a damaged chunk: the whole fails its hash and is dropped */
    bytes[5] ^= 1;
    for (uint64_t i = 0; i < 3; i++) {
        c.idx = i;
        c.data = bytes + i * FSY_CHUNK_BYTES;
        c.len = i < 2 ? FSY_CHUNK_BYTES : 10;
        int rc = fsy_store_blob_chunk_put(hq, &c, &done);
        ck_assert_int_eq(rc, i < 2 ? FSY_OK : FSY_ECORRUPT);
        ck_assert(!done);
    }
    ck_ok(fsy_store_blob_state(hq, r.hash, &st));
    ck_assert(!st.complete);
    ck_assert_uint_eq(st.have, 0); /* all of it goes, to be sent again */
    /* sent again, in another order and with a repeat: complete */
    bytes[5] ^= 1;
    const uint64_t order[] = {2, 0, 0, 1};
    for (size_t k = 0; k < 4; k++) {
        c.idx = order[k];
        c.data = bytes + c.idx * FSY_CHUNK_BYTES;
        c.len = c.idx < 2 ? FSY_CHUNK_BYTES : 10;
        ck_ok(fsy_store_blob_chunk_put(hq, &c, &done));
        ck_assert(done == (k == 3));
        ck_ok(fsy_store_blob_state(hq, r.hash, &st));
        ck_assert_uint_eq(st.have, k < 2    ? 10 + k * FSY_CHUNK_BYTES
                                   : k == 2 ? 10 + FSY_CHUNK_BYTES
                                            : r.size);
    }
    ck_assert(st.complete);
    /* another size for the same hash: refused */
    c.size = r.size + 1;
    ck_ok(fsy_store_blob_chunk_put(hq, &c, &done)); /* complete: ignored */
    free(bytes);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *su = suite_create("attachment");
    TCase *tc = tcase_create("attachment");
    tcase_add_test(tc, test_attachment_ref_round_trips_in_one_form);
    tcase_add_loop_test(tc, test_attachment_ref_hostile_texts_refused, 0,
                        (int)(sizeof s_bad_refs / sizeof *s_bad_refs));
    tcase_add_test(tc, test_attachment_type_guessed_from_name);
    tcase_add_test(tc, test_attachment_blob_kept_once_and_written_back_whole);
    tcase_add_test(tc, test_attachment_damaged_blob_is_not_written_out);
    tcase_add_test(
        tc, test_attachment_reference_is_a_value_that_replicates_and_merges);
    tcase_add_test(tc, test_attachment_flag_is_in_the_checksum);
    tcase_add_test(tc, test_attachment_empty_file_needs_no_bytes);
    tcase_add_test(tc, test_attachment_chunks_from_elsewhere_checked_whole);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    return tu_run(s_suite());
}
