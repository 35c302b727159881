#!/bin/bash
# leftovers.sh - after make test, nothing of the suite may remain.
#
#   mk/leftovers.sh before BUILD    note what exists now (BUILD/leftovers.before)
#   mk/leftovers.sh after BUILD     what is new since: listed, removed, exit 1
#
# Looked at: System V semaphore sets, shared-memory segments and message
# queues and /dev/shm entries of this user; processes running a program
# of this build (BUILD/bin, BUILD/tests); anything left in BUILD/tmp, the
# temp dir make test gives the harness (socket files, scenario dirs), and
# /tmp/hpsp-world-* (hh_world_dir's, for programs that drop privileges).
# As root the harness runs each chapter in namespaces of its own, so a
# leak stays inside them and each scenario checks its own
# (tests/harness/leftovers.c); this is the last line, for everything else
# (unit tests, runs without root, the namespaces themselves).
set -u
mode=${1:?usage: leftovers.sh before|after BUILD}
build=$(cd "${2:?usage: leftovers.sh before|after BUILD}" && pwd)
state=$build/leftovers.before
me=$(id -u)

# One line per object: "KIND ID DESCRIPTION".
inventory() {
    local f kind col
    for f in sem shm msg; do
        case $f in sem) kind="semaphore set"; col=5 ;;
                   shm) kind="shared-memory segment"; col=8 ;;
                   msg) kind="message queue"; col=8 ;; esac
        [ -r /proc/sysvipc/$f ] || continue
        awk -v me="$me" -v col="$col" -v f="$f" -v kind="$kind" \
            'NR > 1 && $col == me { print "ipc-" f, $2, "System V " kind " " $2 }' \
            /proc/sysvipc/$f
    done
    find /dev/shm -mindepth 1 -maxdepth 1 -user "$me" -printf 'shm %f /dev/shm/%f\n' 2>/dev/null
    local p exe
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        case $exe in "$build"/bin/*|"$build"/tests/*)
            echo "proc ${p#/proc/} process ${p#/proc/} ($exe)" ;; esac
    done
    [ -d "$build/tmp" ] &&
        find "$build/tmp" -mindepth 1 -maxdepth 1 -printf 'tmp %f %p\n' 2>/dev/null
    # hh_world_dir's, when the temp dir is out of other users' reach
    find /tmp -mindepth 1 -maxdepth 1 -name 'hpsp-world-*' -user "$me" \
        -printf 'world %f /tmp/%f\n' 2>/dev/null
    return 0
}

case $mode in
before)
    mkdir -p "$build/tmp"
    inventory | sort > "$state"
    ;;
after)
    [ -f "$state" ] || { echo "leftovers.sh: no $state (run 'before' first)" >&2; exit 2; }
    new=$(inventory | sort | comm -13 "$state" -)
    [ -z "$new" ] && exit 0
    echo "make test: left behind by the suite (now removed):"
    while read -r kind id what; do
        echo "  $what"
        case $kind in
        ipc-sem) ipcrm -s "$id" ;;
        ipc-shm) ipcrm -m "$id" ;;
        ipc-msg) ipcrm -q "$id" ;;
        shm) rm -f -- "/dev/shm/$id" ;;
        proc) kill -KILL "$id" 2>/dev/null ;;
        tmp) umount -l "$build/tmp/$id" 2>/dev/null; rm -rf -- "$build/tmp/$id" ;;
        world) rm -rf -- "/tmp/$id" ;;
        esac
    done <<< "$new"
    exit 1
    ;;
*)
    echo "usage: leftovers.sh before|after BUILD" >&2
    exit 2
    ;;
esac
