#!/usr/bin/python3
"""Peer for bench_data: loads FER2013 (csv.gz) the way PyTorch training scripts
usually do (gzip + csv + numpy per row) and prints the seconds it took.
Usage: bench/peer_data_load.py FER2013.csv.gz"""
import csv, gzip, sys, time
import numpy as np

t0 = time.perf_counter()
with gzip.open(sys.argv[1], "rt") as f:
    r = csv.reader(f)
    head = next(r)
    ie, ip, iu = head.index("emotion"), head.index("pixels"), head.index("Usage")
    labels, pixels, usage = [], [], []
    for row in r:
        labels.append(int(row[ie]))
        pixels.append(np.array(row[ip].split(), dtype=np.uint8))
        usage.append(row[iu])
x = np.stack(pixels).reshape(-1, 48, 48)
y = np.array(labels)
assert x.shape[0] == len(usage)
print("%.3f %d" % (time.perf_counter() - t0, x.shape[0]))
