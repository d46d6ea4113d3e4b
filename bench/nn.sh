#!/usr/bin/env bash
# bench/nn.sh — emo's CNN engine against PyTorch 1.13 on the same networks
# (../shared/peers/torch/bench.py), runs interleaved emo/torch, medians and
# ratios: emo fp32 against torch fp32 and emo bf16 against torch --dtype bf16
# (autocast), in the same run. Usage: bench/nn.sh [SECONDS] [REPS]
#   env: BUILD (build), SHARED (../shared), NETS ("vgg-s vgg-m"),
#        THREADS ("1 2"), CASES ("train:64 infer:64 infer:1"),
#        DTYPES ("fp32 bf16"; bf16 is left out where the CPU has none)
# Prints one line per run as it goes, then a table:
#   vgg-s train 1 64 bf16 emo_img/s torch_img/s emo_GFLOP/s ratio
set -u
SECONDS_PER_RUN=${1:-10}
REPS=${2:-3}
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
NETS=${NETS:-"vgg-s vgg-m"}
THREADS=${THREADS:-"1 2"}
CASES=${CASES:-"train:64 infer:64 infer:1"}
DTYPES=${DTYPES:-"fp32 bf16"}
EMO=$BUILD/emo
PEER=$SHARED/peers/torch/bench.py
[ -x "$EMO" ] || { echo "bench/nn.sh: $EMO not built (make BUILD=$BUILD)" >&2; exit 1; }
[ -f "$PEER" ] || { echo "bench/nn.sh: $PEER missing" >&2; exit 1; }
out=$(mktemp /tmp/emo-bench-nn.XXXXXX)
trap 'rm -f "$out"' EXIT
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | tail -1; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
if ! "$EMO" bench peak --seconds 0.1 | grep -q "bf16 matmul"; then DTYPES=$(echo $DTYPES | sed 's/bf16//'); fi
echo "# $(date -u +%FT%TZ) $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), load $(cut -d' ' -f1 /proc/loadavg), ${SECONDS_PER_RUN}s x $REPS, dtypes $DTYPES"
for rep in $(seq "$REPS"); do
  for net in $NETS; do
    for t in $THREADS; do
      for c in $CASES; do
        mode=${c%%:*} batch=${c##*:}
        for d in $DTYPES; do
          if [ "$mode" = train ]; then
            e=$("$EMO" bench train --net models/$net.cfg --batch "$batch" --threads "$t" --precision "$d" --seconds "$SECONDS_PER_RUN" | tail -1)
          else
            e=$("$EMO" bench classify --net models/$net.cfg --batch "$batch" --threads "$t" --precision "$d" --seconds "$SECONDS_PER_RUN" | tail -1)
          fi
          p=$(/usr/bin/python3 "$PEER" --net "$net" --threads "$t" --mode "$mode" --batch "$batch" --dtype "$d" --seconds "$SECONDS_PER_RUN" --quiet | tail -1)
          echo "$e"
          echo "$p"
          echo "$net $mode $t $batch $d emo $(echo "$e" | field img_per_s) $(echo "$e" | field gflops)" >>"$out"
          echo "$net $mode $t $batch $d torch $(echo "$p" | field img_per_s) $(echo "$p" | field gflops) $(echo "$p" | field other_cores)" >>"$out"
        done
      done
    done
  done
done
echo
printf '%-6s %-5s %-7s %-5s %-5s %10s %10s %10s %7s\n' net mode threads batch dtype emo_img/s torch_img/s emo_GFLOP/s ratio
for net in $NETS; do
  for t in $THREADS; do
    for c in $CASES; do
      mode=${c%%:*} batch=${c##*:}
      for d in $DTYPES; do
        sel() { awk -v n=$net -v m=$mode -v t=$t -v b=$batch -v d=$d -v w=$1 -v k=$2 \
          '$1==n&&$2==m&&$3==t&&$4==b&&$5==d&&$6==w{print $k}' "$out" | median; }
        e=$(sel emo 7) g=$(sel emo 8) p=$(sel torch 7)
        r=$(awk -v a="$e" -v b="$p" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "nan" }')
        printf '%-6s %-5s %-7s %-5s %-5s %10s %10s %10s %7s\n' $net $mode $t $batch $d "$e" "$p" "$g" "$r"
      done
    done
  done
done
