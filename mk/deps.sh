#!/usr/bin/env bash
# mk/deps.sh - the Debian packages hpsp uses, and how to get them.
#
#   mk/deps.sh install   install them (as root), apt-get update first
#   mk/deps.sh ensure    install them only if something is missing
#
# Each package is here because something in the suite runs it:
#   build-essential, clang        compilers (CC=clang is a supported axis)
#   libclang-rt-14-dev            clang's sanitizer runtimes (CC=clang check)
#   libcmocka-dev, pkg-config     the test framework
#   strace                        TRACE=1 and the tests that assert syscalls
#   tcpdump                       CAPTURE=1 and the tests that assert packets
#   iproute2                      ss, to show socket states
#   netbase                       /etc/services: the "daytime" entry (5-12)
#   liburing-dev                  the io_uring backend of the echo comparison
#   libevent-dev                  the comparison peer (echo, timers)
#   gnuplot-nox                   make bench draws its plots
#   valgrind                      make check
#   python3                       make mutants runs mk/mutants.py
set -euo pipefail

PKGS="build-essential clang libclang-rt-14-dev libcmocka-dev pkg-config strace tcpdump iproute2 netbase valgrind liburing-dev libevent-dev gnuplot-nox python3"

missing() {
    local m=""
    pkg-config --exists cmocka 2>/dev/null || m="$m libcmocka-dev"
    [ -s /etc/services ] || m="$m netbase"
    pkg-config --exists liburing 2>/dev/null || m="$m liburing-dev"
    pkg-config --exists libevent 2>/dev/null || m="$m libevent-dev"
    command -v gnuplot >/dev/null 2>&1 || m="$m gnuplot-nox"
    for t in cc make strace tcpdump ss valgrind timeout python3; do
        command -v "$t" >/dev/null 2>&1 || m="$m $t"
    done
    echo "$m"
}

install() {
    if [ "$(id -u)" != 0 ]; then
        echo "hpsp: not root, so not installing. Run:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y $PKGS" >&2
        return 1
    fi
    echo "hpsp: installing $PKGS" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
}

case "${1:-ensure}" in
install) install ;;
ensure)
    m=$(missing)
    if [ -n "$m" ]; then
        echo "hpsp: missing:$m" >&2
        install
        m=$(missing)
        [ -z "$m" ] || { echo "hpsp: still missing after install:$m" >&2; exit 1; }
    fi
    ;;
list) echo "$PKGS" ;;
*) echo "usage: $0 install|ensure|list" >&2; exit 2 ;;
esac
