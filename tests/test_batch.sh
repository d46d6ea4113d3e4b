#!/usr/bin/env bash
# test_batch.sh — `emo batch` and `emo report` end to end on the shared
# videos and photos: outputs and names, the CSV equal to `emo video --csv`,
# resume and idempotence, kill -9 and SIGTERM in the middle, bad input (a
# manifest with missing files, duplicates, folders, unreadable files, names
# with spaces, newlines and unicode), a full disk (a small tmpfs), two
# batches on one folder at once, and the real engines: GNU parallel over 4
# shards and a single-node Slurm cluster (munged + slurmctld + slurmd on
# 127.0.0.1, started and stopped here) running tools/slurm/emo-array.sbatch,
# each merged by `emo report` into files byte-equal to the one-process run.
# Needs root (tmpfs mount, slurmd, setpriv); fails with a clear message when
# parallel or Slurm is missing or Slurm cannot start, rather than skipping.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
ROOT=$PWD
EMO=$ROOT/$BUILD/emo
TMP=$(mktemp -d "${EMO_TEST_TMP:-/tmp}/batch.XXXXXX")
chmod 755 "$TMP"
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
check() { # NAME CONDITION-COMMAND... ; MSG from $why
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name" "${why:-$*}"; fi
    why=
}
SLURM_DIR= MNT= PRIV=
cleanup() {
    [ -n "$PRIV" ] && rm -rf "$PRIV"
    if [ -n "$SLURM_DIR" ]; then
        SLURM_CONF=$SLURM_DIR/slurm.conf scontrol shutdown >/dev/null 2>&1
        for f in slurmctld.pid slurmd.pid; do
            [ -f "$SLURM_DIR/$f" ] && kill "$(cat "$SLURM_DIR/$f")" 2>/dev/null
        done
        munged -S "$SLURM_DIR/munge/sock" --stop >/dev/null 2>&1
    fi
    [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
finish() {
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]
    exit
}
V=$SHARED/media/video
# Every video is cut to 30 frames (--frames 30) to keep the suite short; one
# worker thread each, so runs split differently give the same numbers.
OPTS="--frames 30 --threads 1"

# ---- the corpus: two same-named clips in two folders, a video without a
# face, photos, odd names, a corrupt file ------------------------------------
C=$TMP/corpus
mkdir -p "$C/day1" "$C/day2" "$C/odd dir"
cp "$V/single_face.mp4" "$C/day1/interview.mp4"
cp "$V/single_face.mp4" "$C/day2/interview.mp4"
cp "$V/no_face.mp4" "$C/day2/empty room.mp4"
cp "$V/WolfgangLanger_Pexels.mp4" "$C/odd dir/été – crying.mp4"
cp "$SHARED/media/expressions/happy.jpg" "$C/day1/happy.jpg"
cp "$SHARED/media/expressions/sad.jpg" "$C/day2/sad.jpg"
cp "$V/single_face.mp4" "$C/odd dir/new
line.mp4"
head -c 20000 "$V/single_face.mp4" | tail -c 10000 > "$C/day1/corrupt.mp4"
# the manifest: relative to its own folder, with a duplicate, a missing file and a folder
printf '%s\n' day1/interview.mp4 day2/interview.mp4 "day2/empty room.mp4" "odd dir/été – crying.mp4" \
    day1/happy.jpg day2/sad.jpg ./day1/interview.mp4 day1/corrupt.mp4 day1/missing.mp4 day2 > "$C/list.txt"
# NUL-separated (as find -print0 writes), for the name with a newline
printf '%s\0' "$C/odd dir/new
line.mp4" > "$C/list0.txt"

O=$TMP/one
"$EMO" batch --manifest "$C/list.txt" -o "$O" $OPTS -j 2 >"$TMP/one.log" 2>&1
rc=$?
why="exit $rc: $(tail -5 "$TMP/one.log")"; check exit_1_when_inputs_fail [ $rc -eq 1 ]
why=$(cat "$TMP/one.log"); check says_duplicate grep -q "listed more than once" "$TMP/one.log"
why=$(cat "$TMP/one.log"); check totals_line grep -q "9 inputs: 6 analysed, 0 skipped (done before), 3 failed" "$TMP/one.log"
why=$(cat "$TMP/one.log"); check failures_named grep -q "failed: day1/missing.mp4: No such file or directory" "$TMP/one.log"
why=$(cat "$TMP/one.log"); check folder_refused grep -q "failed: day2: is a directory" "$TMP/one.log"
n_csv=$(ls "$O"/interview.mp4-*.csv 2>/dev/null | wc -l)
why="$n_csv interview CSVs: $(ls "$O")"; check same_names_do_not_collide [ "$n_csv" -eq 2 ]
why=$(ls "$O"); check odd_names_sanitised test -f "$(ls "$O"/été_–_crying.mp4-*.json 2>/dev/null | head -1)"

# the CSV is the one emo video writes
"$EMO" video "$C/day1/interview.mp4" --csv "$TMP/ref.csv" $OPTS -q
a=$(ls "$O"/interview.mp4-*.csv | head -1)
why="$(diff "$TMP/ref.csv" "$a" | head -5)"; check csv_equals_emo_video cmp -s "$TMP/ref.csv" "$a"
why="$(diff "$TMP/ref.csv" "$a" | head -5)"; check csv_has_rows [ "$(wc -l < "$a")" -eq 31 ]

# the summary
py() { python3 -c "$@"; }
j=$(ls "$O"/interview.mp4-*.json | head -1)
why=$(cat "$j"); check summary_video py "
import json,sys; s=json.load(open(sys.argv[1]))
assert s['status']=='ok' and s['kind']=='video' and s['frames']==30 and s['faces']==30, s
t=s['tracks'][0]; assert t['frames']==30 and abs(sum(t['share'].values())-1)<1e-3, t
assert s['processing']['fps']>0 and s['outputs']['csv'].endswith('.csv')" "$j"
why=$(cat "$O"/happy.jpg-*.json); check summary_photo py "
import json,sys; s=json.load(open(sys.argv[1]))
assert s['kind']=='photo' and s['frames']==1 and s['tracks'][0]['emotion']=='happy', s" "$O"/happy.jpg-*.json
why=$(cat "$O"/corrupt.mp4-*.json); check summary_failure py "
import json,sys; s=json.load(open(sys.argv[1]))
assert s['status']=='failed' and 'cannot read the video' in s['error'], s" "$O"/corrupt.mp4-*.json
why=$(ls -a "$O"); check no_part_files_left [ -z "$(ls -a "$O" | grep '\.part')" ]

# ---- resume: nothing to do again; a touched input is redone, --force redoes all
ls -l --time-style=full-iso "$O" > "$TMP/before.txt"
"$EMO" batch --manifest "$C/list.txt" -o "$O" $OPTS >"$TMP/again.log" 2>&1
why=$(cat "$TMP/again.log"); check rerun_skips_done grep -q "6 skipped (done before), 3 failed" "$TMP/again.log"
ls -l --time-style=full-iso "$O" | grep -v -e corrupt -e missing -e day2- > "$TMP/after.txt"
grep -v -e corrupt -e missing -e day2- "$TMP/before.txt" > "$TMP/before2.txt"
why=$(diff "$TMP/before2.txt" "$TMP/after.txt"); check rerun_leaves_outputs cmp -s "$TMP/before2.txt" "$TMP/after.txt"
touch "$C/day2/sad.jpg"
"$EMO" batch --manifest "$C/list.txt" -o "$O" $OPTS >"$TMP/touch.log" 2>&1
why=$(cat "$TMP/touch.log"); check touched_input_redone grep -q "9 inputs: 1 analysed, 5 skipped" "$TMP/touch.log"
"$EMO" batch "$C/day1/happy.jpg" -o "$O" $OPTS --force >"$TMP/force.log" 2>&1
why=$(cat "$TMP/force.log"); check force_redoes grep -q "1 inputs: 1 analysed, 0 skipped" "$TMP/force.log"
"$EMO" batch "$C/day1/happy.jpg" -o "$O" $OPTS --every 3 >"$TMP/set.log" 2>&1
why=$(cat "$TMP/set.log"); check new_settings_redo grep -q "1 inputs: 1 analysed, 0 skipped" "$TMP/set.log"
"$EMO" batch "$C/day1/happy.jpg" -o "$O" $OPTS >/dev/null 2>&1 # back to the settings of the others

# a NUL-separated manifest, and a quoted glob
"$EMO" batch --manifest "$C/list0.txt" "$C/day1/*.jpg" -o "$TMP/nul" $OPTS >"$TMP/nul.log" 2>&1
why=$(cat "$TMP/nul.log"); check nul_manifest_and_glob grep -q "2 inputs: 2 analysed" "$TMP/nul.log"
why=$(cat "$TMP"/nul/new_line.mp4-*.json); check newline_name_kept py "
import json,sys; s=json.load(open(sys.argv[1])); assert s['input'].endswith('odd dir/new\nline.mp4') and s['status']=='ok', s" "$TMP"/nul/new_line.mp4-*.json

# unreadable: as an unprivileged user (root reads anything)
# (a folder of its own in /tmp: the suite's scratch folder is private to root)
PRIV=$(mktemp -d /tmp/emo-batch-priv.XXXXXX) && chmod 777 "$PRIV"
cp "$C/day1/happy.jpg" "$PRIV/secret.jpg" && chmod 600 "$PRIV/secret.jpg"
cp "$C/day1/happy.jpg" "$PRIV/open.jpg" && chmod 644 "$PRIV/open.jpg"
# the program and model copied there too: the clone may sit in a folder only root can enter
mkdir -p "$PRIV/bin" && cp "$EMO" "$PRIV/bin/emo" && cp "$ROOT/models/ferplus.emo" "$PRIV/bin/" && chmod -R a+rX "$PRIV/bin"
setpriv --reuid=65534 --regid=65534 --clear-groups env EMO_MODEL_DIR="$PRIV/bin" \
    "$PRIV/bin/emo" batch "$PRIV/secret.jpg" "$PRIV/open.jpg" -o "$PRIV/out" $OPTS >"$TMP/priv.log" 2>&1
rc=$?
why="exit $rc: $(cat "$TMP/priv.log")"; check unreadable_recorded grep -q "secret.jpg: Permission denied" "$TMP/priv.log"
why="exit $rc: $(cat "$TMP/priv.log")"; check unreadable_others_done grep -q "2 inputs: 1 analysed, 0 skipped (done before), 1 failed" "$TMP/priv.log"

# usage errors
"$EMO" batch "$C/day1/happy.jpg" >/dev/null 2>&1; why="exit $?"; check no_outdir_is_usage [ "${why#exit }" -eq 2 ]
"$EMO" batch "$C/day1/happy.jpg" -o "$TMP/u" --shard 5/4 >"$TMP/u.log" 2>&1; why="exit $?: $(cat "$TMP/u.log")"
check bad_shard_is_usage grep -q "1 <= K <= N" "$TMP/u.log"
env -u SLURM_ARRAY_TASK_ID "$EMO" batch "$C/day1/happy.jpg" -o "$TMP/u" --shard slurm >"$TMP/u.log" 2>&1
why=$(cat "$TMP/u.log"); check slurm_shard_outside_slurm grep -q "SLURM_ARRAY_TASK_ID" "$TMP/u.log"

# ---- shards: disjoint, and together the whole list --------------------------
for k in 1 2 3 4; do "$EMO" batch --manifest "$C/list.txt" -o "$TMP/x" --shard $k/4 --list 2>/dev/null; done | sort > "$TMP/shards.txt"
"$EMO" batch --manifest "$C/list.txt" -o "$TMP/x" --list 2>/dev/null | sort > "$TMP/all.txt"
why=$(diff "$TMP/all.txt" "$TMP/shards.txt"); check shards_partition_the_list cmp -s "$TMP/all.txt" "$TMP/shards.txt"
why=$(cat "$TMP/all.txt"); check list_has_9 [ "$(wc -l < "$TMP/all.txt")" -eq 9 ]

# ---- the report of the one-process run ---------------------------------------
"$EMO" report "$O" >"$TMP/report.log" 2>&1
rc=$?
why="exit $rc: $(cat "$TMP/report.log")"; check report_runs [ $rc -eq 0 ]
why=$(cat "$TMP/report.log"); check report_lists_failures grep -q "9 inputs (6 ok, 3 failed)" "$TMP/report.log"
why=$(cat "$O/report/inputs.csv"); check report_inputs_rows [ "$(py "import csv,sys; print(len(list(csv.DictReader(open(sys.argv[1])))))" "$O/report/inputs.csv")" = 9 ]
why=$(cat "$O/report/tracks.csv"); check report_track_rows py "
import csv,sys; rows=list(csv.DictReader(open(sys.argv[1])))
assert len(rows)>=5, rows
r=[x for x in rows if x['input'].endswith('day1/happy.jpg')][0]; assert r['emotion']=='happy', r
assert sum(1 for x in rows if x['input'].endswith('interview.mp4'))==2" "$O/report/tracks.csv"
why=$(cat "$O/report/failures.csv"); check report_failures_csv [ "$(tail -n +2 "$O/report/failures.csv" | wc -l)" -eq 3 ]
why=$(file "$O/report/overview.png"); check report_png py "
import struct,sys; d=open(sys.argv[1],'rb').read(24); assert d[:8]==b'\x89PNG\r\n\x1a\n'
w,h=struct.unpack('>II',d[16:24]); assert w==1100 and h>200,(w,h)" "$O/report/overview.png"
why=$(head -c 300 "$O/report/report.json"); check report_json py "
import json,sys; r=json.load(open(sys.argv[1])); assert r['totals']['inputs']==9 and len(r['failures'])==3 and len(r['tracks'])>=5" "$O/report/report.json"

same_report() { # DIR: its report equals the one-process one, file by file
    local f
    for f in inputs.csv tracks.csv failures.csv report.json overview.png; do
        cmp -s "$O/report/$f" "$1/report/$f" || { why="$f differs: $(diff "$O/report/$f" "$1/report/$f" | head -4)"; return 1; }
    done
}

# ---- GNU parallel over 4 shards ------------------------------------------------
if ! command -v parallel >/dev/null; then
    bad gnu_parallel "GNU parallel is not installed (make deps installs the Debian package 'parallel')"
else
    P=$TMP/par
    parallel --will-cite -j 4 "$EMO" batch --manifest "$C/list.txt" -o "$P" $OPTS -j 1 --shard {}/4 -q ::: 1 2 3 4 >"$TMP/par.log" 2>&1
    rc=$?
    why="exit $rc: $(cat "$TMP/par.log")"; check parallel_shards_fail_like_one [ $rc -ge 1 ] # the failures are in some shards
    "$EMO" report "$P" >/dev/null 2>&1
    check parallel_report_equals_one_process same_report "$P"
fi

# ---- Slurm: a one-node cluster on 127.0.0.1, the job array of tools/slurm ----
slurm_start() {
    local d=$SLURM_DIR host
    host=$(hostname -s)
    for b in munged slurmctld slurmd sbatch scontrol; do
        command -v $b >/dev/null || { echo "$b is not installed (make deps installs slurm-wlm and munge)"; return 1; }
    done
    mkdir -p "$d/munge" "$d/state" "$d/spool" "$d/log" && chmod 700 "$d/munge"
    head -c 1024 /dev/urandom > "$d/munge/key" && chmod 400 "$d/munge/key"
    munged --force --socket="$d/munge/sock" --key-file="$d/munge/key" --log-file="$d/munge/log" \
        --pid-file="$d/munge/pid" --seed-file="$d/munge/seed" || { echo "munged did not start: $(cat "$d/munge/log")"; return 1; }
    # ports of our own, so runs in parallel work trees do not meet
    local port=$((20000 + RANDOM % 20000))
    cat > "$d/slurm.conf" <<EOF
ClusterName=emotest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=emo Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    slurmctld -f "$SLURM_CONF" -i || { echo "slurmctld did not start: $(tail -5 "$d/log/slurmctld.log")"; return 1; }
    slurmd -f "$SLURM_CONF" || { echo "slurmd did not start: $(tail -5 "$d/log/slurmd.log")"; return 1; }
    for _ in $(seq 1 60); do
        sinfo -h -o %t 2>/dev/null | grep -q idle && return 0
        sleep 0.5
    done
    echo "the node did not come up: $(sinfo 2>&1); $(tail -3 "$d/log/slurmctld.log") $(tail -3 "$d/log/slurmd.log")"
    return 1
}
SLURM_DIR=$TMP/slurm
export SLURM_CONF=$SLURM_DIR/slurm.conf
if msg=$(slurm_start 2>&1); then
    ok slurm_cluster_starts
    S=$TMP/slurmout
    (cd "$TMP" && timeout 300 sbatch --wait --array=0-3 --cpus-per-task=1 -o "$TMP/slurm-%a.log" \
        --export=ALL,MANIFEST="$C/list.txt",OUTDIR="$S",EMO="$EMO",JOBS=1,EMO_ARGS="$OPTS" \
        "$ROOT/tools/slurm/emo-array.sbatch") >"$TMP/sbatch.log" 2>&1
    rc=$?
    # the array fails as a whole (the bad inputs are in some tasks) but every task ran
    why="exit $rc: $(cat "$TMP/sbatch.log") $(cat "$TMP"/slurm-*.log 2>/dev/null | tail -20)"
    check slurm_array_runs [ "$(ls "$TMP"/slurm-*.log 2>/dev/null | wc -l)" -eq 4 ]
    why=$(cat "$TMP"/slurm-*.log); check slurm_tasks_report_totals [ "$(grep -c "analysed" "$TMP"/slurm-*.log | awk -F: '{s+=$2} END {print s}')" -eq 4 ]
    "$EMO" report "$S" >/dev/null 2>&1
    check slurm_report_equals_one_process same_report "$S"
else
    bad slurm_cluster_starts "Slurm could not be started here: $msg"
fi

# ---- two batches on one folder at once: every input analysed once -------------
T2=$TMP/two
"$EMO" batch --manifest "$C/list.txt" -o "$T2" $OPTS -j 1 -q >"$TMP/two-a.log" 2>&1 &
pa=$!
"$EMO" batch --manifest "$C/list.txt" -o "$T2" $OPTS -j 1 -q >"$TMP/two-b.log" 2>&1
wait $pa
an=$(cat "$TMP/two-a.log" "$TMP/two-b.log" | sed -n 's/.*inputs: \([0-9]*\) analysed.*/\1/p' | awk '{s+=$1} END {print s}')
why="analysed $an in all: $(cat "$TMP"/two-*.log)"; check two_batches_share_the_work [ "$an" -eq 6 ]
"$EMO" report "$T2" >/dev/null 2>&1
check two_batches_report_equals_one_process same_report "$T2"

# ---- killed in the middle: nothing half-written counts as done ----------------
K=$TMP/kill
printf '%s\n' "$C/odd dir/été – crying.mp4" "$C/day1/interview.mp4" "$C/day2/interview.mp4" > "$TMP/k.txt"
"$EMO" batch --manifest "$TMP/k.txt" -o "$K" --threads 1 -j 1 -q >/dev/null 2>&1 &
pk=$!
for _ in $(seq 1 100); do [ -n "$(ls -a "$K" 2>/dev/null | grep '\.part\.csv')" ] && break; sleep 0.1; done
sleep 0.3
for c in $(ps -o pid= --ppid $pk); do kill -9 $c; done
kill -9 $pk 2>/dev/null
wait $pk 2>/dev/null
why=$(ls -a "$K"); check killed_run_left_part [ -n "$(ls -a "$K" | grep '\.part')" ]
why=$(ls -a "$K"); check killed_run_no_summary [ -z "$(ls "$K" | grep 'crying.*\.json')" ]
"$EMO" batch --manifest "$TMP/k.txt" -o "$K" --threads 1 -j 1 -q >"$TMP/k2.log" 2>&1
why=$(cat "$TMP/k2.log"); check rerun_after_kill grep -q "3 inputs: 3 analysed" "$TMP/k2.log"
why=$(ls -a "$K"); check rerun_cleans_parts [ -z "$(ls -a "$K" | grep '\.part')" ]
"$EMO" video "$C/odd dir/été – crying.mp4" --csv "$TMP/w.csv" --threads 1 -q
why=$(diff "$TMP/w.csv" "$K"/été_–_crying.mp4-*.csv | head -3); check rerun_after_kill_complete cmp -s "$TMP/w.csv" "$K"/été_–_crying.mp4-*.csv
# SIGTERM: stops after the current frame, says so, exit 130
"$EMO" batch --manifest "$TMP/k.txt" -o "$TMP/term" --threads 1 -j 2 >"$TMP/term.log" 2>&1 &
pt=$!
for _ in $(seq 1 100); do [ -n "$(ls -a "$TMP/term" 2>/dev/null | grep '\.part\.csv')" ] && break; sleep 0.1; done
kill -TERM $pt
wait $pt
rc=$?
why="exit $rc: $(cat "$TMP/term.log")"; check sigterm_exit_130 [ $rc -eq 130 ]
why=$(cat "$TMP/term.log"); check sigterm_says_rerun grep -q "run the same command again" "$TMP/term.log"
why=$(ls -a "$TMP/term"); check sigterm_no_parts [ -z "$(ls -a "$TMP/term" | grep '\.part')" ]

# ---- a full disk: stops with a clear message, finished results intact ----------
MNT=$TMP/small
mkdir -p "$MNT"
if mount -t tmpfs -o size=600k tmpfs "$MNT" 2>"$TMP/mnt.log"; then
    cp "$C/day1/interview.mp4" "$C/day1/interview2.mp4"
    printf '%s\n' "$C/day1/interview.mp4" "$C/day2/interview.mp4" "$C/day1/interview2.mp4" "$C/day2/empty room.mp4" > "$TMP/full.txt"
    "$EMO" batch --manifest "$TMP/full.txt" -o "$MNT/out" --threads 1 --annotate --plot -j 1 -q >"$TMP/full.log" 2>&1
    rc=$?
    why="exit $rc: $(cat "$TMP/full.log")"; check full_disk_fails [ $rc -eq 1 ]
    why=$(cat "$TMP/full.log"); check full_disk_message grep -q "is full: stopped" "$TMP/full.log"
    why=$(ls -la "$MNT/out"); check full_disk_no_parts [ -z "$(ls -a "$MNT/out" | grep '\.part')" ]
    # whatever summary is there is complete, and its outputs are there
    why=$(ls -la "$MNT/out"); check full_disk_results_intact py "
import json,glob,os,sys
for j in glob.glob(sys.argv[1]+'/*.json'):
    s=json.load(open(j))
    if s['status']=='ok':
        for o in s['outputs'].values(): assert os.path.getsize(sys.argv[1]+'/'+o)>0, o
" "$MNT/out"
    mount -o remount,size=8m "$MNT"
    "$EMO" batch --manifest "$TMP/full.txt" -o "$MNT/out" --threads 1 --annotate --plot -j 1 -q >"$TMP/full2.log" 2>&1
    why=$(cat "$TMP/full2.log"); check full_disk_then_resume grep -q "4 inputs: .* 0 failed" "$TMP/full2.log"
    umount "$MNT" && MNT=
else
    bad full_disk "cannot mount a small tmpfs to fill (needs root): $(cat "$TMP/mnt.log")"
fi
finish
