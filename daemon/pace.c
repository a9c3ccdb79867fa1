/*
 * fieldsync — batches in flight and the bytes the link may hold
 * (pace.h says why).
 */
#include "pace.h"

#include <string.h>

#include "fieldsync/error.h"

void
fsy_pace_reset(fsy_pace_t *pc)
{
    pc->n = 0;
    pc->bytes = pc->delivered = pc->rate = pc->rate_ms = 0;
}

bool
fsy_pace_open(const fsy_pace_t *pc, unsigned window)
{
    if (pc->n >= window || pc->n >= FSY_WINDOW_MAX)
        return false;
    if (pc->n == 0)
        return true;
    if (pc->rate == 0)
        return pc->n < FSY_PACE_UNKNOWN_MAX;
    return pc->bytes < pc->rate * FSY_PACE_TARGET_MS / 1000;
}

void
fsy_pace_sent(fsy_pace_t *pc, uint64_t id, uint64_t bytes, uint64_t now_ms)
{
    FSY_ASSERT(pc->n < FSY_WINDOW_MAX);
    pc->f[pc->n++] = (fsy_flight_t){id, now_ms, pc->delivered, bytes};
    pc->bytes += bytes;
}

static void
s_sample(fsy_pace_t *pc, const fsy_flight_t *f, uint64_t now_ms)
{
    uint64_t ms = now_ms > f->sent_ms ? now_ms - f->sent_ms : 1;
    uint64_t rate = (pc->delivered - f->delivered) * 1000 / ms;
    if (rate >= pc->rate || now_ms - pc->rate_ms > FSY_PACE_RATE_MS) {
        pc->rate = rate > 0 ? rate : 1;
        pc->rate_ms = now_ms;
    }
}

bool
fsy_pace_acked(fsy_pace_t *pc, uint64_t id, uint64_t now_ms)
{
    for (unsigned i = 0; i < pc->n; i++)
        if (pc->f[i].id == id) {
            fsy_flight_t f = pc->f[i];
            pc->f[i] = pc->f[--pc->n];
            pc->bytes -= f.bytes;
            pc->delivered += f.bytes;
            s_sample(pc, &f, now_ms);
            return true;
        }
    return false;
}
