#!/usr/bin/env python3
"""mk/mutants.py - grade plausible wrong programs; every one must lose points.

Each chapter lists its mutants in chNN-topic/mutants, blocks separated by
blank lines ('#' starts a comment line):

    mutant: et_reads_once
    program: echo_server
    file: ch09-multiplex/echo_core.c
    find: while (n > 0) {
    replace: if (n > 0) {
    why: reads once per edge-triggered wake-up and strands the rest

'find' is literal text that occurs exactly once in FILE, inside one line;
'replace' takes its place.  For each mutant this script copies the tracked
sources to a scratch tree once, applies the change there, builds PROGRAM,
checks that the binary really differs, and runs the chapter's test
binaries with PROG_<program>=<the mutant> (a grading run, as a teacher
would).  A mutant that keeps full marks means a scenario a wrong program
passes: the run fails, and so does a mutant that does not compile or
changes nothing.  A block with 'expect: full' is the other way round: a
correct alternative design (MSG_NOSIGNAL instead of ignoring SIGPIPE) that
must keep full marks (it may repeat find/replace pairs, applied in order), so that no scenario asserts a method instead of an
outcome.  Prints a table: mutant, program, score, what caught it.

usage: mk/mutants.py --build DIR [--chapter chNN] [--only NAME] [--list]
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

FIELDS = ("mutant", "program", "file", "find", "replace", "why")
OPTIONAL = ("expect",)  # "full": a correct alternative, must keep full marks
TEST_TIMEOUT = 600  # seconds per chapter test binary: the harness has its own


def parse(path):
    """The mutants of one file, as dicts; exits on a malformed block."""
    mutants, cur = [], {}
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for no, line in enumerate(lines + [""], 1):
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                missing = [k for k in FIELDS if k not in cur]
                if missing:
                    sys.exit(f"{path}:{no}: mutant "
                             f"{cur.get('mutant', '?')} lacks "
                             f"{', '.join(missing)}")
                cur["chapter_dir"] = os.path.dirname(path)
                mutants.append(cur)
                cur = {}
            continue
        key, sep, value = line.partition(":")
        if not sep or key not in FIELDS + OPTIONAL:
            sys.exit(f"{path}:{no}: expected one of "
                     f"{', '.join(FIELDS + OPTIONAL)}, got: {line}")
        if key in ("find", "replace"):  # pairs, in order
            cur.setdefault(key + "s", []).append(value.strip())
            cur[key] = value.strip()
            continue
        if key in cur:
            sys.exit(f"{path}:{no}: {key} given twice")
        cur[key] = value.strip()
    return mutants


def check(m, top):
    """Why mutant M cannot be applied, or None."""
    path = os.path.join(top, m["file"])
    if not os.path.isfile(path):
        return f"no file {m['file']}"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if m.get("expect", "loss") not in ("loss", "full"):
        return f"expect: {m['expect']} (want loss or full)"
    if len(m["finds"]) != len(m["replaces"]):
        return "every find needs its replace"
    if len(m["finds"]) > 1 and m.get("expect") != "full":
        return "a mutant is a one-line change: one find, one replace"
    for find, replace in zip(m["finds"], m["replaces"]):
        n = text.count(find)
        if not find:
            return "empty find"
        if n != 1:
            return f"'{find}' occurs {n} times in {m['file']} (want 1)"
        if find == replace:
            return "replace is the same as find"
    return None


def mutate(m, text):
    for find, replace in zip(m["finds"], m["replaces"]):
        text = text.replace(find, replace, 1)
    return text


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


def chapter_tests(build, chapter_dir):
    key = os.path.basename(chapter_dir).split("-")[0]
    tests = sorted(glob.glob(os.path.join(build, "tests", f"{key}_test")) +
                   glob.glob(os.path.join(build, "tests", f"{key}_*_test")))
    return key, tests


def names_program(test, program):
    """Whether TEST's source names PROGRAM: the harness starts programs by
    name, so a test binary whose source never says "program" cannot run
    it, and grading the mutant there would only cost time."""
    src = os.path.join("tests", os.path.basename(test) + ".c")
    try:
        with open(src, encoding="utf-8") as f:
            return f'"{program}"' in f.read()
    except OSError:
        return True  # no source to judge by: run it


def grade(m, mutant_bin, build, bindir):
    """(passed, total, caught_by, seconds) of the chapter's tests."""
    key, tests = chapter_tests(build, m["chapter_dir"])
    tests = [t for t in tests if names_program(t, m["program"])]
    if not tests:
        sys.exit(f"mutant {m['mutant']}: no test binary for {key} in "
                 f"{build}/tests runs {m['program']}")
    env = dict(os.environ)
    env["HPSP_BIN"] = bindir
    env["PROG_" + m["program"]] = mutant_bin
    passed = total = 0
    caught = []
    t0 = time.monotonic()
    for t in tests:
        try:
            r = run([t], env=env, timeout=TEST_TIMEOUT)
            out = r.stdout
        except subprocess.TimeoutExpired as e:
            out = e.stdout or ""
            if isinstance(out, bytes):
                out = out.decode(errors="replace")
            caught.append(f"{os.path.basename(t)} timed out")
        scores = re.findall(r"^score: (\d+)/(\d+)", out, re.M)
        if not scores:
            caught.append(f"{os.path.basename(t)}: no score line")
            continue
        passed += int(scores[-1][0])
        total += int(scores[-1][1])
        for name in re.findall(r"^\[  FAILED  \] (\w+)$", out, re.M):
            if name not in caught:
                caught.append(name)
    return passed, total, caught, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="e.g. build/plain")
    ap.add_argument("--chapter", help="only this chapter (ch09)")
    ap.add_argument("--only", help="only the mutant of this name")
    ap.add_argument("--list", action="store_true", help="list and exit")
    a = ap.parse_args()

    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(top)
    build = os.path.abspath(a.build)
    bindir = os.path.join(build, "bin")
    mutants = []
    for f in sorted(glob.glob("ch[0-9][0-9]-*/mutants")):
        if a.chapter and not os.path.dirname(f).startswith(a.chapter):
            continue
        mutants += parse(f)
    if a.only:
        mutants = [m for m in mutants if m["mutant"] == a.only]
    if not mutants:
        sys.exit("make mutants: no mutant matches")
    names = [m["mutant"] for m in mutants]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit(f"make mutants: names used twice: {', '.join(sorted(dup))}")
    if a.list:
        for m in mutants:
            print(f"{m['mutant']:28} {m['program']:20} {m['why']}")
        return 0

    bad = [(m, check(m, top)) for m in mutants]
    bad = [(m, why) for m, why in bad if why]
    for m, why in bad:
        print(f"make mutants: {m['mutant']}: {why}", file=sys.stderr)
    if bad:
        return 1

    # One scratch copy of the tracked sources; each mutant is applied to
    # it, built, and undone.  Its own build tree, so build/ is untouched.
    scratch = tempfile.mkdtemp(prefix="hpsp-mutants-")
    try:
        files = run(["git", "ls-files", "-z"], check=True).stdout
        for rel in filter(None, files.split("\0")):
            if os.path.isfile(rel):
                dst = os.path.join(scratch, rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy2(rel, dst)
        # the chapter's sources as they are now, tracked or not yet
        for m in mutants:
            dst = os.path.join(scratch, m["file"])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(m["file"], dst)
        return grade_all(mutants, scratch, build, bindir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def grade_all(mutants, scratch, build, bindir):
    rows, failures = [], 0
    sbuild = os.path.join(scratch, "build", "plain")
    keep = os.path.join(scratch, "mutant-bin")
    os.makedirs(keep)
    print(f"make mutants: {len(mutants)} mutant(s); each is graded like a "
          f"student's program (PROG_<name>=...)", flush=True)
    for m in mutants:
        target = os.path.join("build", "plain", "bin", m["program"])
        src = os.path.join(scratch, m["file"])
        with open(src, encoding="utf-8") as f:
            original = f.read()
        r = run(["make", "-s", "-C", scratch, "VARIANT=plain", target])
        if r.returncode != 0:
            print(r.stdout[-2000:])
            sys.exit(f"make mutants: {m['program']} does not build unchanged")
        orig_bin = os.path.join(keep, m["program"] + ".orig")
        shutil.copy2(os.path.join(sbuild, "bin", m["program"]), orig_bin)
        try:
            with open(src, "w", encoding="utf-8") as f:
                f.write(mutate(m, original))
            r = run(["make", "-s", "-C", scratch, "VARIANT=plain", target])
            mut_bin = os.path.join(keep, m["program"])
            built = r.returncode == 0
            if built:
                shutil.copy2(os.path.join(sbuild, "bin", m["program"]),
                             mut_bin)
        finally:
            with open(src, "w", encoding="utf-8") as f:
                f.write(original)
        if not built:
            print(r.stdout[-2000:])
            rows.append((m, "-", "does not compile"))
            failures += 1
            continue
        if run(["cmp", "-s", orig_bin, mut_bin]).returncode == 0:
            rows.append((m, "-", "the binary did not change"))
            failures += 1
            continue
        passed, total, caught, secs = grade(m, mut_bin, build, bindir)
        score = f"{passed}/{total}"
        full = passed >= total and not caught
        listed = ", ".join(caught[:3]) + (
            f" (+{len(caught) - 3} more)" if len(caught) > 3 else "")
        if m.get("expect") == "full":
            # a correct alternative design: a test that marks it down
            # asserts a method, not an outcome
            verdict = ("correct alternative: full marks, as it should" if full
                       else f"CORRECT ALTERNATIVE MARKED DOWN by {listed}")
            failures += 0 if full else 1
        elif full:
            verdict = "NOT CAUGHT: full marks"
            failures += 1
        else:
            verdict = listed
        rows.append((m, score, verdict))
        print(f"  {m['mutant']:26} {score:>7}  {secs:5.1f} s  {verdict}",
              flush=True)

    print()
    print(f"| {'mutant':26} | {'program':18} | {'score':7} | caught by")
    print(f"|{'-' * 28}|{'-' * 20}|{'-' * 9}|{'-' * 40}")
    for m, score, verdict in rows:
        print(f"| {m['mutant']:26} | {m['program']:18} | {score:7} | "
              f"{verdict}")
    print()
    for m, _, _ in rows:
        print(f"  {m['mutant']}: {m['why']}")
    print()
    alts = sum(1 for m, _, _ in rows if m.get("expect") == "full")
    if failures:
        print(f"make mutants: FAILED: {failures} of {len(rows)} row(s): a "
              f"mutant kept full marks, a correct alternative lost points, "
              f"or a row was not valid")
        return 1
    print(f"make mutants: all {len(rows) - alts} mutant(s) lost points"
          + (f"; {alts} correct alternative(s) kept full marks" if alts
             else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
