/*
 * fieldsync — codec suite: change batches (lib/wire.h), bundle files
 * (fieldsync/bundle.h) and fsy_change_validate().
 *
 * The rules under test: what is encoded decodes to the same changes, field
 * for field; anything damaged, oversized or invalid is refused with an
 * error code and leaves no output behind (an empty list, no bundle); a
 * damaged bundle never changes the replica it is imported into.
 *
 * Malformed batches that the encoder cannot produce (out-of-range origin
 * indexes, over-long strings, short checksums) are built with the
 * generated protobuf-c structures directly.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <sodium.h>
#include <zstd.h>

#include "clock.h"
#include "fieldsync/keys.h"
#include "fieldsync.pb-c.h"
#include "testutil.h"
#include "wire.h"
#include "wire_codec.h"
#include "wire_stream.h"
#include "wire_zstream.h"

/* ---- building changes ------------------------------------------------- */

static void
s_set_value(fsy_change_t *c, const void *val, size_t len)
{
    free(c->value);
    c->value = NULL;
    c->value_len = 0;
    c->absent = val == NULL;
    if (val != NULL && len > 0) {
        c->value = malloc(len);
        ck_assert_ptr_nonnull(c->value);
        memcpy(c->value, val, len);
        c->value_len = len;
    }
}

/* A change, unsealed; val NULL means absent. */
static void
s_change(fsy_change_t *c, fsy_version_t v, const char *scope, const char *doc,
         const char *field, const void *val, size_t len, bool txn_end)
{
    memset(c, 0, sizeof *c);
    c->version = v;
    snprintf(c->scope, sizeof c->scope, "%s", scope);
    snprintf(c->doc, sizeof c->doc, "%s", doc);
    snprintf(c->field, sizeof c->field, "%s", field);
    s_set_value(c, val, len);
    c->txn_end = txn_end;
}

static void
s_add_base(fsy_change_t *c, fsy_version_t v)
{
    fsy_version_t *b = realloc(c->bases, (c->n_bases + 1) * sizeof *b);
    ck_assert_ptr_nonnull(b);
    b[c->n_bases++] = v;
    c->bases = b;
}

#define T0 (UINT64_C(1790000000000) << FSY_HLC_COUNTER_BITS)
#define INC_GAO UINT64_C(0x1111111111111111)
#define INC_HQ UINT64_C(0xfedcba9876543210) /* high bit set: fixed64 */
#define INC_HQ_OLD UINT64_C(3)
#define INC_BAMAKO UINT64_C(0x8000000000000000)
#define INC_JUBA UINT64_C(0)

/* Distinct origins in s_sample() (changes and bases). */
#define SAMPLE_ORIGINS 5

/*
 * A small batch with everything a batch can carry: two transactions (one
 * multi-change each), a binary value with NULs, an empty value, an absent
 * value, bases naming five origins, extreme hlc/seq values.
 */
static void
s_sample(fsy_change_list_t *l)
{
    static const uint8_t bin[] = {0x00, 0xff, 'r', 0x00, 0x80, '\n'};
    const char *title = "Cadre strat\xc3\xa9gique int\xc3\xa9gr\xc3\xa9";
    fsy_change_t *c;

    ck_ok(fsy_change_list_push(l, &c));
    s_change(c, tu_version(T0 + 1, "gao", INC_GAO, 1), "MLI", "isf-mli-2027",
             "_kind", "plan", 4, false);
    ck_ok(fsy_change_list_push(l, &c));
    s_change(c, tu_version(T0 + 2, "gao", INC_GAO, 2), "MLI", "isf-mli-2027",
             "title", title, strlen(title), false);
    ck_ok(fsy_change_list_push(l, &c));
    s_change(c, tu_version(T0 + 3, "gao", INC_GAO, 3), "MLI", "isf-mli-2027",
             "annex", bin, sizeof bin, true);

    ck_ok(fsy_change_list_push(l, &c));
    s_change(c, tu_version(T0 + 9, "hq", INC_HQ, 7), "MLI", "isf-mli-2027",
             "status", "", 0, false); /* present but empty */
    s_add_base(c, tu_version(T0 + 4, "bamako", INC_BAMAKO, 12));
    s_add_base(c, tu_version(T0 + 5, "gao", INC_GAO, 40));
    s_add_base(c, tu_version(T0 + 6, "hq", INC_HQ_OLD, (uint64_t)INT64_MAX));
    ck_ok(fsy_change_list_push(l, &c));
    s_change(c, tu_version((uint64_t)INT64_MAX, "hq", INC_HQ, 8), "MLI",
             "isf-mli-2027", "body", NULL, 0, true); /* absent */
    s_add_base(c, tu_version(T0 + 7, "juba", INC_JUBA, 1));
    s_add_base(c, tu_version(T0 + 8, "gao", INC_GAO, 2));

    /* authors: two the same, then none, then another, then the same */
    static const char *const authors[] = {
        "A. Traor\xc3\xa9", "A. Traor\xc3\xa9", "", "M. Diallo", "M. Diallo"};
    for (size_t i = 0; i < l->n; i++) {
        snprintf(l->v[i].author, sizeof l->v[i].author, "%s", authors[i % 5]);
        fsy_change_seal(&l->v[i]);
    }
}

static void
s_assert_version_eq(const fsy_version_t *a, const fsy_version_t *b,
                    const char *what, size_t i)
{
    ck_assert_msg(a->hlc == b->hlc, "%s %zu: hlc", what, i);
    ck_assert_msg(strcmp(a->origin.site, b->origin.site) == 0,
                  "%s %zu: site %s != %s", what, i, a->origin.site,
                  b->origin.site);
    ck_assert_msg(a->origin.incarnation == b->origin.incarnation,
                  "%s %zu: incarnation", what, i);
    ck_assert_msg(a->seq == b->seq, "%s %zu: seq", what, i);
}

/* Every field of the change, not just the checksum. */
static void
s_assert_change_eq(const fsy_change_t *a, const fsy_change_t *b, size_t i)
{
    s_assert_version_eq(&a->version, &b->version, "change", i);
    ck_assert_str_eq(a->scope, b->scope);
    ck_assert_str_eq(a->doc, b->doc);
    ck_assert_str_eq(a->field, b->field);
    ck_assert_msg(a->absent == b->absent, "change %zu: absent %d != %d", i,
                  a->absent, b->absent);
    ck_assert_msg(a->value_len == b->value_len, "change %zu: %zu bytes != %zu",
                  i, a->value_len, b->value_len);
    if (a->value_len > 0)
        ck_assert_mem_eq(a->value, b->value, a->value_len);
    ck_assert_uint_eq(a->n_bases, b->n_bases);
    for (size_t k = 0; k < a->n_bases; k++)
        s_assert_version_eq(&a->bases[k], &b->bases[k], "base", k);
    ck_assert_msg(a->txn_end == b->txn_end, "change %zu: txn_end", i);
    ck_assert_mem_eq(a->checksum, b->checksum, FSY_CHECKSUM_LEN);
    ck_assert_str_eq(a->author, b->author);
}

static void
s_assert_empty(const fsy_change_list_t *l)
{
    ck_assert_uint_eq(l->n, 0);
    ck_assert_ptr_null(l->v);
}

/* ---- batches: round trip ---------------------------------------------- */

START_TEST(test_codec_batch_round_trip_preserves_every_field)
{
    fsy_change_list_t in = {0}, out = {0};
    s_sample(&in);
    uint8_t *buf;
    size_t len;
    ck_ok(fsy_wire_encode_batch(in.v, in.n, &buf, &len));
    ck_assert_uint_gt(len, 0);
    ck_ok(fsy_wire_decode_batch(buf, len, &out));
    ck_assert_uint_eq(out.n, in.n);
    for (size_t i = 0; i < in.n; i++) {
        s_assert_change_eq(&out.v[i], &in.v[i], i);
        ck_ok(fsy_change_validate(&out.v[i]));
    }
    /* The three value states stay distinct. */
    ck_assert(!out.v[3].absent && out.v[3].value_len == 0);
    ck_assert(out.v[4].absent && out.v[4].value == NULL);
    ck_assert(!out.v[2].absent && out.v[2].value_len == 6);
    /* Re-encoding what was decoded gives the same bytes. */
    uint8_t *again;
    size_t again_len;
    ck_ok(fsy_wire_encode_batch(out.v, out.n, &again, &again_len));
    ck_assert_uint_eq(again_len, len);
    ck_assert_mem_eq(again, buf, len);
    free(again);
    free(buf);
    fsy_change_list_clear(&in);
    fsy_change_list_clear(&out);
}
END_TEST

/* ---- wire format 2: what is left out, and the batch's hash ------------ */

/* s_sample in format 2, unpacked for a mutation, packed again, decoded. */
typedef void (*s_mut2_fn)(Fieldsync__ChangeBatch *b);

static int
s_decode_mutated(s_mut2_fn mutate, fsy_change_list_t *out)
{
    fsy_change_list_t in = {0};
    s_sample(&in);
    uint8_t *buf;
    size_t len;
    ck_ok(fsy_wire_encode_batch(in.v, in.n, &buf, &len));
    Fieldsync__ChangeBatch *b = fieldsync__change_batch__unpack(NULL, len, buf);
    ck_assert_ptr_nonnull(b);
    free(buf);
    mutate(b);
    len = fieldsync__change_batch__get_packed_size(b);
    buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    fieldsync__change_batch__pack(b, buf);
    int rc = fsy_wire_decode_batch(buf, len, out);
    fieldsync__change_batch__free_unpacked(b, NULL);
    free(buf);
    fsy_change_list_clear(&in);
    return rc;
}

static void
m2_none(Fieldsync__ChangeBatch *b)
{
    /* format 2 leaves out what the previous change tells */
    ck_assert(!b->changes[1]->has_origin && b->changes[1]->scope == NULL &&
              b->changes[1]->doc == NULL && !b->changes[1]->has_seq);
    ck_assert(b->changes[3]->has_origin && b->changes[3]->has_seq);
    for (size_t i = 0; i < b->n_changes; i++)
        ck_assert(!b->changes[i]->has_checksum && !b->changes[i]->has_hlc);
    ck_assert(b->has_hash && b->hash.len == FSY_CHECKSUM_LEN);
}
static void
m2_hash_flipped(Fieldsync__ChangeBatch *b)
{
    b->hash.data[3] ^= 1;
}
static void
m2_value_altered(Fieldsync__ChangeBatch *b)
{
    b->changes[1]->value.data[0] ^= 1; /* still UTF-8: 'C' -> 'B' */
}
static void
m2_hlc_altered(Fieldsync__ChangeBatch *b)
{
    b->changes[3]->hlc_delta += 1; /* change 3's clock alone moves */
    b->changes[4]->hlc_delta -= 1;
}
static void
m2_hash_dropped(Fieldsync__ChangeBatch *b)
{
    b->has_hash = 0;
}
static void
m2_txn_end_dropped(Fieldsync__ChangeBatch *b)
{
    b->changes[2]->has_txn_end = 0; /* the first transaction runs on */
}
static void
m2_field_number_unknown(Fieldsync__ChangeBatch *b)
{
    free(b->changes[4]->field); /* protobuf-c's: the system allocator */
    b->changes[4]->field = NULL;
    b->changes[4]->has_field_ref = 1;
    b->changes[4]->field_ref = 5;
}
static void
m2_seq_left_out_across_streams(Fieldsync__ChangeBatch *b)
{
    b->changes[3]->has_seq = 0;
}
static void
m2_first_names_no_origin(Fieldsync__ChangeBatch *b)
{
    b->changes[0]->has_origin = 0;
}
static void
m2_first_names_no_doc(Fieldsync__ChangeBatch *b)
{
    free(b->changes[0]->doc);
    b->changes[0]->doc = NULL;
}
static void
m2_clock_wraps(Fieldsync__ChangeBatch *b)
{
    b->changes[4]->hlc_delta = INT64_MAX; /* on top of T0 + 9 */
}
static void
m2_clock_below_one(Fieldsync__ChangeBatch *b)
{
    b->changes[0]->hlc_delta = -1;
}

static const struct {
    const char *what;
    s_mut2_fn mutate;
    int want;
} s_format2_rows[] = {
    {"untouched (control)", m2_none, FSY_OK},
    {"batch hash flipped", m2_hash_flipped, FSY_ECORRUPT},
    {"a value altered", m2_value_altered, FSY_ECORRUPT},
    {"a clock altered", m2_hlc_altered, FSY_ECORRUPT},
    {"hash left out", m2_hash_dropped, FSY_ECORRUPT},
    {"a transaction end left out", m2_txn_end_dropped, FSY_ECORRUPT},
    {"field number never given", m2_field_number_unknown, FSY_EINVAL},
    {"seq left out where the stream changes", m2_seq_left_out_across_streams,
     FSY_EFORMAT},
    {"first change names no origin", m2_first_names_no_origin, FSY_EFORMAT},
    {"first change names no document", m2_first_names_no_doc, FSY_EFORMAT},
    {"clock delta past 2^63", m2_clock_wraps, FSY_EINVAL},
    {"clock delta below 1", m2_clock_below_one, FSY_EINVAL},
};

START_TEST(test_codec_format2_leaves_out_what_is_known_and_hash_checks_all)
{
    fsy_change_list_t out = {0};
    int rc = s_decode_mutated(s_format2_rows[_i].mutate, &out);
    ck_assert_msg(rc == s_format2_rows[_i].want, "%s: got %s (%s), want %s",
                  s_format2_rows[_i].what, fsy_strerror(rc), fsy_errdetail(),
                  fsy_strerror(s_format2_rows[_i].want));
    if (rc != FSY_OK)
        s_assert_empty(&out);
    fsy_change_list_clear(&out);
}
END_TEST

/* Per change of a report, format 2 spends its value and a few bytes: no
 * checksum, no repeated names (a regression here is bytes on every link). */
START_TEST(test_codec_format2_costs_a_few_bytes_per_change_beyond_values)
{
    fsy_change_list_t l = {0};
    static const char *fields[] = {"_kind",  "title",   "status", "tags",
                                   "region", "summary", "body"};
    size_t values = 0;
    uint64_t seq = 1;
    for (int d = 0; d < 100; d++) {
        char doc[32];
        snprintf(doc, sizeof doc, "jmac-mli-%06d", d);
        for (size_t f = 0; f < 7; f++) {
            fsy_change_t *c;
            ck_ok(fsy_change_list_push(&l, &c));
            const char *v = f == 0 ? "analysis" : "Gao sector, week 48";
            s_change(c, tu_version(T0 + seq, "gao", INC_GAO, seq), "MLI", doc,
                     fields[f], v, strlen(v), f == 6);
            fsy_change_seal(c);
            values += strlen(v);
            seq++;
        }
    }
    uint8_t *buf;
    size_t len;
    ck_ok(fsy_wire_encode_batch(l.v, l.n, &buf, &len));
    /* value: 2 bytes of framing; change: tag, length, hlc delta, field
     * number; a document's first change its id (15 + 2) */
    size_t limit = values + l.n * 10 + 100 * 17 + 64;
    ck_assert_msg(len <= limit, "%zu bytes for %zu changes (limit %zu)", len,
                  l.n, limit);
    fsy_change_list_t out = {0};
    ck_ok(fsy_wire_decode_batch(buf, len, &out));
    ck_assert_uint_eq(out.n, l.n);
    for (size_t i = 0; i < l.n; i++)
        s_assert_change_eq(&out.v[i], &l.v[i], i);
    free(buf);
    fsy_change_list_clear(&l);
    fsy_change_list_clear(&out);
}
END_TEST

