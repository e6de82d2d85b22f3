#!/usr/bin/env bash
# Builds bench/gpu/.carry/ (git-ignored), what bench/gpu/run.sh needs on a GPU machine that has
# no Node, no Rust and no registry, and prints the device tool's call that runs it. Run it in the
# checkout the device tool sends (the session's own repository), after `npm run build` there:
#   node.xz                  this machine's Node, stripped, xz -9e
#   ferrite.node.xz          native/ferrite.linux-x64-gnu.node (the release addon)
#   dist.tar.xz              dist/ (the compiled TypeScript)
#   ferrite-core-tests.xz    the cargo test binary of ferrite-core, stripped (for the cuda_test! suite)
#   cifar.pack               cifar10-mini's records beyond data/cifar10-sample, coded by cifar_pack.py
#   MANIFEST.txt             commit, versions and sizes
# Then checks that the working tree plus the carry fit the device tool's 64 MiB.
#
#   bash bench/gpu/prepare.sh [--no-tests] [--release-tests] [--test-bin PATH] [--no-data]
#                             [--mini DIR] [--train-per-class N] [--test-per-class M]
# The test binary is built with `cargo test -p ferrite-core --lib --no-run` (debug, as the shim
# runs it in CI; --release-tests for a release one), in CARGO_TARGET_DIR when set.
set -euo pipefail

ROOT=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
HERE=$ROOT/bench/gpu
CARRY=$HERE/.carry
LIMIT_BYTES=$(( 64 * 1024 * 1024 ))
MINI=$ROOT/../shared/data/cifar10-mini
TRAIN_PER_CLASS=1000
TEST_PER_CLASS=500
TESTS=1
TEST_BIN=
TEST_PROFILE=()
DATA=1
while [ $# -gt 0 ]; do
  case $1 in
    --no-tests) TESTS=0 ;;
    --release-tests) TEST_PROFILE=(--release) ;;
    --test-bin) TEST_BIN=$2; shift ;;
    --no-data) DATA=0 ;;
    --mini) MINI=$2; shift ;;
    --train-per-class) TRAIN_PER_CLASS=$2; shift ;;
    --test-per-class) TEST_PER_CLASS=$2; shift ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "prepare.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done

cd "$ROOT"
mkdir -p "$CARRY"
git check-ignore -q "$CARRY" || { echo "prepare.sh: $CARRY is not git-ignored; it would travel twice" >&2; exit 1; }
size() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
warn() { echo "prepare.sh: warning: $*" >&2; }

# --- the built package: it must be what the sources say ---
ADDON=native/ferrite.linux-x64-gnu.node
[ -f "$ADDON" ] || { echo "prepare.sh: $ADDON is missing: build it (npm run build:native)" >&2; exit 1; }
[ -f dist/esm/index.mjs ] || { echo "prepare.sh: dist/ is missing: build it (npm run build:ts)" >&2; exit 1; }
newer_rust=$(find crates -newer "$ADDON" \( -name '*.rs' -o -name '*.cu' -o -name '*.cuh' -o -name Cargo.toml \) | head -n 3)
[ -z "$newer_rust" ] || warn "$ADDON is older than $(echo "$newer_rust" | tr '\n' ' ')...: the GPU would run old code; rebuild it (npm run build:native)"
newer_ts=$(find ts -newer dist/esm/index.mjs -name '*.ts' | head -n 3)
[ -z "$newer_ts" ] || warn "dist/ is older than $(echo "$newer_ts" | tr '\n' ' ')...: rebuild it (npm run build:ts)"
xz -9 -T0 -c "$ADDON" >"$CARRY/ferrite.node.xz"
tar -cJf "$CARRY/dist.tar.xz" dist

# --- Node, stripped of its debug information (about 99 -> 86 MB, 22 MB compressed); cached ---
NODE=$(command -v node)
node_sum=$(sha256sum "$NODE" | cut -d' ' -f1)
if [ ! -f "$CARRY/node.xz" ] || [ "$(cat "$CARRY/node.sha256" 2>/dev/null)" != "$node_sum" ]; then
  echo "compressing $NODE ($(node --version)); xz -9e takes a few minutes"
  tmp=$(mktemp)
  if command -v strip >/dev/null; then strip -o "$tmp" "$NODE"; else cp "$NODE" "$tmp"; fi
  xz -9e -T0 -c "$tmp" >"$CARRY/node.xz.part" && mv "$CARRY/node.xz.part" "$CARRY/node.xz"
  rm -f "$tmp"
  echo "$node_sum" >"$CARRY/node.sha256"
fi

