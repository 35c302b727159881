#!/usr/bin/env python3
"""mk/grade.py - grade lab hand-ins (labs/NAME/lab.conf), each in a sandbox.

usage: mk/grade.py --build DIR [--deadline S] [--out DIR] LAB SRC
       mk/grade.py --build DIR [--deadline S] [--out DIR] --class LAB DIR

One submission, as root (make grade / make grade-class call this):
  - a uid of its own (61000 and up, one no process uses), cgroups of its
    own (G/runner for the trusted test binary, G/sub, with pids.max and
    a CPU quota, for everything of the submission), and a scratch directory
    (a 64 MiB tmpfs owned by that uid, in a mount namespace of the
    grader's, so it vanishes with the grader whatever happens);
  - its hand-in files are copied there with the suite headers and the
    lab's `with:` sources, and compiled there with the suite's flags (make
    print-ALL_CFLAGS) by hpsp-fence: as that uid, the repository under an
    empty tmpfs, / read-only.  A compile error scores 0, with its message;
  - program labs: the chapter's test binary runs as root in a network
    namespace of its own (loopback only), inside G/runner, with
    PROG_<program> a wrapper that runs the student's binary under
    hpsp-fence; module labs: the unit test linked with the student's
    module runs whole under hpsp-fence, in a network namespace of its own;
    `fuzz:` adds a libFuzzer run of the student's module, one point more;
  - the whole run has a wall-clock deadline; afterwards every process in
    the cgroup and every process of the uid is killed and waited for, the
    cgroup and the scratch directory removed (also on ^C or SIGTERM).
Writes OUT/results.json (Gradescope), OUT/results.tap, and prints each
scenario, each failure's transcript and `score: P/N (lab NAME)`.  --class
grades every entry of DIR (a file or a directory per student) and writes
OUT/class.csv and OUT/summary.txt.  OUT defaults to build/grade/LAB.
"""
import argparse
import csv
import glob
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

UID_BASE, UID_COUNT = 61000, 1000
SCRATCH_SIZE = "64m"
PIDS_MAX = 16           # processes of a submission in its cgroup at once
CPU_QUOTA_US = 100000   # of every 100 ms: one CPU of the machine at most
LIMITS = ["-t", "10", "-m", "512", "-f", "16384", "-n", "64", "-o", "256"]
COMPILE_LIMITS = ["-t", "60", "-m", "2048", "-f", "65536", "-n", "64",
                  "-o", "256"]
COMPILE_DEADLINE = 120  # seconds of wall clock for compiling one hand-in
FUZZ_TIMEOUT = 10       # seconds on one input: a hang

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = ("title", "chapter", "kind", "program", "test", "scenarios",
        "hand-in", "with", "fuzz")


class Stop(Exception):
    """SIGINT or SIGTERM reached the grader: clean up, then stop."""


def on_signal(sig, _frame):
    raise Stop(signal.Signals(sig).name)


def die(msg):
    sys.exit(f"grade: {msg}")


# ---- the lab -----------------------------------------------------------

def parse_lab(name):
    path = os.path.join(TOP, "labs", name, "lab.conf")
    if not os.path.isfile(path):
        labs = sorted(os.path.basename(os.path.dirname(p)) for p in
                      glob.glob(os.path.join(TOP, "labs", "*", "lab.conf")))
        die(f"no lab {name} (labs/{name}/lab.conf); labs: {' '.join(labs)}")
    conf = {}
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = line.partition(":")
            key = key.strip()
            if not sep or key not in KEYS:
                die(f"{path}:{no}: expected one of {', '.join(KEYS)}")
            conf[key] = value.strip()
    for key in ("chapter", "kind", "test", "scenarios", "hand-in"):
        if not conf.get(key):
            die(f"{path}: no {key}:")
    if conf["kind"] not in ("program", "module"):
        die(f"{path}: kind: {conf['kind']} (program or module)")
    if conf["kind"] == "program" and not conf.get("program"):
        die(f"{path}: a program lab names its program:")
    conf["name"] = name
    conf["hand-in"] = conf["hand-in"].split()
    conf["with"] = conf.get("with", "").split()
    conf["key"] = conf["chapter"].split("-")[0]
    if conf.get("fuzz"):
        target, _, runs = conf["fuzz"].partition(" ")
        conf["fuzz"] = (target, int(runs.strip() or "100000"))
    return conf


