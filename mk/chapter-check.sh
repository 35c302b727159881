#!/usr/bin/env bash
# mk/chapter-check.sh - every chapter works on its own from a fresh clone.
#
# A reader starts with one chapter: `make test-chNN` and `make demo
# CH=chNN` must build everything that chapter's scenarios run (its
# programs, and the peers it borrows from other chapters, declared as
# chNN_PEERS), and nothing else should be needed.  For each chapter this
# clones the committed HEAD into a scratch directory, runs make test-chNN
# there, empties build/ and runs make demo CH=chNN.  Part of `make check`.
#
#   mk/chapter-check.sh [chNN ...]     (default: every tested chapter)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
chapters=("$@")
if [ ${#chapters[@]} = 0 ]; then
    read -r -a chapters < <(make --no-print-directory -s -f Makefile print-chapters)
fi
git diff --quiet HEAD 2>/dev/null ||
    echo "chapter-check: uncommitted changes are not checked (it clones HEAD)"

scratch=$(mktemp -d /tmp/hpsp-chapters.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
rc=0
for ch in "${chapters[@]}"; do
    dir=$scratch/$ch
    git clone -q "$root" "$dir"
    start=$(date +%s)
    for step in "test-$ch" "demo CH=$ch"; do
        log=$dir.$(echo "$step" | tr ' =' '__').log
        # shellcheck disable=SC2086
        if ! make --no-print-directory -C "$dir" -j2 $step >"$log" 2>&1; then
            echo "chapter-check: $ch: 'make $step' FAILED in a fresh clone; its end:"
            tail -n 25 "$log" | sed 's/^/  | /'
            rc=1
        fi
        rm -rf "$dir/build"
    done
    echo "chapter-check: $ch: make test-$ch and make demo CH=$ch from a fresh clone: $([ $rc = 0 ] && echo ok || echo 'see above') ($(($(date +%s) - start)) s)"
    rm -rf "$dir"
done
exit $rc
