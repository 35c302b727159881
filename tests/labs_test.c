/*
 * labs_test.c - the lab grader (mk/grade.py) and its sandbox
 * (labs/fence.c) against hostile hand-ins: make test-labs.
 *
 * Each scenario grades one deliberately hostile submission of the
 * oob-recv lab (tests/labs/hostile/NAME.c), as a teacher would with make
 * grade, and asserts on what the machine shows afterwards: the score,
 * no process of the submission's uid left (/proc), no cgroup left, no
 * scratch directory left; and what the submission's attempt showed (the
 * listener the test opened got no connection, the reference could not be
 * read, each file stopped at RLIMIT_FSIZE).  Then the suite's own
 * oob_recv.c, copied at test time, is graded with the same uid and must
 * get full marks: a hostile submission cannot spoil the next one.
 *
 * Then one scenario per lab (lab_<name>, from labs/NAME/lab.conf when
 * the binary starts): the starter as handed out compiles, runs and scores
 * under half, the suite's own file gets full marks, read from the
 * results.json the grader wrote.  Needs root (the sandbox does); elsewhere
 * each scenario skips.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { UID_FIRST = 61500 };      /* the grader's own start at 61000 */
#define FSIZE_LIMIT (16LL << 20) /* mk/grade.py LIMITS: -f 16384 (KiB) */
#define LAB "oob-recv"
enum { GOOD_SCORE = 3 }; /* labs/oob-recv/lab.conf: three scenarios */

enum { MAX_TESTS = 64 }; /* tests of one results.json */

/* One test of results.json; the strings point into its decoded text. */
struct result {
    const char *name, *status, *output;
};

struct grade {
    long long score, total; /* of results.json */
    int ntests;
    struct result tests[MAX_TESTS];
    const char *report; /* what the grader printed, then results.json */
    long long ms;       /* how long the grading took */
};

/* A grader running: started by grade_start, finished by grade_end. */
struct grading {
    struct hh_proc *p;
    char out[256]; /* its --out directory */
    long long t0;
    int deadline; /* seconds */
};

/* The repository and build directories, from HPSP_BIN (BUILD/bin). */
static void
dirs(struct hh_ctx *c, char *top, char *build)
{
    const char *bin = getenv("HPSP_BIN");
    char path[PATH_MAX];
    if (geteuid() != 0)
        hh_skip(c, "the sandbox needs root (mounts, cgroups, setuid)");
    HH_CHECK(c, bin && *bin, "HPSP_BIN is not set (make test-labs sets it)");
    snprintf(path, sizeof path, "%s/..", bin);
    HH_CHECK(c, realpath(path, build), "realpath %s: %s", path,
             strerror(errno));
    snprintf(path, sizeof path, "%s/../..", build);
    HH_CHECK(c, realpath(path, top), "realpath %s: %s", path, strerror(errno));
}

/* ---- results.json --------------------------------------------------------
 * The grader writes it with Python's json.dump: objects, arrays, strings,
 * integers.  Strings are decoded in place (never longer than their JSON). */
struct json {
    struct hh_ctx *c;
    char *p;
    const char *path;
};

static char
json_next(struct json *j)
{
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')
        j->p++;
    HH_CHECK(j->c, *j->p, "%s: ends too early", j->path);
    return *j->p;
}

static void
json_eat(struct json *j, char ch)
{
    HH_CHECK(j->c, json_next(j) == ch, "%s: '%c' expected, not '%.20s'",
             j->path, ch, j->p);
    j->p++;
}

static const char *
json_string(struct json *j)
{
    json_eat(j, '"');
    char *s = j->p, *o = j->p, *start = j->p;
    while (*s && *s != '"') {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        static const char from[] = "nrtbf\"\\/", to[] = "\n\r\t\b\f\"\\/";
        const char *k = *++s ? strchr(from, *s) : NULL;
        if (k) {
            *o++ = to[k - from];
            s++;
        } else {
            HH_CHECK(j->c,
                     *s == 'u' && strspn(s + 1, "0123456789abcdefABCDEF") >= 4,
                     "%s: bad escape \\%.5s", j->path, s);
            char hex[5] = {s[1], s[2], s[3], s[4], 0};
            long v = strtol(hex, NULL, 16);
            *o++ = v > 0 && v < 0x80 ? (char)v : '?';
            s += 5;
        }
    }
    HH_CHECK(j->c, *s == '"', "%s: a string does not end", j->path);
    j->p = s + 1;
    *o = 0;
    return start;
}

static long long
json_int(struct json *j)
{
    json_next(j);
    char *end;
    long long v = strtoll(j->p, &end, 10);
    HH_CHECK(j->c, end != j->p, "%s: a number expected, not '%.20s'", j->path,
             j->p);
    j->p = end;
    return v;
}

/* Whether the list (object or array) has another item: eats the ',' or
 * the closing CLOSE. */
