/*
 * fieldsync — wall time and the arithmetic on it that every view shares.
 * See fieldsync/wallclock.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
fsy_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
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

/* n digits at p into *out; false if any is not a digit. */
static bool
s_digits(const char *p, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        *out = *out * 10 + (p[i] - '0');
    }
    return true;
}

/* "YYYY-MM-DD" then optionally "THH:MM", ":SS", "Z"; *date_only says
 * which. Fields are exact digits: no signs, no blanks. */
static bool
s_parse_stamp(const char *arg, struct tm *tm, bool *date_only)
{
    size_t len = strlen(arg);
    if (len < 10 || !s_digits(arg, 4, &tm->tm_year) || arg[4] != '-' ||
        !s_digits(arg + 5, 2, &tm->tm_mon) || arg[7] != '-' ||
        !s_digits(arg + 8, 2, &tm->tm_mday))
        return false;
    *date_only = len == 10;
    if (*date_only)
        return true;
    const char *p = arg + 10;
    if (p[0] != 'T' || !s_digits(p + 1, 2, &tm->tm_hour) || p[3] != ':' ||
        !s_digits(p + 4, 2, &tm->tm_min))
        return false;
    p += 6;
    if (p[0] == ':' && s_digits(p + 1, 2, &tm->tm_sec))
        p += 3;
    if (p[0] == 'Z')
        p++;
    return p[0] == '\0';
}

int
fsy_parse_when(const char *arg, uint64_t now_ms, bool end, uint64_t *out_ms)
{
    bool age, date_only = false;
    int rc = s_parse_age(arg, now_ms, out_ms, &age);
    if (rc != FSY_OK || age)
        return rc;
    struct tm tm = {0}, back;
    bool ok = s_parse_stamp(arg, &tm, &date_only) && tm.tm_year >= 1970 &&
              tm.tm_mon >= 1 && tm.tm_mon <= 12 && tm.tm_mday >= 1 &&
              tm.tm_hour <= 23 && tm.tm_min <= 59 && tm.tm_sec <= 59;
    time_t t = 0;
    if (ok) {
        int mday = tm.tm_mday;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        t = timegm(&tm);
        /* 2026-02-31 is not a day: timegm would make it March 3rd */
        ok = t >= 0 && gmtime_r(&t, &back) != NULL && back.tm_mday == mday;
    }
    if (!ok)
        return fsy_err_set(FSY_EINVAL,
                           "'%.40s' is not a time: give 2026-11-01, "
                           "2026-11-01T08:30:00Z or an age like 30d, 12h",
                           arg);
    *out_ms = (uint64_t)t * 1000u + (date_only && end ? 86400000u : 0u);
    return FSY_OK;
}