# --- the Rust test binary, for the cuda_test! suite ---
rm -f "$CARRY/ferrite-core-tests.xz"
if [ $TESTS = 1 ]; then
  if [ -z "$TEST_BIN" ]; then
    echo "building the ferrite-core test binary (cargo test -p ferrite-core --lib --no-run ${TEST_PROFILE[*]:-})"
    TEST_BIN=$(cargo test -p ferrite-core --lib --no-run "${TEST_PROFILE[@]}" --message-format=json 2>/dev/null |
      python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "ferrite_core" and m["profile"]["test"]:
        print(m["executable"])' | tail -n 1 || true)
  fi
  [ -x "$TEST_BIN" ] || { echo "prepare.sh: no test binary ($TEST_BIN); build errors? or pass --no-tests" >&2; exit 1; }
  tmp=$(mktemp)
  strip -o "$tmp" "$TEST_BIN" 2>/dev/null || cp "$TEST_BIN" "$tmp"
  xz -6 -T0 -c "$tmp" >"$CARRY/ferrite-core-tests.xz"
  rm -f "$tmp"
fi

# --- cifar10-mini, less what data/cifar10-sample already carries; cached ---
pack_python() {
  for py in "${GPU_PACK_PYTHON:-}" "$ROOT/bench/.venv/bin/python" python3; do
    [ -n "$py" ] && "$py" -c 'import numpy' 2>/dev/null && { echo "$py"; return; }
  done
}
pack_header() { python3 -c 'import json, sys; d = open(sys.argv[1], "rb").read(); n = int.from_bytes(d[8:12], "little"); h = json.loads(d[12:12 + n]); print(" ".join(str(h["splits"][s]["perClass"]) for s in ("train", "test")))' "$1" 2>/dev/null; }
if [ $DATA = 1 ]; then
  if [ -f "$CARRY/cifar.pack" ] && [ "$(pack_header "$CARRY/cifar.pack")" = "$TRAIN_PER_CLASS $TEST_PER_CLASS" ]; then
    echo "cifar.pack: reused ($TRAIN_PER_CLASS train / $TEST_PER_CLASS test images per class)"
  else
    [ -f "$MINI/train.bin" ] || { echo "prepare.sh: no cifar10-mini at $MINI (--mini DIR, or --no-data to train on data/cifar10-sample)" >&2; exit 1; }
    PY=$(pack_python)
    [ -n "$PY" ] || { echo "prepare.sh: packing needs Python with numpy (bash bench/compare/setup.sh makes bench/.venv)" >&2; exit 1; }
    echo "packing cifar10-mini ($TRAIN_PER_CLASS train / $TEST_PER_CLASS test per class) with $PY; LZMA takes a few minutes"
    "$PY" "$HERE/cifar_pack.py" pack --mini "$MINI" --sample data/cifar10-sample --train-per-class "$TRAIN_PER_CLASS" \
      --test-per-class "$TEST_PER_CLASS" --out "$CARRY/cifar.pack.part" >/dev/null
    mv "$CARRY/cifar.pack.part" "$CARRY/cifar.pack"
  fi
else
  rm -f "$CARRY/cifar.pack"
fi

# --- what travels: the working tree (tracked and untracked-not-ignored files) and the carry ---
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | python3 -c 'import os, sys
names = set(filter(None, sys.stdin.buffer.read().split(b"\0")))
print(sum(os.lstat(n).st_size for n in names if os.path.lexists(n)))')
carry_bytes=0
for f in "$CARRY"/*; do carry_bytes=$(( carry_bytes + $(size "$f") )); done
total=$(( tree_bytes + carry_bytes ))
commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- crates ts bench/gpu || commit="$commit + uncommitted changes"
{
  echo "commit $commit"
  echo "prepared $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -m), node $(node --version)"
  for f in "$CARRY"/*; do [[ $f == *.xz || $f == *.pack ]] && echo "$(basename "$f") $(mib "$(size "$f")")"; done
  [ -f "$CARRY/cifar.pack" ] && echo "cifar10-mini: first $TRAIN_PER_CLASS train / $TEST_PER_CLASS test images per class"
} >"$CARRY/MANIFEST.txt"
cat "$CARRY/MANIFEST.txt"
echo "working tree $(mib "$tree_bytes") + carry $(mib "$carry_bytes") = $(mib "$total") of $(mib "$LIMIT_BYTES")"
if (( total > LIMIT_BYTES )); then
  echo "prepare.sh: too large for the device tool; carry fewer images (--train-per-class, --test-per-class) or --no-tests" >&2
  exit 1
fi
if [ "$(git rev-parse --git-common-dir)" != "$(git rev-parse --git-dir)" ]; then
  warn "$ROOT is a linked worktree: the device tool sends the session's own checkout, so prepare the carry there"
fi
cat <<EOF

The device tool's call (from the session whose checkout is $ROOT):
  run(command="bash bench/gpu/run.sh", carry=["bench/gpu/.carry"], timeout_s=540)
Only some stages, e.g. a rerun on the same warm machine:
  run(command="bash bench/gpu/run.sh ops rust", carry=["bench/gpu/.carry"], timeout_s=240)
EOF