static bool
json_more(struct json *j, char close, bool first)
{
    if (json_next(j) == close) {
        j->p++;
        return false;
    }
    if (!first)
        json_eat(j, ',');
    return true;
}

static void
json_skip(struct json *j)
{
    char ch = json_next(j), close = ch == '{' ? '}' : ']';
    if (ch == '"') {
        json_string(j);
    } else if (ch == '{' || ch == '[') {
        j->p++;
        for (bool first = true; json_more(j, close, first); first = false) {
            if (ch == '{') {
                json_string(j);
                json_eat(j, ':');
            }
            json_skip(j);
        }
    } else if (strncmp(j->p, "true", 4) == 0 || strncmp(j->p, "null", 4) == 0) {
        j->p += 4;
    } else if (strncmp(j->p, "false", 5) == 0) {
        j->p += 5;
    } else {
        json_int(j);
    }
}

/* One entry of "tests". */
static void
json_test(struct json *j, struct result *r)
{
    json_eat(j, '{');
    for (bool first = true; json_more(j, '}', first); first = false) {
        const char *key = json_string(j);
        json_eat(j, ':');
        if (strcmp(key, "name") == 0)
            r->name = json_string(j);
        else if (strcmp(key, "status") == 0)
            r->status = json_string(j);
        else if (strcmp(key, "output") == 0)
            r->output = json_string(j);
        else
            json_skip(j);
    }
    HH_CHECK(j->c, r->name && r->status && r->output,
             "%s: a test without its name, status or output", j->path);
}

/* Score, max_score and the tests of the results.json at PATH into G. */
static void
read_results(struct hh_ctx *c, const char *path, struct grade *g)
{
    size_t len;
    struct json j = {c, hh_read_file(c, path, &len), path};
    g->score = g->total = -1;
    g->ntests = 0;
    json_eat(&j, '{');
    for (bool first = true; json_more(&j, '}', first); first = false) {
        const char *key = json_string(&j);
        json_eat(&j, ':');
        if (strcmp(key, "score") == 0) {
            g->score = json_int(&j);
        } else if (strcmp(key, "max_score") == 0) {
            g->total = json_int(&j);
        } else if (strcmp(key, "tests") == 0) {
            json_eat(&j, '[');
            for (bool one = true; json_more(&j, ']', one); one = false) {
                HH_CHECK(c, g->ntests < MAX_TESTS,
                         "test bug: more than %d tests in %s", MAX_TESTS, path);
                g->tests[g->ntests] = (struct result){0};
                json_test(&j, &g->tests[g->ntests++]);
            }
        } else {
            json_skip(&j);
        }
    }
    HH_CHECK(c, g->score >= 0 && g->total >= 0, "%s: no score or no max_score",
             path);
}

/* ---- grading --------------------------------------------------------------
 */

/* Start mk/grade.py on SRC, a hand-in of LAB, as uid UID with a deadline of
 * DEADLINE seconds for the run. */
static void
grade_start(struct hh_ctx *c, struct grading *gr, const char *lab,
            const char *src, int uid, int deadline)
{
    char top[PATH_MAX], build[PATH_MAX], script[PATH_MAX + 16];
    char uidtext[16], deadtext[16];
    dirs(c, top, build);
    snprintf(script, sizeof script, "%s/mk/grade.py", top);
    snprintf(uidtext, sizeof uidtext, "%d", uid);
    snprintf(deadtext, sizeof deadtext, "%d", deadline);
    hh_tmpfile(c, "results", gr->out, sizeof gr->out);
    const char *args[] = {script,   "--build", build,   "--out",
                          gr->out,  "--uid",   uidtext, "--deadline",
                          deadtext, lab,       src,     NULL};
    struct hh_spawn opt = {.role = "grader", .tool = true};
    gr->deadline = deadline;
    gr->t0 = hh_now_ms();
    gr->p = hh_startv(c, &opt, "python3", args);
}

/* Wait for the grader of GR (the hand-in compiled, run and, with a fuzz
 * point, fuzzed) and read the results.json it wrote. */
static struct grade
grade_end(struct hh_ctx *c, struct grading *gr, const char *lab)
{
    struct grade g;
    char line[128], json[300];
    snprintf(line, sizeof line, "^score: [0-9]+/[0-9]+ \\(lab %s\\)$", lab);
    hh_expect_line(gr->p, line, (2 * gr->deadline + 30) * 1000);
    hh_expect_exit(gr->p, 0, 20000);
    g.ms = hh_now_ms() - gr->t0;
    snprintf(json, sizeof json, "%s/results.json", gr->out);
    size_t len;
    const char *results = hh_read_file(c, json, &len);
    char *report = hh_alloc(c, gr->p->out.len + len + 1);
    memcpy(report, gr->p->out.data, gr->p->out.len);
    memcpy(report + gr->p->out.len, results, len + 1);
    g.report = report;
    read_results(c, json, &g);
    hh_note(c, "grader: %lld/%lld in %lld ms", g.score, g.total, g.ms);
    return g;
}