/* ---- the session's compression stream -------------------------------- */

/* n reports of one office, seq from `first`, into l. */
static void
s_reports_batch(fsy_change_list_t *l, uint64_t first, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char doc[32], body[200];
        snprintf(doc, sizeof doc, "jmac-mli-%06zu", (size_t)first + i);
        /* the i-th body of every batch alike: a later batch repeats an
         * earlier one's prose, as weekly reports do */
        uint32_t h = (uint32_t)i * 2654435761u;
        snprintf(body, sizeof body,
                 "Patrol %08x near Ansongo reported %08x; prices %08x; "
                 "access to water point %08x restored for %08x returnees.",
                 h, h * 7, h * 13, h * 31, h * 101);
        fsy_change_t *c;
        ck_ok(fsy_change_list_push(l, &c));
        s_change(c, tu_version(T0 + first + i, "gao", INC_GAO, first + i),
                 "MLI", doc, "body", body, strlen(body), true);
        fsy_change_seal(c);
    }
}

START_TEST(test_codec_stream_frames_use_history_and_must_follow)
{
    fsy_ztx_t tx = {0};
    fsy_zrx_t rx = {0};
    fsy_ztx_restart(&tx, 3);
    fsy_change_list_t a = {0}, b = {0}, out = {0};
    s_reports_batch(&a, 1, 50);
    s_reports_batch(&b, 51, 50);
    uint8_t *za, *zb, *alone;
    size_t la, lb, lalone, raw_alone;
    uint64_t ra, rb, sa, sb, qa, qb;
    ck_ok(fsy_ztx_batch(&tx, a.v, a.n, NULL, 0, &za, &la, &ra, &sa, &qa));
    ck_ok(fsy_ztx_batch(&tx, b.v, b.n, NULL, 0, &zb, &lb, &rb, &sb, &qb));
    ck_assert_uint_eq(sa, sb);
    ck_assert_uint_eq(qa, 0);
    ck_assert_uint_eq(qb, 1);
    /* the second frame leans on the first: far smaller than alone */
    uint8_t *raw;
    ck_ok(fsy_wire_encode_batch(b.v, b.n, &raw, &raw_alone));
    ck_ok(fsy_wire_compress(raw, raw_alone, &alone, &lalone));
    free(raw);
    ck_assert_msg(lb * 2 < lalone, "%zu bytes in the stream, %zu alone", lb,
                  lalone);
    /* out of order: not decodable, and the stream is abandoned */
    ck_assert_int_eq(fsy_zrx_batch(&rx, zb, lb, rb, sb, qb, FSY_MSG_MAX, 0,
                                   NULL, NULL, &out),
                     FSY_ENOTFOUND);
    s_assert_empty(&out);
    ck_ok(fsy_zrx_batch(&rx, za, la, ra, sa, qa, FSY_MSG_MAX, 0, NULL, NULL,
                        &out));
    ck_assert_uint_eq(out.n, a.n);
    fsy_change_list_clear(&out);
    ck_ok(fsy_zrx_batch(&rx, zb, lb, rb, sb, qb, FSY_MSG_MAX, 0, NULL, NULL,
                        &out));
    ck_assert_uint_eq(out.n, b.n);
    for (size_t i = 0; i < b.n; i++)
        s_assert_change_eq(&out.v[i], &b.v[i], i);
    fsy_change_list_clear(&out);
    /* the same frame again does not follow: abandoned */
    ck_assert_int_eq(fsy_zrx_batch(&rx, zb, lb, rb, sb, qb, FSY_MSG_MAX, 0,
                                   NULL, NULL, &out),
                     FSY_ENOTFOUND);
    /* a new stream starts over, whatever came before */
    free(za);
    fsy_ztx_restart(&tx, 19);
    ck_ok(fsy_ztx_batch(&tx, a.v, a.n, NULL, 0, &za, &la, &ra, &sa, &qa));
    ck_assert_uint_ne(sa, sb);
    ck_assert_uint_eq(qa, 0);
    ck_ok(fsy_zrx_batch(&rx, za, la, ra, sa, qa, FSY_MSG_MAX, 0, NULL, NULL,
                        &out));
    ck_assert_uint_eq(out.n, a.n);
    /* damaged on the way: refused, and the stream with it */
    fsy_change_list_clear(&out);
    free(zb);
    ck_ok(fsy_ztx_batch(&tx, b.v, b.n, NULL, 0, &zb, &lb, &rb, &sb, &qb));
    zb[lb / 2] ^= 0x40;
    ck_assert_int_ne(fsy_zrx_batch(&rx, zb, lb, rb, sb, qb, FSY_MSG_MAX, 0,
                                   NULL, NULL, &out),
                     FSY_OK);
    s_assert_empty(&out);
    ck_assert_uint_eq(rx.id, 0);
    free(za);
    free(zb);
    free(alone);
    fsy_ztx_free(&tx);
    fsy_zrx_free(&rx);
    fsy_change_list_clear(&a);
    fsy_change_list_clear(&b);
}
END_TEST

/* The level follows what this sender measured, not the table alone: a
 * frame of reports measures its level's output; a level measured too
 * slow for the link is left for a faster one, and a slow measurement
 * makes the unmeasured levels' guesses slower too. */
START_TEST(test_codec_stream_level_follows_measured_speed)
{
    fsy_ztx_t tx = {0};
    ck_assert_int_eq(fsy_ztx_link_level(&tx, 0, 0), 3); /* no rate yet */
    /* the table's guesses: a thin link gets the highest level */
    ck_assert_int_eq(fsy_ztx_link_level(&tx, 8 << 10, 0), 19);
    ck_assert_int_eq(fsy_ztx_link_level(&tx, 2 << 20, 0), 9);
    ck_assert_int_eq(fsy_ztx_link_level(&tx, 64 << 20, 0), 1);
    /* a real frame of 200 reports (well over the sample's minimum) */
    fsy_change_list_t a = {0};
    s_reports_batch(&a, 1, 200);
    uint8_t *z;
    size_t zl;
    uint64_t raw, st, seq;
    fsy_ztx_restart(&tx, 3);
    ck_assert_uint_eq(fsy_ztx_speed(&tx, 3), 0);
    ck_ok(fsy_ztx_batch(&tx, a.v, a.n, NULL, 0, &z, &zl, &raw, &st, &seq));
    ck_assert_uint_ge(raw, FSY_ZSTREAM_SPEED_MIN);
    /* a stream's first frame also sets its tables up: not timed */
    ck_assert_uint_eq(fsy_ztx_speed(&tx, 3), 0);
    free(z);
    ck_ok(fsy_ztx_batch(&tx, a.v, a.n, NULL, 0, &z, &zl, &raw, &st, &seq));
    ck_assert_uint_gt(fsy_ztx_speed(&tx, 3), 0);
    /* what it read, measured on the same frame: more than it put out */
    ck_assert_uint_gt(fsy_ztx_read_speed(&tx, 3), fsy_ztx_speed(&tx, 3));
    ck_assert_uint_eq(fsy_ztx_read_speed(&tx, 19), 0);
    ck_assert_uint_eq(fsy_ztx_speed(&tx, 19), 0);
    free(z);
    fsy_ztx_free(&tx);
    fsy_change_list_clear(&a);
    /* level 19 measured at 1 MB/s of output (faster than the table's
     * guess, which it does not raise): enough for a 200 KB/s link, not
     * for 300 KB/s; level 9 measured at an eighth of its guess makes
     * every unmeasured level's guess an eighth too: a 2 MB/s link then
     * gets a fast level */
    fsy_ztx_t m = {0};
    m.speed[19] = 1 << 20;
    ck_assert_int_eq(fsy_ztx_link_level(&m, 200 << 10, 0), 19);
    ck_assert_int_eq(fsy_ztx_link_level(&m, 300 << 10, 0), 15);
    m.speed[9] = 1 << 20; /* an eighth of the table's 8 MB/s */
    int l = fsy_ztx_link_level(&m, 2 << 20, 0);
    ck_assert_msg(l <= 3, "level %d for a 2 MB/s link", l);
    ck_assert_int_eq(fsy_ztx_link_level(&m, 200 << 10, 0), 19);
    /* one absurdly slow level makes the others' guesses an eighth, no
     * less: a thin link still gets a high level */
    fsy_ztx_t o = {0};
    o.speed[3] = 1000;
    ck_assert_int_ge(fsy_ztx_link_level(&o, 4 << 10, 0), 15);
}
END_TEST

/* A receiver that bounds the session (a hub applying a catch-up on a LAN)
 * takes the same documents a second at every level, so fewer compressed
 * bytes a second come back at a higher level: read as a link, that asks
 * for a higher level still, until compressing holds the session back
 * (a catch-up on loopback spent most of its time at 15). What the
 * receiver takes before compression decides there; on a thin link it
 * changes nothing. */
START_TEST(test_codec_stream_level_keeps_ahead_of_the_receiver)
{
    fsy_ztx_t m = {0};
    /* level 15 measured reading 10 MB/s of reports (200 KB/s out) */
    m.speed[15] = 200 << 10;
    m.read_speed[15] = 10 << 20;
    /* 45 KB/s acknowledged: as a link alone, level 15 keeps ahead */
    ck_assert_int_eq(fsy_ztx_link_level(&m, 45 << 10, 0), 15);
    /* but the receiver took 17 MB/s of documents: 15 reads too slowly,
     * and so do 12 and 9 as guessed (their output, as slow against the
     * table as 15's, times the 50 to 1 measured at 15); 6 reads 75 MB/s */
    ck_assert_int_eq(fsy_ztx_link_level(&m, 45 << 10, 17 << 20), 6);
    /* a measured level counts for what it did */
    m.read_speed[9] = 80 << 20;
    m.speed[9] = 2 << 20;
    ck_assert_int_eq(fsy_ztx_link_level(&m, 45 << 10, 17 << 20), 9);
    /* a 64 kbit/s link carrying reports 50 to 1: 400 KB/s of documents,
     * which level 19's guess reads four times over */
    fsy_ztx_t t = {0};
    ck_assert_int_eq(fsy_ztx_link_level(&t, 8 << 10, 400 << 10), 19);
    /* on a slow machine too: level 3 measured reading only 100 MB/s of
     * those reports (2 MB/s out) makes every guess slower, yet 19's input
     * is its output times the same 50 to 1 */
    t.speed[3] = 2 << 20;
    t.read_speed[3] = 100 << 20;
    ck_assert_int_eq(fsy_ztx_link_level(&t, 8 << 10, 400 << 10), 19);
    /* nothing measured yet: the middle level */
    ck_assert_int_eq(fsy_ztx_link_level(&t, 0, 400 << 10), 3);
}
END_TEST

/* A hub with 256 children streaming at once: what every stream holds
 * stays in the budgets, each stream's real size within what it counts
 * for, every frame decodes at the window its receiver offered, and a
 * stream that idles gives its memory back. */
START_TEST(test_codec_stream_memory_is_bounded_for_many_children)
{
    enum { N = 256 };
    ck_assert_int_eq(fsy_zrx_offer(1), FSY_ZSTREAM_WINDOW_LOG);
    ck_assert_int_eq(fsy_zrx_offer(N + 1), FSY_ZSTREAM_WINDOW_LOG_MIN);
    ck_assert_int_eq(fsy_zrx_offer(100000), 0);
    fsy_ztx_t *tx = calloc(N, sizeof *tx);
    fsy_zrx_t *rx = calloc(N, sizeof *rx);
    fsy_change_list_t a = {0}, out = {0};
    s_reports_batch(&a, 1, 200);
    size_t streamed = 0, alone = 0, real = 0;
    for (size_t i = 0; i < N; i++) {
        fsy_ztx_restart(&tx[i], 19);
        fsy_ztx_window(&tx[i], fsy_zrx_offer(N + 1));
        fsy_zrx_window(&rx[i], fsy_zrx_offer(N + 1));
        uint8_t *z;
        size_t zl;
        uint64_t raw, st, seq;
        ck_ok(fsy_ztx_batch(&tx[i], a.v, a.n, NULL, 1000, &z, &zl, &raw, &st,
                            &seq));
        if (st == 0) { /* alone: what the wire decodes as a plain batch */
            alone++;
            uint8_t *plain;
            ProtobufCBinaryData bin = {zl, z};
            ck_ok(fsy_wire_decompress(&bin, raw, FSY_MSG_MAX, &plain));
            ck_ok(fsy_wire_decode_batch(plain, raw, &out));
            free(plain);
        } else {
            streamed++;
            real += ZSTD_sizeof_CCtx(tx[i].cctx);
            ck_assert_uint_le(ZSTD_sizeof_CCtx(tx[i].cctx), tx[i].held);
            ck_ok(fsy_zrx_batch(&rx[i], z, zl, raw, st, seq, FSY_MSG_MAX, 1000,
                                NULL, NULL, &out));
        }
        ck_assert_uint_eq(out.n, a.n);
        fsy_change_list_clear(&out);
        free(z);
        ck_assert_uint_le(fsy_zstream_held(0), FSY_ZSTREAM_TX_BUDGET);
        ck_assert_uint_le(fsy_zstream_held(1), FSY_ZSTREAM_RX_BUDGET);
    }
    ck_assert_uint_le(real, FSY_ZSTREAM_TX_BUDGET);
    ck_assert_int_eq(tx[0].used_level, 19); /* the first at what it wants */
    /* the budget is used, not left idle while batches go alone */
    printf("256 streams at level 19: %zu streamed (%zu KiB held), %zu alone\n",
           streamed, fsy_zstream_held(0) >> 10, alone);
    ck_assert_uint_ge(streamed, 8);
    ck_assert_uint_lt(FSY_ZSTREAM_TX_BUDGET - fsy_zstream_held(0),
                      (size_t)1 << 20);
    ck_assert_uint_eq(streamed + alone, N);
    /* quiet streams give their memory back; the next frame starts anew */
    uint64_t id = tx[0].id;
    for (size_t i = 0; i < N; i++) {
        fsy_ztx_idle(&tx[i], 1000 + FSY_ZSTREAM_IDLE_MS);
        fsy_zrx_idle(&rx[i], 1000 + 10 * FSY_ZSTREAM_IDLE_MS);
    }
    ck_assert_uint_eq(fsy_zstream_held(0), 0);
    ck_assert_uint_eq(fsy_zstream_held(1), 0);
    uint8_t *z;
    size_t zl;
    uint64_t raw, st, seq;
    ck_ok(fsy_ztx_batch(&tx[0], a.v, a.n, NULL, 1000 + FSY_ZSTREAM_IDLE_MS, &z,
                        &zl, &raw, &st, &seq));
    ck_assert_uint_ne(st, id);
    ck_assert_uint_eq(seq, 0);
    free(z);
    for (size_t i = 0; i < N; i++) {
        fsy_ztx_free(&tx[i]);
        fsy_zrx_free(&rx[i]);
    }
    free(tx);
    free(rx);
    fsy_change_list_clear(&a);
}
END_TEST

/* A receiver decodes no window larger than it offered: a sender that
 * ignores the offer is refused, not obeyed with more memory. */
