#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo-fuzz (libFuzzer + AddressSanitizer) on the stable toolchain.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     # default: 60 s, every target
#   scripts/fuzz.sh 20                                   # what CI runs
#   scripts/fuzz.sh 300 decode pipeline
#   scripts/fuzz.sh --build-only | --prepare             # build only | install cargo-fuzz only
#
# Installs the pinned cargo-fuzz (fuzz/cargo-fuzz.version) into .tools/ (ignored by git) when
# missing, and ONNX Runtime into .runtime/ for `onnx_load` (scripts/fetch-onnxruntime.sh).
# Builds the targets in fuzz/ (a crate outside the workspace), then runs each for the given time
# (one per core at a time; FUZZ_JOBS=N to change) from its committed seeds
# (fuzz/corpus/<target>/, read only) and the inputs earlier local runs found
# (fuzz/target/corpus/<target>/, ignored by git). Prints, per target, the
# executions, executions per second and libFuzzer's final coverage (`cov:` edges, `ft:`
# features); exits non-zero if any target crashed, timed out, leaked or ran out of memory,
# after naming the input that did it (fuzz/artifacts/<target>/, ignored by git) and how to
# replay it. Logs: fuzz/target/logs/<target>.log.
#
# cargo-fuzz passes nightly-only flags to rustc (-Zsanitizer=address, sanitizer coverage
# options); RUSTC_BOOTSTRAP=1 lets the stable compiler accept them, so no nightly is needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

# --prepare (scripts/prepare.sh): only install what is missing.
# --build-only: install and build, run nothing (scripts/test.sh builds in the foreground and
# fuzzes in the background).
prepare_only=false
build_only=false
case "${1:-}" in
    --prepare) prepare_only=true; shift ;;
    --build-only) build_only=true; shift ;;
esac
seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
shift || true

step() { printf '\n==> %s\n' "$*"; }
start_time=$SECONDS
export RUSTC_BOOTSTRAP=1
# False leak reports from glibc's thread-local destructor list: see the file.
export LSAN_OPTIONS="suppressions=$root/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

step "toolchain"
rustc --version
cargo --version
# libfuzzer-sys compiles libFuzzer's C++ sources.
if ! command -v c++ >/dev/null; then
    echo "installing g++ (libFuzzer is C++)"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends g++
fi

version="$(cat fuzz/cargo-fuzz.version)"
step "cargo-fuzz $version (pinned, in .tools/)"
cargo_fuzz="$root/.tools/bin/cargo-fuzz"
if [[ "$("$cargo_fuzz" --version 2>/dev/null)" != "cargo-fuzz $version" ]]; then
    # --debug: a driver that starts cargo; an optimised build takes three times as long.
    cargo install cargo-fuzz --version "$version" --locked --debug --force --root .tools
fi
"$cargo_fuzz" --version
$prepare_only && exit 0

mapfile -t all_targets < <("$cargo_fuzz" list)
if (($#)); then
    targets=("$@")
    for target in "${targets[@]}"; do
        if ! printf '%s\n' "${all_targets[@]}" | grep -qx -- "$target"; then
            echo "unknown target \`$target\`; targets: ${all_targets[*]}" >&2
            exit 2
        fi
    done
else
    targets=("${all_targets[@]}")
fi

if printf '%s\n' "${targets[@]}" | grep -qx onnx_load; then
    step "ONNX Runtime for onnx_load (scripts/fetch-onnxruntime.sh, into .runtime/)"
    scripts/fetch-onnxruntime.sh
fi

# Release code with debug assertions and overflow checks (-O -a), AddressSanitizer (the default).
build_flags=(-O -a)
step "build ${targets[*]}"
build_start=$SECONDS
if ((${#targets[@]} == ${#all_targets[@]})); then
    "$cargo_fuzz" build "${build_flags[@]}"
else
    for target in "${targets[@]}"; do
        "$cargo_fuzz" build "${build_flags[@]}" "$target"
    done
fi
echo "built in $((SECONDS - build_start)) s"
$build_only && exit 0

# Per target: the largest input tried (above the largest seed), the time one input may take
# before it counts as a hang, and any other libFuzzer flag.
max_len() {
    case "$1" in
        decode) echo 16384 ;;            # the image seeds are up to 2 KB; room to grow them
        onnx_load | onnx_probe) echo 8192 ;; # the ONNX fixtures are up to 1.6 KB
        download_response) echo 8192 ;;
        *) echo 4096 ;;
    esac
}
extra_flags() {
    case "$1" in
        # ONNX Runtime is not instrumented, and its worker threads' teardown makes LeakSanitizer
        # report allocations inside libonnxruntime that no replay reproduces: leaks are checked
        # by every other target, which run our code without ONNX Runtime.
        onnx_load) echo "-detect_leaks=0" ;;
        *) ;;
    esac
}

