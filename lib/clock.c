/* fieldsync — hybrid logical clock. See clock.h. */

#include "clock.h"
#include "fieldsync/wallclock.h"

uint64_t
fsy_hlc_from_ms(uint64_t ms)
{
    if (ms > FSY_HLC_MS_MAX)
        ms = FSY_HLC_MS_MAX;
    return ms << FSY_HLC_COUNTER_BITS;
}

uint64_t
fsy_hlc_ms(uint64_t hlc)
{
    return hlc >> FSY_HLC_COUNTER_BITS;
}

uint64_t
fsy_clock_tick(uint64_t last, uint64_t now_ms)
{
    uint64_t wall = fsy_hlc_from_ms(now_ms);
    if (last == UINT64_MAX)
        return last; /* year 10889: saturate rather than wrap */
    return wall > last ? wall : last + 1;
}

uint64_t
fsy_clock_receive(uint64_t last, uint64_t remote, uint64_t now_ms,
                  uint64_t max_skew_ms)
{
    uint64_t limit_ms = now_ms + max_skew_ms;
    if (limit_ms < now_ms || limit_ms > FSY_HLC_MS_MAX)
        limit_ms = FSY_HLC_MS_MAX;
    /* The highest value allowed: the end of the limit's millisecond. */
    uint64_t limit =
        fsy_hlc_from_ms(limit_ms) | ((UINT64_C(1) << FSY_HLC_COUNTER_BITS) - 1);
    uint64_t target = remote < limit ? remote : limit;
    return target > last ? target : last;
}

uint64_t
fsy_clock_ahead_ms(uint64_t remote, uint64_t now_ms)
{
    uint64_t ms = fsy_hlc_ms(remote);
    return ms > now_ms ? ms - now_ms : 0;
}
