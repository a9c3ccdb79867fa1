/*
 * fieldsync — batches in flight and the bytes the link may hold
 * (pace.h says why).
 */
#include "pace.h"

#include <string.h>

#include "fieldsync/change.h"
#include "fieldsync/error.h"
#include "wire_stream.h"

/* the changes of a grown batch and of the transaction that closes it,
 * without their values, stay under half the decoded size a receiver takes
 * whatever the compression ratio (the sender also closes a grown batch
 * once the whole passes that half: peer.c, s_take) */
_Static_assert((FSY_PACE_GROWN_MAX + FSY_TXN_MAX - 1) * sizeof(fsy_change_t) <=
                   FSY_WIRE_COST_FLOOR / 2,
               "FSY_PACE_GROWN_MAX too large for FSY_WIRE_COST_FLOOR");

void
fsy_pace_reset(fsy_pace_t *pc)
{
    pc->n = 0;
    pc->bytes = pc->delivered = pc->rate = pc->rate_ms = 0;
    pc->delivered_raw = pc->raw_rate = pc->raw_rate_ms = 0;
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
fsy_pace_sent(fsy_pace_t *pc, uint64_t id, uint64_t bytes, uint64_t raw,
              uint64_t now_ms)
{
    FSY_ASSERT(pc->n < FSY_WINDOW_MAX);
    pc->f[pc->n++] = (fsy_flight_t){id,    now_ms, pc->delivered,
                                    bytes, raw,    pc->delivered_raw};
    pc->bytes += bytes;
}

/* Keeps the best sample of the last FSY_PACE_RATE_MS in *rate. */
static void
s_keep(uint64_t *rate, uint64_t *rate_ms, uint64_t bytes, uint64_t ms,
       uint64_t now_ms)
{
    uint64_t r = bytes * 1000 / ms;
    if (r >= *rate || now_ms - *rate_ms > FSY_PACE_RATE_MS) {
        *rate = r > 0 ? r : 1;
        *rate_ms = now_ms;
    }
}

static void
s_sample(fsy_pace_t *pc, const fsy_flight_t *f, uint64_t now_ms)
{
    uint64_t ms = now_ms > f->sent_ms ? now_ms - f->sent_ms : 1;
    s_keep(&pc->rate, &pc->rate_ms, pc->delivered - f->delivered, ms, now_ms);
    s_keep(&pc->raw_rate, &pc->raw_rate_ms, pc->delivered_raw - f->raw_then, ms,
           now_ms);
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
            pc->delivered_raw += f.raw;
            s_sample(pc, &f, now_ms);
            return true;
        }
    return false;
}

size_t
fsy_pace_batch_changes(const fsy_pace_t *pc, size_t batch_changes,
                       size_t batch_bytes)
{
    if (pc->raw_rate == 0 ||
        pc->raw_rate * FSY_PACE_FAST_MS / 1000 < (uint64_t)batch_bytes)
        return batch_changes;
    size_t grown = batch_changes * 2; /* at most 65536 * 2 */
    if (grown > FSY_PACE_GROWN_MAX)
        grown = FSY_PACE_GROWN_MAX;
    return grown > batch_changes ? grown : batch_changes;
}
