#!/usr/bin/python3
"""Reference face boxes from OpenCV 4.6 (Debian python3-opencv) for the
detector parity test (tests/test_detect.c).

Run from the repository root:  tests/ref/make_detect_refs.py [SHARED]

Writes
  tests/data/detect/frames/VIDEO_NNN.png  52 frames of each shared video,
      grey (cvtColor BGR2GRAY), shrunk to 320 pixels wide with INTER_AREA to
      keep the repository small; the references are computed on exactly
      these PNGs, so the test needs no video decoder.
  tests/data/detect/refs.txt  one line per (image, cascade, parameters):
      SOURCE PATH CASCADE SCALE NEIGHBORS MINSIZE MAXSIZE W H GREYSUM N x y w h ...
      SOURCE is "shared" (PATH relative to $SHARED) or "repo"; GREYSUM is the
      sum of the grey pixels OpenCV saw, so the test can tell a decoder
      difference from a detector difference. Boxes are sorted by (y, x, w, h).
"""
import glob
import os
import sys

import cv2
import numpy as np

SHARED = sys.argv[1] if len(sys.argv) > 1 else "../shared"
OUT = "tests/data/detect"
CASCADES = {
    "haar": "haarcascades/haarcascade_frontalface_default.xml",
    "haar-alt2": "haarcascades/haarcascade_frontalface_alt2.xml",
    "lbp": "lbpcascades/lbpcascade_frontalface_improved.xml",
    # Extra formats on the photos only: stumps, deep trees, tilted features.
    "haar-alt": "haarcascades/haarcascade_frontalface_alt.xml",
    "haar-tree": "haarcascades/haarcascade_frontalface_alt_tree.xml",
    "lbp-old": "lbpcascades/lbpcascade_frontalface.xml",
    "eye_tree_eyeglasses": "haarcascades/haarcascade_eye_tree_eyeglasses.xml",
    "frontalcatface_extended": "haarcascades/haarcascade_frontalcatface_extended.xml",
}
MAIN = ["haar", "haar-alt2", "lbp"]
EXTRA = ["haar-alt", "haar-tree", "lbp-old", "eye_tree_eyeglasses", "frontalcatface_extended"]
SETTINGS = [(1.1, 3, 30, 0), (1.15, 5, 40, 250)]
FRAMES = 52


def grey_of(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit("cannot read " + path)
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def extract_frames():
    os.makedirs(OUT + "/frames", exist_ok=True)
    out = []
    for video in sorted(glob.glob(SHARED + "/media/video/*.mp4")):
        name = os.path.splitext(os.path.basename(video))[0]
        cap = cv2.VideoCapture(video)
        frames = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
        idx = np.linspace(0, len(frames) - 1, FRAMES).round().astype(int)
        for k, i in enumerate(idx):
            g = cv2.cvtColor(frames[i], cv2.COLOR_BGR2GRAY)
            w = 320
            h = round(g.shape[0] * w / g.shape[1])
            g = cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA)
            rel = "%s/frames/%s_%03d.png" % (OUT, name, k)
            cv2.imwrite(rel, g, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            out.append(rel)
    return out


def main():
    photos = sorted(glob.glob(SHARED + "/media/faces/*.jpg")) + sorted(glob.glob(SHARED + "/media/expressions/*.jpg"))
    frames = extract_frames()
    clf = {k: cv2.CascadeClassifier("/usr/share/opencv4/" + v) for k, v in CASCADES.items()}
    lines = []
    jobs = []
    for p in photos:
        rel = os.path.relpath(p, SHARED)
        g = grey_of(p)
        for c in MAIN:
            for s in SETTINGS:
                jobs.append(("shared", rel, g, c, s))
        for c in EXTRA:
            jobs.append(("shared", rel, g, c, SETTINGS[0]))
    for f in frames:
        g = cv2.imread(f, cv2.IMREAD_GRAYSCALE)
        for c in MAIN:
            for s in SETTINGS:
                jobs.append(("repo", f, g, c, s))
    for src, rel, g, c, (sf, mn, mins, maxs) in jobs:
        faces = clf[c].detectMultiScale(g, scaleFactor=sf, minNeighbors=mn, minSize=(mins, mins),
                                        maxSize=(maxs, maxs))
        boxes = sorted(tuple(int(v) for v in b) for b in faces) if len(faces) else []
        boxes.sort(key=lambda b: (b[1], b[0], b[2], b[3]))
        lines.append("%s %s %s %g %d %d %d %d %d %d %d%s" % (
            src, rel, c, sf, mn, mins, maxs, g.shape[1], g.shape[0], int(g.astype(np.int64).sum()), len(boxes),
            "".join(" %d %d %d %d" % b for b in boxes)))
    with open(OUT + "/refs.txt", "w") as f:
        f.write("# made by tests/ref/make_detect_refs.py with OpenCV %s\n" % cv2.__version__)
        f.write("\n".join(lines) + "\n")
    print("%d reference lines, %d frames" % (len(lines), len(frames)))


main()
