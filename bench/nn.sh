#!/usr/bin/env bash
# bench/nn.sh — emo's CNN engine against PyTorch 1.13 on the same networks
# (../shared/peers/torch/bench.py), runs interleaved emo/torch, medians and
# ratios. Usage: bench/nn.sh [SECONDS] [REPS]
#   env: BUILD (build), SHARED (../shared), NETS ("vgg-s vgg-m"),
#        THREADS ("1 2"), CASES ("train:64 infer:64 infer:1")
# Prints one line per run as it goes, then a table:
#   vgg-s train threads=1 batch=64 emo=... torch=... ratio=...
set -u
SECONDS_PER_RUN=${1:-10}
REPS=${2:-3}
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
NETS=${NETS:-"vgg-s vgg-m"}
THREADS=${THREADS:-"1 2"}
CASES=${CASES:-"train:64 infer:64 infer:1"}
EMO=$BUILD/emo
PEER=$SHARED/peers/torch/bench.py
[ -x "$EMO" ] || { echo "bench/nn.sh: $EMO not built (make BUILD=$BUILD)" >&2; exit 1; }
[ -f "$PEER" ] || { echo "bench/nn.sh: $PEER missing" >&2; exit 1; }
out=$(mktemp /tmp/emo-bench-nn.XXXXXX)
trap 'rm -f "$out"' EXIT
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | tail -1; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), ${SECONDS_PER_RUN}s x $REPS"
for rep in $(seq "$REPS"); do
  for net in $NETS; do
    for t in $THREADS; do
      for c in $CASES; do
        mode=${c%%:*} batch=${c##*:}
        if [ "$mode" = train ]; then
          e=$("$EMO" bench train --net models/$net.cfg --batch "$batch" --threads "$t" --seconds "$SECONDS_PER_RUN" | tail -1)
        else
          e=$("$EMO" bench classify --net models/$net.cfg --batch "$batch" --threads "$t" --seconds "$SECONDS_PER_RUN" | tail -1)
        fi
        p=$(/usr/bin/python3 "$PEER" --net "$net" --threads "$t" --mode "$mode" --batch "$batch" --seconds "$SECONDS_PER_RUN" --quiet | tail -1)
        echo "$e"
        echo "$p"
        echo "$net $mode $t $batch emo $(echo "$e" | field img_per_s) $(echo "$e" | field gflops)" >>"$out"
        echo "$net $mode $t $batch torch $(echo "$p" | field img_per_s) $(echo "$p" | field gflops) $(echo "$p" | field other_cores)" >>"$out"
      done
    done
  done
done
echo
printf '%-6s %-5s %-7s %-5s %10s %10s %10s %7s\n' net mode threads batch emo_img/s torch_img/s emo_GFLOP/s ratio
for net in $NETS; do
  for t in $THREADS; do
    for c in $CASES; do
      mode=${c%%:*} batch=${c##*:}
      e=$(awk -v n=$net -v m=$mode -v t=$t -v b=$batch '$1==n&&$2==m&&$3==t&&$4==b&&$5=="emo"{print $6}' "$out" | median)
      g=$(awk -v n=$net -v m=$mode -v t=$t -v b=$batch '$1==n&&$2==m&&$3==t&&$4==b&&$5=="emo"{print $7}' "$out" | median)
      p=$(awk -v n=$net -v m=$mode -v t=$t -v b=$batch '$1==n&&$2==m&&$3==t&&$4==b&&$5=="torch"{print $6}' "$out" | median)
      r=$(awk -v a="$e" -v b="$p" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "nan" }')
      printf '%-6s %-5s %-7s %-5s %10s %10s %10s %7s\n' $net $mode $t $batch "$e" "$p" "$g" "$r"
    done
  done
done