/* Grade SRC, a hand-in of the oob-recv lab, as uid UID. */
static struct grade
grade(struct hh_ctx *c, const char *src, int uid)
{
    struct grading gr;
    grade_start(c, &gr, LAB, src, uid, 60);
    return grade_end(c, &gr, LAB);
}

static bool
has(struct hh_ctx *c, const char *text, const char *ere)
{
    regex_t re;
    HH_CHECK(c, regcomp(&re, ere, REG_EXTENDED | REG_NOSUB | REG_NEWLINE) == 0,
             "test bug: bad regex %s", ere);
    bool found = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return found;
}

/* Processes whose real, effective or saved uid is UID.  A zombie whose
 * parent is this test is not counted but reaped: the test is pid 1 of its
 * namespace (and a subreaper), so what the grader killed and could not
 * reap itself (an llvm-symbolizer of a fuzz run) comes to it, as it would
 * come to init under make grade. */
static int
processes_of(int uid)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char path[300], line[256];
        bool zombie = false, ours = false;
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "re");
        while (f && fgets(line, sizeof line, f)) {
            int r, eu, s, ppid;
            zombie |= strncmp(line, "State:\tZ", 8) == 0;
            if (sscanf(line, "PPid: %d", &ppid) == 1)
                ours = ppid == getpid();
            if (sscanf(line, "Uid: %d %d %d", &r, &eu, &s) == 3) {
                if (r != uid && eu != uid && s != uid)
                    break;
                if (zombie && ours)
                    waitpid(atoi(e->d_name), NULL, WNOHANG);
                else
                    n++;
                break;
            }
        }
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

/* Entries of DIR whose name starts with PREFIX. */
static int
entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

enum { MAX_ROOTS = 32 };

/* The directories where cgroup hierarchies (v1 or v2) are mounted, from
 * /proc/self/mounts, into ROOTS; how many. */
static int
cgroup_roots(struct hh_ctx *c, char roots[][512])
{
    char line[1024];
    int n = 0;
    FILE *m = fopen("/proc/self/mounts", "re");
    HH_CHECK(c, m != NULL, "open /proc/self/mounts: %s", strerror(errno));
    while (n < MAX_ROOTS && fgets(line, sizeof line, m)) {
        char dev[256], type[64];
        if (sscanf(line, "%255s %511s %63s", dev, roots[n], type) == 3 &&
            strncmp(type, "cgroup", 6) == 0)
            n++;
    }
    fclose(m);
    return n;
}

/* Nothing of the submission of UID is left: processes, cgroups (every
 * cgroup hierarchy mounted), scratch directories. */
static void
expect_clean(struct hh_ctx *c, int uid)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "hpsp-grade-%d-", uid);
    int procs = processes_of(uid);
    hh_note(c, "harness: %d process(es) of uid %d left", procs, uid);
    HH_CHECK(c, procs == 0, "%d process(es) of uid %d are still running", procs,
             uid);
    char roots[MAX_ROOTS][512];
    int nroots = cgroup_roots(c, roots);
    for (int i = 0; i < nroots; i++) {
        int n = entries(roots[i], prefix);
        HH_CHECK(c, n == 0, "%d cgroup(s) %s* left in %s", n, prefix, roots[i]);
    }
    const char *tmp = getenv("TMPDIR");
    int scratch =
        entries(tmp && *tmp ? tmp : "/tmp", prefix) + entries("/tmp", prefix);
    HH_CHECK(c, scratch == 0, "%d scratch director(ies) %s* left", scratch,
             prefix);
}

/* A copy of the suite's own oob_recv.c, a hand-in that gets full marks,
 * into COPY. */
static void
good_copy(struct hh_ctx *c, char *copy, size_t size)
{
    char top[PATH_MAX], build[PATH_MAX], ref[PATH_MAX + 32];
    size_t len;
    dirs(c, top, build);
    snprintf(ref, sizeof ref, "%s/ch05-api/oob_recv.c", top);
    const char *text = hh_read_file(c, ref, &len);
    hh_tmpfile(c, "oob_recv.c", copy, size);
    hh_write_text(c, copy, text);
}

/* Grade the good hand-in as UID: full marks, and nothing left. */
static void
expect_good_after(struct hh_ctx *c, int uid)
{
    char copy[256];
    good_copy(c, copy, sizeof copy);
    struct grade g = grade(c, copy, uid);
    HH_CHECK(c, g.score == GOOD_SCORE && g.total == GOOD_SCORE,
             "the good submission graded after it got %lld/%lld, not "
             "%d/%d:\n%s",
             g.score, g.total, GOOD_SCORE, GOOD_SCORE, g.report);
    expect_clean(c, uid);
}

/* tests/labs/hostile/NAME.c, with FROM replaced by TO when FROM is not
 * NULL, as a file of the scenario. */
