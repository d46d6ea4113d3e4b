#!/usr/bin/python3
"""Reference outputs for tests/test_image.c, made with OpenCV (python3-opencv).

Run from the repository root:  tests/ref/make_image_refs.py [SHARED]
Writes tests/data/image/*.png (lossless) and tests/data/image/refs.txt.
"""
import os
import struct
import sys

import cv2
import numpy as np

shared = sys.argv[1] if len(sys.argv) > 1 else "../shared"
out = "tests/data/image"
os.makedirs(out, exist_ok=True)


def save(name, img):
    # cv2.imwrite takes BGR; colour arrays here are RGB.
    cv2.imwrite(os.path.join(out, name), img if img.ndim == 2 else img[:, :, ::-1])


happy = cv2.imread(os.path.join(shared, "media/expressions/happy.jpg"), cv2.IMREAD_COLOR)  # BGR
grey = cv2.cvtColor(happy, cv2.COLOR_BGR2GRAY)
rgb = happy[:, :, ::-1].copy()
save("happy_rgb.png", rgb)
save("happy_grey.png", grey)

h, w = grey.shape
lines = [f"happy {w} {h}"]
for interp, name in ((cv2.INTER_LINEAR, "linear"), (cv2.INTER_AREA, "area")):
    for dw, dh in ((48, 48), (w // 3, h // 3), (int(w * 0.37), int(h * 0.61)), (int(w * 1.7), int(h * 1.3))):
        r = cv2.resize(grey, (dw, dh), interpolation=interp)
        fn = f"resize_{name}_{dw}x{dh}.png"
        save(fn, r)
        lines.append(f"resize {name} {dw} {dh} {fn}")
rc = cv2.resize(rgb, (100, 80), interpolation=cv2.INTER_LINEAR)
save("resize_rgb_linear_100x80.png", rc)
lines.append("resize_rgb linear 100 80 resize_rgb_linear_100x80.png")

# Affine warp: rotate 12 degrees about the face centre and scale 1.3; the
# matrix maps destination to source (WARP_INVERSE_MAP), as emo's does.
m = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.3)
warped = cv2.warpAffine(grey, m, (160, 120), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                        borderMode=cv2.BORDER_REPLICATE)
save("warp_grey_160x120.png", warped)
lines.append("warp " + " ".join(f"{v:.9g}" for v in m.flatten()) + " 160 120 warp_grey_160x120.png")

# EXIF orientation: a small, asymmetric JPEG with an APP1 "Exif" segment
# carrying orientation 1..8 (big-endian TIFF for odd, little-endian for even
# values), and what cv2.imread makes of each (it applies the orientation).
def exif_segment(orientation, big_endian):
    e = ">" if big_endian else "<"
    tiff = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    tiff += struct.pack(e + "H", 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack(e + "I", 0)  # no next IFD
    body = b"Exif\0\0" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


ok, small = cv2.imencode(".jpg", happy[20:60, 30:94], [cv2.IMWRITE_JPEG_QUALITY, 95])
small = small.tobytes()
for o in range(1, 9):
    fn = f"exif_{o}.jpg"
    with open(os.path.join(out, fn), "wb") as f:
        f.write(small[:2] + exif_segment(o, o % 2 == 1) + small[2:])
    up = cv2.imread(os.path.join(out, fn), cv2.IMREAD_COLOR)
    assert up.shape[:2] == ((64, 40) if o >= 5 else (40, 64)), (o, up.shape)
    save(f"exif_{o}.png", up[:, :, ::-1])
    lines.append(f"exif {o} {fn} exif_{o}.png")

# A face photo as a phone stores a portrait shot: the pixels lie on their
# side and EXIF orientation 6 says "turn 90 degrees clockwise to view".
ok, side = cv2.imencode(".jpg", cv2.rotate(happy, cv2.ROTATE_90_COUNTERCLOCKWISE),
                        [cv2.IMWRITE_JPEG_QUALITY, 92])
side = side.tobytes()
with open(os.path.join(out, "happy_portrait.jpg"), "wb") as f:
    f.write(side[:2] + exif_segment(6, False) + side[2:])
assert cv2.imread(os.path.join(out, "happy_portrait.jpg")).shape == happy.shape
lines.append(f"portrait happy_portrait.jpg {w} {h}")

with open(os.path.join(out, "refs.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
