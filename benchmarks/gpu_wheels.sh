#!/usr/bin/env bash
# Download, on a machine with network, the pure-Python (and small binary) packages the Qt-free
# core and its CUDA tests need that a GPU machine's Python 3.12 lacks (it has torch,
# torchvision, pillow, pandas, numpy, opencv-python-headless, onnx, onnxruntime and pytest),
# into benchmarks/wheels/ (gitignored). benchmarks/gpu_check.sh installs them offline from
# there. The folder travels with the checkout to the GPU machine, whose uploads are limited to
# 64 MiB in all: this prints the total and fails above WHEELS_LIMIT_MIB (default 24).
#
#   benchmarks/gpu_wheels.sh                 # versions pinned to what $PYTHON has installed
#   PYTHON=/path/to/venv/bin/python benchmarks/gpu_wheels.sh
#
# Each package is fetched with --no-deps: its dependencies are listed here one by one, so
# nothing the GPU machine already has (numpy, onnx, torch) is downloaded again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/wheels"
python=${PYTHON:-python3}
limit_mib=${WHEELS_LIMIT_MIB:-24}
# What `import gender_desktop.ml.trainer, gender_desktop.sweeps.runner` needs beyond the GPU
# machine's packages (platformdirs, filelock, optuna and its SQLAlchemy/alembic chain), the
# pytest config's timeout plugin, and onnxscript for the ONNX export test.
packages=(
    platformdirs filelock
    optuna alembic SQLAlchemy Mako MarkupSafe colorlog tqdm PyYAML typing_extensions packaging
    pytest-timeout
    onnxscript onnx_ir ml_dtypes
)
pinned() {  # name==version as $python has it installed, else the bare name
    "$python" - "$1" <<'PY'
import importlib.metadata as m, sys
name = sys.argv[1]
try:
    print(f"{name}=={m.version(name)}")
except m.PackageNotFoundError:
    print(name)
PY
}
rm -rf "$dest"
mkdir -p "$dest"
specs=()
for name in "${packages[@]}"; do
    specs+=("$(pinned "$name")")
done
"$python" -m pip download --quiet --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 --platform any \
    --dest "$dest" "${specs[@]}"
ls -1 "$dest"
bytes=$(du -sb "$dest" | cut -f1)
mib=$(( (bytes + 1048575) / 1048576 ))
echo "benchmarks/wheels: $(ls -1 "$dest" | wc -l) wheels, $mib MiB (${bytes} bytes)"
if (( mib > limit_mib )); then
    echo "too big: over $limit_mib MiB of the 64 MiB a device call may carry" >&2
    exit 1
fi
