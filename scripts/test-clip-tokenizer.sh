#!/usr/bin/env bash
# The CLIP tokenizer against transformers on the real CLIP vocabulary: fetches the vocabulary
# (open-clip-torch's wheel from PyPI, sha256-pinned) into target/clip-vocab, then runs the test
# that compares our ids with those transformers recorded in
# inpaint-models/tests/fixtures/clip-tokenizer/expected.json. Fails if the test did not run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python="$(scripts/python-env.sh)"
"$python" scripts/fetch-clip-vocab.py target/clip-vocab

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
INPAINT_TEST_CLIP_VOCAB="$PWD/target/clip-vocab" cargo test -p inpaint-models --locked --test tests \
    -- --ignored --exact tokenizer::real_vocabulary_gives_transformers_ids 2>&1 | tee "$log"
grep -q "test result: ok. 1 passed" "$log" || { echo "the real-vocabulary tokenizer test did not run" >&2; exit 1; }