START_TEST(test_codec_stream_window_over_the_offer_does_not_decode)
{
    fsy_ztx_t tx = {0};
    fsy_zrx_t rx = {0};
    fsy_ztx_restart(&tx, 3);
    fsy_zrx_window(&rx, FSY_ZSTREAM_WINDOW_LOG_MIN);
    fsy_change_list_t a = {0}, out = {0};
    s_reports_batch(&a, 1, 50);
    uint8_t *z;
    size_t zl;
    uint64_t raw, st, seq;
    ck_ok(fsy_ztx_batch(&tx, a.v, a.n, NULL, 0, &z, &zl, &raw, &st, &seq));
    ck_assert_int_ne(fsy_zrx_batch(&rx, z, zl, raw, st, seq, FSY_MSG_MAX, 0,
                                   NULL, NULL, &out),
                     FSY_OK);
    s_assert_empty(&out);
    free(z);
    /* the offer taken: it decodes; a window said as 5 means no stream */
    fsy_ztx_window(&tx, FSY_ZSTREAM_WINDOW_LOG_MIN);
    fsy_ztx_restart(&tx, 3);
    ck_ok(fsy_ztx_batch(&tx, a.v, a.n, NULL, 0, &z, &zl, &raw, &st, &seq));
    ck_ok(fsy_zrx_batch(&rx, z, zl, raw, st, seq, FSY_MSG_MAX, 0, NULL, NULL,
                        &out));
    ck_assert_uint_eq(out.n, a.n);
    fsy_change_list_clear(&out);
    free(z);
    fsy_ztx_window(&tx, 5);
    fsy_ztx_restart(&tx, 3);
    ck_ok(fsy_ztx_batch(&tx, a.v, a.n, NULL, 0, &z, &zl, &raw, &st, &seq));
    ck_assert_uint_eq(st, 0);
    ck_assert_uint_eq(fsy_zstream_held(0), 0);
    free(z);
    fsy_ztx_free(&tx);
    fsy_zrx_free(&rx);
    fsy_change_list_clear(&a);
}
END_TEST

/* The receiver's copy of a base, for the delta tests. */
static const char *s_base_value;
static int s_base_calls;

static int
s_base_of(void *ctx, const fsy_change_t *c, const fsy_version_t *base,
          uint8_t **value, size_t *len)
{
    (void)ctx;
    (void)c;
    s_base_calls++;
    if (s_base_value == NULL || base->seq != 7)
        return fsy_err_set(FSY_ENOTFOUND, "not held");
    *len = strlen(s_base_value);
    *value = malloc(*len);
    memcpy(*value, s_base_value, *len);
    return FSY_OK;
}

/* Pushes onto l the edit of jmac-mli-long's body (gao:9) to `edited`,
 * based on gao:7 (the version s_base_of holds), sealed. */
static fsy_change_t *
s_push_long_edit(fsy_change_list_t *l, const char *edited)
{
    fsy_change_t *c;
    ck_ok(fsy_change_list_push(l, &c));
    s_change(c, tu_version(T0 + 9, "gao", INC_GAO, 9), "MLI", "jmac-mli-long",
             "body", edited, strlen(edited), true);
    s_add_base(c, tu_version(T0 + 7, "gao", INC_GAO, 7));
    fsy_change_seal(c);
    return c;
}

/* One sentence changed in a 20 KB report travels as a delta against the
 * version the receiver holds, and comes back byte for byte; without the
 * base, or with nothing to rebuild it from, the batch is refused. */
START_TEST(test_codec_delta_sends_what_changed_and_rebuilds_exactly)
{
    char *base = tu_long_report(-1), *edited = tu_long_report(80);
    fsy_change_list_t l = {0}, out = {0};
    fsy_change_t *c = s_push_long_edit(&l, edited);
    fsy_delta_t d = {0};
    ck_ok(fsy_delta_make(c, 0, (const uint8_t *)base, strlen(base), &d));
    ck_assert_ptr_nonnull(d.bytes);
    printf("one sentence changed in %zu bytes: a delta of %zu bytes\n",
           strlen(edited), d.len);
    ck_assert_uint_lt(d.len, 200);
    uint8_t *raw, *whole;
    size_t len, whole_len;
    ck_ok(fsy_wire_encode_batch_deltas(l.v, l.n, &d, &raw, &len));
    ck_ok(fsy_wire_encode_batch(l.v, l.n, &whole, &whole_len));
    ck_assert_uint_lt(len + 10000, whole_len);
    /* rebuilt from the receiver's base: the same change, checksum and all */
    s_base_value = base;
    fsy_batch_parser_t p;
    fsy_batch_parser_init(&p, &out);
    fsy_batch_parser_bases(&p, s_base_of, NULL);
    ck_ok(fsy_batch_parser_feed(&p, raw, len));
    ck_ok(fsy_batch_parser_end(&p));
    fsy_batch_parser_free(&p);
    ck_assert_uint_eq(out.n, 1);
    s_assert_change_eq(&out.v[0], c, 0);
    fsy_change_list_clear(&out);
    /* the base not held there, or no replica to ask: refused */
    s_base_value = NULL;
    fsy_batch_parser_init(&p, &out);
    fsy_batch_parser_bases(&p, s_base_of, NULL);
    ck_assert_int_eq(fsy_batch_parser_feed(&p, raw, len), FSY_ECORRUPT);
    fsy_batch_parser_free(&p);
    fsy_change_list_clear(&out);
    ck_assert_int_ne(fsy_wire_decode_batch(raw, len, &out), FSY_OK);
    s_assert_empty(&out);
    /* another base than the one it was made against: refused (the
     * checksum computed over what it rebuilds is not the batch's) */
    char *other = tu_long_report(3);
    s_base_value = other;
    fsy_batch_parser_init(&p, &out);
    fsy_batch_parser_bases(&p, s_base_of, NULL);
    int rc = fsy_batch_parser_feed(&p, raw, len);
    if (rc == FSY_OK)
        rc = fsy_batch_parser_end(&p);
    ck_assert_int_ne(rc, FSY_OK);
    fsy_batch_parser_free(&p);
    fsy_change_list_clear(&out);
    /* a delta claiming more than a value may hold: refused before any
     * allocation */
    uint8_t *v;
    size_t vl;
    uint8_t bomb[32];
    ZSTD_CCtx *z = ZSTD_createCCtx();
    ZSTD_CCtx_setPledgedSrcSize(z, (unsigned long long)FSY_VALUE_MAX + 1);
    ZSTD_outBuffer o = {bomb, sizeof bomb, 0};
    ZSTD_inBuffer in = {"", 0, 0};
    ZSTD_compressStream2(z, &o, &in, ZSTD_e_flush); /* the header only */
    ZSTD_freeCCtx(z);
    ck_assert_int_eq(fsy_delta_apply(bomb, o.pos, (const uint8_t *)base,
                                     strlen(base), FSY_VALUE_MAX, &v, &vl),
                     FSY_ECORRUPT);
    ck_assert_ptr_null(v);
    /* three deltas of a few bytes, each rebuilding 1 MiB: more than a
     * batch may rebuild, refused as it is met */
    char *mib = malloc(FSY_VALUE_MAX + 1);
    memset(mib, 'a', FSY_VALUE_MAX);
    mib[FSY_VALUE_MAX] = '\0';
    fsy_change_list_t big = {0};
    fsy_delta_t bd[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        ck_ok(fsy_change_list_push(&big, &c));
        s_change(c, tu_version(T0 + 20 + i, "gao", INC_GAO, 20 + i), "MLI",
                 "big", "body", mib, FSY_VALUE_MAX, true);
        s_add_base(c, tu_version(T0 + 7, "gao", INC_GAO, 7));
        fsy_change_seal(c);
        ck_ok(
            fsy_delta_make(c, 0, (const uint8_t *)mib, FSY_VALUE_MAX, &bd[i]));
        ck_assert_ptr_nonnull(bd[i].bytes);
    }
    free(raw);
    ck_ok(fsy_wire_encode_batch_deltas(big.v, big.n, bd, &raw, &len));
    printf("three deltas rebuilding 1 MiB each: %zu bytes\n", len);
    s_base_value = mib;
    fsy_batch_parser_init(&p, &out);
    fsy_batch_parser_bases(&p, s_base_of, NULL);
    ck_assert_int_eq(fsy_batch_parser_feed(&p, raw, len), FSY_ETOOBIG);
    fsy_batch_parser_free(&p);
    fsy_change_list_clear(&out);
    for (int i = 0; i < 3; i++)
        free(bd[i].bytes);
    fsy_change_list_clear(&big);
    free(mib);
    free(other);
    free(raw);
    free(whole);
    free(d.bytes);
    free(base);
    free(edited);
    fsy_change_list_clear(&l);
}
END_TEST

/* Decoded away from the replica (a worker thread), a batch keeps its
 * deltas for later: those changes are neither rebuilt nor checked until
 * fsy_batch_resolve, which rebuilds them, checks each and then the
 * batch's hash over every change, as the parser does inline. */
static void
s_parse_deferred(const uint8_t *raw, size_t len, fsy_change_list_t *out,
                 fsy_batch_rest_t *rest)
{
    fsy_batch_parser_t p;
    fsy_batch_parser_init(&p, out);
    fsy_batch_parser_defer(&p, rest);
    ck_ok(fsy_batch_parser_feed(&p, raw, len));
    ck_ok(fsy_batch_parser_end(&p));
    fsy_batch_parser_free(&p);
}

START_TEST(test_codec_deferred_deltas_are_rebuilt_and_checked_later)
{
    char *base = tu_long_report(-1), *edited = tu_long_report(80);
    fsy_change_list_t l = {0}, out = {0};
    fsy_change_t *c;
    ck_ok(fsy_change_list_push(&l, &c));
    s_change(c, tu_version(T0 + 8, "gao", INC_GAO, 8), "MLI", "jmac-mli-brief",
             "title", "Weekly brief", 12, true);
    fsy_change_seal(c);
    c = s_push_long_edit(&l, edited);
    fsy_delta_t d[2] = {{0}};
    ck_ok(fsy_delta_make(c, 0, (const uint8_t *)base, strlen(base), &d[1]));
    uint8_t *raw;
    size_t len;
    ck_ok(fsy_wire_encode_batch_deltas(l.v, l.n, d, &raw, &len));
    /* the replica is not asked while decoding; the delta waits, unchecked */
    fsy_batch_rest_t rest = {0};
    s_base_value = NULL;
    s_base_calls = 0;
    s_parse_deferred(raw, len, &out, &rest);
    ck_assert_int_eq(s_base_calls, 0);
    ck_assert_uint_eq(out.n, 2);
    ck_assert_uint_eq(rest.n, 1);
    ck_assert_uint_eq(rest.v[0].at, 1);
    ck_assert_ptr_null(out.v[1].value);
    s_assert_change_eq(&out.v[0], &l.v[0], 0);
    /* rebuilt where the base is: the change the sender sealed */
    s_base_value = base;
    ck_ok(fsy_batch_resolve(&out, &rest, s_base_of, NULL));
    ck_assert_uint_eq(rest.n, 0);
    for (size_t i = 0; i < 2; i++)
        s_assert_change_eq(&out.v[i], &l.v[i], i);
    fsy_change_list_clear(&out);
    /* the base not held, no replica at all, another base: refused */
    const char *bases[] = {NULL, NULL, "Another report entirely."};
    for (int k = 0; k < 3; k++) {
        s_parse_deferred(raw, len, &out, &rest);
        s_base_value = bases[k];
        int rc =
            fsy_batch_resolve(&out, &rest, k == 1 ? NULL : s_base_of, NULL);
        ck_assert_int_ne(rc, FSY_OK);
        ck_assert_int_eq(rc, k == 1 ? FSY_EFORMAT : FSY_ECORRUPT);
        ck_assert_uint_eq(rest.n, 0);
        fsy_change_list_clear(&out);
    }
    /* the batch's hash is checked once the deltas are rebuilt */
    s_parse_deferred(raw, len, &out, &rest);
    ck_assert(rest.has_hash);
    rest.sent_hash[0] ^= 1;
    s_base_value = base;
    ck_assert_int_eq(fsy_batch_resolve(&out, &rest, s_base_of, NULL),
                     FSY_ECORRUPT);
    ck_assert_str_eq(fsy_errdetail(),
                     "batch hash mismatch: changes damaged on the way");
    fsy_change_list_clear(&out);
    free(raw);
    free(d[1].bytes);
    free(base);
    free(edited);
    fsy_change_list_clear(&l);
}
END_TEST

/* A change left for later is not validated when the next one is decoded:
 * a clock out of range there must not make the next one's relative clock
 * overflow (a hostile batch; caught by UBSan in the sanitizer build). */
START_TEST(test_codec_deferred_change_with_a_clock_out_of_range_is_refused)
{
    Fieldsync__Origin o = FIELDSYNC__ORIGIN__INIT;
    o.site = "gao";
    o.incarnation = INC_GAO;
    Fieldsync__Origin *origins[1] = {&o};
    Fieldsync__Version b = FIELDSYNC__VERSION__INIT;
    b.seq = 7;
    b.hlc = T0 + 7;
    Fieldsync__Version *bases[1] = {&b};
    uint8_t delta[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    Fieldsync__Change c1 = FIELDSYNC__CHANGE__INIT,
                      c2 = FIELDSYNC__CHANGE__INIT;
    c1.has_origin = true;
    c1.scope = "MLI";
    c1.has_seq = true;
    c1.seq = 8;
    c1.has_hlc = true;
    c1.hlc = (UINT64_C(1) << 63) + 5;
    c1.doc = "jmac-mli-long";
    c1.field = "body";
    c1.n_bases = 1;
    c1.bases = bases;
    c1.has_delta = true;
    c1.delta.data = delta;
    c1.delta.len = sizeof delta;
    c2.has_hlc_delta = true;
    c2.hlc_delta = -10;
    c2.field = "title";
    c2.has_value = true;
    c2.value.data = (uint8_t *)"x";
    c2.value.len = 1;
    c2.has_txn_end = c2.txn_end = true;
    Fieldsync__Change *changes[2] = {&c1, &c2};
    Fieldsync__ChangeBatch m = FIELDSYNC__CHANGE_BATCH__INIT;
    m.n_origins = 1;
    m.origins = origins;
    m.n_changes = 2;
    m.changes = changes;
    size_t len = fieldsync__change_batch__get_packed_size(&m);
    uint8_t *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    fieldsync__change_batch__pack(&m, buf);
    fsy_change_list_t out = {0};
    fsy_batch_rest_t rest = {0};
    fsy_batch_parser_t p;
    fsy_batch_parser_init(&p, &out);
    fsy_batch_parser_defer(&p, &rest);
    ck_assert_int_eq(fsy_batch_parser_feed(&p, buf, len), FSY_EINVAL);
    ck_assert_str_eq(fsy_errdetail(), "change 2: clock value out of range");
    fsy_batch_parser_free(&p);
    fsy_batch_rest_clear(&rest);
    fsy_change_list_clear(&out);
    free(buf);
}
END_TEST

START_TEST(test_codec_empty_batch_round_trips)
{
    uint8_t *buf;
    size_t len;
    fsy_change_list_t out = {0};
    ck_ok(fsy_wire_encode_batch(NULL, 0, &buf, &len));
    ck_ok(fsy_wire_decode_batch(buf, len, &out));
    s_assert_empty(&out);
    free(buf);
}
END_TEST

START_TEST(test_codec_value_of_exactly_value_max_round_trips)
{
    fsy_change_list_t in = {0}, out = {0};
    fsy_change_t *c;
    ck_ok(fsy_change_list_push(&in, &c));
    uint8_t *big = malloc(FSY_VALUE_MAX);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < FSY_VALUE_MAX; i++)
        big[i] = (uint8_t)(i * 131u);
    s_change(c, tu_version(T0, "gao", INC_GAO, 1), "MLI", "annex-a", "body",
             big, FSY_VALUE_MAX, true);
    fsy_change_seal(c);
    uint8_t *buf;
    size_t len;
    ck_ok(fsy_wire_encode_batch(in.v, in.n, &buf, &len));
    ck_ok(fsy_wire_decode_batch(buf, len, &out));
    ck_assert_uint_eq(out.n, 1);
    s_assert_change_eq(&out.v[0], &in.v[0], 0);
    free(buf);
    free(big);
    fsy_change_list_clear(&in);
    fsy_change_list_clear(&out);
}
END_TEST

