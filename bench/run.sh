#!/usr/bin/env bash
# bench/run.sh — every benchmark against its peer, as `make bench` runs it.
# Each part prints its own table and machine-readable last lines; this script
# collects those lines at the end. Timings need a quiet machine: 2-thread runs
# collapse when another process keeps a core busy (docs/BENCHMARKS.md).
#   env: BUILD (build), SHARED (../shared), PARTS ("detect nn pipeline serve video data batch"),
#        SECONDS_PER_RUN (10), REPS (3)
set -u
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
PARTS=${PARTS:-"detect nn pipeline serve video data batch"}
SECS=${SECONDS_PER_RUN:-10}
REPS=${REPS:-3}
export BUILD SHARED
log=$(mktemp /tmp/emo-bench.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
run() { echo "== $*"; "$@" 2>&1 | tee -a "$log"; [ "${PIPESTATUS[0]}" -eq 0 ] || status=1; }
echo "# emo benchmarks $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
for part in $PARTS; do
  case $part in
    detect)   run bench/detect.sh ;;
    nn)       run bench/nn.sh "$SECS" "$REPS" ;;
    pipeline) for t in 1 2; do
                run "$BUILD/emo" bench pipeline --input "$SHARED/media/video/WolfgangLanger_Pexels.mp4" --threads $t --seconds "$SECS"
              done ;;
    serve)    run "$BUILD/emo" bench serve --seconds "$SECS" ;;
    video)    run "$BUILD/bench/bench_video" ;;
    data)     run "$BUILD/bench/bench_data" ;;
    batch)    run bench/batch.sh ;;
    *) echo "bench/run.sh: unknown part '$part'" >&2; status=2 ;;
  esac
done
echo
echo "== summary (machine-readable lines)"
grep -E '^(emo|torch|opencv) ' "$log" || true
exit $status
