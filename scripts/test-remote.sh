#!/usr/bin/env bash
# Remote inference against a real engine: exports the ONNX contract fixtures as a Triton model
# repository (`models export-triton`), checks every generated config.pbtxt against Triton's own
# model configuration schema (model_config.proto, as compiled in the `tritonclient` wheel), serves
# the repository with KServe's model server (`kserve` from PyPI, stock) on 127.0.0.1, and runs the
# remote backend's real-engine test: every architecture byte-identical to local ONNX Runtime
# through the whole pipeline. The server is stopped on exit, whatever happens.
#
# Its Python tools live in `.venv-kserve` (ignored by git, pinned): kserve pins many packages of
# its own (fastapi, grpcio, protobuf, …), so it gets a venv apart from scripts/python-env.sh's.
# The first install takes about 100 s; later runs check the pins and skip it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PINS=(
    "kserve==0.21.0"
    # Only for tritonclient/grpc/model_config_pb2.py: Triton's model_config.proto, compiled.
    "tritonclient==2.73.0"
    # The version the crates load (scripts/fetch-onnxruntime.sh), so both sides run the same.
    "onnxruntime==1.31.1"
    "numpy==2.4.6"
    "protobuf==6.33.6"
)

source scripts/pinned-venv.sh
python="$(pinned_venv .venv-kserve "${PINS[@]}")"
# --prepare (scripts/prepare.sh): only the venv.
[[ "${1:-}" == --prepare ]] && exit 0

scripts/fetch-onnxruntime.sh >/dev/null
# --workspace: reuses the units `cargo test --workspace` built (see test-server.sh).
cargo build --locked --quiet --workspace --example models
models=target/debug/examples/models

fixtures=inpaint-models/tests/fixtures/onnx
repo=target/triton-repo
rm -rf "$repo"
for name in lama_fixed512 lama_dynamic lama_dynamic_255 lama_dynamic_fp16 migan fcf \
    migan_pipeline mat mat_no_noise; do
    "$models" export-triton "$name.onnx" "$repo" --model-dir "$fixtures" >/dev/null
done
# A model of the wrong contract, served as it is (export-triton refuses it, as it should).
if "$models" export-triton wrong_names.onnx "$repo" --model-dir "$fixtures" >/dev/null 2>&1; then
    echo "export-triton exported a graph of no known contract" >&2
    exit 1
fi
mkdir -p "$repo/wrong_names/1"
cp "$fixtures/wrong_names.onnx" "$repo/wrong_names/1/model.onnx"

echo "checking config.pbtxt files against Triton's ModelConfig" >&2
"$python" - "$repo" <<'PY'
import sys
from pathlib import Path

import onnxruntime as ort
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

TYPES = {"tensor(float)": "TYPE_FP32", "tensor(float16)": "TYPE_FP16",
         "tensor(uint8)": "TYPE_UINT8", "tensor(int64)": "TYPE_INT64"}
checked = 0
for config_path in sorted(Path(sys.argv[1]).glob("*/config.pbtxt")):
    # Parse fails on any field or enum value Triton's schema does not have.
    config = text_format.Parse(config_path.read_text(), mc.ModelConfig())
    folder = config_path.parent
    assert config.name == folder.name, (config.name, folder)
    assert config.backend == "onnxruntime" and config.max_batch_size == 0, config
    session = ort.InferenceSession(str(folder / "1" / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    for declared, ports in ((config.input, session.get_inputs()),
                            (config.output, session.get_outputs())):
        expected = sorted((p.name, TYPES[p.type],
                           [d if isinstance(d, int) else -1 for d in p.shape]) for p in ports)
        found = sorted((t.name, mc.DataType.Name(t.data_type), list(t.dims)) for t in declared)
        assert found == expected, (folder.name, found, expected)
    checked += 1
assert checked == 9, checked
print(f"{checked} config.pbtxt files parse as Triton ModelConfig and match their graphs")
PY

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log=target/kserve-server.log
"$python" scripts/kserve-predictor.py "$repo" "$port" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
    if ! kill -0 "$server" 2>/dev/null; then
        echo "the KServe server exited; its log ($log):" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
    if "$python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
        "$endpoint/v2/health/ready" 2>/dev/null; then
        break
    fi
    sleep 0.5
done

# Only the real-engine test: the mock-server ones run in `cargo test --workspace`.
# --workspace: the test binaries `cargo test --workspace` built (scripts/test.sh's "tests" step)
# are reused, inpaint-models' `remote` feature included (the examples turn it on); `-p
# inpaint-models` alone unifies features differently and would rebuild. The other crates'
# `tests` binaries have no ignored `remote::` test, so exactly one must run.
test_log=target/remote-real-engine.log
INPAINT_TEST_V2_ENDPOINT="$endpoint" cargo test --locked --workspace --test tests remote:: \
    -- --ignored 2>&1 | tee "$test_log"
grep -q "test result: ok. 1 passed" "$test_log" ||
    { echo "the real-engine test did not run" >&2; exit 1; }
