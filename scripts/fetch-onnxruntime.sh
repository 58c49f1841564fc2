#!/usr/bin/env bash
# Puts ONNX Runtime's shared library where inpaint-models looks for it:
#
#   .runtime/onnxruntime/<version>/libonnxruntime.so.<version>   (+ libonnxruntime.so symlink)
#
# It comes from the `onnxruntime` wheel on PyPI, fetched with pip (no install) and checked against
# a pinned sha256 before anything is extracted. Idempotent: does nothing when the library is there.
# Prints the library's path on stdout.
#
#   scripts/fetch-onnxruntime.sh                 # then: ORT_DYLIB_PATH=$(scripts/fetch-onnxruntime.sh)
#
# Linux x86-64 only: other platforms get ONNX Runtime from their own build, a release archive, or
# inpaint-models' `download-binaries` feature (see the README).
set -euo pipefail

VERSION="1.31.1"
# The cp311 manylinux_2_28 wheel; any CPython build carries the same libonnxruntime.so.
WHEEL="onnxruntime-${VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256="5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.runtime/onnxruntime/$VERSION"
lib="$dest/libonnxruntime.so.$VERSION"

if [[ -f "$lib" ]]; then
    echo "$lib"
    exit 0
fi

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
    echo "fetch-onnxruntime: only Linux x86-64 wheels are fetched here; see README for other platforms" >&2
    exit 1
fi

mkdir -p "$root/.runtime"
work="$(mktemp -d "$root/.runtime/fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "fetch-onnxruntime: downloading $WHEEL" >&2
"${PYTHON:-python3}" -m pip download --disable-pip-version-check --quiet --no-deps \
    --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
    --platform manylinux_2_28_x86_64 "onnxruntime==$VERSION" -d "$work" >&2

actual="$(sha256sum "$work/$WHEEL" | cut -d' ' -f1)"
if [[ "$actual" != "$WHEEL_SHA256" ]]; then
    echo "fetch-onnxruntime: $WHEEL has sha256 $actual, expected $WHEEL_SHA256; nothing installed" >&2
    exit 1
fi

"${PYTHON:-python3}" - "$work/$WHEEL" "$work/lib" <<'EOF'
import sys, zipfile, os
wheel, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        if name.startswith("onnxruntime/capi/") and base.startswith("libonnxruntime"):
            with z.open(name) as src, open(os.path.join(out, base), "wb") as dst:
                dst.write(src.read())
EOF

mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
ln -s "libonnxruntime.so.$VERSION" "$work/lib/libonnxruntime.so"
# Renamed into place whole, so a cut download never leaves a half-extracted runtime behind.
mv "$work/lib" "$dest"
echo "fetch-onnxruntime: installed $lib" >&2
echo "$lib"
