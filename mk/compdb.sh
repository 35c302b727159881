#!/usr/bin/env bash
# mk/compdb.sh CC FLAGS FILE... - print a compile_commands.json for FILEs,
# compiled from the repository root with CC and FLAGS (what make uses).
set -euo pipefail
cc=$1 flags=$2
shift 2
dir=$(pwd)
esc() { local s=${1//\\/\\\\}; printf '%s' "${s//\"/\\\"}"; }
echo "["
sep=""
for f in "$@"; do
    printf '%s  {"directory": "%s", "file": "%s", "command": "%s %s -c %s"}' \
        "$sep" "$(esc "$dir")" "$(esc "$f")" "$(esc "$cc")" "$(esc "$flags")" "$(esc "$f")"
    sep=$',\n'
done
printf '\n]\n'