static const char *
hostile(struct hh_ctx *c, const char *name, const char *from, const char *to)
{
    char top[PATH_MAX], build[PATH_MAX], path[PATH_MAX + 64];
    static char out[256];
    size_t len;
    dirs(c, top, build);
    snprintf(path, sizeof path, "%s/tests/labs/hostile/%s.c", top, name);
    const char *text = hh_read_file(c, path, &len);
    char *edited = hh_alloc(c, len + (to ? strlen(to) : 0) + 1);
    const char *at = from ? strstr(text, from) : NULL;
    HH_CHECK(c, !from || at, "test bug: no '%s' in %s", from, path);
    if (at)
        sprintf(edited, "%.*s%s%s", (int)(at - text), text, to,
                at + strlen(from));
    else
        strcpy(edited, text);
    hh_tmpfile(c, name, out, sizeof out);
    strcat(out, ".c");
    hh_write_text(c, out, edited);
    return out;
}

/* Grade the hostile NAME as UID: 0 points, nothing left, and the good
 * submission after it gets full marks.  Returns its grade. */
static struct grade
zero_and_clean(struct hh_ctx *c, const char *src, int uid)
{
    struct grade g = grade(c, src, uid);
    HH_CHECK(c, g.total == GOOD_SCORE, "graded out of %lld, not %d:\n%s",
             g.total, GOOD_SCORE, g.report);
    HH_CHECK(c, g.score == 0, "a hostile submission got %lld points:\n%s",
             g.score, g.report);
    /* the test binary lived through it: every scenario has a transcript */
    HH_CHECK(c,
             !has(c, g.report,
                  "not run: the test run ended first|"
                  "the test run ended inside"),
             "the chapter test did not get through every scenario:\n%s",
             g.report);
    expect_clean(c, uid);
    return g;
}

/* ---- the scenarios ------------------------------------------------------ */

static void
good_submission(struct hh_ctx *c)
{
    expect_good_after(c, UID_FIRST);
}

/* The hostile NAME as UID: 0 points, nothing left, its transcript
 * matches ERE (what it tried, and how the sandbox answered), and the good
 * submission after it gets full marks. */
static void
hostile_shows(struct hh_ctx *c, const char *name, int uid, const char *ere,
              const char *why)
{
    struct grade g = zero_and_clean(c, hostile(c, name, NULL, NULL), uid);
    HH_CHECK(c, has(c, g.report, ere), "%s:\n%s", why, g.report);
    expect_good_after(c, uid);
}

static void
fork_bomb(struct hh_ctx *c)
{
    /* its first refused fork came after a bounded number of its own */
    hostile_shows(c, "fork_bomb", UID_FIRST + 1,
                  "fork_bomb: [0-9]+ forks, then refused",
                  "no fork of the bomb was ever refused");
}

static void
disk_filler(struct hh_ctx *c)
{
    const char *src = hostile(c, "disk_filler", NULL, NULL);
    struct grade g = zero_and_clean(c, src, UID_FIRST + 2);
    /* every file it wrote stopped at RLIMIT_FSIZE or at a full scratch */
    int files = 0;
    for (const char *p = g.report; (p = strstr(p, " bytes, then ")) != NULL;
         p++) {
        const char *num = p;
        while (num > g.report && num[-1] >= '0' && num[-1] <= '9')
            num--;
        long long size = atoll(num);
        HH_CHECK(c, size <= FSIZE_LIMIT, "a file of %lld bytes (limit %lld)",
                 size, FSIZE_LIMIT);
        files++;
    }
    HH_CHECK(c, files > 0, "the filler reported no file:\n%s", g.report);
    HH_CHECK(c, has(c, g.report, "fill\\.0: 16777216 bytes, then EFBIG"),
             "the first file did not stop at RLIMIT_FSIZE (EFBIG):\n%s",
             g.report);
    HH_CHECK(c, has(c, g.report, "then ENOSPC"),
             "the scratch directory never filled up (ENOSPC):\n%s", g.report);
    HH_CHECK(c, has(c, g.report, "open /tmp/hpsp-hostile-fill: EROFS"),
             "/tmp was writable for it:\n%s", g.report);
    HH_CHECK(c,
             access("/tmp/hpsp-hostile-fill", F_OK) < 0 &&
                 access("/var/tmp/hpsp-hostile-fill", F_OK) < 0,
             "a file of the filler is on the machine");
    expect_good_after(c, UID_FIRST + 2);
}

static void
never_exits(struct hh_ctx *c)
{
    const char *src = hostile(c, "never_exits", NULL, NULL);
    struct grade g = zero_and_clean(c, src, UID_FIRST + 3);
    HH_CHECK(c, g.ms < 60000, "grading took %lld ms", g.ms);
    expect_good_after(c, UID_FIRST + 3);
}

static void
kill_parent(struct hh_ctx *c)
{
    hostile_shows(c, "kill_parent", UID_FIRST + 4, "\\(parent\\): EPERM",
                  "its kill of the parent was not refused");
}

