/*
 * fieldsync — wall time and the arithmetic on it that every view shares.
 * See fieldsync/wallclock.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fieldsync/error.h"
#include "fieldsync/wallclock.h"

/* The one impure function here: everything else takes the time as input. */
uint64_t
fsy_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t
fsy_since_ms(uint64_t then_ms, uint64_t now_ms)
{
    return then_ms == 0 || then_ms > now_ms ? 0 : now_ms - then_ms;
}

uint64_t
fsy_abs_ms(int64_t ms)
{
    return ms < 0 ? (uint64_t) - (ms + 1) + 1 : (uint64_t)ms;
}

const char *
fsy_age(uint64_t then_ms, uint64_t now_ms, char *buf, size_t len)
{
    uint64_t s = fsy_since_ms(then_ms, now_ms) / 1000;
    if (then_ms == 0)
        snprintf(buf, len, "never");
    else if (s < 60)
        snprintf(buf, len, "%" PRIu64 "s ago", s);
    else if (s < 3600)
        snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s ago", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m ago", s / 3600,
                 s / 60 % 60);
    else
        snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h ago", s / 86400,
                 s / 3600 % 24);
    return buf;
}

/* ---- times people type -------------------------------------------------- */

/* "30d" and friends: *ok false if arg is not an age. */
static int
s_parse_age(const char *arg, uint64_t now_ms, uint64_t *out, bool *ok)
{
    static const struct {
        char unit;
        uint64_t ms;
    } units[] = {
        {'m', 60000}, {'h', 3600000}, {'d', 86400000}, {'w', 7 * 86400000ull}};
    char *end;
    *ok = false;
    if (arg[0] < '0' || arg[0] > '9')
        return FSY_OK;
    errno = 0;
    unsigned long long n = strtoull(arg, &end, 10);
    if (end == arg || end[0] == '\0' || end[1] != '\0')
        return FSY_OK;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (end[0] != units[i].unit)
            continue;
        *ok = true;
        if (errno != 0 || n > now_ms / units[i].ms)
            return fsy_err_set(FSY_EINVAL, "'%s' reaches before 1970", arg);
        *out = now_ms - n * units[i].ms;
        return FSY_OK;
    }
    return FSY_OK;
}

int
fsy_parse_when(const char *arg, uint64_t now_ms, bool end, uint64_t *out_ms)
{
    bool age;
    int rc = s_parse_age(arg, now_ms, out_ms, &age);
    if (rc != FSY_OK || age)
        return rc;
    struct tm tm = {0};
    int len = 0, n;
    n = sscanf(arg, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &len);
    bool date_only = n == 3 && arg[len] == '\0';
    if (n == 3 && !date_only &&
        sscanf(arg + len, "T%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &n) == 2) {
        len += n;
        if (sscanf(arg + len, ":%2d%n", &tm.tm_sec, &n) == 1)
            len += n;
        if (arg[len] == 'Z')
            len++;
    } else if (!date_only) {
        len = -1;
    }
    if (len < 0 || arg[len] != '\0' || tm.tm_year < 1970 || tm.tm_mon < 1 ||
        tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return fsy_err_set(FSY_EINVAL,
                           "'%s' is not a time: give 2026-11-01, "
                           "2026-11-01T08:30:00Z or an age like 30d, 12h",
                           arg);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t < 0)
        return fsy_err_set(FSY_EINVAL, "'%s' is not a time", arg);
    *out_ms = (uint64_t)t * 1000u + (date_only && end ? 86400000u : 0u);
    return FSY_OK;
}
