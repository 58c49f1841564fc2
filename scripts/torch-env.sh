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
source "$root/scripts/pinned-venv.sh"
pinned_venv "${VENV:-$root/.venv-torch}" "${PINS[@]}"
