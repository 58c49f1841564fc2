#!/usr/bin/env bash
# GPU figures: big-LaMa on ONNX Runtime's CUDA and TensorRT providers through our pipeline, side
# by side with the same network in PyTorch on the same GPU (BENCHMARKS.md, "GPU figures", has
# the exact device calls). Three steps:
#
#   scripts/gpu-bench.sh pack                 # here (network, no GPU): fetch, split, build
#   scripts/gpu-bench.sh receive              # on the GPU machine, once per call that carries a part
#   scripts/gpu-bench.sh run [--cpu-dry-run]  # on the GPU machine: join, check, measure, write results
#
# Why parts: the lent GPU machines cannot download anything, and one call carries at most
# 64 MiB, while the `onnxruntime-gpu` wheel matching our runtime (1.31.1) is 256 MB. `pack`
# downloads it (pinned by sha256), splits it into parts under .gpu-bench/parts/ (ignored) and
# builds our binaries with the `cuda,tensorrt` features into .gpu-bench/bin/. Consecutive calls
# to one warm machine carry one part each; `receive` checks each part's sha256 and copies it to
# $INPAINT_GPU_STAGE (default .gpu-bench/stage: ignored, so the machine keeps it between calls);
# `run` joins them, checks the wheel's sha256 and unpacks the runtime libraries.
#
# What the wheel needs (readelf -d and strings of onnxruntime/capi/*.so; build_and_package_info:
# cuda_version 13.0): the CUDA provider links libcudart.so.13, libcublas.so.13,
# libcublasLt.so.13, libcurand.so.10, libcuda.so.1 and opens cuDNN 9 (libcudnn.so.9) at run
# time; the TensorRT provider links TensorRT 10 (libnvinfer.so.10, libnvonnxparser.so.10) and
# libcudnn.so.9. The lent machines have CUDA 13 and PyTorch 2.11+cu130, whose nvidia-* wheels
# carry exactly these CUDA 13 / cuDNN 9 libraries, so nothing else is carried: `run` puts the
# torch install's nvidia/*/lib folders on LD_LIBRARY_PATH and checks with ldd that every
# library resolves (it stops, naming the missing ones, if not). TensorRT is not part of
# PyTorch: when libnvinfer.so.10 is not on the machine the TensorRT variants are reported as
# not run, with that reason (its libraries are ~1.5 GB, too much to carry 64 MiB at a time).
#
# What `run` measures, written to $OUT/gpu-results.md (the device call brings $OUT back) or,
# without $OUT, benches/output/gpu/results.md:
#   * machine: GPU, driver, CUDA, cuDNN, torch, TensorRT when present;
#   * benches/compare_torch.py --device cuda at 512², 1024², 2048²: PyTorch eager fp32 and
#     autocast fp16 (what IOPaint runs) against our pipeline on the CUDA provider (fp32 and
#     fp16 exports of the same module) and TensorRT (fp32 graph; fp16 precision enabled),
#     alternating, with the fraction of our time outside session.run;
#   * criterion's `onnx` bench on the CUDA provider (INPAINT_BENCH_DEVICE=cuda).
# --cpu-dry-run does all of it on the CPU provider with the wheel's own libonnxruntime (one
# round, 512² only, criterion in --profile-time mode), so that GPU minutes are not spent on
# typos: run it here after `pack`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

WHEEL=onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl
WHEEL_SHA256=e26c475fe361b2015f45b4b824bd13f0bb20204e59b62814e6f0acd5f3d491a6
# 62,000,000 bytes: a part plus the working tree (~2 MB) and the binaries stays under 64 MiB.
PART_BYTES=62000000
carry="$root/.gpu-bench"
stage="${INPAINT_GPU_STAGE:-$carry/stage}"
python="${PYTHON:-python3}"

