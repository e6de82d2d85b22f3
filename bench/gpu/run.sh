#!/usr/bin/env bash
# The GPU check of the CUDA backend, in one call of the device tool (bench/gpu/README.md): stops at
# once without a GPU; otherwise unpacks what bench/gpu/prepare.sh carried (Node, the release addon,
# dist/, the Rust test binary, cifar10-mini) and runs these stages, each under its own time cap,
# a failing stage reported and the next one run:
#   info      driver, CUDA, cuBLAS, cuDNN, NVRTC versions as Ferrite finds them (ft.cuda.info())
#   ops       every op's forward and gradients on cuda:0 against the CPU, TF32 off (ops.mjs)
#   rust      the Rust cuda_test! suite on the GPU (the carried cargo test binary, -- --ignored cuda)
#   memcheck  one ResNet training step under compute-sanitizer --tool memcheck
#   train     the four tutorial models trained for 2 epochs on cuda:0 and on the CPU (the CLI)
#   speed     training and inference images/s at batch 100, Ferrite against PyTorch eager
# then a Markdown summary, printed last and written to $OUT/gpu-report.md with run.log beside it.
#
#   bash bench/gpu/run.sh                 # every stage
#   bash bench/gpu/run.sh ops rust        # only these (e.g. a rerun after a fix)
#   bash bench/gpu/run.sh --smoke         # on the CPU, no GPU needed: a dry run of the whole script
# Settings: GPU_BUDGET_S (whole run, default 450), GPU_EPOCHS (2), GPU_TRAIN_LIMIT (images per
# split, default all), GPU_PYTHON (python3), GPU_CARRY (bench/gpu/.carry), FERRITE_CUDA_PATH.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/gpu
CARRY=${GPU_CARRY:-$HERE/.carry}
BUDGET=${GPU_BUDGET_S:-450}
RESERVE=12
EPOCHS=${GPU_EPOCHS:-2}
MODELS=(mycnn resnet se-resnet vgg11)
ALL_STAGES=(info ops rust memcheck train speed)
DEVICE=cuda:0
SMOKE=0
STAGES=()
for arg in "$@"; do
  case $arg in
    --smoke) SMOKE=1 ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    info|ops|rust|memcheck|train|speed) STAGES+=("$arg") ;;
    *) echo "run.sh: unknown argument '$arg'; expected --smoke or stages: ${ALL_STAGES[*]}" >&2; exit 64 ;;
  esac