/* ---- batches: refused input ------------------------------------------- */

static const struct {
    const char *what;
    const uint8_t *bytes;
    size_t len;
} s_garbage[] = {
    {"text", (const uint8_t *)"minutes of the coordination meeting", 35},
    {"0xff bytes",
     (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12},
    {"a bundle's magic", (const uint8_t *)"FSYBNDL1\x01\x00\x00\x00", 12},
    {"length past the end", (const uint8_t *)"\x12\x05\x0a", 3},
    {"change without required fields", (const uint8_t *)"\x12\x00", 2},
    {"origin without required fields", (const uint8_t *)"\x0a\x00", 2},
    {"unterminated varint", (const uint8_t *)"\x12\x02\x08\x80", 4},
    {"wrong wire type for origins", (const uint8_t *)"\x08\x01", 2},
};

START_TEST(test_codec_garbage_is_not_a_batch)
{
    fsy_change_list_t out = {0};
    int rc =
        fsy_wire_decode_batch(s_garbage[_i].bytes, s_garbage[_i].len, &out);
    ck_assert_msg(rc == FSY_EFORMAT, "%s: %s", s_garbage[_i].what,
                  fsy_strerror(rc));
    s_assert_empty(&out);
}
END_TEST

/*
 * A two-change batch built by hand: change 1 is valid, change 2 is what
 * the table row damages, so a decoder that stops at change 2 must also
 * free change 1.
 */
typedef struct s_pb {
    Fieldsync__ChangeBatch batch;
    Fieldsync__Origin origin[2];
    Fieldsync__Origin *origins[2];
    Fieldsync__Change change[2];
    Fieldsync__Change *changes[2];
    Fieldsync__Version base[FSY_BASES_MAX + 1];
    Fieldsync__Version *bases[FSY_BASES_MAX + 1];
    fsy_change_t src[2];
    uint8_t *extra; /* freed with the rest */
} s_pb_t;

static void
s_pb_change(s_pb_t *p, size_t i, uint32_t origin)
{
    fsy_change_t *c = &p->src[i];
    Fieldsync__Change *m = &p->change[i];
    fieldsync__change__init(m); /* format 1: every field carried */
    m->has_origin = m->has_seq = m->has_hlc = 1;
    m->has_txn_end = m->has_checksum = 1;
    m->origin = origin;
    m->scope = c->scope;
    m->seq = c->version.seq;
    m->hlc = c->version.hlc;
    m->doc = c->doc;
    m->field = c->field;
    m->has_value = !c->absent;
    m->value.data = c->value;
    m->value.len = c->value_len;
    m->txn_end = c->txn_end;
    m->checksum.data = c->checksum;
    m->checksum.len = FSY_CHECKSUM_LEN;
    p->changes[i] = m;
}

static void
s_pb_init(s_pb_t *p)
{
    memset(p, 0, sizeof *p);
    fieldsync__change_batch__init(&p->batch);
    for (size_t i = 0; i < 2; i++) {
        fieldsync__origin__init(&p->origin[i]);
        p->origins[i] = &p->origin[i];
    }
    p->origin[0].site = "gao";
    p->origin[0].incarnation = INC_GAO;
    p->origin[1].site = "hq";
    p->origin[1].incarnation = INC_HQ;
    s_change(&p->src[0], tu_version(T0 + 1, "gao", INC_GAO, 1), "MLI",
             "isf-mli-2027", "title", "ISF", 3, true);
    fsy_change_seal(&p->src[0]);
    s_change(&p->src[1], tu_version(T0 + 2, "hq", INC_HQ, 5), "MLI",
             "isf-mli-2027", "status", "draft", 5, true);
    s_add_base(&p->src[1], p->src[0].version);
    fsy_change_seal(&p->src[1]);
    s_pb_change(p, 0, 0);
    s_pb_change(p, 1, 1);
    /* Base 0 is the real one; the rest only serve "too many bases". */
    for (size_t k = 0; k < FSY_BASES_MAX + 1; k++) {
        fieldsync__version__init(&p->base[k]);
        p->base[k].hlc = T0 - 100 + k;
        p->base[k].origin = 0;
        p->base[k].seq = k + 1;
        p->bases[k] = &p->base[k];
    }
    p->base[0].hlc = T0 + 1;
    p->change[1].n_bases = 1;
    p->change[1].bases = p->bases;
    p->batch.n_origins = 2;
    p->batch.origins = p->origins;
    p->batch.n_changes = 2;
    p->batch.changes = p->changes;
}

static void
s_pb_pack(const s_pb_t *p, uint8_t **buf, size_t *len)
{
    size_t size = fieldsync__change_batch__get_packed_size(&p->batch);
    *buf = malloc(size ? size : 1);
    ck_assert_ptr_nonnull(*buf);
    *len = fieldsync__change_batch__pack(&p->batch, *buf);
    ck_assert_uint_eq(*len, size);
}

static void
s_pb_clear(s_pb_t *p)
{
    fsy_change_clear(&p->src[0]);
    fsy_change_clear(&p->src[1]);
    free(p->extra);
}

static char s_long[FSY_DOC_MAX + 2];

static char *
s_repeat(char ch, size_t n)
{
    ck_assert_uint_lt(n, sizeof s_long);
    memset(s_long, ch, n);
    s_long[n] = '\0';
    return s_long;
}

static uint8_t s_bad_sum[FSY_CHECKSUM_LEN + 1];

/* Mutations of change 2 (index 1) or the origin table. */
static void
m_none(s_pb_t *p)
{
    (void)p;
}
static void
m_origin_index(s_pb_t *p)
{
    p->change[1].origin = 2;
}
static void
m_origin_index_max(s_pb_t *p)
{
    p->change[1].origin = UINT32_MAX;
}
static void
m_base_origin_index(s_pb_t *p)
{
    p->base[0].origin = 7;
}
static void
m_long_scope(s_pb_t *p)
{
    p->change[1].scope = s_repeat('S', FSY_SCOPE_MAX + 1);
}
static void
m_long_doc(s_pb_t *p)
{
    p->change[1].doc = s_repeat('d', FSY_DOC_MAX + 1);
}
static void
m_long_field(s_pb_t *p)
{
    p->change[1].field = s_repeat('f', FSY_FIELD_MAX + 1);
}
static void
m_long_site(s_pb_t *p)
{
    p->origin[1].site = s_repeat('s', FSY_SITE_MAX + 1);
}
static void
m_bad_site(s_pb_t *p)
{
    p->origin[1].site = "Not A Site";
}
static void
m_doc_bad_utf8(s_pb_t *p)
{
    p->change[1].doc = "isf-mli-\xff\xfe";
}
static void
m_doc_overlong_utf8(s_pb_t *p)
{
    p->change[1].doc = "isf-\xc0\xaf";
}
static void
m_doc_surrogate(s_pb_t *p)
{
    p->change[1].doc = "isf-\xed\xa0\x80";
}
static void
m_doc_control(s_pb_t *p)
{
    p->change[1].doc = "isf\nmli";
}
static void
m_doc_c1_csi(s_pb_t *p)
{
    p->change[1].doc = "isf-\xc2\x9b"
                       "31m-mli";
}
static void
m_doc_bidi(s_pb_t *p)
{
    p->change[1].doc = "isf-\xe2\x80\xae"
                       "7202-ilm";
}
static void
m_field_isolate(s_pb_t *p)
{
    p->change[1].field = "title\xe2\x81\xa6";
}
static void
m_doc_empty(s_pb_t *p)
{
    p->change[1].doc = "";
}
static void
m_scope_space(s_pb_t *p)
{
    p->change[1].scope = "M LI";
}
static void
m_field_equals(s_pb_t *p)
{
    p->change[1].field = "a=b";
}
static void
m_field_unknown_reserved(s_pb_t *p)
{
    p->change[1].field = "_secret";
}
static void
m_checksum_short(s_pb_t *p)
{
    p->change[1].checksum.len = FSY_CHECKSUM_LEN - 1;
}
static void
m_checksum_long(s_pb_t *p)
{
    memcpy(s_bad_sum, p->src[1].checksum, FSY_CHECKSUM_LEN);
    p->change[1].checksum.data = s_bad_sum;
    p->change[1].checksum.len = FSY_CHECKSUM_LEN + 1;
}
static void
m_checksum_empty(s_pb_t *p)
{
    p->change[1].checksum.len = 0;
}
static void
m_value_too_big(s_pb_t *p)
{
    p->extra = calloc(FSY_VALUE_MAX + 1, 1);
    ck_assert_ptr_nonnull(p->extra);
    p->change[1].value.data = p->extra;
    p->change[1].value.len = FSY_VALUE_MAX + 1;
}
static void
m_too_many_bases(s_pb_t *p)
{
    p->change[1].n_bases = FSY_BASES_MAX + 1;
}
static void
m_seq_zero(s_pb_t *p)
{
    p->change[1].seq = 0;
}
static void
m_hlc_zero(s_pb_t *p)
{
    p->change[1].hlc = 0;
}
static void
m_base_is_self(s_pb_t *p)
{
    p->base[0].hlc = p->change[1].hlc;
    p->base[0].origin = 1;
    p->base[0].seq = p->change[1].seq;
}
static void
m_deleted_zero(s_pb_t *p)
{
    p->change[1].field = "_deleted";
    p->change[1].value.data = (uint8_t *)"0";
    p->change[1].value.len = 1;
}
static void
m_value_altered(s_pb_t *p)
{
    p->change[1].value.data = (uint8_t *)"drafT";
}
static void
m_value_emptied(s_pb_t *p)
{
    p->change[1].value.len = 0;
}
static void
m_value_dropped(s_pb_t *p)
{
    p->change[1].has_value = 0;
    p->change[1].value.data = NULL;
    p->change[1].value.len = 0;
}
static void
m_hlc_altered(s_pb_t *p)
{
    p->change[1].hlc++;
}
static void
m_seq_altered(s_pb_t *p)
{
    p->change[1].seq++;
}
static void
m_doc_altered(s_pb_t *p)
{
    p->change[1].doc = "isf-mli-2028";
}
static void
m_txn_end_altered(s_pb_t *p)
{
    p->change[1].txn_end = !p->change[1].txn_end;
}
static void
m_base_dropped(s_pb_t *p)
{
    p->change[1].n_bases = 0;
}
static void
m_base_seq_altered(s_pb_t *p)
{
    p->base[0].seq++;
}
static void
m_origin_altered(s_pb_t *p)
{
    p->origin[1].incarnation ^= 1;
}
static void
m_checksum_altered(s_pb_t *p)
{
    memcpy(s_bad_sum, p->src[1].checksum, FSY_CHECKSUM_LEN);
    s_bad_sum[FSY_CHECKSUM_LEN - 1] ^= 0x01;
    p->change[1].checksum.data = s_bad_sum;
}

static const struct {
    const char *what;
    void (*mutate)(s_pb_t *p);
    int want;
} s_bad_batches[] = {
    {"untouched (control)", m_none, FSY_OK},
    {"change origin index out of range", m_origin_index, FSY_EINVAL},
    {"change origin index UINT32_MAX", m_origin_index_max, FSY_EINVAL},
    {"base origin index out of range", m_base_origin_index, FSY_EINVAL},
    {"scope over FSY_SCOPE_MAX", m_long_scope, FSY_ETOOBIG},
    {"doc id over FSY_DOC_MAX", m_long_doc, FSY_ETOOBIG},
    {"field name over FSY_FIELD_MAX", m_long_field, FSY_ETOOBIG},
    {"site id over FSY_SITE_MAX", m_long_site, FSY_ETOOBIG},
    {"invalid site id", m_bad_site, FSY_EINVAL},
    {"doc id not UTF-8", m_doc_bad_utf8, FSY_EINVAL},
    {"doc id overlong UTF-8", m_doc_overlong_utf8, FSY_EINVAL},
    {"doc id UTF-8 surrogate", m_doc_surrogate, FSY_EINVAL},
    {"doc id with a control character", m_doc_control, FSY_EINVAL},
    {"doc id with a C1 control (CSI)", m_doc_c1_csi, FSY_EINVAL},
    {"doc id with a right-to-left override", m_doc_bidi, FSY_EINVAL},
    {"field name with a bidi isolate", m_field_isolate, FSY_EINVAL},
    {"empty doc id", m_doc_empty, FSY_EINVAL},
    {"scope with a space", m_scope_space, FSY_EINVAL},
    {"field name with '='", m_field_equals, FSY_EINVAL},
    {"unknown reserved field", m_field_unknown_reserved, FSY_EINVAL},
    {"checksum one byte short", m_checksum_short, FSY_EINVAL},
    {"checksum one byte long", m_checksum_long, FSY_EINVAL},
    {"checksum empty", m_checksum_empty, FSY_EINVAL},
    {"value over FSY_VALUE_MAX", m_value_too_big, FSY_ETOOBIG},
    {"more than FSY_BASES_MAX bases", m_too_many_bases, FSY_ETOOBIG},
    {"seq 0", m_seq_zero, FSY_EINVAL},
    {"hlc 0", m_hlc_zero, FSY_EINVAL},
    {"base names the change itself", m_base_is_self, FSY_EINVAL},
    {"_deleted value 0", m_deleted_zero, FSY_EINVAL},
    {"value altered after sealing", m_value_altered, FSY_ECORRUPT},
    {"value emptied after sealing", m_value_emptied, FSY_ECORRUPT},
    {"value made absent after sealing", m_value_dropped, FSY_ECORRUPT},
    {"hlc altered after sealing", m_hlc_altered, FSY_ECORRUPT},
    {"seq altered after sealing", m_seq_altered, FSY_ECORRUPT},
    {"doc id altered after sealing", m_doc_altered, FSY_ECORRUPT},
    {"txn_end altered after sealing", m_txn_end_altered, FSY_ECORRUPT},
    {"base dropped after sealing", m_base_dropped, FSY_ECORRUPT},
    {"base seq altered after sealing", m_base_seq_altered, FSY_ECORRUPT},
    {"origin incarnation altered", m_origin_altered, FSY_ECORRUPT},
    {"checksum altered", m_checksum_altered, FSY_ECORRUPT},
};

START_TEST(test_codec_invalid_batch_is_refused_and_leaves_output_empty)
{
    s_pb_t p;
    s_pb_init(&p);
    s_bad_batches[_i].mutate(&p);
    uint8_t *buf;
    size_t len;
    s_pb_pack(&p, &buf, &len);
    fsy_change_list_t out = {0};
    fsy_err_clear();
    int rc = fsy_wire_decode_batch(buf, len, &out);
    ck_assert_msg(rc == s_bad_batches[_i].want, "%s: got %s (%s), want %s",
                  s_bad_batches[_i].what, fsy_strerror(rc), fsy_errdetail(),
                  fsy_strerror(s_bad_batches[_i].want));
    if (rc == FSY_OK) {
        ck_assert_uint_eq(out.n, 2);
        s_assert_change_eq(&out.v[0], &p.src[0], 0);
        s_assert_change_eq(&out.v[1], &p.src[1], 1);
        fsy_change_list_clear(&out);
    } else {
        s_assert_empty(&out);
        ck_assert_msg(fsy_errdetail()[0] != '\0', "%s: no detail",
                      s_bad_batches[_i].what);
    }
    free(buf);
    s_pb_clear(&p);
}
END_TEST

/* ---- batches: truncation ---------------------------------------------- */

/*
 * protobuf has no end marker: a prefix that stops exactly between two
 * elements of the batch is itself a well-formed, shorter batch (the empty
 * prefix is the encoding of the empty batch). Every other prefix must be
 * refused with nothing left behind, and a prefix that does decode must
 * hold exact copies of the leading changes, never a damaged one.
 */
START_TEST(test_codec_truncated_batch_fails_or_yields_whole_leading_changes)
{
    fsy_change_list_t in = {0};
    s_sample(&in);
    uint8_t *buf;
    size_t len;
    ck_ok(fsy_wire_encode_batch(in.v, in.n, &buf, &len));
    size_t decoded = 0;
    for (size_t cut = 0; cut < len; cut++) {
        /* A copy of exactly `cut` bytes, so ASan sees any over-read. */
        uint8_t *part = malloc(cut ? cut : 1);
        ck_assert_ptr_nonnull(part);
        memcpy(part, buf, cut);
        fsy_change_list_t out = {0};
        int rc = fsy_wire_decode_batch(part, cut, &out);
        if (rc != FSY_OK) {
            ck_assert_msg(out.n == 0 && out.v == NULL,
                          "prefix %zu: error %s left %zu changes", cut,
                          fsy_strerror(rc), out.n);
        } else {
            decoded++;
            ck_assert_msg(out.n < in.n, "prefix %zu of %zu decoded whole", cut,
                          len);
            for (size_t i = 0; i < out.n; i++)
                s_assert_change_eq(&out.v[i], &in.v[i], i);
            fsy_change_list_clear(&out);
        }
        free(part);
    }
    /* At most one clean cut per element (origins, changes) plus the empty
     * prefix: a decoder accepting more accepts a cut inside an element. */
    ck_assert_uint_le(decoded, 1 + SAMPLE_ORIGINS + in.n - 1);
    free(buf);
    fsy_change_list_clear(&in);
}
END_TEST

/*
 * The design: the changes of one transaction "always travel together
 * (never split across batches or bundles)", and the receiver applies a
 * batch as one transaction. A batch cut between two changes of the same
 * transaction must therefore be refused, or the receiver would commit half
 * of a multi-field write. s_sample() holds two multi-change transactions
 * (seqs gao 1-3 and hq 7-8); the cuts after gao:1, gao:2 and hq:7 end
 * inside one.
 */
START_TEST(test_codec_truncated_batch_never_decodes_half_a_transaction)
{
    fsy_change_list_t in = {0};
    s_sample(&in);
    uint8_t *buf;
    size_t len;
    ck_ok(fsy_wire_encode_batch(in.v, in.n, &buf, &len));
    size_t bad_cut = 0, bad_n = 0;
    char label[64] = "";
    for (size_t cut = 0; cut < len; cut++) {
        fsy_change_list_t out = {0};
        int rc = fsy_wire_decode_batch(buf, cut, &out);
        if (rc == FSY_OK && out.n > 0 && !out.v[out.n - 1].txn_end &&
            bad_n++ == 0) {
            bad_cut = cut;
            fsy_version_label(&out.v[out.n - 1].version, label, sizeof label);
        }
        fsy_change_list_clear(&out);
    }
    free(buf);
    fsy_change_list_clear(&in);
    ck_assert_msg(bad_n == 0,
                  "%zu cuts decode as FSY_OK ending inside a transaction; "
                  "the first at byte %zu of %zu (last change %s has no "
                  "txn_end)",
                  bad_n, bad_cut, len, label);
}
END_TEST

/* ---- fsy_change_validate ---------------------------------------------- */

static void
v_none(fsy_change_t *c)
{
    (void)c;
}
static void
v_deleted_one(fsy_change_t *c)
{
    snprintf(c->field, sizeof c->field, "_deleted");
    s_set_value(c, "1", 1);
}
static void
v_deleted_absent(fsy_change_t *c)
{
    snprintf(c->field, sizeof c->field, "_deleted");
    s_set_value(c, NULL, 0);
}
static void
v_deleted_zero(fsy_change_t *c)
{
    v_deleted_one(c);
    s_set_value(c, "0", 1);
}
static void
v_deleted_eleven(fsy_change_t *c)
{
    v_deleted_one(c);
    s_set_value(c, "11", 2);
}
static void
v_deleted_yes(fsy_change_t *c)
{
    v_deleted_one(c);
    s_set_value(c, "yes", 3);
}
static void
v_deleted_empty(fsy_change_t *c)
{
    v_deleted_one(c);
    s_set_value(c, "", 0);
}
static void
v_kind(fsy_change_t *c, const char *val, size_t len)
{
    snprintf(c->field, sizeof c->field, "_kind");
    s_set_value(c, val, len);
}
static void
v_kind_plan(fsy_change_t *c)
{
    v_kind(c, "plan", 4);
}
static void
v_kind_absent(fsy_change_t *c)
{
    v_kind(c, NULL, 0);
}
static void
v_kind_upper(fsy_change_t *c)
{
    v_kind(c, "Plan", 4);
}
static void
v_kind_empty(fsy_change_t *c)
{
    v_kind(c, "", 0);
}
static void
v_kind_nul(fsy_change_t *c)
{
    v_kind(c, "plan\0x", 6);
}
static void
v_kind_digit_first(fsy_change_t *c)
{
    v_kind(c, "9plan", 5);
}
static void
v_kind_space(fsy_change_t *c)
{
    v_kind(c, "work plan", 9);
}
static void
v_kind_max(fsy_change_t *c)
{
    v_kind(c, s_repeat('k', FSY_KIND_MAX), FSY_KIND_MAX);
}
static void
v_kind_too_long(fsy_change_t *c)
{
    v_kind(c, s_repeat('k', FSY_KIND_MAX + 1), FSY_KIND_MAX + 1);
}
static void
v_seq_zero(fsy_change_t *c)
{
    c->version.seq = 0;
}
static void
v_hlc_zero(fsy_change_t *c)
{
    c->version.hlc = 0;
}
static void
v_hlc_past_int64(fsy_change_t *c)
{
    c->version.hlc = (uint64_t)INT64_MAX + 1;
}
static void
v_base_seq_past_int64(fsy_change_t *c)
{
    c->bases[0].seq = UINT64_MAX;
}
static void
v_base_is_self(fsy_change_t *c)
{
    c->bases[0] = c->version;
}
static void
v_base_is_self_among_others(fsy_change_t *c)
{
    s_add_base(c, tu_version(T0 - 5, "juba", 4, 1));
    s_add_base(c, c->version);
}
static void
v_base_seq_zero(fsy_change_t *c)
{
    c->bases[0].seq = 0;
}
static void
v_base_hlc_zero(fsy_change_t *c)
{
    c->bases[0].hlc = 0;
}
static void
v_base_bad_site(fsy_change_t *c)
{
    snprintf(c->bases[0].origin.site, sizeof c->bases[0].origin.site, "HQ");
}
static void
v_bases(fsy_change_t *c, size_t n)
{
    free(c->bases);
    c->bases = NULL;
    c->n_bases = 0;
    for (size_t i = 0; i < n; i++)
        s_add_base(c, tu_version(T0 - 1000 + i, "hq", 1, i + 1));
}
static void
v_bases_max(fsy_change_t *c)
{
    v_bases(c, FSY_BASES_MAX);
}
static void
v_bases_too_many(fsy_change_t *c)
{
    v_bases(c, FSY_BASES_MAX + 1);
}
static void
v_value_max(fsy_change_t *c)
{
    free(c->value);
    c->value = calloc(FSY_VALUE_MAX, 1);
    ck_assert_ptr_nonnull(c->value);
    c->value_len = FSY_VALUE_MAX;
}
static void
v_value_too_big(fsy_change_t *c)
{
    free(c->value);
    c->value = calloc(FSY_VALUE_MAX + 1, 1);
    ck_assert_ptr_nonnull(c->value);
    c->value_len = FSY_VALUE_MAX + 1;
}
static void
v_absent_with_bytes(fsy_change_t *c)
{
    c->absent = true; /* value "t" stays */
}
static void
v_value_missing(fsy_change_t *c)
{
    free(c->value);
    c->value = NULL; /* value_len stays 1 */
}
static void
v_unknown_reserved(fsy_change_t *c)
{
    snprintf(c->field, sizeof c->field, "_note");
}
static void
v_author_control(fsy_change_t *c)
{
    snprintf(c->author, sizeof c->author, "A. Traor\x1b[2J");
}
static void
v_author_named(fsy_change_t *c)
{
    snprintf(c->author, sizeof c->author, "Aminata Traor\xc3\xa9");
}
static void
v_bad_scope(fsy_change_t *c)
{
    snprintf(c->scope, sizeof c->scope, "MLI/north");
}
static void
v_checksum_flipped(fsy_change_t *c)
{
    c->checksum[0] ^= 0x80;
}
static void
v_value_flipped(fsy_change_t *c)
{
    c->value[0] ^= 0x20;
}
static void
v_txn_end_flipped(fsy_change_t *c)
{
    c->txn_end = !c->txn_end;
}
static void
v_base_hlc_bumped(fsy_change_t *c)
{
    c->bases[0].hlc++;
}

static const struct {
    const char *what;
    void (*mutate)(fsy_change_t *c);
    bool reseal; /* false: the content changes after sealing */
    int want;
} s_validate_rows[] = {
    {"valid change", v_none, true, FSY_OK},
    {"an author", v_author_named, true, FSY_OK},
    {"an author with a terminal escape", v_author_control, true, FSY_EINVAL},
    /* provenance, not identity: a relay too old to carry it changes no
     * checksum (change.h) */
    {"an author added after sealing", v_author_named, false, FSY_OK},
    {"_deleted = 1", v_deleted_one, true, FSY_OK},
    {"_deleted absent", v_deleted_absent, true, FSY_OK},
    {"_deleted = 0", v_deleted_zero, true, FSY_EINVAL},
    {"_deleted = 11", v_deleted_eleven, true, FSY_EINVAL},
    {"_deleted = yes", v_deleted_yes, true, FSY_EINVAL},
    {"_deleted empty", v_deleted_empty, true, FSY_EINVAL},
    {"_kind = plan", v_kind_plan, true, FSY_OK},
    {"_kind absent", v_kind_absent, true, FSY_OK},
    {"_kind of FSY_KIND_MAX bytes", v_kind_max, true, FSY_OK},
    {"_kind upper case", v_kind_upper, true, FSY_EINVAL},
    {"_kind empty", v_kind_empty, true, FSY_EINVAL},
    {"_kind with a NUL", v_kind_nul, true, FSY_EINVAL},
    {"_kind starting with a digit", v_kind_digit_first, true, FSY_EINVAL},
    {"_kind with a space", v_kind_space, true, FSY_EINVAL},
    {"_kind over FSY_KIND_MAX", v_kind_too_long, true, FSY_EINVAL},
    {"seq 0", v_seq_zero, true, FSY_EINVAL},
    {"hlc 0", v_hlc_zero, true, FSY_EINVAL},
    {"hlc past 2^63", v_hlc_past_int64, true, FSY_EINVAL},
    {"base seq past 2^63", v_base_seq_past_int64, true, FSY_EINVAL},
    {"base equal to the change", v_base_is_self, true, FSY_EINVAL},
    {"base equal to the change among others", v_base_is_self_among_others, true,
     FSY_EINVAL},
    {"base with seq 0", v_base_seq_zero, true, FSY_EINVAL},
    {"base with hlc 0", v_base_hlc_zero, true, FSY_EINVAL},
    {"base with an invalid site", v_base_bad_site, true, FSY_EINVAL},
    {"FSY_BASES_MAX bases", v_bases_max, true, FSY_OK},
    {"too many bases", v_bases_too_many, true, FSY_ETOOBIG},
    {"value of FSY_VALUE_MAX", v_value_max, true, FSY_OK},
    {"value over FSY_VALUE_MAX", v_value_too_big, true, FSY_ETOOBIG},
    {"absent value with bytes", v_absent_with_bytes, true, FSY_EINVAL},
    /* Not resealed: the checksum would read the missing bytes. */
    {"value length without bytes", v_value_missing, false, FSY_EINVAL},
    {"unknown reserved field", v_unknown_reserved, true, FSY_EINVAL},
    {"invalid scope", v_bad_scope, true, FSY_EINVAL},
    {"checksum altered", v_checksum_flipped, false, FSY_ECORRUPT},
    {"value altered after sealing", v_value_flipped, false, FSY_ECORRUPT},
    {"txn_end altered after sealing", v_txn_end_flipped, false, FSY_ECORRUPT},
    {"base altered after sealing", v_base_hlc_bumped, false, FSY_ECORRUPT},
};

START_TEST(test_codec_change_validate_follows_table)
{
    fsy_change_t c;
    s_change(&c, tu_version(T0, "gao", INC_GAO, 3), "MLI", "isf-mli-2027",
             "title", "t", 1, true);
    s_add_base(&c, tu_version(T0 - 1, "hq", INC_HQ, 2));
    fsy_change_seal(&c);
    s_validate_rows[_i].mutate(&c);
    if (s_validate_rows[_i].reseal)
        fsy_change_seal(&c);
    fsy_err_clear();
    int rc = fsy_change_validate(&c);
    ck_assert_msg(rc == s_validate_rows[_i].want, "%s: got %s (%s), want %s",
                  s_validate_rows[_i].what, fsy_strerror(rc), fsy_errdetail(),
                  fsy_strerror(s_validate_rows[_i].want));
    if (rc != FSY_OK)
        ck_assert_msg(fsy_errdetail()[0] != '\0', "%s: no detail",
                      s_validate_rows[_i].what);
    /* An invalid value must not be usable just by sealing it. */
    if (s_validate_rows[_i].want == FSY_ECORRUPT) {
        fsy_change_seal(&c);
        ck_ok(fsy_change_validate(&c));
    }
    fsy_change_clear(&c);
}
END_TEST

/* ---- bundles ---------------------------------------------------------- */

static uint64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint8_t *
s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    uint8_t *buf = malloc(size ? (size_t)size : 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static void
s_spit(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* gao holds its own changes and hq's: two origins, two scopes. */
static fsy_store_t *
s_gao_with_history(void)
{
    fsy_store_t *hq = tu_replica("hq");
    fsy_store_t *gao = tu_replica("gao");
    tu_put(hq, "SSD", "jmac-weekly", "analysis", "body", "Upper Nile");
    tu_put(gao, "MLI", "isf-mli-2027", "plan", "title",
           "Cadre strat\xc3\xa9gique int\xc3\xa9gr\xc3\xa9");
    tu_sync(hq, gao);
    tu_put(gao, "MLI", "isf-mli-2027", NULL, "status", "draft");
    fsy_store_close(&hq);
    return gao;
}

START_TEST(test_codec_bundle_export_read_back_matches_replica)
{
    fsy_store_t *gao = s_gao_with_history();
    const char *path = tu_path("gao.bundle");
    uint64_t t0 = s_now_ms();
    size_t n = 0;
    ck_ok(fsy_bundle_export(gao, NULL, path, &n));
    uint64_t t1 = s_now_ms();
    fsy_bundle_t *b = NULL;
    ck_ok(fsy_bundle_read(path, &b));
    ck_assert_ptr_nonnull(b);

    ck_assert(fsy_origin_eq(&b->sender, fsy_store_origin(gao)));
    ck_assert_str_eq(b->sender.site, "gao");
    ck_assert_uint_ge(b->created_ms, t0);
    ck_assert_uint_le(b->created_ms, t1);

    fsy_vv_t *vv;
    ck_ok(fsy_store_vv(gao, &vv));
    ck_assert_uint_eq(vv->n, 2);
    ck_assert_uint_eq(b->sender_vv.n, vv->n);
    for (size_t i = 0; i < vv->n; i++) {
        ck_assert_str_eq(b->sender_vv.v[i].scope, vv->v[i].scope);
        ck_assert(fsy_origin_eq(&b->sender_vv.v[i].origin, &vv->v[i].origin));
        ck_assert_uint_eq(b->sender_vv.v[i].seq, vv->v[i].seq);
    }
    fsy_vv_free(&vv);

    fsy_change_list_t all = {0};
    ck_ok(fsy_store_export(gao, NULL, tu_collect, &all));
    ck_assert_uint_eq(all.n, 5);
    ck_assert_uint_eq(n, all.n);
    ck_assert_uint_eq(b->changes.n, all.n);
    for (size_t i = 0; i < all.n; i++)
        s_assert_change_eq(&b->changes.v[i], &all.v[i], i);
    fsy_change_list_clear(&all);
    fsy_bundle_free(&b);
    ck_assert_ptr_null(b);
    fsy_store_close(&gao);
}
END_TEST

START_TEST(test_codec_bundle_against_a_vector_holds_only_what_is_lacking)
{
    fsy_store_t *gao = tu_replica("gao"), *juba = tu_replica("juba");
    tu_put(gao, "MLI", "isf-mli-2027", "plan", "title", "ISF");
    tu_sync(gao, juba);
    tu_put(gao, "MLI", "isf-mli-2027", NULL, "status", "endorsed");
    fsy_vv_t *vv;
    ck_ok(fsy_store_vv(juba, &vv));
    size_t n = 99;
    ck_ok(fsy_bundle_export(gao, vv, tu_path("delta.bundle"), &n));
    fsy_vv_free(&vv);
    ck_assert_uint_eq(n, 1);
    fsy_bundle_t *b = NULL;
    ck_ok(fsy_bundle_read(tu_path("delta.bundle"), &b));
    ck_assert_uint_eq(b->changes.n, 1);
    ck_assert_str_eq(b->changes.v[0].field, "status");
    ck_assert_uint_eq(b->changes.v[0].version.seq, 3);
    fsy_bundle_free(&b);
    fsy_apply_stats_t st;
    ck_ok(fsy_bundle_import(juba, tu_path("delta.bundle"), &st));
    ck_assert_uint_eq(st.applied, 1);
    ck_assert_str_eq(tu_get(juba, "MLI", "isf-mli-2027", "status"), "endorsed");
    fsy_store_close(&gao);
    fsy_store_close(&juba);
}
END_TEST

/* A bundle made for a site's vector carries an edit of a long report as
 * a delta against the version that site holds: a courier's USB key
 * holds what changed, and the import rebuilds the value exactly. Read
 * without a replica, such a bundle is refused, not misread. */
START_TEST(test_codec_bundle_carries_an_edit_as_a_delta)
{
    fsy_store_t *gao = tu_replica("gao"), *juba = tu_replica("juba");
    char *body = tu_long_report(-1), *edited = tu_long_report(80);
    tu_put(gao, "MLI", "jmac-mli-long", "analysis", "body", body);
    tu_sync(gao, juba);
    tu_put(gao, "MLI", "jmac-mli-long", NULL, "body", edited);
    fsy_vv_t *vv;
    ck_ok(fsy_store_vv(juba, &vv));
    ck_ok(fsy_bundle_export(gao, vv, tu_path("edit.bundle"), NULL));
    ck_ok(fsy_bundle_export(gao, NULL, tu_path("whole.bundle"), NULL));
    fsy_vv_free(&vv);
    size_t edit_len, whole_len;
    free(s_slurp(tu_path("edit.bundle"), &edit_len));
    free(s_slurp(tu_path("whole.bundle"), &whole_len));
    printf("a bundle of one edited sentence: %zu bytes (everything: %zu)\n",
           edit_len, whole_len);
    ck_assert_uint_lt(edit_len, 600);
    fsy_bundle_t *b = NULL;
    ck_assert_int_ne(fsy_bundle_read(tu_path("edit.bundle"), &b), FSY_OK);
    fsy_apply_stats_t st;
    ck_ok(fsy_bundle_import(juba, tu_path("edit.bundle"), &st));
    ck_assert_uint_eq(st.applied, 1);
    char a[65], c[65];
    tu_digest(gao, a);
    tu_digest(juba, c);
    ck_assert_str_eq(a, c);
    free(body);
    free(edited);
    fsy_store_close(&gao);
    fsy_store_close(&juba);
}
END_TEST

/* A small bundle's bytes, for the corruption tests. */
static uint8_t *
s_small_bundle(size_t *len)
{
    fsy_store_t *gao = tu_replica("gao");
    tu_put(gao, "MLI", "brief", "analysis", "body", "Protection of civilians");
    ck_ok(fsy_bundle_export(gao, NULL, tu_path("small.bundle"), NULL));
    fsy_store_close(&gao);
    return s_slurp(tu_path("small.bundle"), len);
}

#define MAGIC_LEN 8
#define HEADER_LEN 12   /* magic + flags */
#define TRAILER_LEN 144 /* lengths, hash, signer and signature */

START_TEST(test_codec_bundle_parses_untouched_bytes)
{
    size_t len;
    uint8_t *buf = s_small_bundle(&len);
    ck_assert_mem_eq(buf, "FSYBNDL1", MAGIC_LEN);
    ck_assert_uint_gt(len, HEADER_LEN + TRAILER_LEN);
    fsy_bundle_t *b = NULL;
    ck_ok(fsy_bundle_parse(buf, len, &b));
    ck_assert_uint_eq(b->changes.n, 2);
    fsy_bundle_free(&b);
    free(buf);
}
END_TEST

/* Every single-byte flip is caught, with the code for where it lands: the
 * magic (not a bundle), its version byte (newer format), anything else
 * (damaged: the envelope hash or the length check). */
START_TEST(test_codec_bundle_any_flipped_byte_fails_parse)
{
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    size_t len;
    uint8_t *buf = s_small_bundle(&len);
    uint8_t *copy = malloc(len);
    ck_assert_ptr_nonnull(copy);
    for (size_t m = 0; m < sizeof masks; m++) {
        for (size_t pos = 0; pos < len; pos++) {
            memcpy(copy, buf, len);
            copy[pos] ^= masks[m];
            fsy_bundle_t *b = NULL;
            int rc = fsy_bundle_parse(copy, len, &b);
            int want = pos < MAGIC_LEN - 1    ? FSY_EFORMAT
                       : pos == MAGIC_LEN - 1 ? FSY_EVERSION
                                              : FSY_ECORRUPT;
            ck_assert_msg(rc == want, "byte %zu of %zu ^ %#x: got %s, want %s",
                          pos, len, masks[m], fsy_strerror(rc),
                          fsy_strerror(want));
            ck_assert_ptr_null(b);
        }
    }
    free(copy);
    free(buf);
}
END_TEST

START_TEST(test_codec_bundle_any_truncation_or_padding_fails_parse)
{
    size_t len;
    uint8_t *buf = s_small_bundle(&len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        ck_assert_ptr_nonnull(part);
        memcpy(part, buf, cut);
        fsy_bundle_t *b = NULL;
        int rc = fsy_bundle_parse(part, cut, &b);
        int want = cut < MAGIC_LEN ? FSY_EFORMAT : FSY_ECORRUPT;
        ck_assert_msg(rc == want, "%zu of %zu bytes: got %s, want %s", cut, len,
                      fsy_strerror(rc), fsy_strerror(want));
        ck_assert_ptr_null(b);
        free(part);
    }
    uint8_t *padded = malloc(len + 1);
    ck_assert_ptr_nonnull(padded);
    memcpy(padded, buf, len);
    padded[len] = '\n'; /* e.g. a mail client's trailing newline */
    fsy_bundle_t *b = NULL;
    ck_assert_int_eq(fsy_bundle_parse(padded, len + 1, &b), FSY_ECORRUPT);
    ck_assert_ptr_null(b);
    free(padded);
    free(buf);
}
END_TEST

START_TEST(test_codec_file_that_is_not_a_bundle_is_eformat)
{
    fsy_store_t *s = tu_replica("goma");
    fsy_store_close(&s);
    static const char text[] = "minutes of the coordination meeting\n";
    s_spit(tu_path("notes.txt"), (const uint8_t *)text, sizeof text - 1);
    s_spit(tu_path("empty.bundle"), (const uint8_t *)"", 0);
    const char *paths[] = {tu_path("notes.txt"), tu_path("empty.bundle"),
                           tu_path("goma.db")};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        fsy_bundle_t *b = NULL;
        int rc = fsy_bundle_read(paths[i], &b);
        ck_assert_msg(rc == FSY_EFORMAT, "%s: %s", paths[i], fsy_strerror(rc));
        ck_assert_ptr_null(b);
    }
    fsy_bundle_t *b = NULL;
    ck_assert_int_eq(fsy_bundle_read(tu_path("missing.bundle"), &b),
                     FSY_ENOTFOUND);
    ck_assert_ptr_null(b);
}
END_TEST

/* The magic's last byte is the envelope version, checked before the hash:
 * a newer bundle says "upgrade", not "damaged". */
START_TEST(test_codec_bundle_with_newer_magic_version_is_eversion)
{
    size_t len;
    uint8_t *buf = s_small_bundle(&len);
    buf[MAGIC_LEN - 1] = '2';
    s_spit(tu_path("newer.bundle"), buf, len);
    fsy_bundle_t *b = NULL;
    ck_assert_int_eq(fsy_bundle_parse(buf, len, &b), FSY_EVERSION);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(fsy_bundle_read(tu_path("newer.bundle"), &b),
                     FSY_EVERSION);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "upgrade"));
    ck_assert_ptr_null(b);
    free(buf);
}
END_TEST

