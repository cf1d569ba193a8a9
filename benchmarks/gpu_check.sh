#!/usr/bin/env bash
# The GPU check in one call: on a CUDA machine with nothing but this checkout (no network,
# Python 3.12 with torch, torchvision, pillow, pandas, numpy, opencv-python-headless, onnx,
# onnxruntime and pytest; no PySide6), within 8 minutes on an H100/H200:
#   nvidia-smi · the versions · the core imports without Qt · pytest -m cuda (tests/cuda)
#   · benchmarks/train_throughput.py (engine vs the reference loop, per scope, same JPEGs;
#   ten head-only epochs over 24,000 images) · benchmarks/decode_speed.py (nvjpeg against the
#   CPU workers) · benchmarks/predict_latency.py --device cuda
#   · benchmarks/sweep_speed.py · train_throughput again with --compile, if time is left.
# Results go to $1, else $OUT, else ./gpu-check-results: gpu_check.json (GPU, driver,
# versions, every step's status and numbers), gpu_check.md (a table for docs/benchmarks.md,
# the GPU named), each benchmark's own JSON, the pytest junit XML, and logs/<step>.log.
#
#   benchmarks/gpu_wheels.sh                  # first, on a machine with network
#   benchmarks/gpu_check.sh "$OUT"            # then on the GPU machine
#   benchmarks/gpu_check.sh --cpu-smoke DIR   # here: the CPU-safe parts at tiny sizes
#
# Missing pure-Python packages (optuna, platformdirs, ...) are installed offline from
# benchmarks/wheels into a throw-away venv that sees the system's packages (or, without venv
# support, unpacked onto PYTHONPATH). Every step has its own timeout inside a total budget
# (GPU_CHECK_BUDGET_S, default 450 s); a step that no longer fits is skipped with a note.
set -uo pipefail

smoke=0
if [[ "${1:-}" == "--cpu-smoke" ]]; then
    smoke=1
    shift
fi
[[ "${GPU_CHECK_SMOKE:-0}" == "1" ]] && smoke=1
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$PWD/gpu-check-results}}
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)
budget=${GPU_CHECK_BUDGET_S:-450}
python=${PYTHON:-python3}
steps="$out/steps.tsv"
: >"$steps"
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GENDER_DESKTOP_HOME="$work/home" GENDER_DESKTOP_OFFLINE=1 PYTHONUNBUFFERED=1
export QT_QPA_PLATFORM=offscreen

record() { # name status seconds note
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$steps"
    echo "[gpu_check] $1: $2 (${3}s) $4"
}

run_step() { # name max_seconds needed_seconds command...
    local name=$1 max=$2 need=$3
    shift 3
    local left=$((budget - SECONDS))
    if ((left < need)); then
        record "$name" skipped 0 "skipped: out of time (${left} s of the ${budget} s budget left, needs ${need} s)"
        return 0
    fi
    local limit=$((max < left ? max : left)) t0=$SECONDS rc=0
    timeout --kill-after=10 "$limit" "$@" >"$out/logs/$name.log" 2>&1 || rc=$?
    local took=$((SECONDS - t0))
    if ((rc == 0)); then
        record "$name" ok "$took" ""
    elif ((rc == 124 || rc == 137)); then
        record "$name" timeout "$took" "timed out after ${limit} s"
    else
        record "$name" failed "$took" "exit $rc: $(tail -n 3 "$out/logs/$name.log" | tr '\t\n' '  ' | cut -c1-300)"
    fi
}

