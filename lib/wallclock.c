/*
 * fieldsync — wall time and the arithmetic on it that every view shares.
 * See fieldsync/wallclock.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

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