static void
connect_out(struct hh_ctx *c)
{
    struct sockaddr_in bound;
    char port[64], seen[96];
    int lfd = hh_listen(c, 0, &bound, 16);
    snprintf(port, sizeof port, "TARGET_PORT %d ", ntohs(bound.sin_port));
    const char *src = hostile(c, "connect_out", "TARGET_PORT 0 ", port);
    struct grade g = zero_and_clean(c, src, UID_FIRST + 5);
    snprintf(seen, sizeof seen, "connect 127\\.0\\.0\\.1:%d: ECONNREFUSED",
             ntohs(bound.sin_port));
    HH_CHECK(c, has(c, g.report, seen),
             "the submission did not try, or reached something:\n%s", g.report);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    HH_CHECK(c, fd < 0 && errno == EAGAIN,
             "the test's listener accepted a connection from the sandbox");
    expect_good_after(c, UID_FIRST + 5);
}

/* Could UID read PATH with no sandbox at all?  Where it could not (a
 * repository under /root, mode 0700, as on a fresh machine) the sandbox's
 * hiding cannot be told from the permissions: the submission then finds
 * EACCES rather than nothing, and either is a refusal. */
static bool
readable_by(struct hh_ctx *c, int uid, const char *path)
{
    pid_t pid = fork();
    HH_CHECK(c, pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        _exit(setgid((gid_t)uid) == 0 && setuid((uid_t)uid) == 0 &&
                      access(path, R_OK) == 0
                  ? 0
                  : 1);
    int st;
    HH_CHECK(c, waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    bool yes = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    hh_note(c, "test: uid %d %s read %s outside the sandbox", uid,
            yes ? "can" : "cannot", path);
    return yes;
}

static void
read_reference(struct hh_ctx *c)
{
    char top[PATH_MAX], build[PATH_MAX], repo[PATH_MAX + 8], ref[PATH_MAX + 64];
    dirs(c, top, build);
    snprintf(ref, sizeof ref, "%s/ch05-api/oob_recv.c", top);
    HH_CHECK(c, access(ref, R_OK) == 0, "test bug: %s is not there", ref);
    snprintf(repo, sizeof repo, "\"%s\"", top);
    const char *src = hostile(c, "read_reference", "\"/nonexistent\"", repo);
    bool open_repo = readable_by(c, UID_FIRST + 6, ref);
    struct grade g = zero_and_clean(c, src, UID_FIRST + 6);
    HH_CHECK(c, !has(c, g.report, "read_reference: READ "),
             "the submission read a file of the repository:\n%s", g.report);
    if (open_repo)
        HH_CHECK(c,
                 has(c, g.report, "open [^ ]*/ch05-api/oob_recv\\.c: ENOENT") &&
                     has(c, g.report, "exec [^ ]*/oob_recv: ENOENT"),
                 "the submission's attempts did not all find nothing:\n%s",
                 g.report);
    else
        HH_CHECK(c,
                 has(c, g.report,
                     "open [^ ]*/ch05-api/oob_recv\\.c: (ENOENT|EACCES)") &&
                     has(c, g.report, "exec [^ ]*/oob_recv: (ENOENT|EACCES)"),
                 "the submission's attempts were not all refused:\n%s",
                 g.report);
    expect_good_after(c, UID_FIRST + 6);
}

static void
include_reference(struct hh_ctx *c)
{
    char top[PATH_MAX], build[PATH_MAX], inc[PATH_MAX + 16];
    dirs(c, top, build);
    const char *src = hostile(c, "include_reference", "/nonexistent", top);
    /* outside the sandbox the same file compiles: the sandbox is what
     * stops it */
    snprintf(inc, sizeof inc, "-I%s/common", top);
    struct hh_spawn opt = {.role = "cc (no sandbox)", .tool = true};
    const char *args[] = {"-fsyntax-only", inc, src, NULL};
    hh_expect_exit(hh_startv(c, &opt, "cc", args), 0, 60000);
    char ref[PATH_MAX + 64];
    snprintf(ref, sizeof ref, "%s/ch05-api/oob_recv.c", top);
    bool open_repo = readable_by(c, UID_FIRST + 7, ref);
    struct grade g = zero_and_clean(c, src, UID_FIRST + 7);
    HH_CHECK(c,
             has(c, g.report, "compile error") &&
                 has(c, g.report,
                     open_repo ? "oob_recv\\.c: No such file"
                               : "oob_recv\\.c: (No such file|Permission "
                                 "denied)"),
             "not refused at compile time:\n%s", g.report);
    expect_good_after(c, UID_FIRST + 7);
}

/* ^C while a submission runs (one that would never end): the grader
 * cleans up all the same, and says so. */
static void
interrupted(struct hh_ctx *c)
{
    struct grading gr;
    int uid = UID_FIRST + 8;
    grade_start(c, &gr, LAB, hostile(c, "never_exits", NULL, NULL), uid, 60);
    hh_expect_err(gr.p, "^grade: compiled; running ", 60000);
    hh_kill(gr.p, SIGINT);
    hh_expect_err(gr.p, "^grade: stopped by SIGINT", 30000);
    hh_expect_exit(gr.p, 130, 10000);
    expect_clean(c, uid);
    expect_good_after(c, uid);
}

/* A grader killed with SIGKILL (kill -9, the OOM killer) cleans nothing up:
 * its cgroups (G/sub, G/runner in each hierarchy) and its scratch directory
 * stay.  The test leaves the same behind for a uid nothing runs as; the
 * next grader given that uid removes them, says so, grades as usual, and
 * nothing of either is left. */
static void
killed_grader(struct hh_ctx *c)
{
    int uid = UID_FIRST + 9;
    char path[PATH_MAX], roots[MAX_ROOTS][512];
    int made = 0, nroots = cgroup_roots(c, roots);
    for (int i = 0; i < nroots; i++) {
        int len = snprintf(path, sizeof path, "%s/hpsp-grade-%d-killed",
                           roots[i], uid);
        HH_CHECK(c, len > 0 && (size_t)len + 8 < sizeof path,
                 "test bug: %s: path too long", roots[i]);
        /* EEXIST: what a failed run of this test left */
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            continue; /* a hierarchy we may not write: nor may the grader */
        made++;
        strcat(path, "/sub");
        HH_CHECK(c, mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s",
                 path, strerror(errno));
        strcpy(strrchr(path, '/'), "/runner");
        HH_CHECK(c, mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s",
                 path, strerror(errno));
    }
    if (!made)
        hh_skip(c, "no cgroup hierarchy to leave a cgroup in");
    snprintf(path, sizeof path, "/tmp/hpsp-grade-%d-killed", uid);
    HH_CHECK(c, mkdir(path, 0711) == 0 || errno == EEXIST, "mkdir %s: %s", path,
             strerror(errno));
    strcat(path, "/work");
    HH_CHECK(c, mkdir(path, 0700) == 0 || errno == EEXIST, "mkdir %s: %s", path,
             strerror(errno));
    hh_note(c,
            "test: left a killed grader's %d cgroup(s) and /tmp directory "
            "for uid %d",
            made, uid);
    struct grading gr;
    char copy[256];
    good_copy(c, copy, sizeof copy);
    grade_start(c, &gr, LAB, copy, uid, 60);
    hh_expect_err(gr.p,
                  "^grade: removed [^ ]*/hpsp-grade-[0-9]+-killed, left "
                  "by a grader that was killed$",
                  30000);
    struct grade g = grade_end(c, &gr, LAB);
    HH_CHECK(c, g.score == GOOD_SCORE && g.total == GOOD_SCORE,
             "the good submission got %lld/%lld, not %d/%d:\n%s", g.score,
             g.total, GOOD_SCORE, GOOD_SCORE, g.report);
    expect_clean(c, uid);
}

/* ---- the labs keep their promise ------------------------------------------
 * One scenario per folder of labs/, made when the binary starts from its
 * lab.conf (so a new lab needs no code here): the starter as handed out
 * compiles, runs every graded scenario and scores under half; the suite's
 * own file, the reference answer, gets full marks.  Both are graded at
 * once, each as a uid of its own, the way make grade grades them. */
enum { MAX_LABS = 32, UID_LABS = UID_FIRST + 20, GRADE_DEADLINE = 120 };

struct lab {
    char dir[64];      /* labs/DIR */
    char scenario[80]; /* lab_DIR, '-' as '_' */
    char title[160];
    char chapter[64];
    char hand_in[256]; /* the files, space-separated */
    char names[2048];  /* the graded scenarios, as lab.conf has them */
    char fuzz[64];     /* the fuzz target: one point more */
    char error[96];    /* why lab.conf could not be read */
};
static struct lab the_labs[MAX_LABS];
static size_t nlabs;

/* The value of KEY in lab.conf's LINE (comment cut) into OUT, read as
 * mk/grade.py reads it: "key: value", blanks around either. */
static void
conf_value(const char *line, const char *key, char *out, size_t len)
{
    size_t k = strlen(key);
    line += strspn(line, " \t");
    if (strncmp(line, key, k) != 0 || line[k + strspn(line + k, " \t")] != ':')
        return;
    line += k + strspn(line + k, " \t") + 1;
    line += strspn(line, " \t");
    snprintf(out, len, "%s", line);
    for (size_t n = strlen(out); n && strchr(" \t\n", out[n - 1]); n--)
        out[n - 1] = 0;
}

static void
read_lab(const char *top, struct lab *l)
{
    char path[PATH_MAX + 96], line[4096], fuzz[128] = "";
    snprintf(path, sizeof path, "%s/labs/%s/lab.conf", top, l->dir);
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(l->error, sizeof l->error, "open its lab.conf: %s",
                 strerror(errno));
        return;
    }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "#")] = 0;
        conf_value(line, "title", l->title, sizeof l->title);
        conf_value(line, "chapter", l->chapter, sizeof l->chapter);
        conf_value(line, "hand-in", l->hand_in, sizeof l->hand_in);
        conf_value(line, "scenarios", l->names, sizeof l->names);
        conf_value(line, "fuzz", fuzz, sizeof fuzz);
    }
    fclose(f);
    sscanf(fuzz, "%63s", l->fuzz);
    if (!*l->chapter || !*l->hand_in || !*l->names)
        snprintf(l->error, sizeof l->error,
                 "its lab.conf has no chapter:, hand-in: or scenarios:");
}

