#!/usr/bin/env bash
# bench/detect.sh — emo_detect against OpenCV 4.6's detectMultiScale
# (bench/bench_detect_opencv.cpp, built by `make bench`) on the same 640x480
# grey frames (the shared photos, resized), 1 and 2 threads: medians of the
# per-frame times and their ratios, one `emo bench detect` run per cascade.
# Usage: bench/detect.sh [emo bench detect options]
#   env: BUILD (build), SHARED (../shared), CASCADES ("haar lbp haar-alt2")
set -u
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
CASCADES=${CASCADES:-"haar lbp haar-alt2"}
[ -x "$BUILD/emo" ] || { echo "bench/detect.sh: $BUILD/emo not built (make BUILD=$BUILD)" >&2; exit 1; }
[ -x "$BUILD/bench/bench_detect_opencv" ] || echo "bench/detect.sh: no OpenCV peer (make BUILD=$BUILD bench builds it)" >&2
status=0
for c in $CASCADES; do
  BUILD=$BUILD SHARED=$SHARED "$BUILD/emo" bench detect --cascade "$c" "$@" || status=1
done
exit $status
