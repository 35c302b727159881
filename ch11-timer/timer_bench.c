/*
 * timer_bench.c - the cost of one timer operation in chapter 11's three
 * containers, side by side with libevent's timers.
 *
 * Usage:   timer_bench [-n N,N...] [-r REPS] [-b BACKENDS] [-c CAP]
 *                      [-s SEED]
 *          defaults: -n 100,1000,10000,100000,1000000 -r 3
 *                    -b list,wheel,heap,libevent -c 20
 *
 * Shows:   nanoseconds per operation for a container that holds N timers,
 *          for N from 10^2 to 10^6: the sorted list's O(n) add and adjust
 *          against the heap's O(log n) and the wheel's O(1), and both
 *          against libevent's min-heap as the reference.  Prints CSV on
 *          stdout (one row per back end, operation and N: median, min and
 *          max over REPS repetitions); ch11-timer/bench/run turns it into
 *          results.md, results.csv and results.png.
 *
 * What is measured (every back end sees the same random numbers):
 *   add     N timers pending, expiries uniform over 1..60000 ms ahead; time
 *           adding M more (untimed: they are removed again).  M is
 *           min(N, 1000), for the list min(N, 10^7 / N), at least 10.
 *   adjust  N pending; time M adjusts of random timers to new random
 *           expiries (earlier or later, as it falls).
 *   cancel  N pending; time M deletes of distinct random timers (untimed:
 *           they are added back with new expiries).
 *   expire  N pending; time the one call that fires them all, callbacks
 *           included (each counts); ns/op = that time / N.
 *   Each phase repeats in rounds until 5 ms have been timed (at most 1000
 *   rounds, and no new round after 2 s of wall time, untimed work
 *   included), and reports timed ns / operations.
 *
 *   Ours: timer_add / timer_adjust / timer_del / timer_tick through the
 *   timer_ops table of timer.h, on timers the bench owns; `now` is a
 *   parameter, no clock is read.  The wheel: 60 slots of 1000 ms.
 *
 *   libevent (evtimer on an event_base made with EVENT_BASE_FLAG_NOLOCK,
 *   on events the bench allocated with event_assign): add = evtimer_add of
 *   an idle event; adjust = evtimer_add of a pending one (libevent moves
 *   it in its heap); cancel = evtimer_del.  These run inside an event
 *   callback, where libevent uses its cached loop time, so like ours they
 *   read no clock.  expire: the timers get timeouts of up to 6 ms, the
 *   bench sleeps until all are due, then times event_base_loop(base,
 *   EVLOOP_NONBLOCK): one epoll_wait(0), moving every expired event off
 *   the heap to the active queue, and running the callbacks.  That fixed
 *   loop cost is printed separately ("#" line), it matters at N = 100.
 *
 * Cap: a back end is skipped at the N (and above) where its REPS
 * repetitions are predicted to take more than -c CAP, from what each
 * phase took at the previous N (see predict_rep); the row says so.  Only
 * the list ever gets there.
 *
 * Differs from the book:
 *  - not a listing: the book has no benchmark.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timer.h"
#include "timer_heap.h"
#include "timer_list.h"
#include "timer_wheel.h"

static const char SYNOPSIS[] =
    "[-h] [-n N,N...] [-r REPS] [-b BACKENDS] [-c CAP] [-s SEED]";
static const char HELP[] =
    "ns per add, adjust, cancel and expire in containers of N timers.\n"
    "  -n N,...     container sizes (default 100,1000,10000,100000,1000000)\n"
    "  -r REPS      repetitions, median and spread reported (default 3)\n"
    "  -b B,...     back ends among list,wheel,heap,libevent (default all)\n"
    "  -c CAP       skip a back end at an N predicted to take longer over\n"
    "               all repetitions: 500ms, 20s, 1.5 (default 20s)\n"
    "  -s SEED      random numbers (default 1)\n"
    "CSV on stdout; lines starting with # are notes.\n";

enum { MAX_SIZES = 16, MAX_REPS = 99 };
enum { HORIZON_MS = 60000 }; /* expiries 1..HORIZON_MS ahead */
enum { WHEEL_SLOTS = 60, WHEEL_TICK_MS = 1000 };
enum { OPS_PER_ROUND = 1000, MIN_OPS = 10 };
#define LIST_WORK 10000000.0   /* list: M * N per round, about */
#define MIN_TIMED_NS 5000000.0 /* per phase */
#define PHASE_BUDGET_NS 2000000000.0
enum { MAX_ROUNDS = 1000, LIBEVENT_EXPIRE_ROUNDS = 20 };
#define BASE_NOW 1000000000ull /* our fake clock */

