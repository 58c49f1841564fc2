#!/usr/bin/env bash
# Puts IOPaint's built web app where inpaint-server serves it from by default:
#
#   target/iopaint-web/web_app/{index.html,assets/…}
#
# The app is IOPaint's (Apache-2.0) and is not part of this project: it ships inside the `iopaint`
# 1.6.0 wheel on PyPI. The wheel is fetched with pip (no install, no dependencies), checked against
# a pinned sha256, and only its `iopaint/web_app/` folder is extracted. Idempotent: does nothing
# when the app is there. Prints the folder on stdout.
#
#   scripts/fetch-iopaint-web.sh && cargo run --release -p inpaint-server
set -euo pipefail

VERSION="1.6.0"
WHEEL="IOPaint-${VERSION}-py3-none-any.whl"
WHEEL_SHA256="b38c6987a27ddd995da60ea7e24e033ff3326b6d3082ed11966b009faf89a878"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
parent="$root/target/iopaint-web"
dest="$parent/web_app"

if [[ -f "$dest/index.html" ]]; then
    echo "$dest"
    exit 0
fi

mkdir -p "$parent"
work="$(mktemp -d "$parent/fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "fetch-iopaint-web: downloading $WHEEL" >&2
"${PYTHON:-python3}" -m pip download --disable-pip-version-check --quiet --no-deps \
    --only-binary=:all: "iopaint==$VERSION" -d "$work" >&2

actual="$(sha256sum "$work/$WHEEL" | cut -d' ' -f1)"
if [[ "$actual" != "$WHEEL_SHA256" ]]; then
    echo "fetch-iopaint-web: $WHEEL has sha256 $actual, expected $WHEEL_SHA256; nothing installed" >&2
    exit 1
fi

# Extract into the work folder, then move into place: the app appears complete or not at all.
"${PYTHON:-python3}" - "$work/$WHEEL" "$work/web_app" <<'PY'
import os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
prefix = "iopaint/web_app/"
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        rel = info.filename[len(prefix):]
        # Refuse anything that would land outside the folder.
        if rel.startswith("/") or ".." in rel.split("/"):
            sys.exit(f"fetch-iopaint-web: refusing entry {info.filename}")
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with z.open(info) as src, open(path, "wb") as dst:
            dst.write(src.read())
if not os.path.isfile(os.path.join(out, "index.html")):
    sys.exit("fetch-iopaint-web: the wheel has no iopaint/web_app/index.html")
PY
rm -rf "$dest"
mv "$work/web_app" "$dest"
echo "$dest"
