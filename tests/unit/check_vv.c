/*
 * fieldsync — vv suite: version vectors (fieldsync/vv.h): lookup, raise,
 * copy, what one lacks, the status line form, the vv file a courier carries
 * (golden files in tests/fixtures/vv/: a file written by an earlier
 * version still reads, and the writer still writes it byte for byte), and
 * Z85, the text form of keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "fieldsync/error.h"
#include "fieldsync/vv.h"
#include "testutil.h"
#include "z85.h"

static fsy_origin_t
s_origin(const char *site, uint64_t inc)
{
    fsy_origin_t o;
    memset(&o, 0, sizeof o);
    snprintf(o.site, sizeof o.site, "%s", site);
    o.incarnation = inc;
    return o;
}

static const fsy_origin_t *
s_o(const char *site, uint64_t inc)
{
    static fsy_origin_t ring[8];
    static unsigned k;
    fsy_origin_t *o = &ring[k++ % 8];
    *o = s_origin(site, inc);
    return o;
}

/* The bytes of a fixture; the caller frees. */
static uint8_t *
s_fixture(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/vv/%s", FSY_FIXTURES_DIR, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    uint8_t *buf = malloc(1 << 16);
    ck_assert_ptr_nonnull(buf);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

START_TEST(test_vv_raise_adds_then_only_raises)
{
    fsy_vv_t vv = {0};
    size_t cap = 0;
    ck_ok(fsy_vv_raise(&vv, &cap, "MLI", s_o("gao", 1), 5));
    ck_ok(fsy_vv_raise(&vv, &cap, "MLI", s_o("gao", 1), 3)); /* never lower */
    ck_ok(fsy_vv_raise(&vv, &cap, "MLI", s_o("gao", 2), 1)); /* new origin */
    ck_ok(fsy_vv_raise(&vv, &cap, "global", s_o("gao", 1), 7));
    ck_assert_uint_eq(vv.n, 3);
    ck_assert_uint_eq(fsy_vv_get(&vv, "MLI", s_o("gao", 1)), 5);
    ck_assert_uint_eq(fsy_vv_get(&vv, "MLI", s_o("gao", 2)), 1);
    ck_assert_uint_eq(fsy_vv_get(&vv, "global", s_o("gao", 1)), 7);
    ck_assert_uint_eq(fsy_vv_get(&vv, "SSD", s_o("gao", 1)), 0);
    ck_assert_uint_eq(fsy_vv_get(NULL, "MLI", s_o("gao", 1)), 0);
    ck_assert_ptr_null(fsy_vv_find(&vv, "MLI", s_o("hq", 1)));
    /* grows past the first allocation */
    for (unsigned i = 0; i < 100; i++) {
        char site[16];
        snprintf(site, sizeof site, "site%u", i);
        ck_ok(fsy_vv_raise(&vv, &cap, "MLI", s_o(site, i), i + 1));
    }
    ck_assert_uint_eq(vv.n, 103);
    ck_assert_uint_eq(fsy_vv_get(&vv, "MLI", s_o("site99", 99)), 100);
    free(vv.v);
}
END_TEST

START_TEST(test_vv_copy_replaces_whole)
{
    fsy_vv_t a = {0}, b = {0};
    size_t ca = 0, cb = 0;
    ck_ok(fsy_vv_raise(&a, &ca, "MLI", s_o("hq", 1), 9));
    ck_ok(fsy_vv_raise(&b, &cb, "SSD", s_o("juba", 1), 2));
    ck_ok(fsy_vv_raise(&b, &cb, "SSD", s_o("hq", 1), 4));
    ck_ok(fsy_vv_copy(&a, &ca, &b));
    ck_assert_uint_eq(a.n, 2);
    ck_assert_uint_eq(fsy_vv_get(&a, "MLI", s_o("hq", 1)), 0);
    ck_assert_uint_eq(fsy_vv_get(&a, "SSD", s_o("hq", 1)), 4);
    fsy_vv_t empty = {0};
    ck_ok(fsy_vv_copy(&a, &ca, &empty));
    ck_assert_uint_eq(a.n, 0);
    free(a.v);
    free(b.v);
}
END_TEST

START_TEST(test_vv_missing_counts_only_listed_scopes)
{
    fsy_vv_t have = {0}, other = {0};
    size_t ch = 0, co = 0;
    ck_ok(fsy_vv_raise(&have, &ch, "MLI", s_o("hq", 1), 10));
    ck_ok(fsy_vv_raise(&have, &ch, "global", s_o("hq", 1), 4));
    ck_ok(fsy_vv_raise(&have, &ch, "SSD", s_o("juba", 1), 6));
    ck_ok(fsy_vv_raise(&other, &co, "MLI", s_o("hq", 1), 7));
    ck_ok(fsy_vv_raise(&other, &co, "SSD", s_o("juba", 1), 9)); /* ahead */
    ck_assert_uint_eq(fsy_vv_missing(&have, &other, ""), 3 + 4);
    ck_assert_uint_eq(fsy_vv_missing(&have, &other, "MLI"), 3);
    ck_assert_uint_eq(fsy_vv_missing(&have, &other, "MLI, global"), 7);
    ck_assert_uint_eq(fsy_vv_missing(&have, &other, "SSD"), 0);
    ck_assert_uint_eq(fsy_vv_missing(&other, &have, ""), 3);
    free(have.v);
    free(other.v);
}
END_TEST

START_TEST(test_vv_status_form_round_trips_and_refuses_junk)
{
    fsy_vv_t vv = {0};
    size_t cap = 0;
    ck_ok(fsy_vv_raise(&vv, &cap, "MLI", s_o("gao", 0x215776128a6ef67dULL), 2));
    ck_ok(fsy_vv_raise(&vv, &cap, "global", s_o("hq", 0xeeeULL), 12345));
    char *text = NULL;
    ck_ok(fsy_vv_format(&vv, &text));
    ck_assert_str_eq(text, "MLI gao 215776128a6ef67d 2\n"
                           "global hq 0000000000000eee 12345\n");
    fsy_vv_t *back = NULL;
    ck_ok(fsy_vv_parse(text, &back));
    ck_assert_uint_eq(back->n, 2);
    ck_assert_uint_eq(fsy_vv_get(back, "global", s_o("hq", 0xeee)), 12345);
    fsy_vv_free(&back);
    ck_assert_ptr_null(back);
    fsy_vv_free(&back); /* NULL is fine */
    static const char *const junk[] = {
        "MLI gao 12 x\n", "MLI gao zz 1\n", "MLI Gao! 12 1\n", "MLI gao\n",
        "a-scope-name-far-too-long-to-be-a-scope gao 12 1\n"};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
        ck_assert_int_eq(fsy_vv_parse(junk[i], &back), FSY_EINVAL);
    free(text);
    free(vv.v);
}
END_TEST

START_TEST(test_vv_file_golden_v1_still_reads)
{
    size_t len;
    uint8_t *buf = s_fixture("v1-gao.vv", &len);
    fsy_origin_t owner;
    fsy_vv_t *vv = NULL;
    ck_ok(fsy_vv_file_parse(buf, len, &owner, &vv));
    ck_assert_str_eq(owner.site, "gao");
    ck_assert_uint_eq(owner.incarnation, 0x215776128a6ef67dULL);
    ck_assert_uint_eq(vv->n, 3);
    const uint64_t hq = 0xeee21db6fa49b51cULL, gao = 0x215776128a6ef67dULL;
    ck_assert_uint_eq(fsy_vv_get(vv, "MLI", s_o("gao", gao)), 2);
    ck_assert_uint_eq(fsy_vv_get(vv, "MLI", s_o("hq", hq)), 3);
    ck_assert_uint_eq(fsy_vv_get(vv, "global", s_o("hq", hq)), 2);
    /* and today's writer writes the same bytes for the same vector */
    char *text = NULL;
    ck_ok(fsy_vv_file_write(&owner, vv, &text));
    ck_assert_uint_eq(strlen(text) + 1, len); /* the file ends with '\n' */
    ck_assert_int_eq(memcmp(text, buf, len - 1), 0);
    free(text);
    fsy_vv_free(&vv);
    free(buf);
}
END_TEST

START_TEST(test_vv_file_any_layout_reads_sorted)
{
    size_t len;
    uint8_t *buf = s_fixture("v1-gao-pretty.vv", &len);
    fsy_origin_t owner;
    fsy_vv_t *vv = NULL;
    ck_ok(fsy_vv_file_parse(buf, len, &owner, &vv));
    ck_assert_uint_eq(vv->n, 3);
    /* sorted like fsy_store_vv(): scope, then site */
    ck_assert_str_eq(vv->v[0].scope, "MLI");
    ck_assert_str_eq(vv->v[0].origin.site, "gao");
    ck_assert_str_eq(vv->v[1].origin.site, "hq");
    ck_assert_str_eq(vv->v[2].scope, "global");
    fsy_vv_free(&vv);
    free(buf);
}
END_TEST

static const struct {
    const char *file;
    const char *error;
} s_bad_files[] = {
    {"bad-newer-version.vv", "written by a newer fieldsync (vv format "
                             "version 2): upgrade fieldsync here"},
    {"bad-nul-escape.vv", "not a fieldsync version vector file (not JSON "
                          "text)"},
    {"bad-repeated-entry.vv", "two entries for scope MLI, site hq"},
    {"bad-seq-over-2-53.vv", "\"seq\" must be an integer from 0 to 2^53"},
    {"bad-site.vv", "entries[0]: site id 'HQ!' must start with a lower-case "
                    "letter"},
    {"bad-truncated.vv", "not a fieldsync version vector file (not valid "
                         "JSON)"},
    {"bad-unknown-key.vv", "entries[0]: unknown key \"note\""},
};

START_TEST(test_vv_file_hostile_files_refused_with_reason)
{
    size_t len;
    uint8_t *buf = s_fixture(s_bad_files[_i].file, &len);
    fsy_origin_t owner;
    fsy_vv_t *vv = NULL;
    ck_assert_int_eq(fsy_vv_file_parse(buf, len, &owner, &vv), FSY_EINVAL);
    ck_assert_ptr_null(vv);
    ck_assert_str_eq(fsy_errdetail(), s_bad_files[_i].error);
    free(buf);
}
END_TEST

START_TEST(test_vv_file_write_refuses_seq_json_cannot_carry)
{
    fsy_vv_t vv = {0};
    size_t cap = 0;
    fsy_origin_t me = s_origin("bamako", 1);
    ck_ok(fsy_vv_raise(&vv, &cap, "MLI", &me, FSY_VV_FILE_SEQ_MAX));
    char *text = NULL;
    ck_ok(fsy_vv_file_write(&me, &vv, &text));
    fsy_vv_t *back = NULL;
    fsy_origin_t owner;
    ck_ok(
        fsy_vv_file_parse((const uint8_t *)text, strlen(text), &owner, &back));
    ck_assert_uint_eq(back->v[0].seq, FSY_VV_FILE_SEQ_MAX);
    fsy_vv_free(&back);
    free(text);
    text = NULL;
    vv.v[0].seq = FSY_VV_FILE_SEQ_MAX + 1;
    ck_assert_int_eq(fsy_vv_file_write(&me, &vv, &text), FSY_EINVAL);
    ck_assert_ptr_null(text);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "beyond what a vv file"));
    free(vv.v);
}
END_TEST