/* The folders of TOP/labs, each a lab. */
static void
find_labs(const char *top)
{
    char path[PATH_MAX + 8];
    struct dirent **e;
    snprintf(path, sizeof path, "%s/labs", top);
    int n = scandir(path, &e, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        char sub[PATH_MAX + 300];
        struct stat st;
        snprintf(sub, sizeof sub, "%s/%s", path, e[i]->d_name);
        if (e[i]->d_name[0] != '.' && stat(sub, &st) == 0 &&
            S_ISDIR(st.st_mode) && nlabs++ < MAX_LABS) {
            struct lab *l = &the_labs[nlabs - 1];
            snprintf(l->dir, sizeof l->dir, "%.63s", e[i]->d_name);
            snprintf(l->scenario, sizeof l->scenario, "lab_%.63s",
                     e[i]->d_name);
            for (char *p = l->scenario; *p; p++)
                *p = *p == '-' ? '_' : *p;
            read_lab(top, l);
        }
        free(e[i]);
    }
    if (n >= 0)
        free(e);
}

/* A directory holding the lab's hand-in files: the starter's (FROM
 * "starter") or the reference's (FROM NULL: the suite's own). */
static const char *
hand_in(struct hh_ctx *c, const struct lab *l, const char *from)
{
    char top[PATH_MAX], build[PATH_MAX], *out = hh_alloc(c, 256);
    char files[sizeof l->hand_in], *save = NULL;
    dirs(c, top, build);
    hh_tmpfile(c, from ? from : "reference", out, 256);
    HH_CHECK(c, mkdir(out, 0755) == 0, "mkdir %s: %s", out, strerror(errno));
    snprintf(files, sizeof files, "%s", l->hand_in);
    for (char *f = strtok_r(files, " \t", &save); f;
         f = strtok_r(NULL, " \t", &save)) {
        char src[PATH_MAX * 2], dst[512];
        size_t len;
        if (from)
            snprintf(src, sizeof src, "%s/labs/%s/%s/%s", top, l->dir, from, f);
        else
            snprintf(src, sizeof src, "%s/%s/%s", top, l->chapter, f);
        snprintf(dst, sizeof dst, "%s/%s", out, f);
        hh_write_text(c, dst, hh_read_file(c, src, &len));
    }
    return out;
}

