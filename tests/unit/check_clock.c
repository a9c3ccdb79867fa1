/*
 * fieldsync — clock suite: the hybrid logical clock (lib/clock.h) as pure
 * functions, then the store's persisted clock across close and reopen.
 *
 * An hlc is 48 bits of wall-clock ms over a 16-bit counter. The properties
 * that matter: a local tick is strictly monotonic whatever the wall clock
 * does; a received value moves the clock up but never further than
 * max_skew past wall time (to the end of that ms); nothing ever wraps.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fieldsync/wallclock.h"
#include "testutil.h"

/* Expected values are spelled out independently of the code under test. */
#define MS(x) ((uint64_t)(x) << FSY_HLC_COUNTER_BITS)
#define COUNTER_MASK ((UINT64_C(1) << FSY_HLC_COUNTER_BITS) - 1)
/* The last hlc value of millisecond x. */
#define END_OF_MS(x) (MS(x) | COUNTER_MASK)

static const uint64_t s_now = UINT64_C(1790000000000); /* a ms timestamp */

/* ---- encoding --------------------------------------------------------- */

START_TEST(test_clock_hlc_ms_round_trips_and_clamps_to_48_bits)
{
    static const struct {
        uint64_t ms;
        uint64_t want_ms; /* after clamping */
    } rows[] = {
        {0, 0},
        {1, 1},
        {1000, 1000},
        {UINT64_C(1790000000000), UINT64_C(1790000000000)},
        {FSY_HLC_MS_MAX - 1, FSY_HLC_MS_MAX - 1},
        {FSY_HLC_MS_MAX, FSY_HLC_MS_MAX},
        {FSY_HLC_MS_MAX + 1, FSY_HLC_MS_MAX},
        {UINT64_C(1) << 60, FSY_HLC_MS_MAX},
        {UINT64_MAX, FSY_HLC_MS_MAX},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t h = fsy_hlc_from_ms(rows[i].ms);
        ck_assert_msg((h & COUNTER_MASK) == 0,
                      "row %zu: counter of from_ms(%" PRIu64 ") is not 0", i,
                      rows[i].ms);
        ck_assert_msg(fsy_hlc_ms(h) == rows[i].want_ms,
                      "row %zu: ms(from_ms(%" PRIu64 ")) = %" PRIu64
                      ", want %" PRIu64,
                      i, rows[i].ms, fsy_hlc_ms(h), rows[i].want_ms);
        /* The counter never leaks into the milliseconds. */
        ck_assert_uint_eq(fsy_hlc_ms(h | COUNTER_MASK), rows[i].want_ms);
        ck_assert_uint_eq(fsy_hlc_ms(h | 1), rows[i].want_ms);
    }
    ck_assert_uint_eq(fsy_hlc_from_ms(1), UINT64_C(1) << FSY_HLC_COUNTER_BITS);
    ck_assert_uint_eq(END_OF_MS(FSY_HLC_MS_MAX), UINT64_MAX);
}
END_TEST

/* ---- tick ------------------------------------------------------------- */