/* Appends a length-prefixed record to a growing payload. */
static void
s_add_record(uint8_t **raw, size_t *raw_len, const uint8_t *rec, size_t len)
{
    *raw = realloc(*raw, *raw_len + 4 + len);
    ck_assert_ptr_nonnull(*raw);
    for (int i = 0; i < 4; i++)
        (*raw)[*raw_len + (size_t)i] = (uint8_t)(len >> (8 * i));
    memcpy(*raw + *raw_len + 4, rec, len);
    *raw_len += 4 + len;
}

/* Wraps a payload in a valid envelope whose trailer claims `claim` bytes
 * of payload (a bomb declares a huge expansion). */
static uint8_t *s_envelope_claiming(const uint8_t *raw, size_t raw_len,
                                    uint64_t claim, size_t *len);

/* Wraps a payload of records in a valid envelope, as bundle.c does. */
static uint8_t *
s_envelope(const uint8_t *raw, size_t raw_len, size_t *len)
{
    return s_envelope_claiming(raw, raw_len, raw_len, len);
}

static uint8_t *
s_envelope_claiming(const uint8_t *raw, size_t raw_len, uint64_t claim,
                    size_t *len)
{
    size_t bound = ZSTD_compressBound(raw_len);
    uint8_t *buf = malloc(HEADER_LEN + bound + TRAILER_LEN);
    ck_assert_ptr_nonnull(buf);
    size_t z = ZSTD_compress(buf + HEADER_LEN, bound, raw, raw_len, 3);
    ck_assert(!ZSTD_isError(z));
    memcpy(buf, "FSYBNDL1", MAGIC_LEN);
    buf[8] = 1; /* flags: zstd */
    buf[9] = buf[10] = buf[11] = 0;
    uint8_t *t = buf + HEADER_LEN + z;
    for (int i = 0; i < 8; i++) {
        t[i] = (uint8_t)(claim >> (8 * i));
        t[8 + i] = (uint8_t)((uint64_t)z >> (8 * i));
    }
    crypto_generichash(t + 16, 32, buf, HEADER_LEN + z + 16, NULL, 0);
    memset(t + 48, 0, 96); /* unsigned */
    *len = HEADER_LEN + z + TRAILER_LEN;
    return buf;
}

