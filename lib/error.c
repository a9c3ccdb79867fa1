/* fieldsync — error codes and the per-thread error detail. */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "fieldsync/error.h"

static _Thread_local char s_detail[512];

const char *
fsy_strerror(int err)
{
    switch (err) {
    case FSY_OK:
        return "success";
    case FSY_EINVAL:
        return "invalid input";
    case FSY_ENOMEM:
        return "out of memory";
    case FSY_ENOTFOUND:
        return "not found";
    case FSY_EEXIST:
        return "already exists";
    case FSY_EAMBIGUOUS:
        return "ambiguous";
    case FSY_ETOOBIG:
        return "too big";
    case FSY_EIO:
        return "I/O error";
    case FSY_EFULL:
        return "disk full";
    case FSY_EBUSY:
        return "replica busy";
    case FSY_ECORRUPT:
        return "corrupt data";
    case FSY_EVERSION:
        return "unsupported version";
    case FSY_EFORMAT:
        return "unrecognised format";
    case FSY_ECONFLICT:
        return "conflicting duplicate";
    case FSY_EREADONLY:
        return "read-only";
    case FSY_EINTERNAL:
        return "internal error";
    default:
        return "unknown error";
    }
}

int
fsy_err_set(int err, const char *fmt, ...)
{
    /* Formatted aside first: callers may pass fsy_errdetail() as an
     * argument to add context to the detail already recorded. */
    char buf[sizeof s_detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(s_detail, buf, sizeof s_detail);
    return err;
}

const char *
fsy_errdetail(void)
{
    return s_detail;
}

void
fsy_err_clear(void)
{
    s_detail[0] = '\0';
}

void
fsy_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "fieldsync: internal error: %s:%d: %s does not hold\n",
            file, line, cond);
    abort();
}
