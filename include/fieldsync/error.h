/*
 * fieldsync — error codes shared by every module.
 *
 * Every fallible function returns an fsy_err_t (FSY_OK == 0) and passes
 * results through out-pointers. Foreign codes (SQLite, errno, protobuf-c,
 * zstd) are translated once, in the module that owns them.
 *
 * Besides the code, the module that decides on an error records a one-line
 * detail for the user ("field name 'x=y' contains '='"). It is kept per
 * thread and read with fsy_errdetail(); it stays valid until the next error
 * is recorded on the same thread.
 */
#ifndef FIELDSYNC_ERROR_H
#define FIELDSYNC_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fsy_err {
    FSY_OK = 0,
    FSY_EINVAL,     /* malformed argument or input */
    FSY_ENOMEM,     /* out of memory */
    FSY_ENOTFOUND,  /* no such replica, document, field or version */
    FSY_EEXIST,     /* already exists (replica file, key file) */
    FSY_EAMBIGUOUS, /* a document id exists in several scopes */
    FSY_ETOOBIG,    /* over a size limit */
    FSY_EIO,        /* I/O error from the disk or a file */
    FSY_EFULL,      /* disk or database full */
    FSY_EBUSY,      /* replica locked by another process for too long */
    FSY_ECORRUPT,   /* checksum mismatch or damaged replica/file */
    FSY_EVERSION,   /* written by a newer, unknown version */
    FSY_EFORMAT,    /* not a fieldsync file at all */
    FSY_ECONFLICT,  /* same change identity, different content */
    FSY_EREADONLY,  /* replica opened read-only, or refused write */
    FSY_EINTERNAL   /* a bug: please report it */
} fsy_err_t;

/* Short, static description of an error code. Never NULL. */
const char *fsy_strerror(int err);

/*
 * Records a detail message for `err` on this thread and returns `err`, so
 * a module can write `return fsy_err_set(FSY_EINVAL, "bad id '%s'", id);`.
 */
int fsy_err_set(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The detail of the last recorded error on this thread, or "" if none. */
const char *fsy_errdetail(void);

/* Forgets the recorded detail (before an operation whose errors we report). */
void fsy_err_clear(void);

/*
 * A programmer's error: an invariant that no input can break. Stays on in
 * release builds (NDEBUG does not remove it): a daemon that carries on
 * with a broken session could send or acknowledge the wrong changes.
 * Never for bad input from peers, files or users: those are error returns.
 */
#define FSY_ASSERT(cond)                                                       \
    ((cond) ? (void)0 : fsy_assert_fail(#cond, __FILE__, __LINE__))

/* Prints the failed invariant to stderr and aborts. */
void fsy_assert_fail(const char *cond, const char *file, int line)
    __attribute__((noreturn));

#ifdef __cplusplus
}
#endif
#endif
