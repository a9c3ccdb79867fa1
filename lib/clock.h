/*
 * fieldsync — hybrid logical clock (pure functions, no I/O).
 *
 * An hlc is 64 bits: the high 48 are wall-clock milliseconds since the
 * epoch, the low 16 a counter. Incrementing the whole value lets a counter
 * overflow carry into the milliseconds, so a burst of more than 65,536
 * writes in one millisecond still yields strictly increasing values.
 *
 * The store persists the clock and advances it inside the writing
 * transaction, so two processes on one replica never mint the same value.
 * Correctness never depends on the clock: it only picks the winner among
 * concurrent heads and orders history for display.
 */
#ifndef FSY_CLOCK_H
#define FSY_CLOCK_H

#include <stdint.h>

#define FSY_HLC_COUNTER_BITS 16
#define FSY_HLC_MS_MAX ((UINT64_C(1) << 48) - 1)

/* The hlc value for wall time `ms` with counter 0 (ms is clamped to 48 bits).
 */
uint64_t fsy_hlc_from_ms(uint64_t ms);

/* Milliseconds part of an hlc. */
uint64_t fsy_hlc_ms(uint64_t hlc);

/*
 * Mints the next local value: greater than `last`, and at least the wall
 * clock `now_ms`. Returns the new clock (also the minted value).
 */
uint64_t fsy_clock_tick(uint64_t last, uint64_t now_ms);

/*
 * The local clock after receiving a change stamped `remote`: it moves up to
 * `remote` but never more than `max_skew_ms` ahead of `now_ms`, so a site
 * whose clock runs hours fast cannot drag everyone else along. The remote
 * value itself is stored unchanged.
 */
uint64_t fsy_clock_receive(uint64_t last, uint64_t remote, uint64_t now_ms,
                           uint64_t max_skew_ms);

/* How far `remote` is ahead of `now_ms`, in ms (0 if not ahead). */
uint64_t fsy_clock_ahead_ms(uint64_t remote, uint64_t now_ms);

#endif
