/*
 * pool_bench.c - what handing a job to the 15-3 thread pool costs, next
 * to calling the same function in a loop.
 *
 * Usage:   pool_bench [-h] [-t N,N...] [-j JOBS] [-r REPS] [-w ITERS]
 *          defaults: -t 1,2,4,8 -j 100000 -r 5 -w 500
 *
 * Shows:   nanoseconds of wall time and of CPU time per job, and jobs per
 *          second, for JOBS jobs run
 *            direct  by the calling thread, one function call after the
 *                    other (through a function pointer, as the pool calls
 *                    them), and
 *            pool    through a pool of N workers (tp_append of every job,
 *                    then a wait until the last has run),
 *          for two jobs: "empty", which only counts itself done, and
 *          "work", ITERS rounds of integer mixing (a small fixed amount of
 *          work, written to the job's own cache line) before that.  The
 *          difference between the two modes is the hand-off: the queue's
 *          mutex, the condition variable's wakeups, the cache lines that
 *          move between cores.  Prints CSV on stdout (one row per job,
 *          mode and N: median, min and max over REPS repetitions, the
 *          median CPU time, and the machine's steal time during the
 *          row's repetitions, from /proc/stat); ch15-pools/bench/run turns
 *          it into results.md, results.csv and results.png.
 *
 * What is timed: from the first call (or append) to the moment the main
 *   thread knows the last job has run (the job that completes the count
 *   posts a semaphore the main thread waits on; the direct loop does the
 *   same, so both sides pay for it).  The pool is created before and
 *   destroyed after, untimed; its queue holds JOBS, so no append is ever
 *   refused.  CPU time is the whole process's (getrusage RUSAGE_SELF:
 *   the caller and every worker, user and system) over the same span.
 *   Repetitions are interleaved (each repetition runs every row once), so
 *   a burst of load from elsewhere on the machine spreads over the rows
 *   instead of landing on one.
 *
 * Look at: ns per empty job through the pool against the direct call
 *   (the cost of one hand-off), and whether N workers ever beat one on
 *   the work job (they cannot beat the number of CPUs online).
 *
 * Differs from the book:
 *  - not a listing: the book has no benchmark.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../ch14-thread/locker.h"
#include "thread_pool.h"

static const char SYNOPSIS[] =
    "[-h] [-t N,N...] [-j JOBS] [-r REPS] [-w ITERS]";
static const char HELP[] =
    "ns per job through the thread pool against a plain call loop.\n"
    "  -t N,...   pool sizes (workers; default 1,2,4,8)\n"
    "  -j JOBS    jobs per repetition (default 100000)\n"
    "  -r REPS    repetitions, median and spread reported (default 5)\n"
    "  -w ITERS   rounds of integer mixing in the work job (default 500)\n"
    "CSV on stdout; lines starting with # are notes.\n";

enum { MAX_SIZES = 16, MAX_REPS = 99 };
enum { KIND_EMPTY, KIND_WORK, KINDS };
static const char *const kind_names[KINDS] = {"empty", "work"};

/* One job's own data, on a cache line of its own: the work job writes it,
 * and neighbours on one line would be false sharing between workers. */
struct slot {
    _Alignas(64) uint64_t value;
};

static struct {
    atomic_long done;       /* jobs finished in this repetition */
    long total;             /* jobs in it */
    struct lk_sem finished; /* posted by the job that finishes the last */
    unsigned iters;         /* -w */
} run;

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double
cpu_ns(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        hp_die("getrusage");
    return ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec) * 1e9 +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) * 1e3;
}

/* Counted done by every job, of either kind and mode. */
static void
finish_one(void)
{
    if (atomic_fetch_add(&run.done, 1) + 1 == run.total) {
        int rc = lk_sem_post(&run.finished);
        if (rc != 0)
            hp_die_en(rc, "sem_post");
    }
}

static void
job_empty(void *arg)
{
    (void)arg;
    finish_one();
}

static void
job_work(void *arg)
{
    struct slot *s = arg;
    uint64_t x = s->value;

    /* a multiply-xorshift chain: each round needs the last, so it cannot
     * be skipped or vectorised; its result is stored, so it cannot go */
    for (unsigned i = 0; i < run.iters; i++) {
        x = x * 0x9e3779b97f4a7c15u + i;
        x ^= x >> 29;
    }
    s->value = x;
    finish_one();
}

static void (*const jobs_of[KINDS])(void *) = {job_empty, job_work};

/* CPU time of every CPU from /proc/stat's first line, in clock ticks: the
 * steal column (time a hypervisor gave this machine's CPUs to someone
 * else) and all columns. */
struct cpu_ticks {
    unsigned long long steal, total;
};

static struct cpu_ticks
read_ticks(void)
{
    struct cpu_ticks t = {0, 0};
    unsigned long long v[10] = {0};
    FILE *f = fopen("/proc/stat", "re");

    if (f == NULL)
        return t; /* no /proc: steal reported as 0 of 0 */
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
                   &v[8], &v[9]);
    fclose(f);
    /* guest and guest_nice (8, 9) are already inside user and nice */
    for (int i = 0; i < n && i < 8; i++)
        t.total += v[i];
    if (n >= 8)
        t.steal = v[7];
    return t;
}

