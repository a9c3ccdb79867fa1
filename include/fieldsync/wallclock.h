/* fieldsync — the wall clock, and ages and offsets measured on it, in one
 * place. No allocation; nothing to free. */
#ifndef FIELDSYNC_WALLCLOCK_H
#define FIELDSYNC_WALLCLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
uint64_t fsy_wall_ms(void);

/* Microseconds of CLOCK_MONOTONIC: for durations and deadlines, which a
 * wall clock stepped (NTP, an operator) must not stretch or cut. */
uint64_t fsy_mono_us(void);

/* Clock offsets beyond ten years are not estimates but garbage: refused on
 * the wire and ignored when measured, which also keeps every sum of
 * offsets along the tree far from overflowing. */
#define FSY_CLOCK_OFFSET_MAX_MS ((int64_t)3660 * 86400 * 1000)

/* ms from then_ms to now_ms; 0 for never (0) and for a time ahead. */
uint64_t fsy_since_ms(uint64_t then_ms, uint64_t now_ms);

/* |ms|, defined for every value (INT64_MIN included). */
uint64_t fsy_abs_ms(int64_t ms);

/* "3h12m ago", "45s ago", "never"; into buf, returned. */
/*
 * A time people type: "2026-11-01", "2026-11-01T08:30:00Z" (or without
 * seconds or "Z"; UTC), or an age before now_ms: "30d", "12h", "45m",
 * "2w". A date alone given as an end (`end`) means the end of that day.
 * FSY_OK, or FSY_EINVAL with a detail saying what is accepted.
 */
int fsy_parse_when(const char *arg, uint64_t now_ms, bool end,
                   uint64_t *out_ms);

const char *fsy_age(uint64_t then_ms, uint64_t now_ms, char *buf, size_t len);

#endif
