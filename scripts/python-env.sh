#!/usr/bin/env bash
# Creates the Python environment the OpenCV comparison (benches/compare_opencv.py), the
# sample-data script (examples/data/make_sample.py) and the ONNX test-fixture generator
# (scripts/make-onnx-fixtures.py) run in: `.venv` in the repository root,
# ignored by git, with pinned packages. Idempotent: does nothing when the pins are installed.
#
#   scripts/python-env.sh            # then: .venv/bin/python benches/compare_opencv.py --quick
#   PYTHON=python3.12 scripts/python-env.sh
set -euo pipefail

# Pinned together: opencv-python-headless 4.12 wheels are built against numpy 2.x, and
# scikit-image 0.25.2 supports numpy 2.2. scikit-image only provides the sample photos.
PINS=(
    "opencv-python-headless==4.12.0.88"
    "numpy==2.2.6"
    "scikit-image==0.25.2"
    # The PatchMatch reference (benches/compare_pypatchmatch.py): a prebuilt C++ library.
    "pypatchmatch==2.2.0"
    "pillow==11.3.0"
    # scripts/make-onnx-fixtures.py: builds the tiny ONNX test graphs (onnx) and checks each one
    # against a numpy implementation of its formula on the runtime the crates load (onnxruntime).
    "onnx==1.23.2"
    "onnxruntime==1.31.1"
)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/pinned-venv.sh"
pinned_venv "$root/.venv" "${PINS[@]}"
