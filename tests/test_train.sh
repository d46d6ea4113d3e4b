#!/usr/bin/env bash
# test_train.sh — `emo train` and `emo eval` end to end on a slice of FER2013
# (2000 Training rows, 400 PublicTest rows) with a 3.6 MFLOP network
# (tests/data/train/tiny.cfg): the loss falls, checkpoints are written, a run
# killed with SIGKILL (and one stopped with Ctrl-C) resumes to exactly the
# weights and log of an uninterrupted run, eval's JSON parses and beats
# chance, fine-tuning works, and bad inputs give clear errors without
# damaging the last checkpoint; issue 14's options (mixing, class weights,
# warm restarts, EMA/SWA kept in checkpoints, ten-crop TTA) do what they say,
# resume bit for bit, and refuse bad values; a version-2 checkpoint resumes.
# Prints "N passed, M failed" (tests/run.sh).
set -u
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
EMO=$(cd "$(dirname "$BUILD/emo")" && pwd)/emo
TINY=$(pwd)/tests/data/train/tiny.cfg
FER=$SHARED/datasets/fer2013/fer2013.csv.gz
VOTES=$SHARED/datasets/fer2013/fer2013new.csv
T=${EMO_TEST_TMP:-/tmp/emo-test}/train.$$
mkdir -p "$T"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; shift; for l in "$@"; do echo "    $l"; done; }
# check NAME COND-COMMAND... : runs the command, ok if it succeeds
check() { local n=$1; shift; if "$@"; then ok "$n"; else bad "$n" "failed: $*"; fi; }
# must_fail NAME PATTERN CMD...: CMD exits non-zero and its stderr matches PATTERN
must_fail() {
    local n=$1 pat=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -qiE "$pat" "$T/err"; then ok "$n"
    else bad "$n" "exit $rc, stderr:" "$(tail -3 "$T/err")" "wanted /$pat/"; fi
}

if [ ! -x "$EMO" ] || [ ! -f "$FER" ]; then
    echo "FAIL setup: need $EMO and $FER"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- data: the header, 2000 Training rows and 400 PublicTest rows, with the
# FER+ votes of the same lines.
zcat "$FER" | awk -F, 'NR == 1 || NR <= 2001 || ($NF ~ /PublicTest/ && ++k <= 400) { print NR }' >"$T/lines"
pick() { awk 'NR == FNR { want[$1] = 1; next } FNR in want' "$T/lines" -; }
zcat "$FER" | pick >"$T/small.csv"
pick <"$VOTES" >"$T/votes.csv"
check data_slice [ "$(wc -l <"$T/small.csv")" -eq 2401 -a "$(wc -l <"$T/votes.csv")" -eq 2401 ]

common=(--net "$TINY" --epochs 3 --lr 0.01 --warmup 0.2 --batch 64 --seed 7 --threads 1 --quiet)

# ---- an uninterrupted run --------------------------------------------------
"$EMO" train --data "$T/small.csv" --out "$T/a.emo" --checkpoint "$T/a.ckpt" --checkpoint-every 7 "${common[@]}" \
    >"$T/a.out" 2>"$T/a.err"
rc=$?
if [ $rc -eq 0 ] && [ -s "$T/a.emo" ] && [ -s "$T/a.ckpt" ] && [ "$(wc -l <"$T/a.csv")" -eq 4 ]; then ok train_run
else bad train_run "exit $rc" "$(tail -3 "$T/a.err")"; fi
check summary_lines [ "$(grep -c '^epoch .* train loss .* val loss .* acc' "$T/a.out")" -eq 3 ]
l1=$(awk -F, 'NR == 2 { print $4 }' "$T/a.csv"); l3=$(awk -F, 'NR == 4 { print $4 }' "$T/a.csv")
if awk -v a="$l1" -v b="$l3" 'BEGIN { exit !(b < a - 0.02) }'; then ok loss_falls
else bad loss_falls "train loss epoch 1 $l1, epoch 3 $l3"; fi

