/*
 * timer_wheel.h - Listing 11-5: a hashed time wheel, behind the common
 * interface of timer.h.
 *
 * SLOTS slots, one per tick of TICK_MS milliseconds; tick 0 starts at the
 * NOW given to timer_wheel_new.  A timer expiring at E fires on tick
 * k = ceil((E - origin) / TICK_MS), the first tick boundary at or after E
 * (never earlier than the next tick), and waits in slot k mod SLOTS.  A
 * timer more than SLOTS ticks away shares its slot with nearer ones for
 * one or more rotations: the slot walk skips it until the wheel reaches
 * its tick.  So a timer never fires early, and at most one tick late: at
 * the first timer_tick whose NOW has reached the boundary after E.
 *
 *   add     O(1)
 *   adjust  O(1)
 *   delete  O(1)
 *   tick    O(ticks passed + timers in the slots walked)
 *   next    O(SLOTS + timers) at worst: walks the slots ahead
 *
 * Timers of the same tick fire in the order they were added or adjusted.
 */
#ifndef HPSP_TIMER_WHEEL_H
#define HPSP_TIMER_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timer.h"

/* The book's wheel: 60 slots (of 1 s there; the tick is the caller's). */
enum { TIMER_WHEEL_BOOK_SLOTS = 60 };

/* An empty wheel whose tick 0 is NOW.  NULL with errno EINVAL (SLOTS or
 * TICK_MS is 0) or ENOMEM. */
struct timer_queue *timer_wheel_new(uint64_t now, size_t slots,
                                    uint64_t tick_ms);

/* For the tests: every timer in the slot of its tick, ahead of the wheel,
 * linked both ways, counted right. */
bool timer_wheel_valid(const struct timer_queue *q);

#endif /* HPSP_TIMER_WHEEL_H */
