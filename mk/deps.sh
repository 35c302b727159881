#!/usr/bin/env bash
# mk/deps.sh - the Debian packages hpsp uses, and how to get them.
#
#   mk/deps.sh install   install every package (as root), apt-get update first
#   mk/deps.sh ensure    what `make test` and `make demo` run first: the core
#                        packages must be there (as root they are installed,
#                        with the optional ones); a missing optional package
#                        costs only its feature and is named in one line
#   mk/deps.sh list      the packages, core first
#   mk/deps.sh have FEATURE   exit 0 if that optional feature's package is
#                        there (features: see OPTIONAL below)
#
# Core: building and testing any chapter needs these and nothing else.
#   build-essential   gcc, make, libc headers
#   pkg-config        finds cmocka, liburing and libevent
#   libcmocka-dev     the test framework
#   strace            TRACE=1, and the scenarios that assert system calls
#   iproute2          ss, to show socket states (5-3)
#   netbase           /etc/services: the "daytime" entry (5-12)
#
# Optional: each one feature, lost alone when its package is missing.
set -euo pipefail

CORE="build-essential pkg-config libcmocka-dev strace iproute2 netbase"

# feature | Debian package(s) | how to tell it is there | what is lost without it
OPTIONAL='
capture|tcpdump|cmd tcpdump|CAPTURE=1 and the scenarios that assert packets are skipped
uring|liburing-dev|pkg liburing|echo_server -m uring (the io_uring backend) is not built
libevent|libevent-dev|pkg libevent|libevent_echo and timer_bench (the libevent peers) are not built
plots|gnuplot-nox|cmd gnuplot|make bench writes its tables but no plots
valgrind|valgrind|cmd valgrind|make check runs without its valgrind pass
clang|clang libclang-rt-14-dev|cmd clang|CC=clang builds are not possible
mutants|python3|cmd python3|make mutants cannot run
wrk|wrk|cmd wrk|make bench skips the web server benchmark (ch15-pools/bench/http)
nginx|nginx-light|file /usr/sbin/nginx|the web server benchmark runs without its nginx peer
h2o|h2o|cmd h2o|the web server benchmark runs without its h2o peer
'

optional_pkgs() {
    echo "$OPTIONAL" | awk -F'|' 'NF == 4 { printf "%s ", $2 }'
}
ALL="$CORE $(optional_pkgs)"

probe() { # "cmd X" or "pkg X"
    case "$1" in
    cmd\ *) command -v "${1#cmd }" >/dev/null 2>&1 ;;
    pkg\ *) pkg-config --exists "${1#pkg }" 2>/dev/null ;;
    file\ *) [ -x "${1#file }" ] ;;
    esac
}

missing_core() {
    local m=""
    command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 ||
        m="$m build-essential"
    command -v pkg-config >/dev/null 2>&1 || m="$m pkg-config"
    pkg-config --exists cmocka 2>/dev/null || m="$m libcmocka-dev"
    command -v strace >/dev/null 2>&1 || m="$m strace"
    command -v ss >/dev/null 2>&1 || m="$m iproute2"
    [ -s /etc/services ] || m="$m netbase"
    command -v timeout >/dev/null 2>&1 || m="$m coreutils"
    echo "$m"
}

# One line per missing optional feature: "hpsp: no tcpdump: ..."
missing_optional() {
    echo "$OPTIONAL" | while IFS='|' read -r feature pkgs test lost; do
        [ -n "$feature" ] || continue
        probe "$test" || echo "$pkgs|$lost"
    done
}

install() { # packages...
    if [ "$(id -u)" != 0 ]; then
        echo "hpsp: not root, so not installing. Run:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y $*" >&2
        return 1
    fi
    echo "hpsp: installing $*" >&2
    export DEBIAN_FRONTEND=noninteractive
    # nginx and h2o are only peers the bench starts on ports of its own:
    # their postinst must not start a system server on port 80.  A
    # policy-rc.d that refuses every start does that, for this install
    # only (one that was there already is left alone); on a systemd host
    # their units are also disabled, so none starts at boot either.
    local policy=/usr/sbin/policy-rc.d ours="" fresh=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# hpsp mk/deps.sh: no service starts during this install\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        ours=1
    fi
    for p in nginx-light h2o; do
        case " $* " in *" $p "*) dpkg -s "$p" >/dev/null 2>&1 || fresh="$fresh $p" ;; esac
    done
    local rc=0
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } || rc=$?
    [ -z "$ours" ] || rm -f "$policy"
    if [ -n "$fresh" ] && [ -d /run/systemd/system ]; then
        for p in $fresh; do
            systemctl disable --now "${p%-light}.service" >/dev/null 2>&1 || true
        done
    fi
    return $rc
}

ensure() {
    local m
    m=$(missing_core)
    if [ -n "$m" ]; then
        echo "hpsp: missing core packages:$m" >&2
        # as root, one apt-get run brings the optional ones too
        if [ "$(id -u)" = 0 ]; then
            install $ALL || install $m || true
        else
            install $m || true
            echo "hpsp: (the optional packages, one feature each: $(optional_pkgs))" >&2
            exit 1
        fi
        m=$(missing_core)
        [ -z "$m" ] || { echo "hpsp: still missing:$m" >&2; exit 1; }
    fi
    local opt
    opt=$(missing_optional)
    if [ -n "$opt" ] && [ "$(id -u)" = 0 ] && [ -z "${HPSP_NO_INSTALL:-}" ]; then
        # shellcheck disable=SC2046
        install $(echo "$opt" | cut -d'|' -f1) 2>/dev/null || true
        opt=$(missing_optional)
    fi
    [ -z "$opt" ] && return 0
    echo "$opt" | while IFS='|' read -r pkgs lost; do
        echo "hpsp: no $pkgs: $lost" >&2
    done
}

case "${1:-ensure}" in
install) install $ALL ;;
ensure) ensure ;;
list) echo "$ALL" ;;
have)
    line=$(echo "$OPTIONAL" | awk -F'|' -v f="${2:-}" '$1 == f')
    [ -n "$line" ] || { echo "usage: $0 have FEATURE" >&2; exit 2; }
    probe "$(echo "$line" | cut -d'|' -f3)"
    ;;
*) echo "usage: $0 install|ensure|list|have FEATURE" >&2; exit 2 ;;
esac
