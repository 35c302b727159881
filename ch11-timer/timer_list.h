/*
 * timer_list.h - Listing 11-2: timers in a doubly linked list sorted by
 * expiry, behind the common interface of timer.h.
 *
 *   add     O(n): walks from the tail, so a timeout later than all others
 *           (an idle timeout, always now + the same delay) costs O(1)
 *   adjust  O(distance moved), earlier or later
 *   delete  O(1)
 *   tick    O(expired): the due timers are a prefix of the list
 *   next    O(1)
 *
 * Equal expiries fire in the order they were added or adjusted.
 */
#ifndef HPSP_TIMER_LIST_H
#define HPSP_TIMER_LIST_H

#include <stdbool.h>

#include "timer.h"

/* An empty list; NULL with errno ENOMEM. */
struct timer_queue *timer_list_new(void);

/* For the tests: is Q (a timer_list) sorted, linked both ways, counted
 * right, with every timer marked pending? */
bool timer_list_valid(const struct timer_queue *q);

#endif /* HPSP_TIMER_LIST_H */
