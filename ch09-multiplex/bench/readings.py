# ch09-multiplex/bench/readings.py - what the chapter-9 memory benchmarks
# read from the kernel and from their processes, and how they run them:
# shared by bench/conncost (what one connection costs) and bench/million
# (one million connections), so both read the same numbers the same way.
#
#   read_slab()        every /proc/slabinfo cache (or /sys/kernel/slab)
#   read_meminfo()     /proc/meminfo, in bytes
#   read_sockstat()    the TCP line of /proc/net/sockstat (this netns)
#   user_reading(pid)  VmRSS and Private_Dirty of a process, in bytes
#   aliases()          caches SLUB merged, by the name slabinfo shows
#   machine()          CPU model, CPUs, memory, kernel: one line
#   Proc, wait_until   a child whose stdout lines are awaited with a
#                      deadline; a condition polled up to a deadline
#   raise_nofile()     the soft RLIMIT_NOFILE up to the hard one
import os
import resource
import select
import subprocess
import time

DEADLINE_S = 60
_ALIASES = None


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def read_slab():
    """{cache: (active objects, object size, bytes in its slabs)}"""
    out = {}
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                if line.startswith(("slabinfo", "#")):
                    continue
                v = line.split()
                pages = int(v[5]) * int(v[14])
                out[v[0]] = (int(v[1]), int(v[3]), pages * 4096)
        return out
    except PermissionError:
        pass
    base = "/sys/kernel/slab"
    for name in os.listdir(base):
        d = os.path.join(base, name)
        if os.path.islink(d):
            continue

        def val(f):
            with open(os.path.join(d, f)) as fh:
                return int(fh.read().split()[0])
        out[name] = (val("objects"), val("object_size"),
                     val("slabs") * (4096 << val("order")))
    return out


def read_meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0]) * 1024
    return out


def read_sockstat():
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                v = line.split()[1:]
                return {v[i]: int(v[i + 1]) for i in range(0, len(v), 2)}
    return {}


def user_reading(pid):
    """VmRSS and Private_Dirty of PID, in bytes."""
    rss = pd = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Private_Dirty:"):
                pd = int(line.split()[1]) * 1024
    return rss, pd


class Proc:
    """A child process whose stdout lines are read with deadlines."""

    def __init__(self, cmd, errpath):
        self.err = open(errpath, "w")
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.err)
        self.buf = b""
        self.lines = []

    def expect(self, prefix, timeout):
        end = time.monotonic() + timeout
        while True:
            for i, line in enumerate(self.lines):
                if line.startswith(prefix):
                    del self.lines[:i + 1]
                    return line
            left = end - time.monotonic()
            if left <= 0:
                raise RuntimeError("no '%s' line from %s within %ds"
                                   % (prefix, self.p.args[0], timeout))
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError("%s ended (status %s) before '%s'"
                                       % (self.p.args[0], self.p.poll(),
                                          prefix))
                self.buf += chunk
                *done, self.buf = self.buf.split(b"\n")
                self.lines += [x.decode(errors="replace") for x in done]

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def end_input(self):
        if not self.p.stdin.closed:
            self.p.stdin.close()

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()  # by its pid, only ours
            self.p.wait()
            raise RuntimeError("%s did not end within %ds"
                               % (self.p.args[0], timeout))

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.err.close()


def wait_until(what, cond, timeout=DEADLINE_S):
    """Poll COND (returns (done, state text)) every 50 ms, up to TIMEOUT."""
    end = time.monotonic() + timeout
    while True:
        done, state = cond()
        if done:
            return
        if time.monotonic() > end:
            raise RuntimeError("%s: not within %ds: %s" % (what, timeout,
                                                           state))
        time.sleep(0.05)


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = read_meminfo()["MemTotal"] / 2**30
    return "%s, %d CPUs, %.1f GiB, Linux %s" % (cpu, os.cpu_count(), mem,
                                               os.uname().release)


def aliases():
    """{slabinfo name: [the other caches merged into it]}"""
    global _ALIASES
    if _ALIASES is None:
        _ALIASES = read_aliases()
    return _ALIASES


def read_aliases():
    base = "/sys/kernel/slab"
    out = {}
    try:
        names = os.listdir(base)
    except OSError:
        return out
    target_of = {}
    for name in names:
        p = os.path.join(base, name)
        target_of[name] = os.path.basename(os.path.realpath(p))
    by_target = {}
    for name, t in target_of.items():
        if name != t and not name.startswith(":"):
            by_target.setdefault(t, []).append(name)
    for t, names in by_target.items():
        names.sort()
        # slabinfo lists a merged cache under one of its names
        for name in names:
            out[name] = [x for x in names if x != name]
    return out
