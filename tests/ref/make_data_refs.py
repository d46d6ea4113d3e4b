#!/usr/bin/python3
"""Golden FER+ labels for tests/test_data.c, computed independently of src/data.c.

Reads $SHARED/datasets/fer2013 (fer2013.csv.gz + fer2013new.csv) and writes
tests/data/dataset/ferplus_labels.txt:
  majority <classes> <one char per CSV data row: model class digit, '-' if dropped>
  soft <classes> <data row> <probabilities...>   (for a few rows: first ones, ties, dropped)
Rules (include/emo.h, FER+ LABELS): contempt/unknown/NF votes and votes of
unselected classes are dropped, the rest renormalised; no votes left -> dropped;
majority = argmax, ties -> the original FER2013 label if tied, else the tied
class first in the class list.
Usage: tests/ref/make_data_refs.py [SHARED]  (default ../shared)"""
import csv, gzip, os, sys

shared = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SHARED", "../shared")
root = os.path.join(shared, "datasets/fer2013")
FER = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
VOTE_COLS = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
             "anger": "angry", "disgust": "disgust", "fear": "fear"}

with gzip.open(os.path.join(root, "fer2013.csv.gz"), "rt") as f:
    r = csv.reader(f)
    head = next(r)
    orig = [FER[int(row[head.index("emotion")])] for row in r]
with open(os.path.join(root, "fer2013new.csv")) as f:
    r = csv.reader(f)
    head = next(r)
    votes = [{VOTE_COLS[c]: int(row[head.index(c)]) for c in VOTE_COLS} for row in r]
assert len(orig) == len(votes)


def label(classes, i):
    v = [votes[i][c] for c in classes]
    total = sum(v)
    if total == 0:
        return None, None
    best = max(v)
    tied = [k for k in range(len(classes)) if v[k] == best]
    o = classes.index(orig[i]) if orig[i] in classes else -1
    hard = o if o in tied else tied[0]
    return hard, [x / total for x in v]


out = ["# made by tests/ref/make_data_refs.py from datasets/fer2013; see that script for the format"]
for classes in (FER, ["happy", "sad", "neutral", "angry"]):
    name = ",".join(classes)
    hards = [label(classes, i)[0] for i in range(len(orig))]
    out.append("majority %s %s" % (name, "".join("-" if h is None else str(h) for h in hards)))
    ties = [i for i in range(len(orig)) if hards[i] is not None
            and sorted([votes[i][c] for c in classes])[-1] == sorted([votes[i][c] for c in classes])[-2]]
    dropped = [i for i in range(len(orig)) if hards[i] is None]
    pick = sorted(set(list(range(8)) + ties[:12] + dropped[:4] + [len(orig) - 1]))
    for i in pick:
        h, soft = label(classes, i)
        out.append("soft %s %d %s" % (name, i, " ".join("%.7f" % x for x in soft) if soft else "-"))
dst = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "dataset", "ferplus_labels.txt")
with open(dst, "w") as f:
    f.write("\n".join(out) + "\n")
print("wrote", os.path.normpath(dst), len(out), "lines")
