/*
 * fieldsync — one job at a time on a second thread (worker.h).
 */
#include "worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "fieldsync/error.h"

struct fsy_worker {
    pthread_t thread;
    bool started; /* else jobs run in fsy_worker_submit */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fsy_job_fn fn; /* the job handed over, NULL once taken */
    void *arg;
    bool busy; /* submitted and not waited for */
    bool done; /* the job has returned */
    bool stop;
    int rc;
    char detail[512];
};

/* The job's result, its detail copied while still on its thread. */
static void
s_finish(fsy_worker_t *w, int rc)
{
    w->rc = rc;
    if (rc != FSY_OK)
        snprintf(w->detail, sizeof w->detail, "%s", fsy_errdetail());
}

static void *
s_main(void *arg)
{
    fsy_worker_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->fn == NULL && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->fn == NULL) /* stopping, nothing in hand */
            break;
        fsy_job_fn fn = w->fn;
        void *a = w->arg;
        w->fn = NULL;
        pthread_mutex_unlock(&w->mu);
        int rc = fn(a);
        pthread_mutex_lock(&w->mu);
        s_finish(w, rc);
        w->done = true;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

fsy_worker_t *
fsy_worker_new(void)
{
    fsy_worker_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->started = pthread_create(&w->thread, NULL, s_main, w) == 0;
    return w;
}

void
fsy_worker_submit(fsy_worker_t *w, fsy_job_fn fn, void *arg)
{
    FSY_ASSERT(!w->busy); /* one job at a time: wait first */
    w->busy = true;
    if (!w->started) {
        s_finish(w, fn(arg));
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->fn = fn;
    w->arg = arg;
    w->done = false;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int
fsy_worker_wait(fsy_worker_t *w, int rc_before)
{
    if (!w->busy)
        return rc_before;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        while (!w->done)
            pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
    }
    w->busy = false;
    if (rc_before != FSY_OK || w->rc == FSY_OK)
        return rc_before;
    return fsy_err_set(w->rc, "%s", w->detail);
}

void
fsy_worker_free(fsy_worker_t *w)
{
    if (w == NULL)
        return;
    fsy_worker_wait(w, FSY_EINTERNAL); /* its result is nobody's now */
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