enum backend { B_LIST, B_WHEEL, B_HEAP, B_LIBEVENT, B_COUNT };
static const char *const backend_names[B_COUNT] = {"list", "wheel", "heap",
                                                   "libevent"};
enum op { OP_ADD, OP_ADJUST, OP_CANCEL, OP_EXPIRE, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"add", "adjust", "cancel",
                                               "expire"};

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t
rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t
rnd_expiry(uint64_t *s)
{
    return 1 + rnd(s) % HORIZON_MS;
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        hp_die("calloc %zu x %zu", n, size);
    return p;
}

/* ------------------------------------------------------------------------
 * The workload, shared by every back end: N, M, and random numbers drawn
 * from streams seeded by (seed, N, repetition, phase).
 */
struct work {
    size_t n, m;
    uint64_t seed;
    uint64_t *fill; /* n expiries, ms ahead */
    size_t *order;  /* the list's fill order: by expiry */
    uint64_t *e;    /* m expiries of a round */
    size_t *idx;    /* m timer indices of a round */
    size_t *perm;   /* 0..n-1, shuffled piecewise for distinct picks */
    uint64_t rng;
    size_t ops;             /* done in the phase */
    double timed;           /* ns in the phase */
    double started;         /* when the phase began, untimed work included */
    double first_round;     /* wall ns of the phase's first round */
    double wall[OP_COUNT];  /* wall ns of each phase, last rep */
    double first[OP_COUNT]; /* wall ns of its first round */
    size_t fired;           /* callbacks seen */
};

static const uint64_t *sort_key;

static int
by_expiry(const void *a, const void *b)
{
    uint64_t x = sort_key[*(const size_t *)a], y = sort_key[*(const size_t *)b];
    return x < y ? -1 : x > y;
}

static void
work_fill(struct work *w, uint64_t stream, bool sorted)
{
    w->rng = stream;
    for (size_t i = 0; i < w->n; i++)
        w->fill[i] = rnd_expiry(&w->rng);
    for (size_t i = 0; i < w->n; i++)
        w->order[i] = i;
    if (sorted) { /* ascending: every list add lands on the tail, O(1) */
        sort_key = w->fill;
        qsort(w->order, w->n, sizeof *w->order, by_expiry);
    }
}

static void
round_expiries(struct work *w)
{
    for (size_t i = 0; i < w->m; i++)
        w->e[i] = rnd_expiry(&w->rng);
}

static void
round_indices(struct work *w)
{
    for (size_t i = 0; i < w->m; i++)
        w->idx[i] = rnd(&w->rng) % w->n;
}

/* M distinct indices: a partial Fisher-Yates shuffle of perm. */
static void
round_distinct(struct work *w)
{
    for (size_t i = 0; i < w->m; i++) {
        size_t j = i + rnd(&w->rng) % (w->n - i);
        size_t x = w->perm[i];
        w->perm[i] = w->perm[j];
        w->perm[j] = x;
        w->idx[i] = w->perm[i];
    }
}

static uint64_t
stream_of(const struct work *w, int rep, int phase, size_t round)
{
    return w->seed * 0x100000001b3u ^ (uint64_t)w->n * 0x9e3779b1u ^
           (uint64_t)rep << 40 ^ (uint64_t)phase << 56 ^ round * 0x85ebca6bu;
}

static void
phase_begin(struct work *w)
{
    w->ops = 0;
    w->timed = 0;
    w->started = now_ns();
    w->first_round = 0;
}

/* ns/op of the phase into OUT[OP]; its wall times kept for the cap. */
static void
phase_end(struct work *w, enum op op, double *out)
{
    w->wall[op] = now_ns() - w->started;
    w->first[op] = w->first_round > 0 ? w->first_round : w->wall[op];
    out[op] = w->timed / (double)w->ops;
}

/* Should another round run?  Until MIN_TIMED_NS are timed, within the
 * round and wall-time budgets (the untimed repair of a round, e.g. the
 * list's O(n) re-adds after a cancel round, counts against the budget). */