done
[ ${#STAGES[@]} -eq 0 ] && STAGES=("${ALL_STAGES[@]}")
wants() { [[ " ${STAGES[*]} " == *" $1 "* ]]; }

OUT=${OUT:-$HERE/.out}
mkdir -p "$OUT"

stop() {
  echo "bench/gpu/run.sh: STOPPED: $*" >&2
  printf '### GPU check\n\nNot run: %s\n' "$*" >"$OUT/gpu-report.md"
  exit 2
}

# --- no GPU: stop before anything else ---
if [ $SMOKE = 0 ]; then
  export PATH=$PATH:/usr/local/cuda/bin
  command -v nvidia-smi >/dev/null 2>&1 || stop "no GPU here: nvidia-smi is not installed (no NVIDIA driver). Run this on a GPU machine, or use --smoke for a dry run on the CPU."
  gpus=$(timeout 30 nvidia-smi -L 2>&1) || stop "no GPU here: nvidia-smi failed: ${gpus:-no output}"
  grep -q '^GPU [0-9]' <<<"$gpus" || stop "no GPU here: nvidia-smi lists no CUDA device (${gpus:-no output})"
else
  DEVICE=cpu
  EPOCHS=${GPU_EPOCHS:-1}
  GPU_TRAIN_LIMIT=${GPU_TRAIN_LIMIT:-200}
fi

exec > >(tee "$OUT/run.log") 2>&1
TEE_PID=$!
T0=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferrite-gpu.XXXXXX")
RESULTS=$WORK/results
mkdir -p "$RESULTS/runs" "$WORK/bin"
echo "bench/gpu/run.sh: stages ${STAGES[*]} on $DEVICE, budget ${BUDGET} s, work folder $WORK$([ $SMOKE = 1 ] && echo ' (smoke test on the CPU)')"
[ $SMOKE = 0 ] && echo "$gpus"
[ -f "$CARRY/MANIFEST.txt" ] && sed 's/^/  carried: /' "$CARRY/MANIFEST.txt"

PY=${GPU_PYTHON:-python3}
if [ $SMOKE = 1 ] && [ -z "${GPU_PYTHON:-}" ] && [ -x "$ROOT/bench/.venv/bin/python" ]; then PY=$ROOT/bench/.venv/bin/python; fi

# xz, or Python's lzma where the machine has no xz.
unxz_to() {
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" >"$2"
  else "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}

# --- unpack what prepare.sh carried ---
if [ -f "$CARRY/node.xz" ]; then
  unxz_to "$CARRY/node.xz" "$WORK/bin/node" && chmod +x "$WORK/bin/node"
  export PATH=$WORK/bin:$PATH
fi
command -v node >/dev/null 2>&1 || stop "no Node: $CARRY/node.xz was not carried (run bench/gpu/prepare.sh and carry bench/gpu/.carry)"
echo "node $(node --version) at $(command -v node)"
if [ $SMOKE = 0 ]; then
  [ -f "$CARRY/ferrite.node.xz" ] && unxz_to "$CARRY/ferrite.node.xz" "$ROOT/native/ferrite.linux-x64-gnu.node"
  if [ -f "$CARRY/dist.tar.xz" ]; then
    rm -rf "$ROOT/dist"
    "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))' "$CARRY/dist.tar.xz" "$ROOT"
  fi
fi
[ -f "$ROOT/native/ferrite.linux-x64-gnu.node" ] && [ -f "$ROOT/dist/esm/index.mjs" ] || stop "no built package: native/ferrite.linux-x64-gnu.node or dist/ is missing (carry bench/gpu/.carry)"
TEST_BIN=
if [ -f "$CARRY/ferrite-core-tests.xz" ]; then
  TEST_BIN=$WORK/bin/ferrite-core-tests
  unxz_to "$CARRY/ferrite-core-tests.xz" "$TEST_BIN" && chmod +x "$TEST_BIN"
fi
DATA=$ROOT/data/cifar10-sample
if [ -f "$CARRY/cifar.pack" ] && "$PY" "$HERE/cifar_pack.py" unpack --pack "$CARRY/cifar.pack" --sample "$DATA" --out "$WORK/data"; then
  DATA=$WORK/data
  echo "cifar10-mini rebuilt from data/cifar10-sample and the carried records" >"$RESULTS/data.txt"
else
  echo "data/cifar10-sample (2,000 train / 1,000 test images): no cifar10-mini was carried or it did not unpack" >"$RESULTS/data.txt"
fi
LIMIT_ARGS=()
[ -n "${GPU_TRAIN_LIMIT:-}" ] && LIMIT_ARGS=(--limit "$GPU_TRAIN_LIMIT") && echo "(--limit $GPU_TRAIN_LIMIT per split)" >>"$RESULTS/data.txt"
echo "data: $DATA; $(cat "$RESULTS/data.txt")"

# Ferrite's libraries: the CUDA wheels PyTorch uses (cuBLAS, cuDNN, NVRTC), unless set already;
# on LD_LIBRARY_PATH too, where a wheel's NVRTC finds its builtins library.
if [ -z "${FERRITE_CUDA_PATH:-}" ] && [ $SMOKE = 0 ]; then
  FERRITE_CUDA_PATH=$("$PY" "$HERE/cuda_path.py")
  export FERRITE_CUDA_PATH
fi
[ -n "${FERRITE_CUDA_PATH:-}" ] && export LD_LIBRARY_PATH=$FERRITE_CUDA_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
echo "FERRITE_CUDA_PATH=${FERRITE_CUDA_PATH:-}"
echo "python: $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])' 2>&1)"
export ROOT HERE DEVICE EPOCHS DATA RESULTS TEST_BIN PY SMOKE
cd "$ROOT"

# --- stages ---
elapsed() { echo $(( $(date +%s) - T0 )); }

# run_stage NAME CAP FUNCTION: the function under `timeout`, its output in $RESULTS/NAME.log and
# on the console, its outcome in stages.tsv. The cap shrinks to what is left of the budget.
run_stage() {
  local name=$1 cap=$2 fn=$3
  local left=$(( BUDGET - RESERVE - $(elapsed) ))
  (( cap > left )) && cap=$left
  echo
  if (( cap < 5 )); then
    echo "=== $name: skipped, the time budget is spent ==="
    printf '%s\tskipped (time budget spent)\t0\n' "$name" >>"$RESULTS/stages.tsv"
    return
  fi
  echo "=== $name (at $(elapsed) s, cap ${cap} s) ==="
  local start
  start=$(date +%s)
  timeout -k 10 "$cap" bash -c "$fn" 2>&1 | tee "$RESULTS/$name.log"
  local rc=${PIPESTATUS[0]} took=$(( $(date +%s) - start )) status
  case $rc in
    0) status=ok ;;
    124|137) status="timed out after ${cap} s" ;;
    99) status=skipped ;;
    *) status="failed (exit $rc)" ;;
  esac
  echo "--- $name: $status in ${took} s"
  printf '%s\t%s\t%s\n' "$name" "$status" "$took" >>"$RESULTS/stages.tsv"
}