def make_vars(*names):
    """The values of make variables (mk/config.mk is the one place the
    flags are written), under the variant and compiler make was given."""
    # MAKEFLAGS carries the variables make was given (VARIANT=asan) and,
    # under make -j, a jobserver this child cannot use: keep the first
    env = dict(os.environ)
    env["MAKEFLAGS"] = " ".join(
        w for w in env.get("MAKEFLAGS", "").split()
        if not w.startswith(("--jobserver", "-j")))
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", TOP] +
                       [f"print-{n}" for n in names], env=env,
                       stdout=subprocess.PIPE, text=True, check=True)
    lines = r.stdout.split("\n")
    return {n: lines[i].split() for i, n in enumerate(names)}


def scenario_names(conf, build):
    """The scenarios graded, one point each."""
    if conf["scenarios"] != "all":
        return conf["scenarios"].split()
    if conf["kind"] == "program":
        r = subprocess.run([os.path.join(build, "tests", conf["test"]),
                            "--list"], stdout=subprocess.PIPE, text=True,
                           check=True)
        return [ln.split()[0] for ln in r.stdout.splitlines()
                if ln.strip() and "(demo only)" not in ln]
    # cmocka cannot list its tests: the suite's own build of the unit test
    # (trusted: the reference module) runs once, and names them
    r = subprocess.run([os.path.join(build, "tests", conf["test"])],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=600)
    names = re.findall(r"^\[ RUN      \] (\S+)$", r.stdout, re.M)
    if not names:
        die(f"{conf['test']} named no test (exit {r.returncode}); list them "
            f"in labs/{conf['name']}/lab.conf instead of 'all'")
    return names


# ---- the sandbox --------------------------------------------------------