static bool
more_rounds(struct work *w, size_t rounds)
{
    if (rounds == 0)
        return true;
    if (rounds == 1)
        w->first_round = now_ns() - w->started;
    if (rounds >= MAX_ROUNDS || now_ns() - w->started >= PHASE_BUDGET_NS)
        return false;
    return w->timed < MIN_TIMED_NS;
}

/* ------------------------------------------------------------------------
 * Ours, through timer.h
 */

static void
count_fire(struct timer *t, void *arg)
{
    (void)t;
    ((struct work *)arg)->fired++;
}

static struct timer_queue *
make_queue(enum backend b)
{
    struct timer_queue *q = NULL;

    switch (b) {
    case B_LIST:
        q = timer_list_new();
        break;
    case B_WHEEL:
        q = timer_wheel_new(BASE_NOW, WHEEL_SLOTS, WHEEL_TICK_MS);
        break;
    case B_HEAP:
        q = timer_heap_new(0);
        break;
    default:
        break;
    }
    if (q == NULL)
        hp_die("timer container");
    return q;
}

static void
ours_fill(struct work *w, struct timer_queue *q, struct timer *t)
{
    for (size_t k = 0; k < w->n; k++) {
        size_t i = w->order[k];
        if (timer_add(q, &t[i], BASE_NOW + w->fill[i]) < 0)
            hp_die("timer_add");
    }
}

/* The four phases on one back end, one repetition: ns/op into OUT. */
static void
bench_ours(enum backend b, struct work *w, int rep, double out[OP_COUNT])
{
    struct timer *t = xcalloc(w->n + w->m, sizeof *t);
    struct timer_queue *q = make_queue(b);
    size_t rounds;
    double t0;

    for (size_t i = 0; i < w->n + w->m; i++)
        timer_init(&t[i], count_fire, w);
    work_fill(w, stream_of(w, rep, 0, 0), b == B_LIST);
    ours_fill(w, q, t);

    /* add: M more, then take them out again (untimed) */
    phase_begin(w);
    for (rounds = 0; more_rounds(w, rounds); rounds++) {
        w->rng = stream_of(w, rep, OP_ADD + 1, rounds);
        round_expiries(w);
        struct timer *extra = t + w->n;
        t0 = now_ns();
        for (size_t i = 0; i < w->m; i++)
            timer_add(q, &extra[i], BASE_NOW + w->e[i]);
        w->timed += now_ns() - t0;
        w->ops += w->m;
        for (size_t i = 0; i < w->m; i++)
            timer_del(q, &extra[i]);
    }
    phase_end(w, OP_ADD, out);

    phase_begin(w);
    for (rounds = 0; more_rounds(w, rounds); rounds++) {
        w->rng = stream_of(w, rep, OP_ADJUST + 1, rounds);
        round_indices(w);
        round_expiries(w);
        t0 = now_ns();
        for (size_t i = 0; i < w->m; i++)
            timer_adjust(q, &t[w->idx[i]], BASE_NOW + w->e[i]);
        w->timed += now_ns() - t0;
        w->ops += w->m;
    }
    phase_end(w, OP_ADJUST, out);

    phase_begin(w);
    for (size_t i = 0; i < w->n; i++)
        w->perm[i] = i;
    for (rounds = 0; more_rounds(w, rounds); rounds++) {
        w->rng = stream_of(w, rep, OP_CANCEL + 1, rounds);
        round_distinct(w);
        round_expiries(w);
        t0 = now_ns();
        for (size_t i = 0; i < w->m; i++)
            timer_del(q, &t[w->idx[i]]);
        w->timed += now_ns() - t0;
        w->ops += w->m;
        for (size_t i = 0; i < w->m; i++)
            timer_add(q, &t[w->idx[i]], BASE_NOW + w->e[i]);
    }
    phase_end(w, OP_CANCEL, out);
    timer_queue_destroy(q);

    /* expire: a fresh full container per round, one tick fires it all */
    phase_begin(w);
    for (rounds = 0; more_rounds(w, rounds); rounds++) {
        q = make_queue(b);
        work_fill(w, stream_of(w, rep, OP_EXPIRE + 1, rounds), b == B_LIST);
        ours_fill(w, q, t);
        w->fired = 0;
        t0 = now_ns();
        size_t n = timer_tick(q, BASE_NOW + HORIZON_MS + 2 * WHEEL_TICK_MS);
        w->timed += now_ns() - t0;
        if (n != w->n || w->fired != w->n)
            hp_diex("%s: expire fired %zu of %zu", backend_names[b], n, w->n);
        w->ops += w->n;
        timer_queue_destroy(q);
    }
    phase_end(w, OP_EXPIRE, out);
    free(t);
}

