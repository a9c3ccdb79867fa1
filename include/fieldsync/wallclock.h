/* fieldsync — the wall clock, in one place. */
#ifndef FIELDSYNC_WALLCLOCK_H
#define FIELDSYNC_WALLCLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
uint64_t fsy_wall_ms(void);

#endif
