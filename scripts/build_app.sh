#!/usr/bin/env bash
# Build the standalone app (build.spec, PyInstaller, one folder) and run the frozen app's
# self-test offscreen: the bundle counts as built only when that passes.
#
#   scripts/build_app.sh [OUT_DIR]          # default OUT_DIR: the checkout (dist/, build/)
#   PYTHON=/path/to/venv/bin/python scripts/build_app.sh /tmp/app
#   GENDER_DESKTOP_CPU_ONLY=1 scripts/build_app.sh   # leave the CUDA libraries out (see README)
#
# The app is OUT_DIR/dist/gender-desktop/gender-desktop; PyInstaller's work files go to
# OUT_DIR/build. PyInstaller is installed into PYTHON's environment when it is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT}" && cd "${1:-$ROOT}" && pwd)"
PYTHON="${PYTHON:-python3}"
PYINSTALLER_PIN="pyinstaller>=6.3"  # the same pin as pyproject.toml's `build` extra

if ! "$PYTHON" -m PyInstaller --version >/dev/null 2>&1; then
    echo "== installing $PYINSTALLER_PIN into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
    "$PYTHON" -m pip install "$PYINSTALLER_PIN"
fi

echo "== building with PyInstaller $("$PYTHON" -m PyInstaller --version) into $OUT"
started=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$OUT/dist" --workpath "$OUT/build" "$ROOT/build.spec"
built=$(date +%s)

APP="$OUT/dist/gender-desktop/gender-desktop"
[ -x "$APP" ] || APP="$APP.exe"
echo "== built in $((built - started)) s: $APP"
echo "== bundle size: $(du -sh "$OUT/dist/gender-desktop" | cut -f1)"

echo "== self-test of the frozen app (offscreen)"
# A temporary home: the self-test never touches the user's settings, labels or runs.
SELFTEST_HOME="$(mktemp -d)"
trap 'rm -rf "$SELFTEST_HOME"' EXIT
GENDER_DESKTOP_HOME="$SELFTEST_HOME" QT_QPA_PLATFORM=offscreen "$APP" --self-test
echo "== done in $(($(date +%s) - started)) s"
