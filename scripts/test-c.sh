#!/usr/bin/env bash
# Everything C-side of inpaint-ffi: the header is up to date, the library's SONAME carries its
# ABI version and every C program links against it, the C tests pass under
# AddressSanitizer + UBSan (with the tiny SDXL pipeline) and under valgrind, a load/run/free
# loop leaks nothing and keeps resident memory flat, the header compiles as C++ (included
# twice), "openai-compat" runs against a fake images/edits server on 127.0.0.1
# (tests/c/fake_openai.py), pkg-config works, and the C example inpaints the sample photo.
#
# Installs what it needs when missing (all it does with --prepare): valgrind, libstb-dev and pkg-config (apt-get, as root),
# the pinned cbindgen (inpaint-ffi/cbindgen.version) into .tools/ (ignored by git), and ONNX
# Runtime into .runtime/ (scripts/fetch-onnxruntime.sh), which the C tests' ONNX models run on.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
# --prepare: only install what is missing (scripts/prepare.sh), run nothing.
prepare_only=false
[[ "${1:-}" == --prepare ]] && prepare_only=true

step() { printf '\n==> %s\n' "$*"; }

step "system packages (valgrind, libstb-dev, pkg-config, gcc, g++, make)"
missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v pkg-config >/dev/null || missing+=(pkg-config)
[[ -f /usr/include/stb/stb_image.h ]] || missing+=(libstb-dev)
command -v gcc >/dev/null || missing+=(gcc)
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v readelf >/dev/null || missing+=(binutils)
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "all present"
fi

step "cbindgen $(cat inpaint-ffi/cbindgen.version) (pinned, in .tools/)"
version="$(cat inpaint-ffi/cbindgen.version)"
if [[ "$(.tools/bin/cbindgen --version 2>/dev/null)" != "cbindgen $version" ]]; then
    # --debug: it runs once, on one crate; an optimised build takes three times as long.
    cargo install cbindgen --version "$version" --locked --debug --root .tools
fi
.tools/bin/cbindgen --version
$prepare_only && exit 0

step "ONNX Runtime (scripts/fetch-onnxruntime.sh, into .runtime/)"
scripts/fetch-onnxruntime.sh

step "the library (cdylib + staticlib) from the test build"
# The debug library that `cargo test --workspace` (scripts/test.sh's "tests" step) built, with
# its overflow checks and debug assertions on: `--lib --tests` over the workspace selects those
# same units, so this only copies them to target/debug/ (a build of its own with `-p
# inpaint-ffi`, or a release build, unifies features differently and compiles every dependency
# again: 70 s on 2 cores). The ABI and the SONAME are the same in both profiles.
cargo build --workspace --lib --tests --locked
lib="$root/target/debug"
out="$root/target/c"
rm -rf "$out" && mkdir -p "$out"

step "the committed header is what cbindgen generates"
inpaint-ffi/generate-header.sh "$out/inpaint.h"
if ! diff -u inpaint-ffi/include/inpaint.h "$out/inpaint.h"; then
    echo "inpaint-ffi/include/inpaint.h is stale: run inpaint-ffi/generate-header.sh" >&2
    exit 1
fi

step "the shared library's SONAME carries its ABI version, and the C programs need it"
# libinpaint_ffi.so.MAJOR (0.MINOR before 1.0), set by inpaint-ffi/build.rs; the Makefile's
# `soname` target adds the link to it beside the library, as an installer would.
crate_version="$(cargo pkgid -p inpaint-ffi)"
crate_version="${crate_version##*[#@]}"
IFS=. read -r major minor _ <<<"$crate_version"
if [[ "$major" == 0 ]]; then soname="libinpaint_ffi.so.0.$minor"; else soname="libinpaint_ffi.so.$major"; fi
readelf -d "$lib/libinpaint_ffi.so" | grep -F "Library soname: [$soname]"
make -C examples/c --no-print-directory LIBDIR="$lib" soname
test -L "$lib/$soname"
# Each program built below must record the SONAME as what it needs (checked by needs_soname).
needs_soname() {
    readelf -d "$1" | grep -F "Shared library: [$soname]" >/dev/null ||
        { echo "$1 does not need $soname" >&2; exit 1; }
}