log() { echo "gpu-bench: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

pack() {
    mkdir -p "$carry/wheel" "$carry/parts" "$carry/bin"
    if [[ ! -f "$carry/wheel/$WHEEL" ]]; then
        local pip="$root/.venv/bin/python"
        [[ -x "$pip" ]] || pip="$(scripts/python-env.sh)"
        "$pip" -m pip download --disable-pip-version-check --no-deps --only-binary :all: \
            --python-version 3.11 -d "$carry/wheel" "onnxruntime-gpu==1.31.1"
    fi
    echo "$WHEEL_SHA256  $carry/wheel/$WHEEL" | sha256sum -c --quiet - ||
        die "$WHEEL: sha256 differs from the pinned one"
    rm -f "$carry/parts/"*
    split -b "$PART_BYTES" -d -a 2 "$carry/wheel/$WHEEL" "$carry/parts/wheel.part-"
    (cd "$carry/parts" && sha256sum wheel.part-* >SHA256SUMS)
    log "$(ls "$carry/parts" | grep -c part-) parts in .gpu-bench/parts/"

    log "building inpaint-timing and the onnx bench with the cuda and tensorrt features"
    cargo build --release -p inpaint-examples --features cuda,tensorrt --example inpaint-timing
    local bench
    bench="$(cargo bench -p inpaint-benches --features cuda,tensorrt --bench onnx --no-run \
        --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)"
    [[ -x "$bench" ]] || die "cargo bench --no-run gave no executable"
    # Stripped: with debug info they would not fit beside a part.
    strip -o "$carry/bin/inpaint-timing" target/release/examples/inpaint-timing
    strip -o "$carry/bin/onnx-bench" "$bench"
    du -h "$carry/bin/"* "$carry/parts/"* >&2
}

receive() {
    mkdir -p "$stage/parts"
    [[ -d "$carry/parts" ]] || die "no .gpu-bench/parts in this call's tree (carry one)"
    cp "$carry/parts/SHA256SUMS" "$stage/parts/" 2>/dev/null || true
    local part got=0
    for part in "$carry/parts"/wheel.part-*; do
        [[ -f "$part" ]] || continue
        local name
        name="$(basename "$part")"
        grep " $name\$" "$stage/parts/SHA256SUMS" | (cd "$(dirname "$part")" && sha256sum -c --quiet -) ||
            die "$name: sha256 mismatch (a truncated carry?)"
        cp "$part" "$stage/parts/$name"
        got=$((got + 1))
    done
    if [[ -d "$carry/bin" ]]; then
        mkdir -p "$stage/bin"
        cp "$carry/bin/"* "$stage/bin/"
    fi
    log "received $got part(s); staged: $(ls "$stage/parts" | grep -c part- || true) of $(grep -c part- "$stage/parts/SHA256SUMS")"
}

join_runtime() {
    local want have
    want="$(grep -c part- "$stage/parts/SHA256SUMS")"
    have="$(ls "$stage/parts" | grep -c part- || true)"
    ((have == want)) || die "$have of $want parts staged; carry the others first"
    (cd "$stage/parts" && sha256sum -c --quiet SHA256SUMS) || die "a staged part is damaged"
    if [[ ! -f "$stage/ort/libonnxruntime.so.1.31.1" ]]; then
        cat "$stage/parts"/wheel.part-* >"$stage/$WHEEL"
        echo "$WHEEL_SHA256  $stage/$WHEEL" | sha256sum -c --quiet - || die "joined wheel: sha256 differs"
        rm -rf "$stage/ort.partial" && mkdir -p "$stage/ort.partial"
        "$python" -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for n in z.namelist():
    if n.startswith("onnxruntime/capi/lib") and ".so" in n:
        open(sys.argv[2] + "/" + n.rsplit("/", 1)[1], "wb").write(z.read(n))' \
            "$stage/$WHEEL" "$stage/ort.partial"
        ln -sf libonnxruntime.so.1.31.1 "$stage/ort.partial/libonnxruntime.so"
        rm -f "$stage/$WHEEL"
        rm -rf "$stage/ort" && mv "$stage/ort.partial" "$stage/ort"
    fi
    ls "$stage/ort" >&2
}

# The folders holding PyTorch's CUDA libraries (nvidia-* wheels), then the system's.
cuda_library_path() {
    "$python" - <<'EOF'
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
dirs = sorted({os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "nvidia", "**", "lib*.so*"), recursive=True)})
dirs += [d for d in ("/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu") if os.path.isdir(d)]
print(":".join(dirs))
EOF
}