START_TEST(test_z85_matches_spec_and_zeromq)
{
    /* the test vector of ZeroMQ RFC 32 */
    const uint8_t hello[8] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
    char text[41];
    ck_ok(fsy_z85_encode(text, hello, 8));
    ck_assert_str_eq(text, "HelloWorld");
    uint8_t back[32];
    ck_ok(fsy_z85_decode(back, sizeof back, "HelloWorld"));
    ck_assert_int_eq(memcmp(back, hello, 8), 0);
    for (int i = 0; i < 200; i++) {
        uint8_t key[32];
        char theirs[41];
        randombytes_buf(key, sizeof key);
        ck_ok(fsy_z85_encode(text, key, 32));
        ck_assert_ptr_nonnull(zmq_z85_encode(theirs, key, 32));
        ck_assert_str_eq(text, theirs);
        ck_ok(fsy_z85_decode(back, sizeof back, text));
        ck_assert_int_eq(memcmp(back, key, 32), 0);
    }
    ck_assert_int_eq(fsy_z85_decode(back, sizeof back, "Hello"), FSY_OK);
    ck_assert_int_eq(fsy_z85_decode(back, sizeof back, "Hell"),
                     FSY_EINVAL); /* length */
    ck_assert_int_eq(fsy_z85_decode(back, sizeof back, "Hell~"),
                     FSY_EINVAL); /* char */
    ck_assert_int_eq(fsy_z85_decode(back, sizeof back, "#####"),
                     FSY_EINVAL); /* > 2^32 */
    ck_assert_int_eq(fsy_z85_encode(text, hello, 3), FSY_EINVAL);
    uint8_t small[4];
    ck_assert_int_eq(fsy_z85_decode(small, sizeof small, "HelloWorld"),
                     FSY_EINVAL); /* would not fit */
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *su = suite_create("vv");
    TCase *tc = tcase_create("vv");
    tcase_add_test(tc, test_vv_raise_adds_then_only_raises);
    tcase_add_test(tc, test_vv_copy_replaces_whole);
    tcase_add_test(tc, test_vv_missing_counts_only_listed_scopes);
    tcase_add_test(tc, test_vv_status_form_round_trips_and_refuses_junk);
    tcase_add_test(tc, test_vv_file_golden_v1_still_reads);
    tcase_add_test(tc, test_vv_file_any_layout_reads_sorted);
    tcase_add_loop_test(tc, test_vv_file_hostile_files_refused_with_reason, 0,
                        (int)(sizeof s_bad_files / sizeof *s_bad_files));
    tcase_add_test(tc, test_vv_file_write_refuses_seq_json_cannot_carry);
    tcase_add_test(tc, test_z85_matches_spec_and_zeromq);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    return tu_run(s_suite());
}