/* ------------------------------------------------------------------------
 * libevent
 */

struct le {
    struct event_base *base;
    unsigned char *mem; /* n + m events of event_get_struct_event_size() */
    size_t size;
    struct work *w;
    int rep;
    double *out;
};

static struct event *
ev_at(const struct le *le, size_t i)
{
    return (struct event *)(void *)(le->mem + i * le->size);
}

static void
le_count(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ((struct work *)arg)->fired++;
}

static struct timeval
tv_ms(uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

static struct event_base *
le_base(struct le *le, size_t count)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base;

    if (cfg == NULL || event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK) < 0)
        hp_diex("event_config");
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (base == NULL)
        hp_diex("event_base_new_with_config failed");
    for (size_t i = 0; i < count; i++)
        if (event_assign(ev_at(le, i), base, -1, 0, le_count, le->w) < 0)
            hp_diex("event_assign failed");
    return base;
}

static void
le_fill(struct le *le, bool short_timeouts)
{
    struct work *w = le->w;

    for (size_t i = 0; i < w->n; i++) {
        struct timeval tv =
            short_timeouts ? (struct timeval){0, (suseconds_t)(w->fill[i] / 10)}
                           : tv_ms(w->fill[i]);
        if (evtimer_add(ev_at(le, i), &tv) < 0)
            hp_diex("evtimer_add failed");
    }
}

/* add, adjust, cancel: inside a callback, on libevent's cached time */
static void
le_phases(evutil_socket_t fd, short what, void *arg)
{
    struct le *le = arg;
    struct work *w = le->w;
    int rep = le->rep;
    size_t rounds;
    double t0;
    struct timeval tv;

    (void)fd;
    (void)what;
    work_fill(w, stream_of(w, rep, 0, 0), false);
    le_fill(le, false);

    phase_begin(w);
    for (rounds = 0; more_rounds(w, rounds); rounds++) {
        w->rng = stream_of(w, rep, OP_ADD + 1, rounds);
        round_expiries(w);
        t0 = now_ns();
        for (size_t i = 0; i < w->m; i++) {
            tv = tv_ms(w->e[i]);
            evtimer_add(ev_at(le, w->n + i), &tv);
        }
        w->timed += now_ns() - t0;
        w->ops += w->m;
        for (size_t i = 0; i < w->m; i++)
            evtimer_del(ev_at(le, w->n + i));
    }
    phase_end(w, OP_ADD, le->out);

    phase_begin(w);
    for (rounds = 0; more_rounds(w, rounds); rounds++) {
        w->rng = stream_of(w, rep, OP_ADJUST + 1, rounds);
        round_indices(w);
        round_expiries(w);
        t0 = now_ns();
        for (size_t i = 0; i < w->m; i++) {
            tv = tv_ms(w->e[i]);
            evtimer_add(ev_at(le, w->idx[i]), &tv);
        }
        w->timed += now_ns() - t0;
        w->ops += w->m;
    }
    phase_end(w, OP_ADJUST, le->out);

    phase_begin(w);
    for (size_t i = 0; i < w->n; i++)
        w->perm[i] = i;
    for (rounds = 0; more_rounds(w, rounds); rounds++) {
        w->rng = stream_of(w, rep, OP_CANCEL + 1, rounds);
        round_distinct(w);
        round_expiries(w);
        t0 = now_ns();
        for (size_t i = 0; i < w->m; i++)
            evtimer_del(ev_at(le, w->idx[i]));
        w->timed += now_ns() - t0;
        w->ops += w->m;
        for (size_t i = 0; i < w->m; i++) {
            tv = tv_ms(w->e[i]);
            evtimer_add(ev_at(le, w->idx[i]), &tv);
        }
    }
    phase_end(w, OP_CANCEL, le->out);
}

static void
le_fill_short(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    le_fill(arg, true);
}

