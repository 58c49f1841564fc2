#!/usr/bin/env bash
# The CLIP tokenizer against transformers on the real CLIP vocabulary: fetches the vocabulary
# (open-clip-torch's wheel from PyPI, sha256-pinned) into target/clip-vocab, then runs the two
# tests that compare our ids with those transformers recorded in
# inpaint-models/tests/fixtures/clip-tokenizer/expected.json (458 prompts on three tokenizer
# folders; every code point of Unicode 14.0). Fails if they did not both run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python="$(scripts/python-env.sh)"
"$python" scripts/fetch-clip-vocab.py target/clip-vocab
# --prepare (scripts/prepare.sh): only the venv and the vocabulary.
[[ "${1:-}" == --prepare ]] && exit 0

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# --workspace: the test binaries `cargo test --workspace` built (scripts/test.sh's "tests" step)
# are reused; `-p inpaint-models` alone unifies features differently and would rebuild.
INPAINT_TEST_CLIP_VOCAB="$PWD/target/clip-vocab" cargo test --workspace --locked --test tests \
    -- --ignored tokenizer::real_vocabulary_ 2>&1 | tee "$log"
grep -q "test result: ok. 2 passed" "$log" || { echo "the real-vocabulary tokenizer tests did not both run" >&2; exit 1; }
