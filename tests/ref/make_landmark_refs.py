#!/usr/bin/python3
"""Golden 68-point landmarks from dlib 19 (Debian libdlib-dev, libdlib-data)
for tests/test_landmarks.c, and the cascade -> dlib box fit of
emo_landmark_box (printed, for docs/ACCURACY.md).

Run from the repository root:  tests/ref/make_landmark_refs.py [SHARED]
(needs g++, libdlib-dev, libdlib-data, python3-opencv: `make deps-ref`)

Builds tests/ref/landmark_ref.cpp, decodes each photo to grey with OpenCV
(imread + cvtColor BGR2GRAY, which emo_image_load matches bit for bit),
and writes tests/data/landmarks/refs.txt:
  IMAGE NAME W H GREYSUM            a photo (NAME relative to $SHARED), then
                                    its faces:
  NAME SOURCE x y w h x0 y0 ... x67 y67
SOURCE: "hog" (dlib's own face detector's box), "haar-alt2" (OpenCV's
detectMultiScale, 1.1 / 3 / 30: the same boxes as emo_detect), "edge"
(a box hanging over the top-left corner), "tiny" (a 1x1 box)."""
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

SHARED = sys.argv[1] if len(sys.argv) > 1 else "../shared"
MODEL = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"
OUT = "tests/data/landmarks/refs.txt"
PHOTOS = ["media/faces/" + f for f in ["2007_007763.jpg", "2008_001009.jpg", "2008_001322.jpg",
                                       "2008_002079.jpg", "Tom_Cruise_avp_2014_4.jpg", "bald_guys.jpg"]]
PHOTOS += ["media/expressions/" + f for f in sorted(os.listdir(SHARED + "/media/expressions"))
           if f.endswith(".jpg")]
HAAR = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml"


def main():
    tmp = tempfile.mkdtemp()
    exe = tmp + "/landmark_ref"
    flags = subprocess.check_output(["pkg-config", "--cflags", "--libs", "dlib-1"], text=True).split()
    subprocess.check_call(["g++", "-O2", "-o", exe, "tests/ref/landmark_ref.cpp"] + flags)
    haar = cv2.CascadeClassifier(HAAR)
    cmds, header = [], []
    for i, rel in enumerate(PHOTOS):
        grey = cv2.cvtColor(cv2.imread(SHARED + "/" + rel, cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)
        pgm = "%s/%d.pgm" % (tmp, i)
        cv2.imwrite(pgm, grey)
        header.append("IMAGE %s %d %d %d" % (rel, grey.shape[1], grey.shape[0], int(grey.sum(dtype=np.int64))))
        cmds.append("IMG %s %s" % (rel, pgm))
        cmds.append("DETECT")
        for (x, y, w, h) in haar.detectMultiScale(grey, 1.1, 3, minSize=(30, 30)):
            cmds.append("BOX haar-alt2 %d %d %d %d" % (x, y, w, h))
        if i == 0:
            cmds.append("BOX edge -20 -30 90 90")
            cmds.append("BOX tiny 200 100 1 1")
    res = subprocess.run([exe, MODEL], input="\n".join(cmds) + "\n", capture_output=True, text=True, check=True)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        lines = res.stdout.splitlines()
        for rel, head in zip(PHOTOS, header):  # each photo's line, then its faces
            f.write(head + "\n" + "".join(l + "\n" for l in lines if l.split()[0] == rel))
    print("wrote", OUT, res.stdout.count("\n"), "faces")
    fit_box(res.stdout)


def fit_box(text):
    """For each dlib HOG box, the haar-alt2 box of the same photo that
    overlaps it most: least-squares fit of the HOG box's centre offset and
    side as fractions of the haar box's side."""
    by = {}
    for line in text.splitlines():
        t = line.split()
        by.setdefault(t[0], []).append((t[1], [int(v) for v in t[2:6]]))
    rows = []
    for faces in by.values():
        hogs = [b for s, b in faces if s == "hog"]
        haars = [b for s, b in faces if s == "haar-alt2"]
        for h in hogs:
            best, bi = None, 0.3
            for c in haars:
                ix = max(0, min(h[0] + h[2], c[0] + c[2]) - max(h[0], c[0]))
                iy = max(0, min(h[1] + h[3], c[1] + c[3]) - max(h[1], c[1]))
                iou = ix * iy / float(h[2] * h[3] + c[2] * c[3] - ix * iy)
                if iou > bi:
                    best, bi = c, iou
            if best:
                s = float(best[2])
                rows.append(((h[0] + h[2] / 2 - best[0] - best[2] / 2) / s,
                             (h[1] + h[3] / 2 - best[1] - best[3] / 2) / s, h[2] / s))
    a = np.array(rows)
    print("box fit over %d faces: dx %.4f dy %.4f side %.4f (std %.4f %.4f %.4f)" %
          ((len(a),) + tuple(a.mean(0)) + tuple(a.std(0))))


if __name__ == "__main__":
    main()