install_missing() { # the wheel folder's packages the system Python lacks
    local missing
    missing=$("$python" - <<'PY'
import importlib.util
need = {"platformdirs": "platformdirs", "filelock": "filelock", "optuna": "optuna",
        "pytest_timeout": "pytest-timeout", "onnxscript": "onnxscript"}
print(" ".join(pkg for mod, pkg in need.items() if importlib.util.find_spec(mod) is None))
PY
    )
    if [[ -z "$missing" ]]; then
        echo "nothing missing"
        return 0
    fi
    echo "missing: $missing"
    if [[ ! -d "$repo/benchmarks/wheels" ]]; then
        echo "no benchmarks/wheels: run benchmarks/gpu_wheels.sh on a machine with network" >&2
        return 1
    fi
    local check="import platformdirs, filelock, optuna, pytest_timeout, onnxscript; print('installed:', '$missing')"
    # A venv that sees the system's packages lets pip install only what is missing; a venv
    # made from a venv's Python would see the base interpreter's instead, so not there.
    local in_venv
    in_venv=$("$python" -c "import sys; print(int(sys.prefix != sys.base_prefix))")
    if ((!in_venv)) && "$python" -m venv --system-site-packages "$work/venv" &&
        "$work/venv/bin/python" -m pip install --quiet --no-index \
            --find-links "$repo/benchmarks/wheels" $missing &&
        "$work/venv/bin/python" -c "$check"; then
        python="$work/venv/bin/python"
        return 0
    fi
    # Otherwise every wheel unpacked into one folder on PYTHONPATH (a wheel is a zip of its
    # files; these need no build step): the newer packaging/typing_extensions shadow the
    # system's, which they are compatible with.
    echo "unpacking the wheels onto PYTHONPATH"
    mkdir -p "$work/site"
    for wheel in "$repo"/benchmarks/wheels/*.whl; do
        "$python" -m zipfile -e "$wheel" "$work/site" || return 1
    done
    extra_path="$work/site"
    PYTHONPATH="$extra_path" "$python" -c "$check"
}

extra_path=""
t0=$SECONDS
if install_missing >"$out/logs/install.log" 2>&1; then
    record install ok $((SECONDS - t0)) "$(tail -n 1 "$out/logs/install.log")"
else
    record install failed $((SECONDS - t0)) "$(tail -n 2 "$out/logs/install.log" | tr '\n' ' ')"
fi
export PYTHONPATH="$repo${extra_path:+:$extra_path}${PYTHONPATH:+:$PYTHONPATH}"
cd "$repo" || exit 1

if command -v nvidia-smi >/dev/null; then
    run_step nvidia_smi 30 5 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap \
        --format=csv
else
    record nvidia_smi skipped 0 "skipped: no nvidia-smi (no NVIDIA driver)"
fi
run_step environment 60 10 "$python" "$repo/benchmarks/gpu_report.py" --environment "$out/environment.json"
run_step core_imports 60 10 "$python" -c "
import sys
import gender_desktop.ml.trainer, gender_desktop.ml.predictor, gender_desktop.ml.export
import gender_desktop.sweeps.runner, gender_desktop.cli.train, gender_desktop.ml.gpu_decode
sys.path.insert(0, 'benchmarks')
import train_throughput, decode_speed, predict_latency, sweep_speed, gpu_report
qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph'))
assert not qt, f'the core imported Qt: {qt}'
print('the core and the benchmarks import without Qt')"

cuda=$("$python" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
data="$work/data"
if ((cuda)); then
    run_step pytest_cuda 200 60 "$python" -m pytest -m cuda tests/cuda -q -p no:cacheprovider \
        -o addopts=-ra --junitxml="$out/pytest_cuda.xml"
    run_step train_throughput 240 90 "$python" benchmarks/train_throughput.py --device cuda \
        --images 30000 --batch-size 256 --epochs 2 --reference-batches 30 \
        --scopes all,last_block,head --root "$data" --json-out "$out/train_throughput.json"
    run_step decode_speed 90 40 "$python" benchmarks/decode_speed.py --images 30000 \
        --root "$data" --json-out "$out/decode_speed.json"
    run_step predict_latency 120 45 "$python" benchmarks/predict_latency.py --device cuda \
        --backbone vgg16 --images 1000 --single 50 --photos 5 --root "$work/predict" --json \
        --json-out "$out/predict_latency.json"
    run_step sweep_speed 150 60 "$python" benchmarks/sweep_speed.py --device cuda \
        --images 30000 --epochs 3 --root "$data" --json-out "$out/sweep_speed.json"
    run_step train_throughput_compile 150 80 "$python" benchmarks/train_throughput.py \
        --device cuda --images 30000 --batch-size 256 --epochs 2 --reference-batches 10 \
        --scopes all,last_block --compile --root "$data" \
        --json-out "$out/train_throughput_compile.json"
else
    record pytest_cuda skipped 0 "skipped: no CUDA (torch.cuda.is_available() is False)"
    if ((smoke)); then # the same benchmarks on CPU at tiny sizes: the script itself is tested
        tiny=(--backbone resnet18 --input-size 32 --workers 2)
        run_step train_throughput 240 20 "$python" benchmarks/train_throughput.py --device cpu \
            "${tiny[@]}" --images 64 --batch-size 16 --epochs 1 --reference-batches 2 \
            --scopes head,all --root "$data" --json-out "$out/train_throughput.json"
        run_step decode_speed 120 20 "$python" benchmarks/decode_speed.py --images 64 \
            --input-size 32 --workers 2 --root "$data" --json-out "$out/decode_speed.json"
        run_step predict_latency 120 20 "$python" benchmarks/predict_latency.py --device cpu \
            --backbone resnet18 --input-size 32 --images 16 --single 3 --photos 0 --no-engine \
            --root "$work/predict" --json --json-out "$out/predict_latency.json"
        run_step sweep_speed 240 20 "$python" benchmarks/sweep_speed.py --device cpu \
            "${tiny[@]}" --images 64 --epochs 1 --root "$data" --json-out "$out/sweep_speed.json"
        record train_throughput_compile skipped 0 "skipped: CPU smoke (torch.compile is timed on a GPU)"
    else
        for name in train_throughput decode_speed predict_latency sweep_speed train_throughput_compile; do
            record "$name" skipped 0 "skipped: no CUDA (run with --cpu-smoke for the CPU-safe parts)"
        done
    fi
fi

"$python" "$repo/benchmarks/gpu_report.py" "$out" $( ((smoke)) && echo --smoke) \
    >"$out/logs/report.log" 2>&1 || echo "[gpu_check] the report failed: see $out/logs/report.log"
echo "[gpu_check] done in ${SECONDS} s: $out/gpu_check.json, $out/gpu_check.md"
cat "$out/gpu_check.md" 2>/dev/null
