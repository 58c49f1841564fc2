#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo-fuzz (libFuzzer + AddressSanitizer) on the stable toolchain.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     # default: 60 s, every target
#   scripts/fuzz.sh 60                                   # what CI runs
#   scripts/fuzz.sh 300 decode pipeline
#
# Installs the pinned cargo-fuzz (fuzz/cargo-fuzz.version) into .tools/ (ignored by git) when
# missing, and ONNX Runtime into .runtime/ for `onnx_load` (scripts/fetch-onnxruntime.sh).
# Builds the targets in fuzz/ (a crate outside the workspace), then runs each in turn for the
# given time from its committed seeds (fuzz/corpus/<target>/, read only) and the inputs earlier
# local runs found (fuzz/target/corpus/<target>/, ignored by git). Prints, per target, the
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
    cargo install cargo-fuzz --version "$version" --locked --force --root .tools
fi
"$cargo_fuzz" --version

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
for target in "${targets[@]}"; do
    "$cargo_fuzz" build "${build_flags[@]}" "$target"
done
echo "built in $((SECONDS - build_start)) s"

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
failed=()
rows=()
for target in "${targets[@]}"; do
    step "fuzz $target for $seconds s"
    work="$root/fuzz/target/corpus/$target"
    seeds="$root/fuzz/corpus/$target"
    mkdir -p "$work" "$seeds"
    log="$logs/$target.log"
    set +e
    # shellcheck disable=SC2046 # extra_flags is zero or more words
    timeout $((seconds + 300)) "$cargo_fuzz" run "${build_flags[@]}" "$target" "$work" "$seeds" -- \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=30 \
        -print_final_stats=1 $(extra_flags "$target") >"$log" 2>&1
    status=$?
    set -e
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    last="$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
    corp="$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")"
    if ((status == 0)); then
        result=ok
        echo "$last"
    else
        result="FAILED ($status)"
        failed+=("$target")
        # The report (panic message or sanitizer summary) and the input that caused it.
        grep -E -A3 "panicked at|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)" "$log" | head -20 || true
        grep -E "Test unit written to|^SUMMARY" "$log" || true
        artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
        if [[ -n "$artifact" ]]; then
            echo "artifact: $artifact"
            echo "replay:   RUSTC_BOOTSTRAP=1 .tools/bin/cargo-fuzz run ${build_flags[*]} $target $artifact"
        fi
        echo "log:      $log"
    fi
    rows+=("$(printf '%-18s %10s %8s %7s %7s %7s  %s' "$target" "${execs:--}" "${rate:--}" \
        "${cov:--}" "${ft:--}" "${corp:--}" "$result")")
done

step "summary ($seconds s per target, $((SECONDS - start_time)) s in all)"
printf '%-18s %10s %8s %7s %7s %7s  %s\n' target execs exec/s cov ft corpus result
printf '%s\n' "${rows[@]}"
if ((${#failed[@]})); then
    echo "fuzzing found problems in: ${failed[*]} (artifacts under fuzz/artifacts/)" >&2
    exit 1
fi