stage_info() {
  if [ "$SMOKE" = 0 ]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    command -v nvcc >/dev/null && nvcc --version | tail -n 2
    "$PY" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version(), torch.cuda.get_device_name(0))'
  fi
  node "$HERE/info.mjs" --json "$RESULTS/info.json"
}

stage_ops() {
  node "$HERE/ops.mjs" --device "$DEVICE" --json "$RESULTS/ops.json"
}

stage_rust() {
  if [ -z "$TEST_BIN" ]; then echo "no test binary carried (prepare.sh --no-tests?): skipped"; return 99; fi
  if [ "$SMOKE" = 1 ] && [ -z "${FERRITE_CUDA_SHIM:-}" ]; then echo "smoke test: no device for the cuda tests (set FERRITE_CUDA_SHIM to run them on the shim): skipped"; return 99; fi
  # Tests read their fixtures relative to the crate, as under cargo test.
  cd "$ROOT/crates/ferrite-core" && "$TEST_BIN" --ignored cuda --test-threads 1
}

find_sanitizer() {
  command -v compute-sanitizer 2>/dev/null && return
  for candidate in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer /opt/nvidia/compute-sanitizer/compute-sanitizer; do
    [ -x "$candidate" ] && echo "$candidate" && return
  done
}

stage_memcheck() {
  local step=(node "$HERE/models.mjs" --device "$DEVICE" --models resnet --batch 4 --step-only)
  local sanitizer
  sanitizer=$(find_sanitizer)
  if [ -z "$sanitizer" ]; then
    echo "no compute-sanitizer: the step runs without it"
    "${step[@]}"
    return 99
  fi
  "$sanitizer" --version | tail -n 1
  # Exact-size blocks freed at once, so an overrun into a cached block's slack is seen too.
  FERRITE_NO_CUDA_MEMORY_CACHING=1 "$sanitizer" --tool memcheck --leak-check no --print-limit 30 --error-exitcode 3 "${step[@]}"
}