# ---- killed mid-run (SIGKILL), then resumed: same weights and log ---------
"$EMO" train --data "$T/small.csv" --out "$T/b.emo" --checkpoint "$T/b.ckpt" --checkpoint-every 7 "${common[@]}" \
    >"$T/b1.out" 2>"$T/b1.err" &
pid=$!
for _ in $(seq 1 600); do [ -f "$T/b.ckpt" ] && break; sleep 0.05; done
sleep 0.3
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
"$EMO" train --resume "$T/b.ckpt" --quiet >"$T/b2.out" 2>"$T/b2.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "resuming" "$T/b2.err" && cmp -s "$T/a.emo" "$T/b.emo" &&
    diff <(cut -d, -f1-8 "$T/a.csv") <(cut -d, -f1-8 "$T/b.csv") >/dev/null; then ok kill_and_resume_identical
else bad kill_and_resume_identical "exit $rc" "$(tail -2 "$T/b2.err")" "$(cmp "$T/a.emo" "$T/b.emo" 2>&1)"; fi

# ---- Ctrl-C: saves, exits 130, resumes to the same result -----------------
"$EMO" train --data "$T/small.csv" --out "$T/c.emo" --checkpoint "$T/c.ckpt" "${common[@]}" >"$T/c1.out" 2>"$T/c1.err" &
pid=$!
for _ in $(seq 1 600); do [ -f "$T/c.ckpt" ] && break; sleep 0.05; done  # after epoch 1
kill -INT $pid 2>/dev/null
wait $pid
rc1=$?
"$EMO" train --resume "$T/c.ckpt" --quiet >"$T/c2.out" 2>"$T/c2.err"
rc2=$?
if { [ $rc1 -eq 130 ] || [ $rc1 -eq 0 ]; } && [ $rc2 -eq 0 ] && cmp -s "$T/a.emo" "$T/c.emo"; then ok interrupt_and_resume
else bad interrupt_and_resume "exits $rc1 $rc2" "$(tail -2 "$T/c1.err")" "$(tail -2 "$T/c2.err")"; fi
must_fail resume_finished_run_says_so "finished" sh -c "'$EMO' train --resume '$T/a.ckpt' && false"

