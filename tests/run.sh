#!/usr/bin/env bash
# Runs each test program given on the command line (and tests/*.sh, tests/*.mjs
# suites through their own runners), sums their "N passed, M failed" lines and
# prints the total last. Exit status: 0 only if every program passed.
set -u
export EMO_TEST_TMP=$(mktemp -d /tmp/emo-test.XXXXXX)
export SHARED=${SHARED:-../shared}
export BUILD=${BUILD:-build}
trap 'rm -rf "$EMO_TEST_TMP"' EXIT
total_p=0 total_f=0 bad=()
run_one() {
    local name=$1; shift
    local log="$EMO_TEST_TMP/$(basename "$name").log"
    local start=$(date +%s.%N)
    "$@" >"$log" 2>&1
    local rc=$?
    local line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    local p=0 f=0
    if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then p=${BASH_REMATCH[1]}; f=${BASH_REMATCH[2]}; fi
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed or died before its summary
    total_p=$((total_p + p)); total_f=$((total_f + f))
    local secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
    if [ $f -ne 0 ]; then
        bad+=("$name"); printf '%-28s FAIL  %3d passed, %d failed  (%.1fs)\n' "$name" $p $f $secs
        grep -E -v '^ok ' "$log" | tail -40 | sed 's/^/    | /'
    else
        printf '%-28s ok    %3d passed  (%.1fs)\n' "$name" $p $secs
    fi
}
for t in "$@"; do run_one "$(basename "$t")" "$t"; done
for s in tests/test_*.sh; do [ -e "$s" ] && run_one "$(basename "$s")" bash "$s"; done
if [ ${#bad[@]} -ne 0 ]; then echo "failing: ${bad[*]}"; fi
echo "$total_p passed, $total_f failed"
[ $total_f -eq 0 ]