cflags=(-std=c11 -Wall -Wextra -Wpedantic -Werror -g -I inpaint-ffi/include)
link=(-L "$lib" -linpaint_ffi -Wl,-rpath,"$lib")
# The C tests load inpaint-models' ONNX test graphs from here. They find ONNX Runtime the way a
# program built in this tree does, through the runtime folder compiled into the library:
# ORT_DYLIB_PATH is unset so that this is what they check.
fixtures="$root/inpaint-models/tests/fixtures/onnx"
run_test=(env -u ORT_DYLIB_PATH)

step "a fake OpenAI images/edits server on 127.0.0.1 (tests/c/fake_openai.py, stops itself after 15 min)"
# The C tests load "openai-compat" against it with this key in OPENAI_API_KEY (never a real
# one: INPAINT_OPENAI_API_KEY is unset), each run with a fresh budget ledger.
fake_key="sk-c-test-$RANDOM$RANDOM"
python3 inpaint-ffi/tests/c/fake_openai.py "$out/fake.port" "$out/fake.log" "$fake_key" 900 &
fake_pid=$!
trap 'kill "$fake_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s "$out/fake.port" ]] && break; sleep 0.1; done
fake_url="http://127.0.0.1:$(cat "$out/fake.port")"
echo "$fake_url"
openai_test=(env -u INPAINT_OPENAI_API_KEY OPENAI_API_KEY="$fake_key")

step "C tests under AddressSanitizer + UBSan (leak detection on), with the tiny SDXL pipeline (every sampler, outpainting, the memory settings)"
gcc "${cflags[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer \
    -fno-sanitize-recover=undefined inpaint-ffi/tests/c/test_inpaint.c "${link[@]}" \
    -o "$out/test_inpaint_asan"
needs_soname "$out/test_inpaint_asan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "${run_test[@]}" "${openai_test[@]}" "$out/test_inpaint_asan" "$fixtures" "$fake_url" \
    "$out/ledger-asan.sqlite3" | tee "$out/asan.log"
grep -Eq '^[0-9]+ passed, 0 failed$' "$out/asan.log"

step "C tests under valgrind (no errors, no definite or indirect leaks), in the background while the loop below runs"
# The suppressions cover two reports from outside this project when ONNX Runtime is loaded
# (glibc's loader and libonnxruntime itself), each matched on its own frames: see the file.
# valgrind runs the program on one core, so this and the loop share the two.
# --no-pipelines: the diffusion pipelines' runs stay under ASan only (one run of the tiny SDXL
# pipeline takes minutes under valgrind); their settings and load refusals run here too.
gcc "${cflags[@]}" inpaint-ffi/tests/c/test_inpaint.c "${link[@]}" -o "$out/test_inpaint"
needs_soname "$out/test_inpaint"
"${run_test[@]}" "${openai_test[@]}" valgrind -q --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=1 \
    --suppressions=inpaint-ffi/tests/c/valgrind.supp \
    "$out/test_inpaint" "$fixtures" "$fake_url" "$out/ledger-valgrind.sqlite3" --no-pipelines \
    >"$out/valgrind.log" 2>&1 &
valgrind_pid=$!
trap 'kill "$fake_pid" "$valgrind_pid" 2>/dev/null || true' EXIT

step "load/run/free loop: ASan + LSan, valgrind (50 iterations each), resident memory flat"
# tests/c/test_loop.c loads, runs and frees telea, navier-stokes and lama_dynamic.onnx (and a
# failing load with its error object) each iteration; the sanitizers and valgrind report any
# leak at exit, and the uninstrumented run fails if VmRSS grows by more than 2048 KiB after its
# first tenth (memory kept reachable but growing).
gcc "${cflags[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer \
    -fno-sanitize-recover=undefined inpaint-ffi/tests/c/test_loop.c "${link[@]}" \
    -o "$out/test_loop_asan"
needs_soname "$out/test_loop_asan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "${run_test[@]}" "$out/test_loop_asan" "$fixtures" 50 | tee "$out/loop-asan.log"
grep -Eq '^[0-9]+ passed, 0 failed$' "$out/loop-asan.log"
gcc "${cflags[@]}" inpaint-ffi/tests/c/test_loop.c "${link[@]}" -o "$out/test_loop"
needs_soname "$out/test_loop"
"${run_test[@]}" valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=1 --suppressions=inpaint-ffi/tests/c/valgrind.supp \
    "$out/test_loop" "$fixtures" 50 | tee "$out/loop-valgrind.log"