# ---- eval ------------------------------------------------------------------
"$EMO" eval --model "$T/a.emo" --data "$T/small.csv" --split PublicTest --json >"$T/eval.json" 2>"$T/eval.err"
if python3 - "$T/eval.json" <<'EOF'; then ok eval_json_beats_chance; else bad eval_json_beats_chance "$(cat "$T/eval.json" "$T/eval.err" | head -5)"; fi
import json, sys
d = json.load(open(sys.argv[1]))
assert d["n"] == 400, d["n"]
assert sum(map(sum, d["confusion"])) == 400
assert set(d["per_class"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
assert 0 <= d["macro_f1"] <= 1
assert d["accuracy"] > 0.25, d["accuracy"]   # chance is 1/7; the largest class is ~25%
EOF
# the validation accuracy in the log is the same measure, through the training net
acc_log=$(awk -F, 'NR > 1 && $7 > m { m = $7 } END { print m }' "$T/a.csv")
acc_eval=$(python3 -c "import json; print(json.load(open('$T/eval.json'))['accuracy'])" 2>/dev/null)
if awk -v a="$acc_log" -v b="$acc_eval" 'BEGIN { d = a - b; exit !(d < 0.006 && d > -0.006) }'; then ok eval_matches_training_val
else bad eval_matches_training_val "log best $acc_log, eval $acc_eval"; fi
"$EMO" eval --model "$T/a.emo" --data "$T/small.csv" --ferplus "$T/votes.csv" --tta --tta-shift 2 \
    --plots "$T/plots" --log "$T/a.csv" >"$T/eval.txt" 2>"$T/evalp.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "accuracy" "$T/eval.txt" && grep -q "ferplus-majority" "$T/eval.txt" &&
    grep -q "confusion" "$T/eval.txt" && [ -s "$T/plots/confusion.png" ] && [ -s "$T/plots/loss.png" ] &&
    [ -s "$T/plots/accuracy.png" ]; then ok eval_text_tta_plots
else bad eval_text_tta_plots "exit $rc" "$(tail -3 "$T/evalp.err")"; fi

# ---- FER+ soft labels and fine-tuning to new classes -----------------------
"$EMO" train --data "$T/small.csv" --ferplus "$T/votes.csv" --labels ferplus-soft --out "$T/s.emo" \
    --checkpoint "$T/s.ckpt" --net "$TINY" --epochs 1 --threads 1 --quiet >"$T/s.out" 2>"$T/s.err"
check ferplus_soft_run [ $? -eq 0 -a -s "$T/s.emo" ]
"$EMO" train --data "$T/small.csv" --classes happy,sad,neutral --init "$T/a.emo" --freeze 2 --out "$T/f.emo" \
    --checkpoint "$T/f.ckpt" --epochs 1 --threads 1 --quiet >"$T/f.out" 2>"$T/f.err"
rc=$?
"$EMO" eval --model "$T/f.emo" --data "$T/small.csv" --json >"$T/f.json" 2>>"$T/f.err"
if [ $rc -eq 0 ] && python3 -c "import json,sys; d=json.load(open('$T/f.json')); sys.exit(list(d['per_class']) != ['happy','sad','neutral'])"
then ok finetune_new_classes
else bad finetune_new_classes "exit $rc" "$(tail -3 "$T/f.err")"; fi

# fine-tuning from a training checkpoint keeps batch norm unfolded (the same
# parameter count as the run it comes from) and the classifier (with a
# learning rate of ~0 the validation accuracy stays where that run ended)
"$EMO" train --data "$T/small.csv" --init "$T/a.ckpt" --out "$T/g.emo" --checkpoint "$T/g.ckpt" --epochs 1 \
    --lr 1e-12 --threads 1 --quiet >"$T/g.out" 2>"$T/g.err"
rc=$?
pa=$(sed -n 's/.*: \([0-9]*\) parameters.*/\1/p' "$T/a.err" | head -1)
pg=$(sed -n 's/.*: \([0-9]*\) parameters.*/\1/p' "$T/g.err" | head -1)
acc_a=$(awk -F, 'NR == 4 { print $7 }' "$T/a.csv"); acc_g=$(awk -F, 'NR == 2 { print $7 }' "$T/g.csv")
if [ $rc -eq 0 ] && [ -n "$pa" ] && [ "$pa" = "$pg" ] && ! grep -q afresh "$T/g.err" &&
    awk -v a="$acc_a" -v b="$acc_g" 'BEGIN { d = a - b; exit !(d < 0.03 && d > -0.03) }'; then ok finetune_from_checkpoint
else bad finetune_from_checkpoint "exit $rc, parameters $pa vs $pg, val acc $acc_a vs $acc_g" "$(tail -2 "$T/g.err")"; fi

# distillation from a trained model (the first run's), to a different class list
"$EMO" train --data "$T/small.csv" --classes happy,sad,neutral --net "$TINY" --teacher "$T/a.emo" --distill 0.7 \
    --temperature 2 --out "$T/k.emo" --checkpoint "$T/k.ckpt" --epochs 1 --threads 1 --quiet >"$T/k.out" 2>"$T/k.err"
rc=$?
if [ $rc -eq 0 ] && [ -s "$T/k.emo" ] && grep -q "distilling from" "$T/k.err"; then ok distillation
else bad distillation "exit $rc" "$(tail -2 "$T/k.err")"; fi

# early stop: with a learning rate of ~0 nothing improves after epoch 1
"$EMO" train --data "$T/small.csv" --net "$TINY" --classes happy,sad,neutral --out "$T/e.emo" --checkpoint "$T/e.ckpt" --epochs 6 --lr 1e-12 \
    --warmup 0 --early-stop 2 --max-rows 256 --threads 1 --quiet >"$T/e.out" 2>"$T/e.err"
rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c '^epoch' "$T/e.out")" -eq 3 ] && grep -q "stopping early" "$T/e.err"; then ok early_stop
else bad early_stop "exit $rc, $(grep -c '^epoch' "$T/e.out") epochs" "$(tail -2 "$T/e.err")"; fi

# ---- issue 14's techniques -----------------------------------------------------
tech=(--mix mixup=0.4,cutmix=1,p=0.8 --class-weights balanced --schedule cosine-restarts --restart-period 1)
short=(--max-rows 640 --net "$TINY" --epochs 3 --lr 0.01 --warmup 0.2 --batch 64 --seed 7 --threads 1 --quiet)
# The averages do not change the training itself: the same train columns
# (lr, loss, accuracy) with and without them, but other models written.
"$EMO" train --data "$T/small.csv" --out "$T/t0.emo" --checkpoint "$T/t0.ckpt" "${short[@]}" "${tech[@]}" \
    >"$T/t0.out" 2>"$T/t0.err"
rc0=$?
"$EMO" train --data "$T/small.csv" --out "$T/t1.emo" --checkpoint "$T/t1.ckpt" "${short[@]}" "${tech[@]}" --ema 0.9 \
    >"$T/t1.out" 2>"$T/t1.err"
rc1=$?
"$EMO" train --data "$T/small.csv" --out "$T/t2.emo" --checkpoint "$T/t2.ckpt" "${short[@]}" "${tech[@]}" --swa-epochs 2 \
    >"$T/t2.out" 2>"$T/t2.err"
rc2=$?
if [ $rc0 -eq 0 ] && [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] &&
    diff <(cut -d, -f1-5 "$T/t0.csv") <(cut -d, -f1-5 "$T/t1.csv") >/dev/null &&
    diff <(cut -d, -f1-5 "$T/t0.csv") <(cut -d, -f1-5 "$T/t2.csv") >/dev/null &&
    ! cmp -s "$T/t0.emo" "$T/t1.emo" && ! cmp -s "$T/t0.emo" "$T/t2.emo"; then ok average_is_validated_and_written
else bad average_is_validated_and_written "exits $rc0 $rc1 $rc2" "$(tail -2 "$T/t1.err")" "$(tail -2 "$T/t2.err")"; fi
# EMA from the first epoch on; SWA over the last 2 of 3
if [ "$(grep -c '(ema)$' "$T/t1.out")" -eq 3 ] && [ "$(grep -c '(swa)$' "$T/t2.out")" -eq 2 ] &&
    ! sed -n 1p "$T/t2.out" | grep -q swa; then ok average_epochs
else bad average_epochs "$(cat "$T/t1.out" "$T/t2.out")"; fi
# balanced weights: disgust (the rarest class) weighs most, happy (the commonest) least
if awk '/class weights \(balanced\)/ { for (i = 1; i < NF; i++) w[$i] = $(i + 1);
        exit !(w["disgust"] > 5 && w["happy"] < 1 && w["disgust"] > w["fear"] && w["fear"] > w["happy"]) }' "$T/t0.err"
