#!/bin/sh
# Makes the small video test files in tests/data/video/ (needs the ffmpeg CLI;
# the files are committed, so tests do not). Run from the repository root.
set -e
out=tests/data/video
mkdir -p "$out"
# Audio only: 0.5 s of a 440 Hz tone, AAC in MP4.
ffmpeg -v error -y -f lavfi -i "sine=frequency=440:duration=0.5" -c:a aac -b:a 24k "$out/audio_only.m4a"
# A video stream whose codec no decoder knows: MPEG-4 frames in AVI with
# the FourCC (FMP4, in the stream header and the bitmap header) patched to
# "EMOX" (ffmpeg refuses to write an unknown tag itself).
ffmpeg -v error -y -f lavfi -i "testsrc=size=64x48:rate=5" -t 0.4 -c:v mpeg4 "$out/unknown_codec.avi"
python3 -c "import sys; p=sys.argv[1]; b=open(p,'rb').read(); assert b.count(b'FMP4')==2; open(p,'wb').write(b.replace(b'FMP4', b'EMOX'))" "$out/unknown_codec.avi"
# The same 64x48 clip plain and with a display matrix saying "turn 90
# degrees counter-clockwise" (as phones write portrait video), stream-copied
# so both hold the same frames.
ffmpeg -v error -y -f lavfi -i "testsrc=size=64x48:rate=5" -t 0.6 -c:v libx264 -preset veryfast -pix_fmt yuv420p "$out/plain.mp4"
ffmpeg -v error -y -i "$out/plain.mp4" -c copy -metadata:s:v:0 rotate=90 "$out/rotated.mp4"