grep -Eq '^[0-9]+ passed, 0 failed$' "$out/loop-valgrind.log"
"${run_test[@]}" "$out/test_loop" "$fixtures" 1000 2048 | tee "$out/loop-rss.log"
grep -Eq '^[0-9]+ passed, 0 failed$' "$out/loop-rss.log"

step "C tests under valgrind: the result"
valgrind_status=0
wait "$valgrind_pid" || valgrind_status=$?
cat "$out/valgrind.log"
if ((valgrind_status != 0)); then
    echo "the C tests under valgrind failed (exit $valgrind_status)" >&2
    exit 1
fi
grep -Eq '^[0-9]+ passed, 0 failed$' "$out/valgrind.log"

step "what the fake OpenAI server got: per run, one good request (the repeat was de-duplicated), none past the budget"
cat "$out/fake.log"
test "$(grep -c '^POST /ok/v1/images/edits 200$' "$out/fake.log")" = 2
test "$(grep -c '^POST /unauthorized/' "$out/fake.log")" = 2
if grep -q '/fail/' "$out/fake.log"; then
    echo "a request the budget had to refuse reached the server" >&2
    exit 1
fi
kill "$fake_pid" 2>/dev/null || true

step "the header as C++17, included twice"
g++ -std=c++17 -Wall -Wextra -Werror -I inpaint-ffi/include inpaint-ffi/tests/c/double_include.cc \
    -o "$out/double_include"
"$out/double_include"

step "pkg-config"
mkdir -p "$out/pkgconfig"
sed -e "s|@LIBDIR@|$lib|" -e "s|@INCLUDEDIR@|$root/inpaint-ffi/include|" \
    -e "s|@VERSION@|$crate_version|" inpaint-ffi/inpaint.pc.in >"$out/pkgconfig/inpaint.pc"
export PKG_CONFIG_PATH="$out/pkgconfig"
pkg-config --modversion inpaint
pkg-config --cflags --libs inpaint
test "$(pkg-config --modversion inpaint)" = "$crate_version"
printf '#include <inpaint.h>\n#include <stdio.h>\nint main(void) { puts(inpaint_version()); return 0; }\n' \
    >"$out/pc_check.c"
# shellcheck disable=SC2046 # pkg-config's output is meant to be split
gcc -std=c11 -Wall -Werror "$out/pc_check.c" $(pkg-config --cflags --libs inpaint) \
    -Wl,-rpath,"$(pkg-config --variable=libdir inpaint)" -o "$out/pc_check"
needs_soname "$out/pc_check"
test "$("$out/pc_check")" = "$crate_version"
# And the static library, with Libs.private.
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Werror "$out/pc_check.c" $(pkg-config --cflags inpaint) \
    "$lib/libinpaint_ffi.a" $(pkg-config --libs-only-l --static inpaint | sed 's/-linpaint_ffi//') \
    -o "$out/pc_check_static"
test "$("$out/pc_check_static")" = "$crate_version"

step "the README's C example compiles (-Wall -Wextra -Wpedantic -Werror) and fills the hole"
# The first ```c block of inpaint-ffi/README.md is a whole program.
awk '/^```c$/ { on = 1; next } on && /^```$/ { exit } on' inpaint-ffi/README.md >"$out/readme.c"
gcc "${cflags[@]}" "$out/readme.c" "${link[@]}" -o "$out/readme"
needs_soname "$out/readme"
"${run_test[@]}" "$out/readme" | tee "$out/readme.log"
grep -Eq '^[a-z ]*ok[a-z ]*: (8[5-9]|9[0-5])$' "$out/readme.log"

step "the C example, on the sample photo"
make -C examples/c --no-print-directory LIBDIR="$lib" clean inpaint
needs_soname examples/c/inpaint
examples/c/inpaint --image examples/data/photo.jpg --mask examples/data/mask.png \
    --output "$out/sample-out.png"
test -s "$out/sample-out.png"
if examples/c/inpaint --image examples/data/photo.jpg --mask examples/data/mask.png \
    --output "$out/x.png" --model lama 2>"$out/unknown.err"; then
    echo "an unknown model must fail" >&2
    exit 1
fi
grep -q 'known models' "$out/unknown.err"

step "C side: all green"
