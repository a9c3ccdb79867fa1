/* fieldsync — the whole replica checked on a thread. See verify.h. */
#include "verify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fieldsync/error.h"
#include "fieldsync/store.h"
#include "fieldsync/wallclock.h"

struct fsy_verifier {
    char *db;
    pthread_t thread;
    pthread_mutex_t lock; /* store, as fsy_verifier_stop interrupts it */
    fsy_store_t *store;
    _Atomic bool stopping;
    _Atomic int state;         /* fsy_verify_state_t, set last by the thread */
    _Atomic uint64_t progress; /* every change up to here is sound */
    _Atomic uint64_t traffic_ms; /* monotonic: data last moved */
    uint64_t quiet_ms;           /* how long nothing moves before a step */
    uint64_t start_ms;           /* monotonic: no step before this */
    uint64_t waited_ms;          /* given to traffic so far */
    char why[256];
};

/* Changes checked per step (~20 ms): a step's result is published, so a
 * daemon stopped half-way still starts next time from where this got to,
 * and the check can step aside between two. */
#define S_STEP 4000
#define S_NAP_MS 50
/* It steps aside (verify.h) at most this long in all a run: a hub its
 * children keep busy still checks within minutes. */
#define S_YIELD_MAX_MS (10 * 60 * 1000)

void
fsy_verifier_traffic(fsy_verifier_t *v)
{
    if (v != NULL)
        atomic_store(&v->traffic_ms, fsy_mono_us() / 1000);
}

static void
s_nap(void)
{
    nanosleep(&(struct timespec){0, S_NAP_MS * 1000 * 1000}, NULL);
}

/* Waits until nothing moved for quiet_ms (or the allowance is spent),
 * after the start's grace: a fixed delay, not given from the allowance, so
 * that a hub busy from its start does not spend it all before a step. */
static void
s_wait_quiet(fsy_verifier_t *v)
{
    while (!atomic_load(&v->stopping) && fsy_mono_us() / 1000 < v->start_ms)
        s_nap();
    while (!atomic_load(&v->stopping) && v->waited_ms < S_YIELD_MAX_MS) {
        uint64_t moved = atomic_load(&v->traffic_ms); /* before the clock */
        if (fsy_mono_us() / 1000 >= moved + v->quiet_ms)
            return;
        s_nap();
        v->waited_ms += S_NAP_MS;
    }
}

/* Every change in steps, then the vector and SQLite's own check. */
static int
s_check(fsy_verifier_t *v, fsy_store_t *s)
{
    fsy_verify_report_t r;
    uint64_t pos = 0, last;
    int rc;
    do {
        s_wait_quiet(v);
        if (atomic_load(&v->stopping))
            return fsy_err_set(FSY_EBUSY, "stopping");
        rc = fsy_store_verify_slice(s, pos, S_STEP, &r, &last);
        if (rc == FSY_OK && last != pos)
            atomic_store(&v->progress, pos = last);
        else if (rc == FSY_OK)
            break;
    } while (rc == FSY_OK);
    if (rc == FSY_OK)
        s_wait_quiet(v);
    if (rc == FSY_OK && !atomic_load(&v->stopping))
        rc = fsy_store_verify_structure(s, &r);
    return rc;
}

static void *
s_run(void *arg)
{
    fsy_verifier_t *v = arg;
    /* At normal priority on purpose. At SCHED_IDLE it left a catch-up the
     * core it took, but on a busy machine it starved while holding locks
     * the loop shares with it (SQLite's, on the same file), and a hub's
     * restart showed a 257 ms turn. */
    fsy_store_t *s = NULL;
    int rc = fsy_store_open(&s, v->db);
    pthread_mutex_lock(&v->lock);
    v->store = s;
    pthread_mutex_unlock(&v->lock);
    if (rc == FSY_OK)
        rc = s_check(v, s);
    snprintf(v->why, sizeof v->why, "%s", rc == FSY_OK ? "" : fsy_errdetail());
    pthread_mutex_lock(&v->lock);
    v->store = NULL;
    pthread_mutex_unlock(&v->lock);
    fsy_store_close(&s);
    atomic_store(&v->state, rc == FSY_OK         ? FSY_VERIFY_SOUND
                            : rc == FSY_ECORRUPT ? FSY_VERIFY_DAMAGED
                                                 : FSY_VERIFY_FAILED);
    return NULL;
}

int
fsy_verifier_start(fsy_verifier_t **out, const char *db, unsigned quiet_ms,
                   unsigned grace_ms)
{
    fsy_verifier_t *v = calloc(1, sizeof *v);
    if (v == NULL || (v->db = strdup(db)) == NULL) {
        free(v);
        return fsy_err_set(FSY_ENOMEM, "out of memory");
    }
    v->quiet_ms = quiet_ms;
    v->start_ms = fsy_mono_us() / 1000 + grace_ms;
    pthread_mutex_init(&v->lock, NULL);
    atomic_store(&v->state, FSY_VERIFY_RUNNING);
    if (pthread_create(&v->thread, NULL, s_run, v) != 0) {
        pthread_mutex_destroy(&v->lock);
        free(v->db);
        free(v);
        return fsy_err_set(FSY_EINTERNAL, "cannot start a thread");
    }
    *out = v;
    return FSY_OK;
}

fsy_verify_state_t
fsy_verifier_poll(fsy_verifier_t *v, uint64_t *through, char *why, size_t len)
{
    fsy_verify_state_t st = (fsy_verify_state_t)atomic_load(&v->state);
    *through = atomic_load(&v->progress);
    if (st != FSY_VERIFY_RUNNING)
        snprintf(why, len, "%s", v->why);
    return st;
}

void
fsy_verifier_stop(fsy_verifier_t **vp)
{
    fsy_verifier_t *v = *vp;
    if (v == NULL)
        return;
    /* An interrupt reaches only a statement running: again until the
     * thread is done (it checks `stopping` between its statements too). */
    atomic_store(&v->stopping, true);
    while (atomic_load(&v->state) == FSY_VERIFY_RUNNING) {
        pthread_mutex_lock(&v->lock);
        if (v->store != NULL)
            fsy_store_interrupt(v->store);
        pthread_mutex_unlock(&v->lock);
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    pthread_join(v->thread, NULL);
    pthread_mutex_destroy(&v->lock);
    free(v->db);
    free(v);
    *vp = NULL;
}