then ok class_weights_logged; else bad class_weights_logged "$(grep weights "$T/t0.err")"; fi
# warm restarts every epoch: the lr at the end of each epoch is the same low
# point of its cycle, under 0.3 of the peak (plain cosine falls from epoch to
# epoch, from 0.8 of the peak)
if awk -F, 'NR == 2 { a = $3 } NR > 2 && $3 != a { bad = 1 } END { exit bad || !(a < 0.003) }' "$T/t0.csv"
then ok warm_restarts_lr; else bad warm_restarts_lr "$(cut -d, -f1-3 "$T/t0.csv")"; fi
# mixing changes what is trained on (the loss differs from a run without it)
"$EMO" train --data "$T/small.csv" --out "$T/t3.emo" --checkpoint "$T/t3.ckpt" "${short[@]}" --epochs 1 \
    --class-weights balanced >"$T/t3.out" 2>"$T/t3.err"
"$EMO" train --data "$T/small.csv" --out "$T/t4.emo" --checkpoint "$T/t4.ckpt" "${short[@]}" --epochs 1 \
    --class-weights balanced --mix cutmix=1 >"$T/t4.out" 2>"$T/t4.err"
if grep -q "mixing batches: cutmix=1" "$T/t4.err" &&
    [ "$(sed -n 2p "$T/t3.csv" | cut -d, -f4)" != "$(sed -n 2p "$T/t4.csv" | cut -d, -f4)" ]
