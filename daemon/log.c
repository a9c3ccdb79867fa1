/* fieldsync — daemon log lines. See log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "fieldsync/config.h"
#include "log.h"

static const char *s_site = "-";
static int s_min = FSY_LOG_INFO;
static bool s_syslog;

void
fsy_log_set_site(const char *site)
{
    s_site = site;
}

void
fsy_log_configure(int level, bool use_syslog)
{
    s_min = level;
    if (use_syslog && !s_syslog)
        openlog("fieldsyncd", LOG_PID, LOG_DAEMON);
    s_syslog = use_syslog;
}

static int
s_rank(const char *level)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(level, fsy_log_level_names[i]) == 0)
            return i;
    return FSY_LOG_ERROR; /* unknown: never dropped */
}

void
fsy_log(const char *level, const char *event, const char *fmt, ...)
{
    int rank = s_rank(level);
    if (rank < s_min)
        return;
    char rest[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rest, sizeof rest, fmt, ap);
    va_end(ap);
    if (s_syslog) {
        static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
        syslog(prio[rank], "level=%s site=%s event=%s%s%s", level, s_site,
               event, rest[0] ? " " : "", rest);
        return;
    }
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    /* One fprintf: lines from one process never interleave. */
    fprintf(stderr, "%s.%03ldZ level=%s site=%s event=%s%s%s\n", when,
            ts.tv_nsec / 1000000, level, s_site, event, rest[0] ? " " : "",
            rest);
}

void
fsy_log_iso(uint64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms == 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        buf[0] = '\0';
}

bool
fsy_log_worth(uint64_t n)
{
    return (n & (n - 1)) == 0;
}