/* The graded tests of G are the lab's, in its order: lab.conf's
 * scenarios (unless `all`), then the fuzz target. */
static void
expect_tests(struct hh_ctx *c, const struct lab *l, const struct grade *g,
             const char *what)
{
    char names[sizeof l->names], *save = NULL;
    int k = 0, passed = 0;
    snprintf(names, sizeof names, "%s", l->names);
    for (char *n = strtok_r(names, " \t", &save);
         n && strcmp(l->names, "all") != 0; n = strtok_r(NULL, " \t", &save)) {
        HH_CHECK(c, k < g->ntests && strcmp(g->tests[k].name, n) == 0,
                 "%s: test %d is %s, lab.conf says %s:\n%s", what, k + 1,
                 k < g->ntests ? g->tests[k].name : "missing", n, g->report);
        k++;
    }
    if (*l->fuzz)
        HH_CHECK(c,
                 g->ntests > 0 &&
                     strcmp(g->tests[g->ntests - 1].name, l->fuzz) == 0,
                 "%s: the last test is not the fuzz run %s:\n%s", what, l->fuzz,
                 g->report);
    HH_CHECK(c, g->ntests > 0 && (k == 0 || g->ntests == k + !!*l->fuzz),
             "%s: %d tests graded, lab.conf has %d:\n%s", what, g->ntests,
             k + !!*l->fuzz, g->report);
    for (int i = 0; i < g->ntests; i++)
        passed += strcmp(g->tests[i].status, "passed") == 0;
    HH_CHECK(c, g->total == g->ntests && g->score == passed,
             "%s: score %lld/%lld, but %d of %d tests passed:\n%s", what,
             g->score, g->total, passed, g->ntests, g->report);
}

/* Whether test T of the lab was run: passed, or failed in the run (a
 * cmocka failure report; libFuzzer's start for the fuzz point), not at
 * compile time, nor left out when the test binary died. */
