#!/usr/bin/env bash
# The main job on an embedded default: capture a real sample (or INPUT) into SMPL-X motion.
#   scripts/demo.sh [INPUT]      INPUT: video, image, folder of images, or webcam:N
# Writes OUT/<name>.smplx.npz and OUT/<name>.preview.png (landmarks + solved skeleton) and prints
# the folder at the end. With no INPUT it fetches Debian's opencv-doc package (real sample media)
# with `apt-get download` (no root needed) and captures its clip of a person.
source "$(dirname "$0")/_env.sh"
ensure_venv
OUT="$ROOT/demo_out"
mkdir -p "$OUT"
INPUT="${1:-}"
if [ -z "$INPUT" ]; then
  CACHE="$ROOT/.cache/opencv-doc"
  SAMPLE="$(find "$CACHE" -name 'Megamind.avi' 2>/dev/null | head -n 1 || true)"
  if [ -z "$SAMPLE" ]; then
    mkdir -p "$CACHE"
    echo "fetching sample media (Debian package opencv-doc) ..." >&2
    if ! (cd "$CACHE" && apt-get download opencv-doc >/dev/null 2>&1); then
      if [ "$(id -u)" = "0" ]; then apt-get update -qq >/dev/null 2>&1 || true; fi
      (cd "$CACHE" && apt-get download opencv-doc >/dev/null 2>&1) || {
        echo "error: could not download Debian's opencv-doc (run 'sudo apt-get update' once), or pass a video: scripts/demo.sh VIDEO" >&2
        exit 2; }
    fi
    dpkg-deb -x "$CACHE"/opencv-doc_*.deb "$CACHE/x"
    SAMPLE="$(find "$CACHE/x" -name 'Megamind.avi' | head -n 1)"
    [ -n "$SAMPLE" ] || SAMPLE="$(find "$CACHE/x" -name 'messi5.jpg' | head -n 1)"
  fi
  INPUT="$SAMPLE"
fi
NAME="$(basename "${INPUT%.*}")"
[ "${INPUT#webcam}" != "$INPUT" ] && NAME="webcam"
cd "$ROOT"
"$VENV/bin/python" -m inference capture "$INPUT" --out "$OUT/$NAME.smplx.npz" --preview "$OUT/$NAME.preview.png" \
  2> >(grep -v -E '^(W0000|I0000|INFO:|WARNING: All log)' >&2)
echo "results in: $OUT"