START_TEST(test_clock_tick_follows_table)
{
    static const struct {
        const char *what;
        uint64_t last;
        uint64_t now_ms;
        uint64_t want;
    } rows[] = {
        {"fresh clock takes wall time", 0, 1000, MS(1000)},
        {"wall ahead: jump to it", MS(1000) + 5, 2000, MS(2000)},
        {"wall one ms ahead of a busy counter", MS(1000) + 700, 1001, MS(1001)},
        {"wall stands still", MS(1000), 1000, MS(1000) + 1},
        {"wall stands still, counter used", MS(1000) + 41, 1000, MS(1000) + 42},
        {"wall goes backwards", MS(5000) + 3, 1000, MS(5000) + 4},
        {"wall goes back to 0", MS(5000), 0, MS(5000) + 1},
        {"counter overflow carries into ms", END_OF_MS(1000), 1000, MS(1001)},
        {"counter overflow with wall behind", END_OF_MS(9000), 10, MS(9001)},
        {"wall beyond 48 bits is clamped", 0, UINT64_MAX, MS(FSY_HLC_MS_MAX)},
        {"clamped wall stands still", MS(FSY_HLC_MS_MAX), UINT64_MAX,
         MS(FSY_HLC_MS_MAX) + 1},
        {"one below the top", UINT64_MAX - 1, 0, UINT64_MAX},
        {"saturates at UINT64_MAX", UINT64_MAX, 0, UINT64_MAX},
        {"saturates even with wall at the top", UINT64_MAX, UINT64_MAX,
         UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t got = fsy_clock_tick(rows[i].last, rows[i].now_ms);
        ck_assert_msg(got == rows[i].want,
                      "%s: tick(%#" PRIx64 ", %" PRIu64 ") = %#" PRIx64
                      ", want %#" PRIx64,
                      rows[i].what, rows[i].last, rows[i].now_ms, got,
                      rows[i].want);
    }
}
END_TEST

/* A wall clock that jumps forward, stands still and runs backwards (NTP
 * steps, a field laptop's dead CMOS battery): ticks stay strictly
 * increasing and never fall behind wall time. */
START_TEST(test_clock_tick_is_strictly_monotonic_whatever_the_wall_does)
{
    static const int64_t steps[] = {0, 0, 1,  0,       -5, 0, 100, -3600000, 0,
                                    1, 2, -1, 7200000, 0,  0, -1,  3};
    uint64_t wall = s_now, last = 0;
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            wall = (uint64_t)((int64_t)wall + steps[i]);
            uint64_t next = fsy_clock_tick(last, wall);
            ck_assert_msg(next > last,
                          "tick not increasing at round %d step %zu", round, i);
            ck_assert_msg(next >= fsy_hlc_from_ms(wall),
                          "tick behind wall time at round %d step %zu", round,
                          i);
            last = next;
        }
    }
}
END_TEST

/* 65,536 ticks fill one millisecond's counter; the next carries into the
 * milliseconds, still strictly increasing, while wall time stands still. */
START_TEST(test_clock_tick_counter_overflow_carries_into_ms)
{
    uint64_t last = 0;
    const uint64_t per_ms = UINT64_C(1) << FSY_HLC_COUNTER_BITS;
    for (uint64_t i = 0; i < 3 * per_ms + 10; i++) {
        uint64_t next = fsy_clock_tick(last, s_now);
        ck_assert_msg(next > last, "tick %" PRIu64 " not increasing", i);
        ck_assert_msg(next == fsy_hlc_from_ms(s_now) + i,
                      "tick %" PRIu64 " = %#" PRIx64, i, next);
        last = next;
        if (i == per_ms - 1)
            ck_assert_uint_eq(last, END_OF_MS(s_now));
        if (i == per_ms) {
            ck_assert_uint_eq(fsy_hlc_ms(last), s_now + 1);
            ck_assert_uint_eq(last & COUNTER_MASK, 0);
        }
    }
    ck_assert_uint_eq(fsy_hlc_ms(last), s_now + 3);
    ck_assert_uint_eq(last & COUNTER_MASK, 9);
    /* Wall time catching up with the borrowed ms changes nothing... */
    ck_assert_uint_eq(fsy_clock_tick(last, s_now + 3), last + 1);
    /* ...and overtaking it resets the counter. */
    ck_assert_uint_eq(fsy_clock_tick(last, s_now + 4), MS(s_now + 4));
}
END_TEST

/* ---- receive ---------------------------------------------------------- */