static bool
was_run(const struct lab *l, const struct result *t)
{
    if (strcmp(t->status, "passed") == 0)
        return true;
    if (strstr(t->output, "(the test run ended inside this scenario)"))
        return false;
    if (*l->fuzz && strcmp(t->name, l->fuzz) == 0)
        return strstr(t->output, "INFO: Seed: ") != NULL;
    return strstr(t->output, "[   LINE   ] --- ") != NULL;
}

static void
lab_promise(struct hh_ctx *c)
{
    const struct lab *l = the_labs;
    while (l < the_labs + nlabs && strcmp(l->scenario, c->sc->name) != 0)
        l++;
    HH_CHECK(c, l < the_labs + nlabs, "test bug: no lab for %s", c->sc->name);
    HH_CHECK(c, !*l->error, "%s", l->error);
    int uid = UID_LABS + 2 * (int)(l - the_labs);
    struct grading gs, gr;
    grade_start(c, &gs, l->dir, hand_in(c, l, "starter"), uid, GRADE_DEADLINE);
    grade_start(c, &gr, l->dir, hand_in(c, l, NULL), uid + 1, GRADE_DEADLINE);
    struct grade s = grade_end(c, &gs, l->dir);
    struct grade r = grade_end(c, &gr, l->dir);

    expect_tests(c, l, &s, "the starter");
    for (int i = 0; i < s.ntests; i++)
        HH_CHECK(c, was_run(l, &s.tests[i]),
                 "the starter did not compile or %s did not run:\n%s",
                 s.tests[i].name, s.report);
    HH_CHECK(c, 2 * s.score < s.total,
             "the starter scores %lld/%lld, not under half:\n%s", s.score,
             s.total, s.report);
    expect_tests(c, l, &r, "the reference");
    HH_CHECK(c, r.score == r.total,
             "the reference %s/%s scores %lld/%lld, not full marks:\n%s",
             l->chapter, l->hand_in, r.score, r.total, r.report);
    expect_clean(c, uid);
    expect_clean(c, uid + 1);
}

static const struct hh_scenario scenarios[] = {
    {"good_submission", "", "the suite's own oob_recv.c gets full marks", NULL,
     HH_TEST_ONLY, good_submission},
    {"fork_bomb", "", "a fork bomb: 0 points, no process left", NULL,
     HH_TEST_ONLY, fork_bomb},
    {"disk_filler", "", "a disk filler: each file stops at RLIMIT_FSIZE", NULL,
     HH_TEST_ONLY, disk_filler},
    {"never_exits", "", "ignores SIGTERM, sleeps forever: killed, 0 points",
     NULL, HH_TEST_ONLY, never_exits},
    {"kill_parent", "", "kills its parent and kill(-1): the grading goes on",
     NULL, HH_TEST_ONLY, kill_parent},
    {"connect_out", "", "connects to the host's loopback: nobody is there",
     NULL, HH_TEST_ONLY, connect_out},
    {"read_reference", "", "reads and runs the reference: hidden", NULL,
     HH_TEST_ONLY, read_reference},
    {"include_reference", "", "#includes the reference: does not compile", NULL,
     HH_TEST_ONLY, include_reference},
    {"interrupted", "", "^C while it runs: the sandbox is cleaned up", NULL,
     HH_TEST_ONLY, interrupted},
    {"killed_grader", "",
     "a killed grader's leftovers: the next one removes "
     "them",
     NULL, HH_TEST_ONLY, killed_grader},
};

/* The repository, three levels above HPSP_BIN (REPO/build/VARIANT/bin) or,
 * for --list without HPSP_BIN, above this binary's directory. */
static void
find_top(char *top)
{
    const char *bin = getenv("HPSP_BIN");
    char path[PATH_MAX + 16], exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    if (strrchr(exe, '/'))
        *strrchr(exe, '/') = 0; /* BUILD/tests */
    snprintf(path, sizeof path, "%s/../../..", bin && *bin ? bin : exe);
    if (!realpath(path, top))
        strcpy(top, "/nonexistent"); /* no lab then: a build elsewhere */
}

int
main(int argc, char **argv)
{
    static struct hh_scenario table[HH_LEN(scenarios) + MAX_LABS];
    char top[PATH_MAX];
    size_t n = HH_LEN(scenarios);
    find_top(top);
    find_labs(top);
    if (nlabs > MAX_LABS) { /* not one lab may go ungraded */
        fprintf(stderr, "labs_test: %zu labs in %s/labs, room for %d\n", nlabs,
                top, MAX_LABS);
        return 1;
    }
    memcpy(table, scenarios, sizeof scenarios);
    for (size_t i = 0; i < nlabs; i++) {
        struct lab *l = &the_labs[i];
        table[n++] =
            (struct hh_scenario){.name = l->scenario,
                                 .listing = "",
                                 .title = *l->title ? l->title : l->dir,
                                 .needs = HH_TEST_ONLY,
                                 .run = lab_promise};
    }
    struct hh_chapter chapter = {
        .name = "labs", .scenarios = table, .nscenarios = n};
    return hh_run_chapter(argc, argv, &chapter);
}