# train_one LABEL DEVICE MODEL CAP: the CLI's run, in runs/LABEL-MODEL; one line per run in train.tsv.
train_one() {
  local label=$1 device=$2 model=$3 cap=$4 start rc status
  local dir=$RESULTS/runs/$label-$model
  start=$(date +%s)
  timeout -k 5 "$cap" node "$ROOT/bin/ferrite.js" train --model "$model" --data "$DATA" --epochs "$EPOCHS" --device "$device" \
    --out "$dir" "${LIMIT_ARGS[@]}" >"$dir.log" 2>&1
  rc=$?
  case $rc in 0) status=ok ;; 124|137) status="timed out after ${cap} s" ;; *) status="failed (exit $rc)" ;; esac
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$device" "$model" "$status" "$(( $(date +%s) - start ))" >>"$RESULTS/train.tsv"
  echo "$device $model: $status; $(grep -E 'Accuracy on Test Set|Error|error' "$dir.log" | tail -n "$EPOCHS" | tr '\n' ' ')"
}

# The CPU reference runs in the background while the GPU stages run; the train stage waits for it.
cpu_reference() {
  export RAYON_NUM_THREADS=$(( $(nproc) / 2 > 1 ? $(nproc) / 2 : 1 ))
  for model in "${MODELS[@]}"; do train_one cpu cpu "$model" "$CPU_MODEL_CAP"; done
}

stage_train() {
  for model in "${MODELS[@]}"; do train_one device "$DEVICE" "$model" "$GPU_MODEL_CAP"; done
  local waited=0
  while kill -0 "$CPU_PID" 2>/dev/null; do
    (( waited == 0 )) && echo "waiting for the CPU reference runs"
    sleep 2
    waited=$(( waited + 2 ))
  done
  echo "CPU reference runs:"
  cat "$RESULTS/cpu-reference.log"
}

stage_speed() {
  local common=(--device "$DEVICE")
  [ "$SMOKE" = 1 ] && common+=(--batch 20 --steps 2 --warmup 1 --seconds 1)
  "$PY" "$HERE/torch_models.py" "${common[@]}" --json "$RESULTS/speed.jsonl"
  local torch_rc=$?
  node "$HERE/models.mjs" "${common[@]}" --json "$RESULTS/speed.jsonl"
  local ferrite_rc=$?
  return $(( torch_rc | ferrite_rc ))
}

export -f stage_info stage_ops stage_rust find_sanitizer stage_memcheck train_one cpu_reference stage_train stage_speed
# Arrays do not cross `bash -c`; the functions rebuild them.
declare -p MODELS LIMIT_ARGS >"$WORK/arrays.sh"
export BASH_ENV=$WORK/arrays.sh
export GPU_MODEL_CAP=${GPU_MODEL_CAP:-40} CPU_MODEL_CAP=${CPU_MODEL_CAP:-120}

CPU_PID=
if wants train; then
  timeout -k 5 $(( BUDGET - RESERVE - 60 )) bash -c cpu_reference >"$RESULTS/cpu-reference.log" 2>&1 &
  CPU_PID=$!
fi
export CPU_PID

wants info && run_stage info 25 stage_info
wants ops && run_stage ops 60 stage_ops
wants rust && run_stage rust 60 stage_rust
wants memcheck && run_stage memcheck 90 stage_memcheck
wants train && run_stage train 180 stage_train
[ -n "$CPU_PID" ] && kill "$CPU_PID" 2>/dev/null && echo "stopped the CPU reference runs, which outlasted the train stage"
wants speed && run_stage speed 80 stage_speed

echo
echo "=== summary (after $(elapsed) s) ==="
GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
TITLE="GPU check: ${GPU_NAME:-$DEVICE}, $(date -u +%Y-%m-%d)"
[ -f "$CARRY/MANIFEST.txt" ] && TITLE="$TITLE, $(grep -m1 '^commit' "$CARRY/MANIFEST.txt")"
"$PY" "$HERE/summary.py" --results "$RESULTS" --out "$OUT/gpu-report.md" --json "$OUT/results.json" --title "$TITLE"
status=$?
# Non-zero when a stage failed or timed out (skipped ones do not count).
[ $status = 0 ] && cut -f2 "$RESULTS/stages.tsv" | grep -qvE '^(ok|skipped)$' && status=1
[ $SMOKE = 1 ] && rm -rf "$WORK"
# Let tee finish writing run.log before the device tool collects $OUT.
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit $status