START_TEST(test_clock_receive_follows_table)
{
    const uint64_t now = s_now, skew = 60000;
    const struct {
        const char *what;
        uint64_t last, remote, now_ms, max_skew;
        uint64_t want;
    } rows[] = {
        {"remote behind: unchanged", MS(now) + 9, MS(now - 500), now, skew,
         MS(now) + 9},
        {"remote equal: unchanged", MS(now) + 9, MS(now) + 9, now, skew,
         MS(now) + 9},
        {"remote slightly ahead: taken", MS(now), MS(now) + 3, now, skew,
         MS(now) + 3},
        {"remote ahead within skew: taken", MS(now), MS(now + 1500) + 7, now,
         skew, MS(now + 1500) + 7},
        {"remote at the end of the limit ms: taken", MS(now),
         END_OF_MS(now + skew), now, skew, END_OF_MS(now + skew)},
        {"remote one past the limit: capped", MS(now), MS(now + skew + 1), now,
         skew, END_OF_MS(now + skew)},
        {"remote hours ahead: capped", MS(now), MS(now + 3 * 3600000), now,
         skew, END_OF_MS(now + skew)},
        {"remote at the top: capped", 0, UINT64_MAX, now, skew,
         END_OF_MS(now + skew)},
        {"no skew allowed: up to the end of now", MS(now), MS(now + 1), now, 0,
         END_OF_MS(now)},
        {"no skew allowed, remote within now", MS(now), MS(now) + 77, now, 0,
         MS(now) + 77},
        {"last already beyond the limit: never backwards", MS(now + 10 * skew),
         MS(now + 20 * skew), now, skew, MS(now + 10 * skew)},
        {"wall went back: never backwards", MS(now) + 5, MS(now) + 4,
         now - 100000, skew, MS(now) + 5},
        {"skew overflowing 64 bits clamps to the top", 0, UINT64_MAX, now,
         UINT64_MAX, UINT64_MAX},
        {"now beyond 48 bits clamps to the top", 0, UINT64_MAX, UINT64_MAX, 0,
         UINT64_MAX},
        {"saturated clock stays", UINT64_MAX, MS(now), now, skew, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t got = fsy_clock_receive(rows[i].last, rows[i].remote,
                                         rows[i].now_ms, rows[i].max_skew);
        ck_assert_msg(got == rows[i].want,
                      "%s: receive(%#" PRIx64 ", %#" PRIx64 ", %" PRIu64
                      ", %" PRIu64 ") = %#" PRIx64 ", want %#" PRIx64,
                      rows[i].what, rows[i].last, rows[i].remote,
                      rows[i].now_ms, rows[i].max_skew, got, rows[i].want);
    }
}
END_TEST

/* A sweep of remote values around the limit: the result is always
 * max(last, min(remote, limit)). */
START_TEST(test_clock_receive_never_passes_skew_limit_nor_goes_back)
{
    const uint64_t skew = 1000;
    const uint64_t limit = END_OF_MS(s_now + skew);
    const uint64_t lasts[] = {
        0,     MS(s_now - 5), MS(s_now) + 17,      MS(s_now + skew) + 3,
        limit, limit + 1,     MS(s_now + 5 * skew)};
    for (size_t k = 0; k < sizeof lasts / sizeof lasts[0]; k++) {
        uint64_t last = lasts[k];
        for (int64_t d = -3000; d <= 3000; d += 7) {
            uint64_t remote = (uint64_t)((int64_t)MS(s_now + skew) + d * 97);
            uint64_t got = fsy_clock_receive(last, remote, s_now, skew);
            uint64_t capped = remote < limit ? remote : limit;
            uint64_t want = capped > last ? capped : last;
            ck_assert_msg(got == want,
                          "last %#" PRIx64 " remote %#" PRIx64 ": got %#" PRIx64
                          " want %#" PRIx64,
                          last, remote, got, want);
            ck_assert(got >= last);
            ck_assert(got <= limit || got == last);
        }
    }
}
END_TEST

/* After a capped receive, the next local tick is still greater than the
 * clock (and so greater than anything minted before). */
START_TEST(test_clock_tick_after_receive_stays_above_received_value)
{
    uint64_t clock = fsy_clock_tick(0, s_now);
    uint64_t remote = MS(s_now + 30000) + 12;
    clock = fsy_clock_receive(clock, remote, s_now, 60000);
    ck_assert_uint_eq(clock, remote);
    uint64_t next = fsy_clock_tick(clock, s_now);
    ck_assert_uint_gt(next, remote);
    ck_assert_uint_eq(next, remote + 1);
    /* Capped at the end of the limit ms: the next tick carries. */
    clock = fsy_clock_receive(next, UINT64_MAX, s_now, 60000);
    ck_assert_uint_eq(clock, END_OF_MS(s_now + 60000));
    ck_assert_uint_eq(fsy_clock_tick(clock, s_now), MS(s_now + 60001));
}
END_TEST

START_TEST(test_clock_ahead_ms_reports_only_positive_offsets)
{
    static const struct {
        uint64_t remote, now_ms, want;
    } rows[] = {
        {0, 1000, 0},
        {(UINT64_C(1000) << 16), 1000, 0},
        {(UINT64_C(1000) << 16) | 0xffff, 1000, 0},
        {(UINT64_C(1001) << 16), 1000, 1},
        {(UINT64_C(10801000) << 16) | 5, 1000, 10800000},
        {UINT64_MAX, 0, FSY_HLC_MS_MAX},
        {(UINT64_C(5) << 16), UINT64_MAX, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ck_assert_msg(fsy_clock_ahead_ms(rows[i].remote, rows[i].now_ms) ==
                          rows[i].want,
                      "row %zu: got %" PRIu64, i,
                      fsy_clock_ahead_ms(rows[i].remote, rows[i].now_ms));
}
END_TEST

/* ---- persistence ------------------------------------------------------ */

static uint64_t
s_fixed_wall(void *ctx)
{
    return *(const uint64_t *)ctx;
}

typedef struct s_hlcs {
    uint64_t hlc[16];
    uint64_t seq[16];
    size_t n;
} s_hlcs_t;

static int
s_collect_hlc(const fsy_change_t *c, void *ctx)
{
    s_hlcs_t *h = ctx;
    if (h->n == sizeof h->hlc / sizeof h->hlc[0])
        return 1;
    h->hlc[h->n] = c->version.hlc;
    h->seq[h->n] = c->version.seq;
    h->n++;
    return 0;
}

/* With the wall clock frozen, only the persisted clock can keep the hlc of
 * a write after reopening above those minted before: a fresh clock would
 * mint from_ms(wall) again, the value of the very first change. */
/* Times people type (--since, --until, /api/docs): exact forms only. */
static const struct {
    const char *text;
    bool end;
    int want;    /* FSY_OK or FSY_EINVAL */
    uint64_t ms; /* when FSY_OK */
} s_when_rows[] = {
    {"2026-11-01", false, FSY_OK, 1793491200000ull},
    {"2026-11-01", true, FSY_OK, 1793491200000ull + 86400000ull},
    {"2026-11-01T08:30", false, FSY_OK, 1793491200000ull + 30600000ull},
    {"2026-11-01T08:30:15Z", true, FSY_OK, 1793491200000ull + 30615000ull},
    {"30d", false, FSY_OK, 1800000000000ull - 30ull * 86400000ull},
    {"12h", false, FSY_OK, 1800000000000ull - 12ull * 3600000ull},
    {"2w", false, FSY_OK, 1800000000000ull - 14ull * 86400000ull},
    {"2026-02-31", false, FSY_EINVAL, 0},
    {"2026-1-01", false, FSY_EINVAL, 0},
    {"2026-11-01T-1:-5", false, FSY_EINVAL, 0},
    {" 2026-11-01", false, FSY_EINVAL, 0},
    {"2026-11-01T08:30:00+02", false, FSY_EINVAL, 0},
    {"2026-11-01T24:00", false, FSY_EINVAL, 0},
    {"1969-12-31", false, FSY_EINVAL, 0},
    {"30x", false, FSY_EINVAL, 0},
    {"yesterday", false, FSY_EINVAL, 0},
    {"99999999999d", false, FSY_EINVAL, 0},
};

START_TEST(test_clock_typed_times_follow_table)
{
    uint64_t ms = 0;
    int rc = fsy_parse_when(s_when_rows[_i].text, 1800000000000ull,
                            s_when_rows[_i].end, &ms);
    ck_assert_msg(rc == s_when_rows[_i].want, "%s: %s (%s)",
                  s_when_rows[_i].text, fsy_strerror(rc), fsy_errdetail());
    if (rc == FSY_OK)
        ck_assert_msg(ms == s_when_rows[_i].ms, "%s: %" PRIu64,
                      s_when_rows[_i].text, ms);
}
END_TEST

START_TEST(test_clock_store_clock_survives_close_and_reopen)
{
    uint64_t wall = s_now;
    fsy_store_t *s = tu_replica("gao");
    fsy_store_set_wallclock(s, s_fixed_wall, &wall);
    tu_put(s, "MLI", "isf-mli-2027", "plan", "title", "ISF Mali 2027");
    tu_put(s, "MLI", "isf-mli-2027", NULL, "status", "draft");
    fsy_store_counts_t before;
    ck_ok(fsy_store_counts(s, &before));
    fsy_store_close(&s);

    ck_ok(fsy_store_open(&s, tu_path("gao.db")));
    fsy_store_set_wallclock(s, s_fixed_wall, &wall);
    fsy_store_counts_t reopened;
    ck_ok(fsy_store_counts(s, &reopened));
    ck_assert_uint_eq(reopened.clock, before.clock);
    tu_put(s, "MLI", "isf-mli-2027", NULL, "status", "under review");

    s_hlcs_t h = {0};
    ck_ok(fsy_store_history(s, "MLI", "isf-mli-2027", s_collect_hlc, &h));
    ck_assert_uint_eq(h.n, 4); /* _kind, title, status, status */
    size_t newest = 0;
    for (size_t i = 1; i < h.n; i++)
        if (h.seq[i] > h.seq[newest])
            newest = i;
    ck_assert_uint_eq(h.seq[newest], 4);
    for (size_t i = 0; i < h.n; i++) {
        /* Every value was minted in the frozen millisecond... */
        ck_assert_uint_eq(fsy_hlc_ms(h.hlc[i]), s_now);
        if (i != newest)
            ck_assert_msg(h.hlc[newest] > h.hlc[i],
                          "hlc %#" PRIx64 " after reopen is not above "
                          "%#" PRIx64 " (seq %" PRIu64 ")",
                          h.hlc[newest], h.hlc[i], h.seq[i]);
    }
    /* ...so they are the counter values 0, 1, 2, 3 in that ms. */
    ck_assert_uint_eq(h.hlc[newest], fsy_hlc_from_ms(s_now) + 3);
    fsy_store_counts_t after;
    ck_ok(fsy_store_counts(s, &after));
    ck_assert_uint_eq(after.clock, h.hlc[newest]);
    fsy_store_close(&s);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *su = suite_create("clock");
    TCase *tc = tcase_create("clock");
    tcase_add_checked_fixture(tc, NULL, tu_cleanup);
    tcase_add_test(tc, test_clock_hlc_ms_round_trips_and_clamps_to_48_bits);
    tcase_add_loop_test(tc, test_clock_typed_times_follow_table, 0,
                        (int)(sizeof s_when_rows / sizeof s_when_rows[0]));
    tcase_add_test(tc, test_clock_tick_follows_table);
    tcase_add_test(
        tc, test_clock_tick_is_strictly_monotonic_whatever_the_wall_does);
    tcase_add_test(tc, test_clock_tick_counter_overflow_carries_into_ms);
    tcase_add_test(tc, test_clock_receive_follows_table);
    tcase_add_test(tc,
                   test_clock_receive_never_passes_skew_limit_nor_goes_back);
    tcase_add_test(tc,
                   test_clock_tick_after_receive_stays_above_received_value);
    tcase_add_test(tc, test_clock_ahead_ms_reports_only_positive_offsets);
    tcase_add_test(tc, test_clock_store_clock_survives_close_and_reopen);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    return tu_run(s_suite());
}
