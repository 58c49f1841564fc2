#!/usr/bin/env bash
# Creates the heavy Python environment that scripts/make-diffusion-fixtures.py runs in:
# `.venv-diffusion` in the repository root, ignored by git, with pinned packages (torch is about
# 3 GB to download and 5 GB installed). The test command never needs it: the fixtures it writes
# are committed. Idempotent.
#
#   scripts/diffusion-fixtures-env.sh && .venv-diffusion/bin/python scripts/make-diffusion-fixtures.py
set -euo pipefail

# The versions the committed fixtures were made with (their cases.json lists them too).
# optimum-onnx 0.1.0 needs transformers < 4.58: without that pin pip backtracks for minutes.
# scipy: the LMS samplers.
PINS=(
    "torch==2.15.0"
    "diffusers==0.39.0"
    "transformers==4.57.6"
    "accelerate==1.16.0"
    "optimum==2.1.0"
    "optimum-onnx==0.1.0"
    "onnx==1.23.2"
    "onnxruntime==1.31.1"
    "scipy==1.17.1"
    "numpy==2.4.6"
    "pillow==13.0.0"
)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/pinned-venv.sh"
pinned_venv "$root/.venv-diffusion" "${PINS[@]}"
