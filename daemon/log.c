/* fieldsync — daemon log lines. See log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static const char *s_site = "-";

void
fsy_log_set_site(const char *site)
{
    s_site = site;
}

void
fsy_log(const char *level, const char *event, const char *fmt, ...)
{
    struct timespec ts;
    struct tm tm;
    char when[32], rest[768];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rest, sizeof rest, fmt, ap);
    va_end(ap);
    /* One fprintf: lines from one process never interleave. */
    fprintf(stderr, "%s.%03ldZ level=%s site=%s event=%s%s%s\n", when,
            ts.tv_nsec / 1000000, level, s_site, event, rest[0] ? " " : "",
            rest);
}
