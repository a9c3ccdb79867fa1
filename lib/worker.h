/*
 * fieldsync — one job at a time on a second thread, so that decoding the
 * next batch (inflating, parsing, checking checksums: a quarter of an
 * apply) overlaps applying the current one on a machine of two cores.
 *
 * A job is a function and its argument; while it runs, whatever it
 * touches belongs to the worker, and the submitter must not touch it
 * until fsy_worker_wait returns. The job runs no SQLite and no logging:
 * the replica stays with the thread that owns it.
 *
 * If the thread cannot be started, jobs run at once in fsy_worker_submit
 * (slower, never wrong).
 *
 * Ownership: fsy_worker_new's result is freed by fsy_worker_free, which
 * waits for a job in hand. Errors: fsy_worker_new returns NULL when out
 * of memory; fsy_worker_wait returns the job's code with its error detail
 * set on the calling thread.
 */
#ifndef FSY_WORKER_H
#define FSY_WORKER_H

typedef int (*fsy_job_fn)(void *arg);
typedef struct fsy_worker fsy_worker_t;

fsy_worker_t *fsy_worker_new(void);

/* Starts fn(arg); the worker must be idle (waited for). */
void fsy_worker_submit(fsy_worker_t *w, fsy_job_fn fn, void *arg);

/*
 * Waits for the job submitted. rc_before is the caller's own result so
 * far: if it is an error, it is returned and its detail kept (the job's
 * is dropped); else the job's code is returned with its detail. With no
 * job submitted, rc_before.
 */
int fsy_worker_wait(fsy_worker_t *w, int rc_before);

void fsy_worker_free(fsy_worker_t *w);

#endif