/* A payload: a header record (as given) and one batch of b's changes. */
static void
s_payload(const fsy_bundle_t *b, const uint8_t *head, size_t head_len,
          uint8_t **raw, size_t *raw_len)
{
    uint8_t *batch;
    size_t batch_len;
    *raw = NULL;
    *raw_len = 0;
    s_add_record(raw, raw_len, head, head_len);
    ck_ok(
        fsy_wire_encode_batch(b->changes.v, b->changes.n, &batch, &batch_len));
    s_add_record(raw, raw_len, batch, batch_len);
    free(batch);
}

/* Re-encodes a parsed bundle's content into a fresh, valid envelope. */
static void
s_repack(const fsy_bundle_t *b, const char *path)
{
    uint8_t *head, *raw, *file;
    size_t head_len, raw_len, file_len;
    ck_ok(fsy_wire_encode_bundle_header(
        &b->sender, b->created_ms, &b->sender_vv, "lines/1", &head, &head_len));
    s_payload(b, head, head_len, &raw, &raw_len);
    file = s_envelope(raw, raw_len, &file_len);
    s_spit(path, file, file_len);
    free(head);
    free(raw);
    free(file);
}

START_TEST(test_codec_bundle_with_newer_payload_format_is_eversion)
{
    size_t len;
    uint8_t *buf = s_small_bundle(&len);
    fsy_bundle_t *b = NULL;
    ck_ok(fsy_bundle_parse(buf, len, &b));
    uint8_t *head;
    size_t head_len;
    ck_ok(fsy_wire_encode_bundle_header(
        &b->sender, b->created_ms, &b->sender_vv, "lines/1", &head, &head_len));
    Fieldsync__BundleHeader *m =
        fieldsync__bundle_header__unpack(NULL, head_len, head);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->format, FSY_BUNDLE_FORMAT);
    m->format = FSY_BUNDLE_FORMAT + 1;
    uint8_t *head2 = malloc(fieldsync__bundle_header__get_packed_size(m));
    ck_assert_ptr_nonnull(head2);
    size_t head2_len = fieldsync__bundle_header__pack(m, head2);
    fieldsync__bundle_header__free_unpacked(m, NULL);

    uint8_t *raw, *raw2;
    size_t raw_len, raw2_len, flen;
    s_payload(b, head, head_len, &raw, &raw_len);
    s_payload(b, head2, head2_len, &raw2, &raw2_len);
    fsy_bundle_free(&b);
    uint8_t *file = s_envelope(raw2, raw2_len, &flen);
    ck_assert_int_eq(fsy_bundle_parse(file, flen, &b), FSY_EVERSION);
    ck_assert_ptr_null(b);
    /* The same envelope around the original payload parses. */
    free(file);
    file = s_envelope(raw, raw_len, &flen);
    ck_ok(fsy_bundle_parse(file, flen, &b));
    fsy_bundle_free(&b);
    free(file);
    free(raw2);
    free(raw);
    free(head2);
    free(head);
    free(buf);
}
END_TEST

/* A payload that expands far beyond any real report is refused before it
 * is decompressed, and a batch cut mid-record is damage. */
/* A trailer claiming far more payload than there is: parsing refuses to
 * hold it, importing finds the payload short; the replica is untouched.
 * A record cut short at the end of the payload is damage too. */