logs="$root/fuzz/target/logs"
mkdir -p "$logs"

# Runs one target for $seconds; its log goes to fuzz/target/logs/<target>.log and its summary
# row (and, on failure, what to look at) to <target>.result.
fuzz_target() {
    local target="$1"
    local work="$root/fuzz/target/corpus/$target"
    local seeds="$root/fuzz/corpus/$target"
    local log="$logs/$target.log"
    local result="$logs/$target.result"
    mkdir -p "$work" "$seeds"
    local status=0
    # shellcheck disable=SC2046 # extra_flags is zero or more words
    timeout $((seconds + 300)) "$cargo_fuzz" run "${build_flags[@]}" "$target" "$work" "$seeds" -- \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=30 \
        -print_final_stats=1 $(extra_flags "$target") >"$log" 2>&1 || status=$?
    local execs rate last cov ft corp outcome
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    last="$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
    corp="$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")"
    if ((status == 0)); then outcome=ok; else outcome="FAILED ($status)"; fi
    {
        printf '%-18s %10s %8s %7s %7s %7s  %s\n' "$target" "${execs:--}" "${rate:--}" \
            "${cov:--}" "${ft:--}" "${corp:--}" "$outcome"
        if ((status != 0)); then
            # The report (panic message or sanitizer summary) and the input that caused it.
            grep -E -A3 "panicked at|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)" "$log" | head -20 || true
            grep -E "Test unit written to|^SUMMARY" "$log" || true
            local artifact
            artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
            if [[ -n "$artifact" ]]; then
                echo "artifact: $artifact"
                echo "replay:   RUSTC_BOOTSTRAP=1 .tools/bin/cargo-fuzz run ${build_flags[*]} $target $artifact"
            fi
            echo "log:      $log"
        fi
    } >"$result"
}

# libFuzzer runs one process on one core, so the targets run side by side, one per core
# (FUZZ_JOBS overrides): every target still gets its full time.
jobs="${FUZZ_JOBS:-$(nproc)}"
step "fuzz ${targets[*]}: $seconds s each, $jobs at a time"
running=0
for target in "${targets[@]}"; do
    rm -f "$logs/$target.result"
    if ((running >= jobs)); then
        wait -n || true
        running=$((running - 1))
    fi
    fuzz_target "$target" &
    running=$((running + 1))
done
wait

failed=()
rows=()
for target in "${targets[@]}"; do
    result="$logs/$target.result"
    if [[ ! -f "$result" ]]; then
        rows+=("$(printf '%-18s %s' "$target" "FAILED (no result)")")
        failed+=("$target")
        continue
    fi
    rows+=("$(head -1 "$result")")
    if ! head -1 "$result" | grep -q ' ok$'; then
        failed+=("$target")
        step "$target failed"
        tail -n +2 "$result"
    fi
done

step "summary ($seconds s per target, $((SECONDS - start_time)) s in all)"
printf '%-18s %10s %8s %7s %7s %7s  %s\n' target execs exec/s cov ft corpus result
printf '%s\n' "${rows[@]}"
if ((${#failed[@]})); then
    echo "fuzzing found problems in: ${failed[*]} (artifacts under fuzz/artifacts/)" >&2
    exit 1
fi