run() {
    local dry=0
    [[ "${1:-}" == "--cpu-dry-run" ]] && dry=1
    local out="${OUT:-$root/benches/output/gpu}"
    mkdir -p "$out"
    local results="$out/gpu-results.md"
    [[ -d "$carry/parts" ]] && receive
    join_runtime
    local bin="$stage/bin"
    [[ -x "$bin/inpaint-timing" ]] || bin="$carry/bin"
    [[ -x "$bin/inpaint-timing" ]] || die "no inpaint-timing: run \`pack\` here and carry .gpu-bench/bin"
    "$python" -c "import torch, numpy" || die "$python has no torch/numpy"

    local libs
    libs="$(cuda_library_path)"
    export LD_LIBRARY_PATH="$stage/ort:$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export ORT_DYLIB_PATH="$stage/ort/libonnxruntime.so.1.31.1"

    local device=cuda sizes=(512 1024 2048) rounds=10
    local variants=(torch-eager torch-fp16 ours ours-fp16)
    # TensorRT builds an engine per graph (minutes each): 512² only, with its own baseline.
    local trt_variants=(torch-eager ours-tensorrt ours-tensorrt-fp16)
    local criterion_args=()
    if ((dry)); then
        device=cpu sizes=(512) rounds=1 variants=(torch-eager ours ours-threads) trt_variants=()
        criterion_args=(--profile-time 1)
    fi

    {
        echo "# GPU figures ($(date -u +%F\ %H:%M) UTC$(((dry)) && echo ', CPU DRY RUN: not GPU figures'))"
        echo
        echo '```'
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
        nvidia-smi 2>/dev/null | grep -o "CUDA Version: [0-9.]*" || true
        "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "gpu", torch.cuda.is_available() and torch.cuda.get_device_name(0))'
        echo "onnxruntime-gpu 1.31.1 ($WHEEL), LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
        # shellcheck disable=SC2086 # one folder per word
        ls ${libs//:/ } 2>/dev/null | grep -E "^lib(cudnn|nvinfer|cublas|cudart)\.so\.[0-9.]+$" | sort -u | tr '\n' ' ' || true
        echo
        echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
        echo '```'
        echo
    } >"$results"

    # Every library the CUDA provider links must resolve; TensorRT's may be absent (reported).
    local missing
    missing="$(ldd "$stage/ort/libonnxruntime_providers_cuda.so" | grep "not found" || true)"
    if [[ -n "$missing" ]] && ((!dry)); then
        echo "CUDA provider: missing libraries: $missing" >>"$results"
        die "the CUDA provider's libraries do not resolve: $missing"
    fi
    if ((${#trt_variants[@]})) && ldd "$stage/ort/libonnxruntime_providers_tensorrt.so" | grep -q "not found"; then
        echo "TensorRT: not run, $(ldd "$stage/ort/libonnxruntime_providers_tensorrt.so" | grep 'not found' | awk '{print $1}' | tr '\n' ' ')not on this machine" >>"$results"
        trt_variants=()
    fi

    compare() {
        local name="$1" rounds="$2"
        shift 2
        local sizes_arg=() variants_arg=()
        while [[ "$1" != -- ]]; do sizes_arg+=("$1") && shift; done
        shift
        variants_arg=("$@")
        log "compare_torch ($name): ${sizes_arg[*]} on $device: ${variants_arg[*]}"
        ORT_TENSORRT_ENGINE_CACHE_ENABLE=1 ORT_TENSORRT_CACHE_PATH="$stage/trt-cache" \
            "$python" benches/compare_torch.py --device "$device" --sizes "${sizes_arg[@]}" \
            --rounds "$rounds" --variants "${variants_arg[@]}" --timing "$bin/inpaint-timing" \
            --ort-lib "$ORT_DYLIB_PATH" --pause 0.2 --out "$out/compare-$name.md" 2>&1 |
            tee "$out/compare-$name.log" >&2
        cat "$out/compare-$name.md" >>"$results"
        echo >>"$results"
    }
    mkdir -p "$stage/trt-cache"
    compare "$device" "$rounds" "${sizes[@]}" -- "${variants[@]}"
    if ((${#trt_variants[@]})); then
        compare tensorrt "$rounds" 512 -- "${trt_variants[@]}"
    fi

    log "criterion onnx bench on $device"
    local graph="$root/benches/output/torch/lama-torch-512.onnx"
    {
        echo
        echo "## criterion \`onnx\` bench, INPAINT_BENCH_DEVICE=$device"
        echo '```'
        INPAINT_BENCH_DEVICE="$device" INPAINT_BENCH_GRAPH="$graph" \
            "$bin/onnx-bench" --bench "${criterion_args[@]}" 2>&1 | grep -vE "^\s*$|Warming|Collecting" || echo "criterion failed"
        echo '```'
    } >>"$results"
    cp "$results" "$root/benches/output/gpu-results.md" 2>/dev/null || true
    log "results in $results"
    cat "$results"
}

case "${1:-}" in
pack) pack ;;
receive) receive ;;
run)
    shift
    run "$@"
    ;;
*)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