then ok mix_trains_on_mixed; else bad mix_trains_on_mixed "$(tail -2 "$T/t4.err")"; fi
# FER+ soft labels with mixing, effective-number weights and a teacher
"$EMO" train --data "$T/small.csv" --ferplus "$T/votes.csv" --out "$T/t5.emo" --checkpoint "$T/t5.ckpt" "${short[@]}" \
    --epochs 1 --mix mixup=0.2 --class-weights effective=0.999 --teacher "$T/a.emo" >"$T/t5.out" 2>"$T/t5.err"
check soft_labels_mix_distill [ $? -eq 0 -a -s "$T/t5.emo" ]
# Killed (SIGKILL) and resumed with mixing, class weights and restarts on:
# with an EMA (in every checkpoint), and with SWA (killed after its first
# averaged epoch, or before): the result is bit for bit the same.
for avg in "--ema 0.9" "--swa-epochs 2"; do
    name=$(echo "$avg" | tr -dc a-z | cut -c1-3)
    "$EMO" train --data "$T/small.csv" --out "$T/u$name.emo" --checkpoint "$T/u$name.ckpt" "${common[@]}" --max-rows 1280 "${tech[@]}" \
        $avg >"$T/u$name.out" 2>"$T/u$name.err"
    "$EMO" train --data "$T/small.csv" --out "$T/v$name.emo" --checkpoint "$T/v$name.ckpt" --checkpoint-every 7 \
        "${common[@]}" --max-rows 1280 "${tech[@]}" $avg >"$T/v$name.out" 2>"$T/v$name.err" &
    pid=$!
    if [ "$name" = ema ]; then
        for _ in $(seq 1 600); do [ -f "$T/v$name.ckpt" ] && break; sleep 0.05; done
        sleep 0.3
    else
        for _ in $(seq 1 1200); do [ "$(cat "$T/v$name.csv" 2>/dev/null | wc -l)" -ge 3 ] && break; sleep 0.05; done
    fi
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    "$EMO" train --resume "$T/v$name.ckpt" --quiet >"$T/v$name.out2" 2>"$T/v$name.err2"
    rc=$?
    if [ $rc -eq 0 ] && grep -q "resuming" "$T/v$name.err2" && cmp -s "$T/u$name.emo" "$T/v$name.emo" &&
        diff <(cut -d, -f1-8 "$T/u$name.csv") <(cut -d, -f1-8 "$T/v$name.csv") >/dev/null
    then ok "kill_and_resume_identical_$name"
    else bad "kill_and_resume_identical_$name" "exit $rc" "$(tail -2 "$T/v$name.err2")" \
        "$(cmp "$T/u$name.emo" "$T/v$name.emo" 2>&1)"; fi
done
# a checkpoint of the previous version (2, written by emo before issue 14) resumes
"$EMO" train --resume tests/data/train/v2-tiny.ckpt --epochs 2 --data "$T/small.csv" --out "$T/old.emo" \
    --log "$T/old.csv" --checkpoint "$T/old.ckpt" --quiet >"$T/old.out" 2>"$T/old.err"
rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <"$T/old.csv")" -eq 3 ] &&
    [ "$(od -An -tu1 -j4 -N1 "$T/old.ckpt" | tr -d ' ')" = 3 ]; then ok old_checkpoint_resumes
else bad old_checkpoint_resumes "exit $rc" "$(tail -2 "$T/old.err")"; fi
# ten-crop TTA: near the plain accuracy, its own result; flip as before
for m in "" "--tta" "--tta flip" "--tta crops" "--tta=crops --tta-shift 3"; do
    "$EMO" eval --model "$T/a.emo" --data "$T/small.csv" $m --json --threads 1 2>/dev/null