/* Run CB(ARG) once, as a callback of BASE's loop. */
static void
in_loop(struct event_base *base, event_callback_fn cb, void *arg)
{
    struct event *drv = event_new(base, -1, 0, cb, arg);

    if (drv == NULL)
        hp_diex("event_new failed");
    event_active(drv, EV_TIMEOUT, 1);
    if (event_base_loop(base, EVLOOP_ONCE) < 0)
        hp_diex("event_base_loop failed");
    event_free(drv);
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void
bench_libevent(struct work *w, int rep, double out[OP_COUNT])
{
    struct le le = {.w = w, .rep = rep, .out = out};
    size_t rounds;

    le.size = event_get_struct_event_size();
    le.mem = xcalloc(w->n + w->m, le.size);
    le.base = le_base(&le, w->n + w->m);
    in_loop(le.base, le_phases, &le);
    event_base_free(le.base);

    /* expire: short timeouts, wait until all are due, one loop pass */
    phase_begin(w);
    for (rounds = 0; rounds < LIBEVENT_EXPIRE_ROUNDS && more_rounds(w, rounds);
         rounds++) {
        le.base = le_base(&le, w->n);
        work_fill(w, stream_of(w, rep, OP_EXPIRE + 1, rounds), false);
        in_loop(le.base, le_fill_short, &le);
        sleep_ms(HORIZON_MS / 10 / 1000 + 2);
        w->fired = 0;
        double t0 = now_ns();
        while (w->fired < w->n)
            if (event_base_loop(le.base, EVLOOP_NONBLOCK) < 0)
                hp_diex("event_base_loop failed");
        w->timed += now_ns() - t0;
        w->ops += w->n;
        event_base_free(le.base);
    }
    phase_end(w, OP_EXPIRE, out);
    free(le.mem);
}

/* The fixed cost of one event_base_loop(EVLOOP_NONBLOCK) with nothing due:
 * part of every libevent expire figure. */
static void
print_libevent_loop_cost(void)
{
    struct event_base *base = event_base_new();
    struct event *far;
    struct timeval hour = {3600, 0};
    enum { PASSES = 2000 };
    double t0;

    if (base == NULL)
        hp_diex("event_base_new failed");
    /* one pending timer, far away: without it the loop returns before
     * even asking epoll */
    far = evtimer_new(base, le_count, NULL);
    if (far == NULL || evtimer_add(far, &hour) < 0)
        hp_diex("evtimer_add failed");
    t0 = now_ns();
    for (int i = 0; i < PASSES; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    t0 = (now_ns() - t0) / PASSES;
    printf("# libevent %s (%s): event_base_loop(EVLOOP_NONBLOCK) with "
           "nothing due: %.0f ns per call\n",
           event_get_version(), event_base_get_method(base), t0);
    event_free(far);
    event_base_free(base);
}

static double
clock_cost(clockid_t id)
{
    enum { CALLS = 200000 };
    struct timespec ts;
    double t0 = now_ns();

    for (int i = 0; i < CALLS; i++)
        clock_gettime(id, &ts);
    return (now_ns() - t0) / CALLS;
}

/* ------------------------------------------------------------------------
 * Driver
 */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/*
 * One repetition's wall time at an N that is S times the previous one, M
 * times its ops per round, from what each phase took there: a round's
 * cost grows with N (so for the list, whose operations are O(n)) and with
 * the ops per round; a phase stops starting rounds after PHASE_BUDGET_NS,
 * so it costs at most that plus one round.  Pessimistic for the others.
 */
static double
predict_rep(const double wall[OP_COUNT], const double first[OP_COUNT], double s,
            double m)
{
    double total = 0;

    for (int op = 0; op < OP_COUNT; op++) {
        double round = first[op] * s * (op == OP_EXPIRE ? 1.0 : m);
        double phase = wall[op] * s;
        if (phase > PHASE_BUDGET_NS + round)
            phase = PHASE_BUDGET_NS + round;
        total += phase;
    }
    return total;
}

static size_t
ops_per_round(enum backend b, size_t n)
{
    size_t m = n < OPS_PER_ROUND ? n : OPS_PER_ROUND;

    if (b == B_LIST) {
        double lm = LIST_WORK / (double)n;
        if (lm < (double)m)
            m = (size_t)lm;
    }
    if (m < MIN_OPS)
        m = n < MIN_OPS ? n : MIN_OPS;
    return m;
}

int
main(int argc, char **argv)
{
    long sizes[MAX_SIZES] = {100, 1000, 10000, 100000, 1000000};
    size_t nsizes = 5;
    bool use[B_COUNT] = {true, true, true, true};
    long reps = 3, seed = 1;
    long long cap_ms = 20 * 1000;
    /* what the previous N cost each back end: for the cap */
    double prev_wall[B_COUNT][OP_COUNT], prev_first[B_COUNT][OP_COUNT];
    size_t prev_m[B_COUNT] = {0};
    long last_n[B_COUNT] = {0};
    int opt;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hn:r:b:c:s:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'n':
            nsizes = hp_parse_list(optarg, "N", 10, 10000000, sizes, MAX_SIZES);
            break;
        case 'r':
            reps = hp_parse_long(optarg, 1, MAX_REPS, "repetitions");
            break;
        case 'b': {
            char *save = NULL;
            memset(use, 0, sizeof use);
            for (char *tok = strtok_r(optarg, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save)) {
                int k = 0;
                while (k < B_COUNT && strcmp(tok, backend_names[k]) != 0)
                    k++;
                if (k == B_COUNT)
                    hp_bad_usage("back end '%s': want list, wheel, heap or "
                                 "libevent",
                                 tok);
                use[k] = true;
            }
            break;
        }
        case 'c':
            cap_ms = hp_parse_duration(optarg, 1, 86400 * 1000LL, "cap");
            break;
        case 's':
            seed = hp_parse_long(optarg, 0, 1L << 30, "seed");
            break;
        default:
            hp_usage(2);
        }
    }
    if (optind != argc)
        hp_usage(2);

    printf("# timer_bench: reps %ld, seed %ld, cap %g s per back end and N\n",
           reps, seed, (double)cap_ms / 1000);
    printf("# clock_gettime: CLOCK_MONOTONIC %.1f ns, "
           "CLOCK_MONOTONIC_COARSE %.1f ns (libevent reads the coarse one "
           "outside callbacks)\n",
           clock_cost(CLOCK_MONOTONIC), clock_cost(CLOCK_MONOTONIC_COARSE));
    if (use[B_LIBEVENT])
        print_libevent_loop_cost();
    printf("backend,op,n,reps,median_ns,min_ns,max_ns,ops_per_round,note\n");

    for (size_t si = 0; si < nsizes; si++) {
        size_t n = (size_t)sizes[si];
        for (int b = 0; b < B_COUNT; b++) {
            if (!use[b])
                continue;
            struct work w = {.n = n, .seed = (uint64_t)seed};
            w.m = ops_per_round((enum backend)b, n);
            if (last_n[b]) {
                double predict = predict_rep(prev_wall[b], prev_first[b],
                                             (double)n / (double)last_n[b],
                                             (double)w.m / (double)prev_m[b]) *
                                 (double)reps;
                if (predict > (double)cap_ms * 1e6) {
                    for (int op = 0; op < OP_COUNT; op++)
                        printf("%s,%s,%zu,0,,,,%zu,skipped: predicted %.0f s "
                               "for %ld repetitions\n",
                               backend_names[b], op_names[op], n, w.m,
                               predict / 1e9, reps);
                    use[b] = false; /* and every larger N */
                    continue;
                }
            }
            w.fill = xcalloc(n, sizeof *w.fill);
            w.order = xcalloc(n, sizeof *w.order);
            w.perm = xcalloc(n, sizeof *w.perm);
            w.e = xcalloc(w.m, sizeof *w.e);
            w.idx = xcalloc(w.m, sizeof *w.idx);
            double res[OP_COUNT][MAX_REPS];
            for (int r = 0; r < reps; r++) {
                double out[OP_COUNT];
                if (b == B_LIBEVENT)
                    bench_libevent(&w, r, out);
                else
                    bench_ours((enum backend)b, &w, r, out);
                for (int op = 0; op < OP_COUNT; op++)
                    res[op][r] = out[op];
            }
            last_n[b] = (long)n;
            prev_m[b] = w.m;
            memcpy(prev_wall[b], w.wall, sizeof w.wall);
            memcpy(prev_first[b], w.first, sizeof w.first);
            for (int op = 0; op < OP_COUNT; op++) {
                qsort(res[op], (size_t)reps, sizeof res[op][0], cmp_double);
                double med =
                    reps % 2 ? res[op][reps / 2]
                             : (res[op][reps / 2 - 1] + res[op][reps / 2]) / 2;
                printf("%s,%s,%zu,%ld,%.2f,%.2f,%.2f,%zu,\n", backend_names[b],
                       op_names[op], n, reps, med, res[op][0],
                       res[op][reps - 1], op == OP_EXPIRE ? n : w.m);
            }
            fflush(stdout);
            free(w.fill);
            free(w.order);
            free(w.perm);
            free(w.e);
            free(w.idx);
        }
    }
    return 0;
}
