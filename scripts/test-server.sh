#!/usr/bin/env bash
# inpaint-server end to end, as scripts/test.sh runs it (bounded: each stage has a time limit):
#
#   1. IOPaint's own web app in Debian's headless Chromium against our server: load the app,
#      upload examples/data/photo.jpg, paint a stroke, check the answer (outside the stroke
#      unchanged, inside changed), switch the model in Settings, run again
#      (inpaint-server/tests/browser/browser-test.mjs; screenshots in target/browser-test/).
#   2. A load test on loopback: 512² telea at concurrency 1, 4 and 16; no errors, resident
#      memory flat (inpaint-server/examples/load.rs).
#   3. SIGTERM stops the server cleanly (exit status 0).
#
# Installs what it needs when missing (all it does with --prepare): chromium, chromium-driver and nodejs/npm (apt-get, as
# root); IOPaint's web app (scripts/fetch-iopaint-web.sh, sha256-pinned wheel) into target/;
# playwright-core, pinned by inpaint-server/tests/browser/package-lock.json, into .tools/ (it
# drives the system Chromium and downloads no browser). The Rust tests of every route are in
# `cargo test -p inpaint-server`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
# --prepare: only install what is missing (scripts/prepare.sh), run nothing.
prepare_only=false
[[ "${1:-}" == --prepare ]] && prepare_only=true

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
echo "browser: $(chromium --version 2>/dev/null | head -1)"

web_app="$(scripts/fetch-iopaint-web.sh)"

tools="$root/.tools/browser-test"
lock="$root/inpaint-server/tests/browser/package-lock.json"
if ! cmp -s "$lock" "$tools/package-lock.json" || [[ ! -f "$tools/node_modules/playwright-core/package.json" ]]; then
    rm -rf "$tools"
    mkdir -p "$tools"
    cp "$root/inpaint-server/tests/browser/package.json" "$lock" "$tools/"
    (cd "$tools" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
$prepare_only && exit 0

# --workspace: the units `cargo test --workspace` built (scripts/test.sh's "tests" step) are
# reused; `-p inpaint-server` alone unifies features differently and would rebuild.
cargo build --locked --workspace --bin inpaint-server --example load
server_bin="$root/target/debug/inpaint-server"
log="$root/target/test-server.log"
shots="$root/target/browser-test"
rm -rf "$shots"

server_pid=""
stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap stop_server EXIT

# Starts the server on a free port; sets $server_pid and $url.
start_server() {
    "$server_bin" --host 127.0.0.1 --port 0 --web-app "$web_app" "$@" >"$log" 2>&1 &
    server_pid=$!
    url=""
    for _ in $(seq 1 300); do
        url="$(sed -n 's/^url: *//p' "$log")"
        [[ -n "$url" ]] && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "the server did not start"; exit 1; }
        sleep 0.2
    done
    [[ -n "$url" ]] || { cat "$log"; echo "the server did not print its URL in 60 s"; exit 1; }
}

echo "--- IOPaint's web app in headless Chromium"
start_server --model telea
started=$SECONDS
PLAYWRIGHT_CORE="$tools/node_modules/playwright-core/index.mjs" \
    timeout 240 node inpaint-server/tests/browser/browser-test.mjs "$url" \
    "$root/examples/data/photo.jpg" "$shots"
echo "browser test: $((SECONDS - started)) s; screenshots in ${shots#"$root"/}"

echo "--- load test: 512² telea at concurrency 1, 4, 16 (debug build; figures in BENCHMARKS.md)"
kill -TERM "$server_pid"; wait "$server_pid"
start_server --model telea --workers 2 --queue 32
started=$SECONDS
timeout 300 "$root/target/debug/examples/load" --url "$url" --size 512 \
    --concurrency 1,4,16 --requests 8 --pid "$server_pid" --max-rss-growth-mib 64
echo "load test: $((SECONDS - started)) s"

echo "--- SIGTERM: a clean stop"
kill -TERM "$server_pid"
status=0
timeout 30 tail --pid="$server_pid" -f /dev/null || status=$?
wait "$server_pid" || status=$?
server_pid=""
if [[ $status -ne 0 ]] || ! grep -q '^stopped' "$log"; then
    cat "$log"
    echo "the server did not stop cleanly on SIGTERM (status $status)"
    exit 1
fi
echo "stopped cleanly"
