#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
#
# Needs only what a fresh machine of ours has (a Rust toolchain with rustfmt and clippy, python3
# with venv and pip); everything else it installs itself: ONNX Runtime's library into .runtime,
# the Python tools for the quality gates and the ONNX fixtures into .venv, cbindgen and cargo-fuzz
# into .tools (all ignored by git), at pinned versions; system packages (valgrind, g++, ...) with
# apt-get when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Every build here starts from nothing and is not edited again: incremental compilation's caches
# would only cost time and disk.
export CARGO_INCREMENTAL=0

# Each step says when it started (seconds since the start): the README's breakdown comes from it.
step() { printf '\n==> [%4d s] %s\n' "$SECONDS" "$*"; }

# The background jobs (scripts/prepare.sh, the fuzz smoke) end with this script, whatever happens.
background=()
kill_tree() {
    local child
    for child in $(pgrep -P "$1"); do kill_tree "$child"; done
    kill "$1" 2>/dev/null || true
}
stop_background() {
    local pid
    for pid in "${background[@]}"; do kill_tree "$pid"; done
}
trap stop_background EXIT
# Waits for background job $1 (log $2); on failure shows the end of its log and stops here.
wait_for() {
    if ! wait "$1"; then
        tail -n 60 "$2" >&2
        echo "failed: see $2" >&2
        exit 1
    fi
}

step "toolchain"
cargo --version
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "format"
cargo fmt --all --check

step "downloads and installs in the background while the next steps compile (scripts/prepare.sh, log in target/prepare.log)"
mkdir -p target
scripts/prepare.sh >target/prepare.log 2>&1 &
prepare_pid=$!
background+=("$prepare_pid")

step "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "ONNX Runtime 1.31.1 for the neural-model tests (from the PyPI wheel, sha256-checked)"
scripts/fetch-onnxruntime.sh

step "tests: build"
cargo test --workspace --locked --no-run

step "waiting for scripts/prepare.sh"
wait_for "$prepare_pid" target/prepare.log
tail -n 1 target/prepare.log

# The fuzz build (every dependency again, with ASan) and the smoke run go on in the background
# from here: the steps below leave a core idle much of the time (test binaries, valgrind, a
# browser, a server, Python), and libFuzzer runs on one core per target.
step "fuzzing in the background: build every target, then run each for 20 s from its committed corpus (cargo-fuzz, libFuzzer + ASan; log in target/fuzz-smoke.log)"
# 20 s a target (two at a time) runs past the seed replay of the slowest target on a core of its
# own (`pipeline`, ~650 seeds at 35–70 runs/s) and keeps the command within 15 minutes on 2
# cores; long runs are `scripts/fuzz.sh 300` (RELIABILITY.md).
# The runs are niced: they are bounded by time, not by work, so they yield the cores to the
# steps in the foreground (the critical path) where those need both.
{ scripts/fuzz.sh --build-only && nice -n 10 scripts/fuzz.sh 20; } >target/fuzz-smoke.log 2>&1 &
fuzz_pid=$!
background+=("$fuzz_pid")

step "tests: run"
cargo test --workspace --locked

# These four reuse the test build (same units; see each script), so they run before the
# publishing step, which makes the workspace's own crates rebuild.
step "the CLIP tokenizer gives transformers' ids on the real CLIP vocabulary (open-clip-torch wheel, sha256-checked)"
scripts/test-clip-tokenizer.sh

step "the C ABI: header, C tests (ASan+UBSan, valgrind), C example, pkg-config"
scripts/test-c.sh

step "inpaint-server end to end: IOPaint's web app in headless Chromium, a load test, SIGTERM"
scripts/test-server.sh

step "remote inference: Triton config.pbtxt against Triton's schema; KServe's server on 127.0.0.1, byte-identical to local"
scripts/test-remote.sh

step "publishing: every library crate packages and builds from its packaged sources"
scripts/package.sh

step "the README's first command, on the sample photo"
cargo run --release --locked --example inpaint -- \
    --image examples/data/photo.jpg --mask examples/data/mask.png --output target/sample-out.png

step "the ONNX test graphs are exactly what scripts/make-onnx-fixtures.py makes, and compute its formulas"
.venv/bin/python scripts/make-onnx-fixtures.py --check >/dev/null

step "the hostile input files are exactly what scripts/make-hostile-files.py makes"
.venv/bin/python scripts/make-hostile-files.py --check >/dev/null

step "the outpainting records are what IOPaint 1.6.0's own extender code makes (iopaint wheel, sha256-checked)"
.venv/bin/python scripts/make-outpaint-records.py --check >/dev/null

step "quality against OpenCV (PSNR inside the mask, within 0.3 dB)"
.venv/bin/python benches/compare_opencv.py --quick --check-psnr 0.3 --out target/compare-quick

step "patchmatch against PyPatchMatch (mean PSNR inside the mask within 0.3 dB, texture kept)"
.venv/bin/python benches/compare_pypatchmatch.py --quick --only quality --check-psnr 0.3 \
    --check-texture --out target/compare-pypatchmatch-quick

step "fuzzing: waiting for the smoke run"
wait_for "$fuzz_pid" target/fuzz-smoke.log
sed -n '/==> summary/,$p' target/fuzz-smoke.log

step "all green"