/* One repetition of a row: wall and CPU ns per job.  WORKERS 0: direct. */
static void
measure(int kind, int workers, struct slot *slots, long njobs, double *wall,
        double *cpu)
{
    void (*volatile fn)(void *) = jobs_of[kind]; /* no inlining */
    struct tp_pool *pool = NULL;
    int rc;

    if (workers > 0) {
        rc = tp_create(&pool, workers, (int)njobs);
        if (rc != 0)
            hp_die_en(rc, "tp_create %d workers", workers);
    }
    atomic_store(&run.done, 0);
    run.total = njobs;

    double c0 = cpu_ns(), t0 = now_ns();
    if (pool == NULL) {
        for (long i = 0; i < njobs; i++)
            fn(&slots[i]);
    } else {
        for (long i = 0; i < njobs; i++) {
            rc = tp_append(pool, fn, &slots[i]);
            if (rc != 0)
                hp_die_en(rc, "tp_append job %ld", i);
        }
    }
    rc = lk_sem_wait(&run.finished);
    if (rc != 0)
        hp_die_en(rc, "sem_wait");
    double t1 = now_ns(), c1 = cpu_ns();

    if (pool != NULL) {
        rc = tp_destroy(pool);
        if (rc != 0)
            hp_die_en(rc, "tp_destroy");
    }
    *wall = (t1 - t0) / (double)njobs;
    *cpu = (c1 - c0) / (double)njobs;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
    long sizes[MAX_SIZES] = {1, 2, 4, 8};
    size_t nsizes = 4;
    long njobs = 100000, reps = 5, iters = 500;
    int opt, rc;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+ht:j:r:w:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 't':
            nsizes =
                hp_parse_list(optarg, "N", 1, TP_MAX_THREADS, sizes, MAX_SIZES);
            break;
        case 'j':
            njobs = hp_parse_long(optarg, 1, TP_MAX_REQUESTS, "JOBS");
            break;
        case 'r':
            reps = hp_parse_long(optarg, 1, MAX_REPS, "repetitions");
            break;
        case 'w':
            iters = hp_parse_long(optarg, 0, 10000000, "ITERS");
            break;
        default:
            hp_usage(2);
        }
    }
    if (optind != argc)
        hp_usage(2);

    struct slot *slots = calloc((size_t)njobs, sizeof *slots);
    if (slots == NULL)
        hp_die("calloc %ld job slots", njobs);
    for (long i = 0; i < njobs; i++)
        slots[i].value = (uint64_t)i; /* each job its own result */
    run.iters = (unsigned)iters;
    rc = lk_sem_init(&run.finished, 0);
    if (rc != 0)
        hp_die_en(rc, "sem_init");

    /* rows: per kind, direct (0 workers) then each pool size */
    int rows = (int)nsizes + 1;
    int nrows = KINDS * rows;
    double(*wall)[MAX_REPS] = calloc((size_t)nrows, sizeof *wall);
    double(*cpu)[MAX_REPS] = calloc((size_t)nrows, sizeof *cpu);
    struct cpu_ticks *steal = calloc((size_t)nrows, sizeof *steal);
    if (wall == NULL || cpu == NULL || steal == NULL)
        hp_die("calloc");

    printf("# pool_bench: %ld jobs per repetition, %ld repetitions "
           "(interleaved), work job %ld rounds, %ld CPUs online\n",
           njobs, reps, iters, sysconf(_SC_NPROCESSORS_ONLN));
    struct cpu_ticks start = read_ticks();
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < KINDS; k++) {
            for (int i = 0; i < rows; i++) {
                int row = k * rows + i;
                int workers = i == 0 ? 0 : (int)sizes[i - 1];
                struct cpu_ticks a = read_ticks();
                measure(k, workers, slots, njobs, &wall[row][r], &cpu[row][r]);
                struct cpu_ticks b = read_ticks();
                steal[row].steal += b.steal - a.steal;
                steal[row].total += b.total - a.total;
            }
        }
    }
    struct cpu_ticks end = read_ticks();

    unsigned long long all = end.total - start.total;
    printf("# steal over the whole run: %llu of %llu CPU ticks (%.2f %%)\n",
           end.steal - start.steal, all,
           all ? 100.0 * (double)(end.steal - start.steal) / (double)all : 0);
    printf("job,mode,workers,jobs,reps,median_ns,min_ns,max_ns,"
           "cpu_ns_median,jobs_per_s,steal_pct\n");
    for (int k = 0; k < KINDS; k++) {
        for (int i = 0; i < rows; i++) {
            int row = k * rows + i;
            double med = median(wall[row], (int)reps);
            double cmed = median(cpu[row], (int)reps);
            double st = steal[row].total ? 100.0 * (double)steal[row].steal /
                                               (double)steal[row].total
                                         : 0;
            printf("%s,%s,%ld,%ld,%ld,%.2f,%.2f,%.2f,%.2f,%.0f,%.2f\n",
                   kind_names[k], i == 0 ? "direct" : "pool",
                   i == 0 ? 0 : sizes[i - 1], njobs, reps, med, wall[row][0],
                   wall[row][reps - 1], cmed, 1e9 / med, st);
        }
    }
    uint64_t sink = 0;
    for (long i = 0; i < njobs; i++)
        sink += slots[i].value;
    printf("# checksum of the work jobs' results: %016llx\n",
           (unsigned long long)sink);
    lk_sem_destroy(&run.finished);
    free(slots);
    free(wall);
    free(cpu);
    free(steal);
    return 0;
}