done >"$T/tta.json"
if python3 -c '
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
assert [x["tta"] for x in d] == ["none", "flip", "flip", "crops", "crops"], [x["tta"] for x in d]
assert d[1]["accuracy"] == d[2]["accuracy"]
assert all(abs(x["accuracy"] - d[0]["accuracy"]) < 0.05 for x in d), [x["accuracy"] for x in d]
assert (d[3]["accuracy"], d[3]["macro_f1"]) != (d[1]["accuracy"], d[1]["macro_f1"])
' "$T/tta.json"; then ok eval_tta_crops; else bad eval_tta_crops "$(cat "$T/tta.json")"; fi
must_fail tta_bad_mode "tta wants flip, crops or none" "$EMO" eval --model "$T/a.emo" --data "$T/small.csv" --tta tencrop
x=(--data "$T/small.csv" --out "$T/x.emo" --checkpoint "$T/x.ckpt")
must_fail mix_bad "mix.*alpha" "$EMO" train "${x[@]}" --mix mixup=-1
must_fail mix_bad_key "mix.*unknown key 'beta'" "$EMO" train "${x[@]}" --mix mixup=0.2,beta=1
must_fail ema_bad "ema wants a decay in \(0, 1\)" "$EMO" train "${x[@]}" --ema 1.5
must_fail swa_bad "swa-epochs wants 1..30" "$EMO" train "${x[@]}" --swa-epochs 31
must_fail ema_and_swa "give one" "$EMO" train "${x[@]}" --ema 0.99 --swa-epochs 2
must_fail class_weights_bad "class-weights wants none, balanced or effective" "$EMO" train "${x[@]}" \
    --class-weights effective=1
must_fail restart_needs_schedule "need --schedule cosine-restarts" "$EMO" train "${x[@]}" --restart-period 5
must_fail restart_mult_bad "restart-mult 1..10" "$EMO" train "${x[@]}" --schedule cosine-restarts --restart-mult 0.5
must_fail resume_keeps_mix "only --data" "$EMO" train --resume "$T/a.ckpt" --mix mixup=0.2
missing=
for o in "--mix SPEC" "--class-weights SPEC" "--ema DECAY" "--swa-epochs N" "--restart-period EPOCHS" \
    "--restart-mult F" "cosine-restarts"; do
    "$EMO" train --help 2>&1 | grep -q -- "$o" || missing="$missing $o"
done
"$EMO" eval --help 2>&1 | grep -q -- "--tta \[flip|crops\]" || missing="$missing --tta"
if [ -z "$missing" ]; then ok help_lists_new_options; else bad help_lists_new_options "missing:$missing"; fi

# ---- bad input ---------------------------------------------------------------
head -5 "$T/small.csv" >"$T/ragged.csv"; echo "3,1 2 3" >>"$T/ragged.csv"
must_fail ragged_row "ragged.csv.*(line )?6|field|column" "$EMO" train --data "$T/ragged.csv" --out "$T/x.emo" --checkpoint "$T/x.ckpt"
head -5 "$T/small.csv" >"$T/short.csv"; echo "3,$(printf '7 %.0s' $(seq 1 1999))7,Training" >>"$T/short.csv"
must_fail pixel_count "short.csv.*6.*(2000|2304)" "$EMO" train --data "$T/short.csv" --out "$T/x.emo" --checkpoint "$T/x.ckpt"
head -5 "$T/small.csv" >"$T/label.csv"; awk -F, 'NR == 2 { print "9," $2 ",Training" }' "$T/small.csv" >>"$T/label.csv"
must_fail label_out_of_range "label.csv.*6" "$EMO" train --data "$T/label.csv" --out "$T/x.emo" --checkpoint "$T/x.ckpt"
head -100 "$T/votes.csv" >"$T/votes-short.csv"
must_fail votes_row_count "votes-short.csv|rows|lines" "$EMO" train --data "$T/small.csv" --ferplus "$T/votes-short.csv" --out "$T/x.emo" --checkpoint "$T/x.ckpt"
must_fail empty_class "contempt" "$EMO" train --data "$T/small.csv" --classes happy,contempt --out "$T/x.emo" --checkpoint "$T/x.ckpt"
must_fail out_folder_missing "cannot write into" "$EMO" train --data "$T/small.csv" --out "$T/no/such/dir/x.emo"
must_fail bad_option_value "labels" "$EMO" train --data "$T/small.csv" --labels votes --out "$T/x.emo"
must_fail freeze_too_many "freeze" "$EMO" train --data "$T/small.csv" --init "$T/a.emo" --freeze 99 --out "$T/x.emo" --checkpoint "$T/x.ckpt"
head -c 3000 "$T/a.ckpt" >"$T/trunc.ckpt"
must_fail truncated_checkpoint "trunc.ckpt.*(checksum|truncated|corrupt)" "$EMO" train --resume "$T/trunc.ckpt"
must_fail not_a_checkpoint "a.emo.*(magic|checkpoint)" "$EMO" train --resume "$T/a.emo"
must_fail eval_not_a_model "small.csv.*(magic|model)" "$EMO" eval --model "$T/small.csv" --data "$T/small.csv"

