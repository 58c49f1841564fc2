#!/usr/bin/env bash
# Everything the test command installs or downloads, in one go: the system packages, IOPaint's
# web app and playwright-core (test-server.sh), the KServe venv (test-remote.sh), the quality
# gates' venv and the CLIP vocabulary (test-clip-tokenizer.sh), cbindgen (test-c.sh) and
# cargo-fuzz (fuzz.sh). Each script installs what it is missing itself when run alone; this runs
# their `--prepare` parts so that scripts/test.sh can do it in the background while the first
# steps compile (downloads wait on the network, not on the 2 cores). Idempotent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> prepare: %s\n' "$*"; }
started=$SECONDS
# Downloads first, then the two tools that compile.
step "system packages, IOPaint's web app, playwright-core"
scripts/test-server.sh --prepare
step "KServe's venv"
scripts/test-remote.sh --prepare
step "the quality gates' venv, the CLIP vocabulary"
scripts/test-clip-tokenizer.sh --prepare
step "system packages, cbindgen"
scripts/test-c.sh --prepare
step "cargo-fuzz"
scripts/fuzz.sh --prepare
step "done in $((SECONDS - started)) s"
