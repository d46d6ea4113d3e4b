#!/usr/bin/env bash
# bench/batch.sh — `emo batch` throughput and per-file overhead (issue 16).
#   1. N short clips (copies of the shared single_face.mp4, 2.4 s, and
#      no_face.mp4, 3.9 s, alternately): files/s and seconds of video per
#      second with --jobs 1 and --jobs 2 (one thread per job), same run.
#   2. Per-file overhead on the 2.4 s clip: K separate copies against one
#      file holding the same K clips back to back (ffmpeg concat, no
#      re-encoding): (T_separate - T_joined) / K is what each file costs
#      beyond its frames (open, decoder start, pipeline reset, outputs,
#      summary). And the start-up of one emo batch process (model load,
#      workers): its wall time minus the frame time its summary reports.
#   env: BUILD (build), SHARED (../shared), N (200), K (40), EMO_ARGS (extra options)
# Prints "emo batch ..." lines with the numbers; exits 1 if a run fails.
set -u
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
N=${N:-200}
K=${K:-40}
EMO=$PWD/$BUILD/emo
ARGS=${EMO_ARGS:-}
T=$(mktemp -d /tmp/emo-bench-batch.XXXXXX)
trap 'rm -rf "$T"' EXIT
V=$SHARED/media/video
mkdir -p "$T/clips" "$T/same"
for i in $(seq 1 "$N"); do
    if [ $((i % 2)) -eq 1 ]; then cp "$V/single_face.mp4" "$T/clips/clip$i.mp4"; else cp "$V/no_face.mp4" "$T/clips/clip$i.mp4"; fi
done
for i in $(seq 1 "$K"); do cp "$V/single_face.mp4" "$T/same/s$i.mp4"; echo "file '$T/same/s$i.mp4'"; done > "$T/concat.txt"
ffmpeg -v error -f concat -safe 0 -i "$T/concat.txt" -c copy "$T/joined.mp4" || exit 1
echo "# emo batch benchmark $(date -u +%FT%TZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load $(cut -d' ' -f1 /proc/loadavg)"

# run NAME ARGS... -> wall seconds in $wall, the totals line in $line
run() {
    local name=$1
    shift
    rm -rf "$T/out"
    local t0=$(date +%s.%N)
    "$EMO" batch "$@" -o "$T/out" -q $ARGS 2>"$T/$name.log"
    local rc=$?
    wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}')
    line=$(tail -1 "$T/$name.log")
    [ $rc -eq 0 ] || { echo "emo batch: $name failed: $(cat "$T/$name.log")"; exit 1; }
}
field() { echo "$line" | sed -n "s/.*; [0-9.]* s, \([0-9.]*\) files\/s, [0-9]* frames, \([0-9.]*\) frames\/s, \([0-9.]*\) s of video = \([0-9.]*\)x real time/\\$1/p"; }

run jobs1 "$T"/clips/*.mp4 --jobs 1
f1=$(field 1) x1=$(field 4) w1=$wall
echo "emo batch jobs=1 files=$N wall_s=$w1 files_per_s=$f1 realtime_x=$x1 fps=$(field 2)"
run jobs2 "$T"/clips/*.mp4 --jobs 2
f2=$(field 1) x2=$(field 4) w2=$wall
echo "emo batch jobs=2 files=$N wall_s=$w2 files_per_s=$f2 realtime_x=$x2 fps=$(field 2)"
echo "emo batch jobs2_over_jobs1=$(awk -v a="$f2" -v b="$f1" 'BEGIN{printf "%.2f", a/b}') (target >= 1.8) realtime_x=$x2 (target >= 40)"

run separate "$T"/same/*.mp4 --jobs 1
ws=$wall
run joined "$T/joined.mp4" --jobs 1
wj=$wall
echo "emo batch per_file_overhead_ms=$(awk -v a="$ws" -v b="$wj" -v k="$K" 'BEGIN{printf "%.1f", (a-b)/k*1000}') (K=$K separate ${ws}s vs joined ${wj}s; target <= 50)"
run one "$V/single_face.mp4" --jobs 1
frame_s=$(python3 -c "import json,glob; print(json.load(open(glob.glob('$T/out/*.json')[0]))['processing']['seconds'])")
echo "emo batch startup_ms=$(awk -v a="$wall" -v b="$frame_s" 'BEGIN{printf "%.0f", (a-b)*1000}') (one 2.4 s clip: process wall ${wall}s, analysis ${frame_s}s)"