# a folder dataset with one unreadable image: skipped with a warning, counted
mkdir -p "$T/folder/happy" "$T/folder/sad"
awk -F, 'NR > 1 && NR <= 301 && ($1 == 3 || $1 == 4) { print $1 "," $2 }' "$T/small.csv" |
    awk -F, -v d="$T/folder" '{ n++; f = sprintf("%s/%s/%03d.pgm", d, $1 == 3 ? "happy" : "sad", n);
        print "P2\n48 48\n255\n" $2 > f; close(f) }'
# the data module reads JPEG and PNG: convert the PGMs with emo convert if it can, else with python
for f in "$T"/folder/*/*.pgm; do
    python3 -c "
import sys, zlib, struct
w = h = 48
v = list(map(int, open(sys.argv[1]).read().split()[4:]))
raw = b''.join(b'\x00' + bytes(v[y*w:(y+1)*w]) for y in range(h))
def ch(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[1][:-4] + '.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + ch(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) + ch(b'IDAT', zlib.compress(raw)) + ch(b'IEND', b''))
" "$f" && rm "$f"
done
echo "not an image" >"$T/folder/happy/broken.jpg"
"$EMO" train --data "$T/folder" --classes happy,sad --out "$T/folder.emo" --checkpoint "$T/folder.ckpt" --net "$TINY" --epochs 1 \
    --threads 1 --quiet >"$T/folder.out" 2>"$T/folder.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "broken.jpg" "$T/folder.err" && grep -q "skipped 1 unreadable" "$T/folder.err"; then ok folder_skips_unreadable
else bad folder_skips_unreadable "exit $rc" "$(tail -3 "$T/folder.err")"; fi

# disk full while saving: file size limit below the checkpoint's size. The
# save fails with a clear error, and the previous checkpoint stays valid.
cp "$T/a.ckpt" "$T/d.ckpt"
cp "$T/d.ckpt" "$T/d.before"
size_kb=$(($(stat -c %s "$T/d.ckpt") / 1024 / 2))
(trap '' XFSZ; ulimit -f "$size_kb"; exec "$EMO" train --resume "$T/d.ckpt" --epochs 4 --out "$T/d.emo" --log "$T/d.csv" --quiet) \
    >"$T/d.out" 2>"$T/d.err"
rc=$?
if [ $rc -ne 0 ] && grep -qiE "cannot (save|write)|too large|write failed" "$T/d.err" && cmp -s "$T/d.ckpt" "$T/d.before" &&
    ! ls "$T"/d.ckpt.*tmp* >/dev/null 2>&1; then ok disk_full_keeps_checkpoint
else bad disk_full_keeps_checkpoint "exit $rc" "$(tail -3 "$T/d.err")"; fi
"$EMO" train --resume "$T/d.ckpt" --epochs 4 --out "$T/d.emo" --log "$T/d.csv" --quiet >"$T/d2.out" 2>"$T/d2.err"
check resume_after_disk_full [ $? -eq 0 -a "$(wc -l <"$T/d.csv")" -eq 5 ]

rm -rf "$T"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