def pids_of_uid(uid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if uid in (int(x) for x in line.split()[1:]):
                            out.append(int(d))
                        break
        except OSError:
            pass  # it has just exited
    return out


def free_uid(start):
    """A uid from START on that has no account and runs nothing."""
    import pwd
    for uid in list(range(start, UID_BASE + UID_COUNT)) + \
            list(range(UID_BASE, start)):
        try:
            pwd.getpwuid(uid)
            continue
        except KeyError:
            pass
        if not pids_of_uid(uid):
            sweep_leftovers(uid)
            return uid
    die("no free uid in 61000..61999")


def sweep_leftovers(uid):
    """A grader killed with SIGKILL cannot clean up: its empty cgroups and
    scratch directory stay behind, and the next grader given the same uid
    would be blamed for them.  UID runs nothing now, so whatever bears its
    name is such a leftover: removed, and said so on stderr."""
    prefix = f"hpsp-grade-{uid}-"
    # every hierarchy, not only the two hierarchies() finds: as the tests
    for root in [m[1] for m in mounts() if m[2] in ("cgroup", "cgroup2")]:
        for g in glob.glob(os.path.join(root, prefix + "*")):
            try:
                for d in ("sub", "runner"):
                    if os.path.isdir(os.path.join(g, d)):
                        os.rmdir(os.path.join(g, d))
                os.rmdir(g)
                print(f"grade: removed {g}, left by a grader that was "
                      "killed", file=sys.stderr)
            except OSError as e:  # still in use: leave it, say so
                print(f"grade: cannot remove {g}: {e.strerror}",
                      file=sys.stderr)
    for base in sorted({scratch_base(), "/tmp"}):
        for d in glob.glob(os.path.join(base, prefix + "*")):
            shutil.rmtree(d, ignore_errors=True)
            print(f"grade: {'cannot remove' if os.path.exists(d) else 'removed'}"
                  f" {d}, left by a grader that was killed", file=sys.stderr)


def mounts():
    """/proc/self/mounts, a list of fields per mount."""
    with open("/proc/self/mounts") as f:
        return [ln.split() for ln in f]


def hierarchies():
    """{controller: (directory, version)} of the cgroup hierarchies we can
    nest a submission in, for the pids and cpu controllers."""
    ms, found = mounts(), {}
    for ctl in ("pids", "cpu"):
        for m in ms:
            if m[2] == "cgroup" and ctl in m[3].split(","):
                found[ctl] = (m[1], 1)
                break
        else:
            for m in ms:
                if m[2] != "cgroup2":
                    continue
                try:
                    with open(os.path.join(m[1], "cgroup.controllers")) as f:
                        if ctl in f.read().split():
                            found[ctl] = (m[1], 2)
                            break
                except OSError:
                    pass
    return found


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def cgroup_procs(d):
    try:
        with open(os.path.join(d, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split() if int(x) > 0]
    except OSError:
        return []


def kill_and_wait(pids, deadline):
    """SIGKILL each of PIDS and wait (pidfds, no polling) until each has
    exited or DEADLINE (monotonic) has passed."""
    fds = []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue  # gone already
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        fds.append(fd)
    p = select.poll()
    for fd in fds:
        p.register(fd, select.POLLIN)
    left = len(fds)
    while left and time.monotonic() < deadline:
        for fd, _ in p.poll(max(1, int((deadline - time.monotonic()) * 1000))):
            p.unregister(fd)
            left -= 1
    for fd in fds:
        os.close(fd)



def scratch_base():
    """Where a sandbox's directory goes: TMPDIR, unless that lies in the
    repository (make test gives build/*/tmp), which the fence hides from
    the submission; then /tmp."""
    base = os.path.realpath(tempfile.gettempdir())
    top = os.path.realpath(TOP)
    if base == top or base.startswith(top + os.sep):
        return "/tmp"
    return base


class Sandbox:
    """The uid, cgroup and scratch directory of one submission."""

    def __init__(self, uid, notes, build):
        self.uid = uid
        self.notes = notes
        self.build, self.bindir = build, os.path.join(build, "bin")
        self.top = self.work = None
        self.mounted = False
        self.groups, self.subs, self.runner = [], [], None

    def setup(self):
        """Everything made here is undone by remove(), however far this
        got."""
        uid, notes = self.uid, self.notes
        self.top = tempfile.mkdtemp(prefix=f"hpsp-grade-{uid}-",
                                    dir=scratch_base())
        os.chmod(self.top, 0o711)  # the uid goes through to work/
        self.work = os.path.join(self.top, "work")
        self.tmp = os.path.join(self.top, "tmp")  # the test binary's TMPDIR
        self.link = os.path.join(self.top, "link")  # root's, 0700
        os.mkdir(self.work, 0o700)
        os.mkdir(self.tmp, 0o755)
        os.mkdir(self.link, 0o700)
        # in the grader's own mount namespace: gone with the grader
        subprocess.run(["mount", "-t", "tmpfs", "-o",
                        f"size={SCRATCH_SIZE},mode=0700,uid={uid},gid={uid},"
                        "nosuid,nodev", "hpsp-grade", self.work], check=True)
        self.mounted = True
        for d in ("src", "obj", "bin", "tmp"):
            os.mkdir(os.path.join(self.work, d))
            os.chown(os.path.join(self.work, d), uid, uid)
        # one cgroup per hierarchy: G/runner for the test binary (pids),
        # G/sub for the submission: pids.max, and one CPU at most, so a
        # fork bomb neither starves the harness nor the machine
        found = hierarchies()
        for ctl in ("pids", "cpu"):
            if ctl not in found:
                notes.append(f"sandbox: no {ctl} cgroup controller: "
                             + ("RLIMIT_NPROC alone bounds the processes"
                                if ctl == "pids" else "no CPU quota"))
        for root, version in sorted(set(found.values())):
            ctls = [c for c in found if found[c] == (root, version)]
            g = tempfile.mkdtemp(prefix=f"hpsp-grade-{uid}-", dir=root)
            self.groups.append(g)
            if version == 2:  # processes only in leaves, controllers below
                write(os.path.join(g, "cgroup.subtree_control"),
                      " ".join("+" + c for c in ctls))
            sub = os.path.join(g, "sub")
            os.mkdir(sub)
            self.subs.append(sub)
            if "pids" in ctls:
                write(os.path.join(sub, "pids.max"), f"{PIDS_MAX}\n")
                self.runner = os.path.join(g, "runner")
                os.mkdir(self.runner)
            if "cpu" in ctls and version == 1:
                write(os.path.join(sub, "cpu.cfs_quota_us"),
                      f"{CPU_QUOTA_US}\n")
            elif "cpu" in ctls:
                write(os.path.join(sub, "cpu.max"), f"{CPU_QUOTA_US} 100000\n")

    def join_runner(self):
        """For preexec_fn: this child into G/runner, a session of its own."""
        os.setsid()
        if self.runner:
            write(os.path.join(self.runner, "cgroup.procs"),
                  f"{os.getpid()}\n")

    def fence(self, limits, workdir):
        # HPSP_FENCE_WRAP="valgrind -q --vgdb=no --error-exitcode=99"
        # checks the fence itself through the tests (it runs as root)
        cmd = os.environ.get("HPSP_FENCE_WRAP", "").split() + \
            [os.path.join(self.bindir, "hpsp-fence"), "-u", str(self.uid),
               "-d", workdir, "-H", TOP, "-r", "-w", "/dev/shm"] + limits
        for sub in self.subs:
            cmd += ["-c", sub]
        return cmd + ["--"]

    def kill_all(self):
        """Everything in the cgroup and of the uid, killed and waited for;
        returns how many were still there."""
        seen = 0
        for _ in range(20):  # a fork between a read and the kill
            pids = set(pids_of_uid(self.uid))
            for d in self.subs + [self.runner]:
                if d:
                    pids.update(cgroup_procs(d))
            pids.discard(os.getpid())
            if not pids:
                break
            seen += len(pids)
            kill_and_wait(sorted(pids), time.monotonic() + 2)
        return seen

    def remove(self):
        # a second ^C must not cut the cleaning short
        old = {sig: signal.signal(sig, signal.SIG_IGN)
               for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            self.clean()
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def clean(self):
        left = self.kill_all()
        if left:
            self.notes.append(f"sandbox: {left} process(es) of the "
                              "submission were still there: killed")
        for d in self.subs + [self.runner] + self.groups:
            if d:
                try:
                    os.rmdir(d)
                except OSError as e:
                    self.notes.append(f"sandbox: rmdir {d}: {e.strerror}")
        if self.mounted:
            r = subprocess.run(["umount", self.work], stderr=subprocess.PIPE,
                               text=True)
            if r.returncode:
                self.notes.append(f"sandbox: umount {self.work}: {r.stderr}")
        if self.top:
            shutil.rmtree(self.top, ignore_errors=True)


# ---- one submission ----------------------------------------------------

def find_hand_in(src, names):
    """{name: path} of the hand-in files in SRC (a file when one is asked
    for, or a directory), or a message saying what is missing."""
    if os.path.isfile(src) and not os.path.islink(src):
        if len(names) == 1:
            return {names[0]: src}, None
        return None, f"a single file was handed in; the lab wants " \
                     f"{' '.join(names)}"
    found = {}
    for n in names:
        hits = [os.path.join(d, n) for d, _, files in os.walk(src)
                if n in files]
        if len(hits) != 1:
            return None, (f"no {n} in the submission" if not hits else
                          f"{len(hits)} files named {n} in the submission")
        # root copies it: a link could name a file only root may read
        if os.path.islink(hits[0]) or not os.path.isfile(hits[0]):
            return None, f"{n} is not a regular file"
        found[n] = hits[0]
    return found, None


def copy_sources(conf, files, sb):
    """Hand-in files and suite headers and sources into work/src, laid out
    as in the repository, owned by the uid."""
    src = os.path.join(sb.work, "src")
    chapter = conf["chapter"]
    headers = set(glob.glob(os.path.join(TOP, "common", "*.h")))
    # the headers of the suite's sources around it (a module's own, one
    # of another chapter's it includes by "../chNN-topic/x.h"); never the
    # tests' (tests/unit: the grader's)
    around = conf["with"] + [u for u in conf.get("unit_srcs", [])
                             if not u.startswith("tests/")]
    dirs = {chapter} | {os.path.dirname(w) for w in around}
    for d in dirs:
        headers.update(glob.glob(os.path.join(TOP, d, "*.h")))
    for path in sorted(headers) + [os.path.join(TOP, w) for w in
                                   conf["with"]]:
        rel = os.path.relpath(path, TOP)
        if os.path.basename(rel) in files:
            continue  # the student's own version of it
        copy_to(path, os.path.join(src, rel))
    for name, path in files.items():
        copy_to(path, os.path.join(src, chapter, name))
    for d, subdirs, names in os.walk(src):
        for n in subdirs + names:
            os.chown(os.path.join(d, n), sb.uid, sb.uid)


def copy_to(path, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copyfile(path, dest)


def fenced(sb, cmd, deadline, env=None, cwd=None):
    """Run CMD (already fenced) in G/runner with a deadline: (rc, output);
    rc None when the deadline passed (the lot is killed)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env, cwd=cwd or "/",
                         preexec_fn=sb.join_runner)
    try:
        out, _ = p.communicate(timeout=deadline)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        sb.kill_all()
        out, _ = p.communicate()
        rc = None
    return rc, out.decode(errors="replace")


def progress(msg):
    """One line on stderr while a submission is graded (a run takes
    seconds to a minute)."""
    print(f"grade: {msg}", file=sys.stderr, flush=True)


def clean_env(**more):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
           "LANG": "C.UTF-8"}
    env.update(more)
    return env


def compile_hand_in(conf, mv, sb, files, link_cmd):
    """Compile the hand-in in the fence; None, or the compiler's message."""
    cc = shutil.which(mv["CC"][0])
    cflags = [f for f in mv["ALL_CFLAGS"] if f not in ("-MMD", "-MP")]
    work = sb.work
    env = clean_env(TMPDIR=os.path.join(work, "tmp"))
    cmd = sb.fence(COMPILE_LIMITS, os.path.join(work, "src")) + \
        [cc] + mv["CC"][1:] + cflags + link_cmd
    rc, out = fenced(sb, cmd, COMPILE_DEADLINE, env=env)
    if rc is None:
        return f"the compiler did not finish within {COMPILE_DEADLINE} s"
    if rc != 0:
        return out or f"the compiler exited {rc}"
    return None


def parse_run(out, names):
    """{scenario: (passed, transcript)} from cmocka's output."""
    results = {}
    cur, lines = None, []
    for line in out.splitlines():
        m = re.match(r"^\[ RUN      \] (\S+)$", line)
        if m:
            cur, lines = m.group(1), []
            continue
        m = re.match(r"^\[ +(OK|FAILED|SKIPPED|ERROR) +\] (\S+)$", line)
        if m and cur and m.group(2) == cur:
            results[cur] = (m.group(1) == "OK", "\n".join(lines))
            cur = None
            continue
        if cur:
            lines.append(line)
    if cur:  # the run ended inside a scenario
        results[cur] = (False, "\n".join(lines) +
                        "\n(the test run ended inside this scenario)")
    return {n: results.get(n, (False, "not run: the test run ended first"))
            for n in names}


def grade_program(conf, mv, sb, files, names, deadline):
    prog = conf["program"]
    sources = [os.path.join(conf["chapter"], n) for n in files
               if n.endswith(".c")] + [w for w in conf["with"]]
    binary = os.path.join(sb.work, "bin", prog)
    link = mv["ALL_LDFLAGS"] + ["-o", binary] + sources + \
        mv[f"{conf['key']}_LDLIBS_{prog}"]
    err = compile_hand_in(conf, mv, sb, files, link)
    if err:
        return None, err
    wrapper = os.path.join(sb.top, prog)
    fence = " ".join(f"'{a}'" for a in sb.fence(LIMITS, sb.work))
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\n# {prog} of a submission, fenced (mk/grade.py)"
                f"\nexec {fence} '{binary}' \"$@\"\n")
    os.chmod(wrapper, 0o755)
    test = os.path.join(sb.build, "tests", conf["test"])
    env = clean_env(HPSP_BIN=os.path.join(sb.build, "bin"), TMPDIR=sb.tmp,
                    **{f"PROG_{prog}": wrapper})
    cmd = ["unshare", "--net", "--", "sh", "-c",
           'ip link set lo up && exec "$@"', "sh", test] + names
    progress(f"compiled; running {conf['test']} {' '.join(names)}")
    rc, out = fenced(sb, cmd, deadline, env=env, cwd=TOP)
    if rc is None:
        out += f"\n(the whole run passed its deadline of {deadline} s)"
    return parse_run(out, names), out


def take_object(sb, obj):
    """A copy of the object file OBJ the student's compile made, in root's
    link directory: root links from there, so it cannot be swapped for a
    link to a file of root's in between.  Returns the copy's path."""
    dest = os.path.join(sb.link, os.path.basename(obj))
    fd = os.open(obj, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f, open(dest, "wb") as g:
        g.write(f.read(64 << 20))
    return dest


def grade_module(conf, mv, sb, files, names, deadline):
    test = conf["test"]  # unit/test_X
    tname = os.path.basename(test)
    helpers = [s for s in mv[f"UNIT_SRCS_{tname}"]
               if os.path.basename(s) not in files]
    mods = [os.path.join(conf["chapter"], n) for n in files
            if n.endswith(".c")]
    objs = []
    for m in mods:
        obj = os.path.join(sb.work, "obj", os.path.basename(m)[:-2] + ".o")
        err = compile_hand_in(conf, mv, sb, files, ["-c", "-o", obj, m])
        if err:
            return None, err
        objs.append(obj)
    linked = [take_object(sb, obj) for obj in objs]
    binary = os.path.join(sb.link, tname)
    r = subprocess.run([mv["CC"][0]] + mv["CC"][1:] + mv["ALL_LDFLAGS"] +
                       ["-o", binary,
                        os.path.join(sb.build, "obj", "tests", test + ".o")] +
                       linked + [os.path.join(sb.build, "obj", h[:-2] + ".o")
                                 for h in helpers] +
                       [os.path.join(sb.build, "lib", "libharness.a"),
                        os.path.join(sb.build, "lib", "libhpsp.a")] +
                       mv["CMOCKA_LIBS"] + mv[f"UNIT_LDLIBS_{tname}"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode:
        return None, "link: " + r.stdout
    run_bin = os.path.join(sb.work, "bin", tname)
    shutil.copy(binary, run_bin)
    os.chmod(run_bin, 0o755)
    cmd = ["unshare", "--net", "--", "sh", "-c",
           'ip link set lo up && exec "$@"', "sh"] + \
        sb.fence(LIMITS, sb.work) + [run_bin]
    env = clean_env(TMPDIR=os.path.join(sb.work, "tmp"))
    progress(f"compiled; running {tname}")
    rc, out = fenced(sb, cmd, deadline, env=env)
    if rc is None:
        out += f"\n(the whole run passed its deadline of {deadline} s)"
    return parse_run(out, names), out


def grade_fuzz(conf, mv, sb, files, deadline):
    """(passed, output) of a libFuzzer run of the student's module."""
    target, runs = conf["fuzz"]
    clang = shutil.which("clang")
    if not clang:
        return False, "no clang: the fuzz point cannot be earned here"
    mods = [os.path.join(conf["chapter"], n) for n in files
            if n.endswith(".c")]
    san = ["-fsanitize=fuzzer-no-link,address,undefined",
           "-fno-sanitize-recover=all"]
    flags = ["-std=gnu11", "-g", "-O1", "-fno-omit-frame-pointer", "-Icommon"]
    objs = []
    for m in mods:
        obj = os.path.join(sb.work, "obj", "fuzz-" +
                           os.path.basename(m)[:-2] + ".o")
        cmd = sb.fence(COMPILE_LIMITS[:2] + ["-m", "0"] + COMPILE_LIMITS[4:],
                       os.path.join(sb.work, "src")) + \
            [clang] + flags + san + ["-c", "-o", obj, m]
        rc, out = fenced(sb, cmd, COMPILE_DEADLINE,
                         env=clean_env(TMPDIR=os.path.join(sb.work, "tmp")))
        if rc != 0:
            return False, "fuzz build: " + out
        objs.append(take_object(sb, obj))
    binary = os.path.join(sb.link, target)
    r = subprocess.run([clang] + flags +
                       ["-fsanitize=fuzzer,address,undefined", "-o", binary,
                        os.path.join(TOP, "tests", "fuzz", target + ".c")] +
                       objs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, cwd=TOP)
    if r.returncode:
        return False, "fuzz link: " + r.stdout
    fz = os.path.join(sb.top, "fuzz")  # seeds and dictionary, readable
    os.makedirs(fz, mode=0o755)
    stem = target[len("fuzz_"):] if target.startswith("fuzz_") else target
    seeds = os.path.join(TOP, "tests", "fuzz", "corpus", stem)
    args = [f"-runs={runs}", f"-timeout={FUZZ_TIMEOUT}", "-max_len=4096",
            "-rss_limit_mb=1024", f"-artifact_prefix={sb.work}/",
            "-print_final_stats=1"]
    dic = os.path.join(TOP, "tests", "fuzz", stem + ".dict")
    if os.path.isfile(dic):
        shutil.copy(dic, fz)
        args.append(f"-dict={os.path.join(fz, os.path.basename(dic))}")
    corpus = os.path.join(sb.work, "corpus")
    os.mkdir(corpus)
    os.chown(corpus, sb.uid, sb.uid)
    if os.path.isdir(seeds):
        shutil.copytree(seeds, os.path.join(fz, "seeds"))
        args += [corpus, os.path.join(fz, "seeds")]
    run_bin = os.path.join(sb.work, "bin", target)
    shutil.copy(binary, run_bin)
    os.chmod(run_bin, 0o755)
    cmd = ["unshare", "--net", "--"] + \
        sb.fence(["-t", str(deadline), "-m", "0", "-f", "16384", "-n", "64",
                  "-o", "256"], sb.work) + [run_bin] + args
    rc, out = fenced(sb, cmd, deadline,
                     env=clean_env(TMPDIR=os.path.join(sb.work, "tmp")))
    if rc is None:
        return False, out + f"\n(fuzzing passed its deadline of {deadline} s)"
    tail = "\n".join(out.splitlines()[-40:])
    return rc == 0, tail


def grade_one(conf, mv, build, src, uid, deadline):
    """{"tests": [(name, passed, output)], "notes": [...]} of one hand-in."""
    names = conf["names"]
    notes = []
    tests = []
    files, why = find_hand_in(src, conf["hand-in"])
    if files is None:
        tests = [(n, False, why) for n in names]
        if conf.get("fuzz"):
            tests.append((conf["fuzz"][0], False, why))
        return {"tests": tests, "notes": notes}
    sb = Sandbox(uid, notes, build)
    try:
        sb.setup()
        copy_sources(conf, files, sb)
        grade_kind = grade_program if conf["kind"] == "program" \
            else grade_module
        results, out = grade_kind(conf, mv, sb, files, names, deadline)
        if results is None:
            msg = "compile error (score 0):\n" + out
            tests = [(n, False, msg) for n in names]
        else:
            tests = [(n, ok, text) for n, (ok, text) in results.items()]
        if conf.get("fuzz"):
            if results is None:
                tests.append((conf["fuzz"][0], False, msg))
            else:
                sb.kill_all()
                ok, text = grade_fuzz(conf, mv, sb, files, deadline)
                tests.append((conf["fuzz"][0], ok, text))
    finally:
        sb.remove()
    return {"tests": tests, "notes": notes}


# ---- reports ------------------------------------------------------------

def write_results(outdir, lab, res):
    os.makedirs(outdir, exist_ok=True)
    tests = res["tests"]
    score = sum(1 for _, ok, _ in tests if ok)
    doc = {"score": score, "max_score": len(tests),
           "output": "\n".join(res["notes"]),
           "tests": [{"name": n, "score": 1 if ok else 0, "max_score": 1,
                      "status": "passed" if ok else "failed",
                      "output": "" if ok else text}
                     for n, ok, text in tests]}
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    with open(os.path.join(outdir, "results.tap"), "w") as f:
        f.write(f"TAP version 13\n1..{len(tests)}\n")
        for i, (n, ok, text) in enumerate(tests, 1):
            f.write(f"{'ok' if ok else 'not ok'} {i} - {n}\n")
            if not ok:
                f.write("".join(f"# {ln}\n" for ln in text.splitlines()))
        f.write(f"# score: {score}/{len(tests)} (lab {lab})\n")
    return score, len(tests)


def report(lab, res, outdir, quiet=False):
    score, total = write_results(outdir, lab, res)
    if not quiet:
        for n, ok, text in res["tests"]:
            print(f"{'PASS' if ok else 'FAIL'}  {n}")
        shown = {}  # a compile error is the same text for every one
        for n, ok, text in res["tests"]:
            if ok:
                continue
            if text in shown:
                print(f"--- {n}: the same as {shown[text]} ---")
                continue
            shown[text] = n
            print(f"--- {n}: what happened ---")
            print(text.rstrip() or "(no output)")
        for note in res["notes"]:
            print(note)
    print(f"score: {score}/{total} (lab {lab})")
    return score, total


def grade_class(conf, mv, build, d, deadline, outdir):
    entries = sorted(e for e in os.listdir(d) if not e.startswith("."))
    if not entries:
        die(f"{d}: no submissions")
    rows, fails = [], {}
    uid = UID_BASE
    for e in entries:
        student = os.path.splitext(e)[0] if os.path.isfile(
            os.path.join(d, e)) else e
        uid = free_uid(uid)
        print(f"== {student} (uid {uid})", flush=True)
        res = grade_one(conf, mv, build, os.path.join(d, e), uid, deadline)
        sdir = os.path.join(outdir, "students", student)
        score, total = report(conf["name"], res, sdir, quiet=True)
        rows.append((student, score, total,
                     [1 if ok else 0 for _, ok, _ in res["tests"]]))
        for n, ok, _ in res["tests"]:
            if not ok:
                fails[n] = fails.get(n, 0) + 1
        uid = uid + 1 if uid + 1 < UID_BASE + UID_COUNT else UID_BASE
    names = [n for n, _, _ in res["tests"]]
    with open(os.path.join(outdir, "class.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", "max"] + names)
        for student, score, total, marks in rows:
            w.writerow([student, score, total] + marks)
    total = len(names)
    lines = [f"lab {conf['name']}: {len(rows)} submission(s), "
             f"{total} point(s) each", "", "score  students"]
    for s in range(total, -1, -1):
        k = sum(1 for r in rows if r[1] == s)
        lines.append(f"{s:>3}/{total}  {k:>3}  {'#' * k}")
    if fails:
        worst = max(fails.values())
        most = [n for n in names if fails.get(n) == worst]
        lines += ["", f"most often failed: {', '.join(most)} "
                      f"({worst} of {len(rows)})"]
    else:
        lines += ["", "every scenario passed by everyone"]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(outdir, "summary.txt"), "w") as f:
        f.write(text)
    print(text, end="")
    print(f"wrote {os.path.join(outdir, 'class.csv')} and summary.txt")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="e.g. build/plain")
    ap.add_argument("--deadline", type=int, default=120,
                    help="seconds of wall clock for one submission's run")
    ap.add_argument("--out", help="default: build/grade/LAB")
    ap.add_argument("--class", dest="klass", action="store_true",
                    help="SRC is a directory of submissions")
    ap.add_argument("--uid", type=int, help="first uid to try (tests)")
    ap.add_argument("lab")
    ap.add_argument("src")
    a = ap.parse_args()
    if os.geteuid() != 0:
        die("grading runs submissions fenced, which takes root "
            "(sudo make grade ...)")
    src = os.path.abspath(a.src)
    if not os.path.exists(src):
        die(f"{a.src}: no such file or directory")
    # a mount namespace of our own: the scratch mounts vanish with us,
    # whatever ends us
    if os.environ.get("HPSP_GRADE_NS") != str(os.getpid()):
        os.environ["HPSP_GRADE_NS"] = str(os.getpid())
        os.execvp("unshare", ["unshare", "--mount", "--propagation",
                              "private", sys.executable] + sys.argv)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    os.chdir(TOP)
    build = os.path.abspath(a.build)
    conf = parse_lab(a.lab)
    names = ["CC", "ALL_CFLAGS", "ALL_LDFLAGS", "CMOCKA_LIBS"]
    if conf["kind"] == "program":
        names.append(f"{conf['key']}_LDLIBS_{conf['program']}")
    else:
        t = os.path.basename(conf["test"])
        names += [f"UNIT_SRCS_{t}", f"UNIT_LDLIBS_{t}"]
    mv = make_vars(*names)
    if not os.access(os.path.join(build, "bin", "hpsp-fence"), os.X_OK):
        die(f"no {build}/bin/hpsp-fence: make all first")
    conf["names"] = scenario_names(conf, build)
    if conf["kind"] == "module":
        conf["unit_srcs"] = mv[f"UNIT_SRCS_{os.path.basename(conf['test'])}"]
    outdir = os.path.abspath(a.out or os.path.join(TOP, "build", "grade",
                                                   a.lab))
    os.makedirs(outdir, exist_ok=True)
    try:
        if a.klass:
            if not os.path.isdir(src):
                die(f"{a.src}: not a directory of submissions")
            grade_class(conf, mv, build, src, a.deadline, outdir)
            return 0
        uid = free_uid(a.uid or UID_BASE)
        res = grade_one(conf, mv, build, src, uid, a.deadline)
        report(a.lab, res, outdir)
        print(f"wrote {os.path.join(outdir, 'results.json')} and "
              "results.tap")
        return 0
    except Stop as e:
        print(f"grade: stopped by {e}; the sandbox was cleaned up",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