START_TEST(test_codec_bundle_claiming_more_than_it_holds_is_refused)
{
    size_t len;
    uint8_t *buf = s_small_bundle(&len);
    fsy_bundle_t *b = NULL;
    ck_ok(fsy_bundle_parse(buf, len, &b));
    uint8_t *head, *raw;
    size_t head_len, raw_len, flen;
    ck_ok(fsy_wire_encode_bundle_header(
        &b->sender, b->created_ms, &b->sender_vv, "lines/1", &head, &head_len));
    s_payload(b, head, head_len, &raw, &raw_len);
    uint8_t *file = s_envelope_claiming(raw, raw_len, UINT64_C(4) << 30, &flen);
    fsy_bundle_free(&b);
    ck_assert_int_eq(fsy_bundle_parse(file, flen, &b), FSY_ETOOBIG);
    fsy_store_t *hq = tu_replica("hq");
    s_spit(tu_path("claim.bundle"), file, flen);
    ck_assert_int_eq(fsy_bundle_import(hq, tu_path("claim.bundle"), NULL),
                     FSY_ECORRUPT);
    ck_assert_uint_eq(tu_changes(hq), 0);
    free(file);
    file = s_envelope(raw, raw_len - 1, &flen);
    ck_assert_int_eq(fsy_bundle_parse(file, flen, &b), FSY_ECORRUPT);
    ck_assert_ptr_null(b);
    fsy_store_close(&hq);
    free(file);
    free(raw);
    free(head);
    free(buf);
}
END_TEST

/* Values of repeated bytes compress thousands-fold: still a bundle. */
START_TEST(test_codec_bundle_of_highly_compressible_values_imports)
{
    fsy_store_t *gao = tu_replica("gao"), *hq = tu_replica("hq");
    size_t n = 1u << 20;
    uint8_t *v = malloc(n);
    ck_assert_ptr_nonnull(v);
    memset(v, 'a', n);
    fsy_field_set_t sets[] = {{"annex1", v, n, false}, {"annex2", v, n, false}};
    ck_ok(fsy_store_put(gao, "MLI", "scan", "analysis", sets, 2));
    ck_ok(fsy_bundle_export(gao, NULL, tu_path("blank.bundle"), NULL));
    fsy_apply_stats_t st;
    ck_ok(fsy_bundle_import(hq, tu_path("blank.bundle"), &st));
    ck_assert_uint_eq(st.applied, 3);
    free(v);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
}
END_TEST

/* The decoder's memory budget passes the heaviest legitimate batch (every
 * change of a full transaction naming FSY_BASES_MAX heads) and stops a
 * record of a million tiny bases before it is unpacked in full. */
static void
s_batch_with_bases(fsy_change_list_t *l, size_t n, size_t nb, uint64_t hlc)
{
    for (size_t i = 0; i < n; i++) {
        fsy_change_t *c;
        ck_ok(fsy_change_list_push(l, &c));
        c->version = tu_version(T0 + 1000000, "gao", INC_GAO, 1000 + i);
        snprintf(c->scope, sizeof c->scope, "MLI");
        snprintf(c->doc, sizeof c->doc, "isf-mli-2027");
        snprintf(c->field, sizeof c->field, "f%zu", i);
        c->absent = true;
        c->txn_end = i + 1 == n;
        c->bases = calloc(nb, sizeof *c->bases);
        ck_assert_ptr_nonnull(c->bases);
        c->n_bases = nb;
        for (size_t k = 0; k < nb; k++) /* hlc 0: the same tiny base */
            c->bases[k] = tu_version(hlc ? hlc + k : 1, "bamako", INC_BAMAKO,
                                     hlc ? 1 + k : 1);
        fsy_change_seal(c);
    }
}

START_TEST(test_codec_decode_budget_fits_real_batches_not_bombs)
{
    fsy_change_list_t l = {0}, out = {0};
    uint8_t *buf;
    size_t len;
    s_batch_with_bases(&l, FSY_TXN_MAX, FSY_BASES_MAX, T0);
    ck_ok(fsy_wire_encode_batch(l.v, l.n, &buf, &len));
    ck_ok(fsy_wire_decode_batch(buf, len, &out));
    ck_assert_uint_eq(out.n, FSY_TXN_MAX);
    fsy_change_list_clear(&l);
    fsy_change_list_clear(&out);
    free(buf);
    s_batch_with_bases(&l, 1, 1000000, 0);
    ck_ok(fsy_wire_encode_batch(l.v, l.n, &buf, &len));
    /* a change larger than any site writes: refused before unpacking */
    ck_assert_int_eq(fsy_wire_decode_batch(buf, len, &out), FSY_ETOOBIG);
    ck_assert_uint_eq(out.n, 0);
    fsy_change_list_clear(&l);
    free(buf);
}
END_TEST

/* ---- bombs: a few kilobytes declaring 64 MiB ------------------------ */

#define BOMB_RAW ((size_t)64 << 20)
#if defined(__SANITIZE_ADDRESS__)
#define S_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_SANITIZED 1
#endif
#endif

/* zstd of `raw` bytes: `pro` (plen bytes), then `unit` repeated (NULL:
 * zeros), compressed in pieces so the test itself never holds the whole.
 * Caller frees. */
static uint8_t *
s_bomb_after(const uint8_t *pro, size_t plen, const uint8_t *unit,
             size_t unit_len, size_t raw, size_t *zlen)
{
    static uint8_t piece[1 << 16];
    memset(piece, 0, sizeof piece);
    if (unit != NULL)
        for (size_t i = 0; i + unit_len <= sizeof piece; i += unit_len)
            memcpy(piece + i, unit, unit_len);
    size_t step = unit ? sizeof piece - sizeof piece % unit_len : sizeof piece;
    ZSTD_CCtx *z = ZSTD_createCCtx();
    size_t cap = 1 << 20, n = 0;
    uint8_t *out = malloc(cap);
    ZSTD_CCtx_setPledgedSrcSize(z, raw);
    for (size_t done = 0; done < raw;) {
        const uint8_t *src = done < plen ? pro + done : piece;
        size_t room = done < plen ? plen - done : step;
        size_t take = raw - done < room ? raw - done : room;
        ZSTD_inBuffer in = {src, take, 0};
        done += take;
        ZSTD_EndDirective mode = done == raw ? ZSTD_e_end : ZSTD_e_continue;
        size_t left;
        do {
            ZSTD_outBuffer o = {out + n, cap - n, 0};
            left = ZSTD_compressStream2(z, &o, &in, mode);
            ck_assert(!ZSTD_isError(left));
            n += o.pos;
        } while (in.pos < in.size || (mode == ZSTD_e_end && left != 0));
    }
    ZSTD_freeCCtx(z);
    *zlen = n;
    return out;
}

static uint8_t *
s_bomb(const uint8_t *unit, size_t unit_len, size_t raw, size_t *zlen)
{
    return s_bomb_after(NULL, 0, unit, unit_len, raw, zlen);
}

typedef struct cost {
    struct timespec t;
    long rss_kb;
} cost_t;

static void
s_cost_start(cost_t *c)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    c->rss_kb = ru.ru_maxrss;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c->t);
}

/* Under 50 ms of CPU and 16 MiB more peak memory (not measured under the
 * sanitizers, whose allocator and checks cost more than what is tested). */
static void
s_cost_check(const cost_t *c, const char *what)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double ms = (double)(t.tv_sec - c->t.tv_sec) * 1e3 +
                (double)(t.tv_nsec - c->t.tv_nsec) / 1e6;
    long kb = ru.ru_maxrss - c->rss_kb;
    printf("%s: %.1f ms of CPU, peak memory +%ld KiB\n", what, ms, kb);
#ifndef S_SANITIZED
    ck_assert_msg(ms < 50, "%s took %.1f ms", what, ms);
    ck_assert_msg(kb < 16 * 1024, "%s took %ld KiB", what, kb);
#endif
}

/* A Batch frame whose payload is z (zlen bytes) declaring raw bytes. */
static uint8_t *
s_bomb_frame(uint8_t *z, size_t zlen, size_t raw, size_t *len)
{
    Fieldsync__Frame f = FIELDSYNC__FRAME__INIT;
    Fieldsync__Batch b = FIELDSYNC__BATCH__INIT;
    f.protocol = FSY_PROTOCOL_VERSION;
    f.body_case = FIELDSYNC__FRAME__BODY_BATCH;
    f.batch = &b;
    b.id = 7;
    b.raw_len = raw;
    b.payload.data = z;
    b.payload.len = zlen;
    *len = fieldsync__frame__get_packed_size(&f);
    uint8_t *buf = malloc(*len);
    fieldsync__frame__pack(&f, buf);
    return buf;
}

START_TEST(test_codec_frame_bombs_cost_milliseconds)
{
    /* zeros, then 64 MiB of one valid origin over and over */
    static const uint8_t origin[] = {
        0x0a, 0x0e,                             /* an origin of 14 bytes: */
        0x0a, 0x03, 'g', 'a', 'o',              /* site "gao", */
        0x11, 1,    0,   0,   0,   0, 0, 0, 0}; /* incarnation 1 (fixed64) */
    struct {
        const uint8_t *unit;
        size_t len;
        const char *what;
    } kinds[] = {{NULL, 0, "frame of 64 MiB of zeros"},
                 {origin, sizeof origin, "frame of 64 MiB of origins"},
                 {NULL, 0, "frame of 64 MiB of valid changes, 256 bases each"}};
    /* the third: one real change with the most bases, over and over */
    fsy_change_list_t one = {0};
    uint8_t *unit;
    size_t unit_len;
    s_batch_with_bases(&one, 1, FSY_BASES_MAX, T0);
    ck_ok(fsy_wire_encode_batch(one.v, 1, &unit, &unit_len));
    fsy_change_list_clear(&one);
    kinds[2].unit = unit;
    kinds[2].len = unit_len;
    for (size_t k = 0; k < 3; k++) {
        size_t zlen, len;
        uint8_t *z = s_bomb(kinds[k].unit, kinds[k].len, BOMB_RAW, &zlen);
        uint8_t *frame = s_bomb_frame(z, zlen, BOMB_RAW, &len);
        ck_assert_uint_lt(len, 16 << 10);
        cost_t c;
        s_cost_start(&c);
        fsy_msg_t m;
        ck_assert_int_ne(fsy_wire_decode_msg(frame, len, &m), FSY_OK);
        printf("%s refused: %s\n", kinds[k].what, fsy_errdetail());
        s_cost_check(&c, kinds[k].what);
        free(frame);
        free(z);
    }
    free(unit);
}
END_TEST

/* A bundle around one zstd frame z of raw bytes, unsigned. */
static void
s_bomb_bundle(const char *path, const uint8_t *z, size_t zlen, size_t raw)
{
    size_t len = 12 + zlen + 144;
    uint8_t *b = calloc(1, len);
    memcpy(b, "FSYBNDL1", 8);
    b[8] = 1; /* zstd */
    memcpy(b + 12, z, zlen);
    uint8_t *t = b + 12 + zlen;
    for (int i = 0; i < 8; i++) {
        t[i] = (uint8_t)(raw >> (8 * i));
        t[8 + i] = (uint8_t)((uint64_t)zlen >> (8 * i));
    }
    crypto_generichash(t + 16, 32, b, 12 + zlen + 16, NULL, 0);
    s_spit(path, b, len);
    free(b);
}

START_TEST(test_codec_bundle_bombs_cost_milliseconds)
{
    /* a header record declaring 64 MiB, then zeros; and a header, then a
     * changes record of 64 MiB of zeros */
    fsy_store_t *gao = tu_replica("gao");
    const char *plain = tu_path("plain.bundle");
    ck_ok(fsy_bundle_export(gao, NULL, plain, NULL));
    fsy_bundle_t *head = NULL;
    ck_ok(fsy_bundle_read(plain, &head));
    fsy_bundle_free(&head);
    static const uint8_t big_header[4] = {0xff, 0xff, 0xff, 0x03};
    size_t zlen;
    uint8_t *z = s_bomb(big_header, 4, BOMB_RAW, &zlen);
    s_bomb_bundle(tu_path("bomb.bundle"), z, zlen, BOMB_RAW);
    free(z);
    /* a real header, then a changes record of zeros to 64 MiB */
    fsy_vv_t vv = {0};
    uint8_t *hdr, pro[1024];
    size_t hlen;
    ck_ok(fsy_wire_encode_bundle_header(
        fsy_store_origin(gao), 1, &vv, fsy_store_merge_rule(gao), &hdr, &hlen));
    ck_assert_uint_lt(hlen + 8, sizeof pro);
    uint32_t rl = (uint32_t)(BOMB_RAW - hlen - 8);
    for (int i = 0; i < 4; i++) {
        pro[i] = (uint8_t)(hlen >> (8 * i));
        pro[4 + hlen + (size_t)i] = (uint8_t)(rl >> (8 * i));
    }
    memcpy(pro + 4, hdr, hlen);
    free(hdr);
    z = s_bomb_after(pro, hlen + 8, NULL, 0, BOMB_RAW, &zlen);
    s_bomb_bundle(tu_path("bomb2.bundle"), z, zlen, BOMB_RAW);
    free(z);
    fsy_bundle_trust_t allow = {.allow_unsigned = true}, strict = {0};
    const char *bombs[] = {"bomb.bundle", "bomb2.bundle"};
    for (int i = 0; i < 2; i++) {
        cost_t c;
        s_cost_start(&c);
        ck_assert_int_ne(
            fsy_bundle_import_trusted(gao, tu_path(bombs[i]), &strict, NULL),
            FSY_OK);
        s_cost_check(&c, "unsigned bundle bomb, refused");
        s_cost_start(&c);
        ck_assert_int_ne(
            fsy_bundle_import_trusted(gao, tu_path(bombs[i]), &allow, NULL),
            FSY_OK);
        s_cost_check(&c, "bundle bomb, unsigned allowed");
    }
    ck_assert_uint_eq(tu_changes(gao), 0);
    fsy_store_close(&gao);
}
END_TEST

/* A signed bundle carries only what its signer may write, by the live
 * link's rules: a child's own changes in its write scopes; not another
 * site's, not the importer's own; and its header must name its signer. */
