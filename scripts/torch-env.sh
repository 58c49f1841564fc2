#!/usr/bin/env bash
# Creates the PyTorch environment of the LaMa-against-PyTorch benchmarks (benches/lama_torch.py,
# benches/compare_torch.py): `.venv-torch` in the repository root, ignored by git, with pinned
# packages. Several GB (torch's PyPI wheel brings its CUDA libraries): the test command never
# runs it. Idempotent: does nothing when the pins are installed.
#
#   scripts/torch-env.sh             # then: .venv-torch/bin/python benches/compare_torch.py
#   VENV=/path/to/venv scripts/torch-env.sh   # use (and complete) another environment
set -euo pipefail

PINS=(
    "torch==2.15.0"
    "numpy==2.4.6"
    # make_big_lama.py's own graph writer; lama_torch.py exports without it.
    "onnx==1.23.2"
)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$root/.venv-torch}"
python="$venv/bin/python"

if [[ ! -x "$python" ]]; then
    echo "creating $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv"
fi

installed="$("$python" -m pip freeze --disable-pip-version-check 2>/dev/null | tr 'A-Z_' 'a-z-' | sed 's/+[^ ]*$//')"
missing=()
for pin in "${PINS[@]}"; do
    if ! grep -qxF "$pin" <<<"$installed"; then
        missing+=("$pin")
    fi
done

if ((${#missing[@]} > 0)); then
    echo "installing ${missing[*]}" >&2
    "$python" -m pip install --disable-pip-version-check --quiet "${PINS[@]}"
else
    echo "pinned packages already installed" >&2
fi

echo "$python"
