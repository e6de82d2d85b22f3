#!/usr/bin/env bash
# Puts PyTorch into bench/.venv for `npm run bench:compare`; reuses the venv when torch already imports.
# Extra arguments go to pip, e.g. `bash bench/compare/setup.sh --index-url <a CPU-only wheel index>`.
set -euo pipefail

venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
python="$venv/bin/python"

if [ -x "$python" ] && "$python" -c 'import torch' 2>/dev/null; then
  echo "bench/.venv: torch $("$python" -c 'import torch; print(torch.__version__)') (reused)"
  exit 0
fi

python3 -m venv "$venv"
# The Python peer needs only torch; numpy keeps torch from warning at import.
"$venv/bin/pip" install --quiet torch numpy "$@"
echo "bench/.venv: torch $("$python" -c 'import torch; print(torch.__version__)') (installed)"