START_TEST(test_codec_bundle_carries_only_what_its_signer_may_write)
{
    ck_ok(fsy_keygen(tu_path("gao"), false, NULL));
    fsy_identity_t gao_id;
    ck_ok(fsy_identity_load(tu_path("gao.key"), &gao_id));
    /* gao holds hq's SSD report, its own MLI plan, and an SSD write of
     * its own (outside what hq lets it write). */
    fsy_store_t *gao = s_gao_with_history(), *hq = tu_replica("bamako");
    tu_put(gao, "SSD", "ssd-rumour", "analysis", "title", "out of mandate");
    const char *path = tu_path("gao-to-bamako.bundle");
    ck_ok(fsy_bundle_export_signed(gao, NULL, path, &gao_id, NULL));
    fsy_child_conf_t child = {.site = "gao", .write_scopes = "MLI"};
    fsy_bundle_signer_t keys[1] = {
        {.auth = {.role = FSY_ROLE_CHILD, .site = "gao", .child = &child}}};
    memcpy(keys[0].key, gao_id.sign_pk, 32);
    fsy_bundle_trust_t trust = {.signers = keys, .n = 1};
    fsy_apply_stats_t st;
    ck_ok(fsy_bundle_import_trusted(hq, path, &trust, &st));
    /* hq's change (not gao's to relay) and gao's SSD write are refused;
     * gao's MLI plan is applied. */
    ck_assert_uint_eq(st.refused, 4);     /* two transactions of two */
    ck_assert_uint_eq(tu_changes(hq), 3); /* the plan: title, kind, status */
    ck_assert_str_eq(tu_get(hq, "MLI", "isf-mli-2027", "status"), "draft");
    ck_assert_ptr_null(tu_get(hq, "SSD", "ssd-rumour", "title"));
    /* A bundle that says it is kidal's, signed with gao's key. */
    fsy_store_t *kidal = tu_replica("kidal");
    tu_put(kidal, "MLI", "sitrep-kidal", "analysis", "title", "calm");
    const char *lie = tu_path("kidal-as-gao.bundle");
    ck_ok(fsy_bundle_export_signed(kidal, NULL, lie, &gao_id, NULL));
    ck_assert_int_eq(fsy_bundle_import_trusted(hq, lie, &trust, NULL),
                     FSY_EINVAL);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "comes from kidal"));
    /* Unsigned: refused unless allowed; allowed, the claimed sender's
     * [child] limits still hold. */
    const char *plain = tu_path("plain.bundle");
    ck_ok(fsy_bundle_export(gao, NULL, plain, NULL));
    ck_assert_int_eq(fsy_bundle_import_trusted(hq, plain, &trust, NULL),
                     FSY_EINVAL);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "not signed"));
    fsy_config_t cfg;
    fsy_config_defaults(&cfg);
    cfg.children = &child;
    cfg.n_children = 1;
    fsy_bundle_trust_t loose = {.allow_unsigned = true, .cfg = &cfg};
    ck_ok(fsy_bundle_import_trusted(hq, plain, &loose, &st));
    ck_assert_uint_eq(st.refused, 4);     /* two transactions of two */
    ck_assert_uint_eq(tu_changes(hq), 3); /* the plan: title, kind, status */
    /* unsigned and claiming a site that is no child here: nothing would
     * limit it, so it is refused */
    const char *stray = tu_path("kidal-plain.bundle");
    ck_ok(fsy_bundle_export(kidal, NULL, stray, NULL));
    ck_assert_int_eq(fsy_bundle_import_trusted(hq, stray, &loose, NULL),
                     FSY_EINVAL);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "not a [child]"));
    fsy_identity_wipe(&gao_id);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
    fsy_store_close(&kidal);
}
END_TEST

/* Signed bundles: a trusted signer imports; a re-sealed (tampered) bundle
 * fails its signature; an unknown signer and an unsigned bundle are
 * refused where signatures are required. Nothing changes on refusal. */
START_TEST(test_codec_signed_bundles_are_checked_against_trusted_keys)
{
    ck_ok(fsy_keygen(tu_path("gao"), false, NULL));
    ck_ok(fsy_keygen(tu_path("stranger"), false, NULL));
    fsy_identity_t gao_id, stranger;
    ck_ok(fsy_identity_load(tu_path("gao.key"), &gao_id));
    ck_ok(fsy_identity_load(tu_path("stranger.key"), &stranger));
    fsy_store_t *gao = s_gao_with_history(), *hq = tu_replica("kidal");
    const char *good = tu_path("signed.bundle"), *odd = tu_path("odd.bundle"),
               *plain = tu_path("plain.bundle");
    ck_ok(fsy_bundle_export_signed(gao, NULL, good, &gao_id, NULL));
    ck_ok(fsy_bundle_export_signed(gao, NULL, odd, &stranger, NULL));
    ck_ok(fsy_bundle_export(gao, NULL, plain, NULL));
    fsy_bundle_signer_t keys[1] = {{.auth.role = FSY_ROLE_NAMED}};
    memcpy(keys[0].key, gao_id.sign_pk, 32);
    fsy_bundle_trust_t trust = {.signers = keys, .n = 1};
    char before[65], after[65];
    tu_digest(hq, before);
    ck_assert_int_eq(fsy_bundle_import_trusted(hq, odd, &trust, NULL),
                     FSY_EINVAL);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "does not know"));
    ck_assert_int_eq(fsy_bundle_import_trusted(hq, plain, &trust, NULL),
                     FSY_EINVAL);
    ck_assert_ptr_nonnull(strstr(fsy_errdetail(), "not signed"));
    /* Tampered: a payload byte changed and the hash recomputed, so only
     * the signature can tell. */
    size_t len;
    uint8_t *buf = s_slurp(good, &len);
    buf[HEADER_LEN + 5] ^= 0x01;
    crypto_generichash(buf + len - 128, 32, buf, len - 128, NULL, 0);
    s_spit(tu_path("tampered.bundle"), buf, len);
    free(buf);
    ck_assert_int_ne(
        fsy_bundle_import_trusted(hq, tu_path("tampered.bundle"), &trust, NULL),
        FSY_OK);
    tu_digest(hq, after);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(tu_changes(hq), 0);
    fsy_bundle_t *b = NULL;
    ck_ok(fsy_bundle_read(good, &b));
    ck_assert(b->is_signed);
    ck_assert_mem_eq(b->signer, gao_id.sign_pk, 32);
    fsy_bundle_free(&b);
    ck_ok(fsy_bundle_import_trusted(hq, good, &trust, NULL));
    char g[65], h[65];
    tu_digest(gao, g);
    tu_digest(hq, h);
    ck_assert_str_eq(g, h);
    fsy_identity_wipe(&gao_id);
    fsy_identity_wipe(&stranger);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
}
END_TEST

/* Export and import stream batch by batch: a bundle of many batches
 * arrives whole, and the receiver ends with the sender's state. */
START_TEST(test_codec_bundle_of_many_batches_round_trips)
{
    fsy_store_t *gao = tu_replica("gao"), *hq = tu_replica("hq");
    ck_ok(fsy_store_begin(gao));
    for (int i = 0; i < 700; i++) {
        char id[32];
        snprintf(id, sizeof id, "sitrep-%04d", i);
        fsy_field_set_t sets[] = {
            {"title", (const uint8_t *)id, strlen(id), false},
            {"status", (const uint8_t *)"final", 5, false},
            {"body", (const uint8_t *)"No incident", 11, false}};
        ck_ok(fsy_store_put(gao, "MLI", id, "analysis", sets, 3));
    }
    ck_ok(fsy_store_commit(gao));
    size_t n = 0;
    ck_ok(fsy_bundle_export(gao, NULL, tu_path("big.bundle"), &n));
    ck_assert_uint_eq(n, 2800); /* _kind + 3 fields, 700 times */
    fsy_apply_stats_t st;
    ck_ok(fsy_bundle_import(hq, tu_path("big.bundle"), &st));
    ck_assert_uint_eq(st.applied, 2800);
    char a[65], b[65];
    tu_digest(gao, a);
    tu_digest(hq, b);
    ck_assert_str_eq(a, b);
    ck_ok(fsy_bundle_import(hq, tu_path("big.bundle"), &st));
    ck_assert_uint_eq(st.duplicates, 2800);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
}
END_TEST

/* A bundle whose bytes were flipped anywhere changes nothing on import. */
START_TEST(test_codec_importing_a_damaged_bundle_changes_nothing)
{
    fsy_store_t *gao = s_gao_with_history();
    fsy_store_t *juba = tu_replica("juba");
    tu_put(juba, "SSD", "protection-brief", "analysis", "body", "Bentiu");
    const char *good = tu_path("gao.bundle");
    ck_ok(fsy_bundle_export(gao, NULL, good, NULL));
    size_t len;
    uint8_t *buf = s_slurp(good, &len);
    char before[65], after[65];
    tu_digest(juba, before);
    uint64_t changes = tu_changes(juba);
    const char *bad = tu_path("bad.bundle");
    for (size_t pos = 0; pos < len; pos++) {
        buf[pos] ^= 0x10;
        s_spit(bad, buf, len);
        buf[pos] ^= 0x10;
        ck_assert_msg(fsy_bundle_import(juba, bad, NULL) != FSY_OK,
                      "byte %zu flipped: imported", pos);
    }
    tu_digest(juba, after);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(tu_changes(juba), changes);
    /* The untouched bundle does change the replica: the test can fail. */
    ck_ok(fsy_bundle_import(juba, good, NULL));
    tu_digest(juba, after);
    ck_assert_str_ne(before, after);
    free(buf);
    fsy_store_close(&gao);
    fsy_store_close(&juba);
}
END_TEST

/* A re-packed bundle with a valid envelope but one altered change: the
 * per-change checksum refuses it, and the import is all or nothing. */
START_TEST(
    test_codec_importing_a_repacked_bundle_with_an_altered_change_changes_nothing)
{
    fsy_store_t *gao = s_gao_with_history();
    fsy_store_t *juba = tu_replica("juba");
    tu_put(juba, "SSD", "protection-brief", "analysis", "body", "Bentiu");
    ck_ok(fsy_bundle_export(gao, NULL, tu_path("gao.bundle"), NULL));
    fsy_bundle_t *b = NULL;
    ck_ok(fsy_bundle_read(tu_path("gao.bundle"), &b));
    ck_assert_uint_eq(b->changes.n, 5);
    /* Control: the re-packing itself yields an importable bundle. */
    s_repack(b, tu_path("same.bundle"));
    fsy_bundle_t *check = NULL;
    ck_ok(fsy_bundle_read(tu_path("same.bundle"), &check));
    fsy_bundle_free(&check);

    fsy_change_t *last = &b->changes.v[b->changes.n - 1];
    ck_assert_str_eq(last->field, "status");
    ck_assert_uint_eq(last->value_len, 5);
    last->value[0] = 'D'; /* "draft" -> "Draft", checksum unchanged */
    s_repack(b, tu_path("altered.bundle"));
    fsy_bundle_free(&b);

    char before[65], after[65];
    tu_digest(juba, before);
    uint64_t changes = tu_changes(juba);
    ck_assert_int_eq(fsy_bundle_read(tu_path("altered.bundle"), &b),
                     FSY_ECORRUPT);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(fsy_bundle_import(juba, tu_path("altered.bundle"), NULL),
                     FSY_ECORRUPT);
    tu_digest(juba, after);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(tu_changes(juba), changes);
    ck_assert_ptr_null(tu_get(juba, "MLI", "isf-mli-2027", "title"));

    ck_ok(fsy_bundle_import(juba, tu_path("same.bundle"), NULL));
    ck_assert_uint_eq(tu_changes(juba), changes + 5);
    ck_assert_str_eq(tu_get(juba, "MLI", "isf-mli-2027", "status"), "draft");
    fsy_store_close(&gao);
    fsy_store_close(&juba);
}
END_TEST

/* The checksum is part of every change's identity, stored and relayed
 * forever: its canonical encoding must never change by accident. */
START_TEST(test_codec_checksum_of_a_known_change_is_stable)
{
    fsy_version_t base = {
        .hlc = UINT64_C(0x0001900000000005), .origin = {"hq", 7}, .seq = 2};
    fsy_change_t c = {0};
    c.version.hlc = UINT64_C(0x0001900000000009);
    snprintf(c.version.origin.site, sizeof c.version.origin.site, "gao");
    c.version.origin.incarnation = UINT64_C(0x1122334455667788);
    c.version.seq = 3;
    snprintf(c.scope, sizeof c.scope, "MLI");
    snprintf(c.doc, sizeof c.doc, "isf-mli-2027");
    snprintf(c.field, sizeof c.field, "status");
    c.value = (uint8_t *)"endorsed";
    c.value_len = 8;
    c.bases = &base;
    c.n_bases = 1;
    c.txn_end = true;
    uint8_t sum[FSY_CHECKSUM_LEN];
    char hex[2 * FSY_CHECKSUM_LEN + 1];
    fsy_change_checksum(&c, sum);
    for (int i = 0; i < FSY_CHECKSUM_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", sum[i]);
    ck_assert_str_eq(hex, "633af29bb3bd8bf87dddc1e5835d7e6a");
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *su = suite_create("codec");
    TCase *tc = tcase_create("codec");
    tcase_add_checked_fixture(tc, NULL, tu_cleanup);
    tcase_add_test(tc, test_codec_checksum_of_a_known_change_is_stable);
    tcase_add_test(tc, test_codec_batch_round_trip_preserves_every_field);
    tcase_add_loop_test(
        tc, test_codec_format2_leaves_out_what_is_known_and_hash_checks_all, 0,
        (int)(sizeof s_format2_rows / sizeof s_format2_rows[0]));
    tcase_add_test(
        tc, test_codec_format2_costs_a_few_bytes_per_change_beyond_values);
    tcase_add_test(tc, test_codec_stream_frames_use_history_and_must_follow);
    tcase_add_test(tc, test_codec_stream_level_follows_measured_speed);
    tcase_add_test(tc, test_codec_stream_level_keeps_ahead_of_the_receiver);
    tcase_add_test(tc, test_codec_stream_memory_is_bounded_for_many_children);
    tcase_add_test(tc, test_codec_stream_window_over_the_offer_does_not_decode);
    tcase_add_test(tc,
                   test_codec_delta_sends_what_changed_and_rebuilds_exactly);
    tcase_add_test(tc,
                   test_codec_deferred_deltas_are_rebuilt_and_checked_later);
    tcase_add_test(
        tc, test_codec_deferred_change_with_a_clock_out_of_range_is_refused);
    tcase_add_test(tc, test_codec_empty_batch_round_trips);
    tcase_add_test(tc, test_codec_value_of_exactly_value_max_round_trips);
    tcase_add_loop_test(tc, test_codec_garbage_is_not_a_batch, 0,
                        (int)(sizeof s_garbage / sizeof s_garbage[0]));
    tcase_add_loop_test(
        tc, test_codec_invalid_batch_is_refused_and_leaves_output_empty, 0,
        (int)(sizeof s_bad_batches / sizeof s_bad_batches[0]));
    tcase_add_test(
        tc, test_codec_truncated_batch_fails_or_yields_whole_leading_changes);
    tcase_add_test(tc,
                   test_codec_truncated_batch_never_decodes_half_a_transaction);
    tcase_add_loop_test(
        tc, test_codec_change_validate_follows_table, 0,
        (int)(sizeof s_validate_rows / sizeof s_validate_rows[0]));
    tcase_add_test(tc, test_codec_bundle_export_read_back_matches_replica);
    tcase_add_test(tc, test_codec_bundle_carries_an_edit_as_a_delta);
    tcase_add_test(
        tc, test_codec_bundle_against_a_vector_holds_only_what_is_lacking);
    tcase_add_test(tc, test_codec_bundle_parses_untouched_bytes);
    tcase_add_test(tc, test_codec_bundle_any_flipped_byte_fails_parse);
    tcase_add_test(tc, test_codec_bundle_any_truncation_or_padding_fails_parse);
    tcase_add_test(tc, test_codec_file_that_is_not_a_bundle_is_eformat);
    tcase_add_test(tc, test_codec_bundle_with_newer_magic_version_is_eversion);
    tcase_add_test(tc, test_codec_bundle_with_newer_payload_format_is_eversion);
    tcase_add_test(tc,
                   test_codec_bundle_claiming_more_than_it_holds_is_refused);
    tcase_add_test(tc, test_codec_bundle_of_highly_compressible_values_imports);
    tcase_add_test(tc, test_codec_bundle_of_many_batches_round_trips);
    tcase_add_test(tc,
                   test_codec_signed_bundles_are_checked_against_trusted_keys);
    tcase_add_test(tc,
                   test_codec_bundle_carries_only_what_its_signer_may_write);
    tcase_add_test(tc, test_codec_decode_budget_fits_real_batches_not_bombs);
    tcase_add_test(tc, test_codec_frame_bombs_cost_milliseconds);
    tcase_add_test(tc, test_codec_bundle_bombs_cost_milliseconds);
    tcase_add_test(tc, test_codec_importing_a_damaged_bundle_changes_nothing);
    tcase_add_test(
        tc,
        test_codec_importing_a_repacked_bundle_with_an_altered_change_changes_nothing);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    return tu_run(s_suite());
}
