#!/usr/bin/env bash
# Regenerates include/inpaint.h (or writes it to $1) with the pinned cbindgen in .tools/.
# The INPAINT_VERSION_* macros come from the crate's version, through a temporary config.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out="${1:-$here/include/inpaint.h}"
cbindgen="$root/.tools/bin/cbindgen"
CBINDGEN_VERSION="$(cat "$here/cbindgen.version")"
if [[ "$("$cbindgen" --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]]; then
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --debug --root "$root/.tools"
fi

version="$(cd "$root" && cargo pkgid -p inpaint-ffi)"
version="${version##*[#@]}"
IFS=. read -r major minor patch <<<"${version%%[-+]*}"

config="$(mktemp)"
trap 'rm -f "$config"' EXIT
{
    printf 'after_includes = """\n'
    printf '#define INPAINT_VERSION_MAJOR %s\n' "$major"
    printf '#define INPAINT_VERSION_MINOR %s\n' "$minor"
    printf '#define INPAINT_VERSION_PATCH %s\n' "$patch"
    printf '/* MAJOR, MINOR and PATCH in one number, for #if: 0xMMMMmmpp. */\n'
    printf '#define INPAINT_VERSION_NUMBER ((INPAINT_VERSION_MAJOR << 16) | (INPAINT_VERSION_MINOR << 8) | INPAINT_VERSION_PATCH)\n'
    printf '"""\n'
    cat "$here/cbindgen.toml"
} >"$config"
"$cbindgen" --quiet --config "$config" --crate inpaint-ffi --output "$out" "$here"
