/* fieldsync tests — the daemon's whole-replica check on its thread
 * (daemon/verify.c): it finds the replica sound, and steps aside while the
 * sessions move data. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fieldsync/wallclock.h"
#include "testutil.h"
#include "verify.h"

/* More than one of the check's steps (4,000 changes). */
#define N_DOCS 9000

static void
s_nap_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

/* The changes in the replica s_replica made. */
static uint64_t s_n_changes;

/* A replica of N_DOCS one-field documents, closed; its path. */
static const char *
s_replica(void)
{
    fsy_store_t *s = tu_replica("gao");
    ck_ok(fsy_store_begin(s));
    char id[32];
    for (int i = 0; i < N_DOCS; i++) {
        snprintf(id, sizeof id, "jmac-gao-%05d", i);
        tu_put(s, "MLI", id, "analysis", "title", "Weekly analysis, Gao");
    }
    ck_ok(fsy_store_commit(s));
    s_n_changes = tu_changes(s);
    ck_assert_uint_ge(s_n_changes, N_DOCS);
    fsy_store_close(&s);
    return tu_path("gao.db");
}

/* Polls until the check is over (10 s at most); its state. */
static fsy_verify_state_t
s_finish(fsy_verifier_t *v, uint64_t *through)
{
    char why[256];
    fsy_verify_state_t st = FSY_VERIFY_RUNNING;
    for (int i = 0; i < 1000 && st == FSY_VERIFY_RUNNING; i++) {
        st = fsy_verifier_poll(v, through, why, sizeof why);
        if (st == FSY_VERIFY_RUNNING)
            s_nap_ms(10);
    }
    return st;
}

/* The check is still running, at most `most` changes in. */
static void
s_still_behind(fsy_verifier_t *v, uint64_t most)
{
    char why[256];
    uint64_t through = most + 1;
    ck_assert_int_eq(fsy_verifier_poll(v, &through, why, sizeof why),
                     FSY_VERIFY_RUNNING);
    ck_assert_uint_le(through, most);
}

/* The check ends finding every change sound; stops it. */
static void
s_ends_sound(fsy_verifier_t **v)
{
    uint64_t through = 0;
    ck_assert_int_eq(s_finish(*v, &through), FSY_VERIFY_SOUND);
    ck_assert_uint_eq(through, s_n_changes);
    fsy_verifier_stop(v);
    ck_assert_ptr_null(*v);
    tu_cleanup();
}

START_TEST(test_quiet_replica_checked_whole)
{
    fsy_verifier_t *v = NULL;
    ck_ok(fsy_verifier_start(&v, s_replica(), 300, 0));
    s_ends_sound(&v);
}
END_TEST

/* Data moving every 20 ms for a second, against two seconds of quiet:
 * the check stays behind (a step may have begun before the first
 * signal); once it stops, the check goes on and finds everything sound. */
START_TEST(test_steps_aside_while_data_moves)
{
    const char *db = s_replica();
    fsy_verifier_t *v = NULL;
    fsy_verifier_traffic(v); /* NULL is fine */
    ck_ok(fsy_verifier_start(&v, db, 2000, 0));
    fsy_verifier_traffic(v);
    for (int i = 0; i < 50; i++) {
        fsy_verifier_traffic(v);
        s_nap_ms(20);
    }
    s_still_behind(v, 4000);
    s_ends_sound(&v);
}
END_TEST

/* Nothing is checked within the grace, though nothing moves; then the
 * check runs whole. */
START_TEST(test_start_waits_for_the_grace)
{
    fsy_verifier_t *v = NULL;
    ck_ok(fsy_verifier_start(&v, s_replica(), 50, 3000));
    s_nap_ms(300);
    s_still_behind(v, 0);
    s_ends_sound(&v);
}
END_TEST

/* A stop while the check waits for a minute of quiet ends the wait at
 * once. */
START_TEST(test_stop_while_waiting)
{
    const char *db = s_replica();
    fsy_verifier_t *v = NULL;
    ck_ok(fsy_verifier_start(&v, db, 60000, 0));
    fsy_verifier_traffic(v);
    s_nap_ms(200);
    fsy_verifier_traffic(v);
    uint64_t t0 = fsy_mono_us();
    fsy_verifier_stop(&v);
    uint64_t ms = (fsy_mono_us() - t0) / 1000;
    ck_assert_ptr_null(v);
    ck_assert_uint_lt(ms, 5000);
    tu_cleanup();
}
END_TEST

int
main(void)
{
    Suite *su = suite_create("verify");
    TCase *tc = tcase_create("verifier");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_quiet_replica_checked_whole);
    tcase_add_test(tc, test_steps_aside_while_data_moves);
    tcase_add_test(tc, test_start_waits_for_the_grace);
    tcase_add_test(tc, test_stop_while_waiting);
    suite_add_tcase(su, tc);
    return tu_run(su);
}
