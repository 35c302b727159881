/*
 * timer_heap.h - Listing 11-6: timers in a binary min-heap keyed on
 * expiry, behind the common interface of timer.h.
 *
 * The heap is an array of pointers to the caller's timers; each timer
 * stores its index in the array, so any timer can be found in O(1):
 *
 *   add     O(log n): append, sift up (the array doubles when full)
 *   adjust  O(log n): sift up when earlier, down when later
 *   delete  O(log n): the last element fills the hole and sifts
 *   tick    O(k log n) for k expired: pop while the top is due
 *   next    O(1)
 *
 * Equal expiries fire in no particular order.
 */
#ifndef HPSP_TIMER_HEAP_H
#define HPSP_TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>

#include "timer.h"

/* An empty heap with room for CAPACITY timers before its first growth
 * (0: a small default).  NULL with errno ENOMEM. */
struct timer_queue *timer_heap_new(size_t capacity);

/* For the tests: the heap property, every timer's index, its state. */
bool timer_heap_valid(const struct timer_queue *q);
/* For the tests: the array's current capacity. */
size_t timer_heap_capacity(const struct timer_queue *q);

#endif /* HPSP_TIMER_HEAP_H */
