#!/usr/bin/env bash
# Every publishable crate of the workspace packages, and builds from its packaged sources alone
# (`cargo package` verifies each .crate in target/package/, with the workspace's crates that
# are not on crates.io yet taken from their own packages). Needs the crates.io index.
#
# The crates come from `cargo metadata`: every member without `publish = false`, so a crate
# added later is checked without editing this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mapfile -t crates < <(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["publish"] is None:
        print(p["name"])')
if [ "${#crates[@]}" -eq 0 ]; then
    echo "no publishable crates found" >&2
    exit 1
fi
echo "packaging: ${crates[*]}"
# Cargo unpacks each workspace crate it verifies against (from target/package/tmp-registry)
# into $CARGO_HOME/registry/src/, and treats a registry crate's build as fresh whatever its
# sources: a second run would build against the first run's. So both copies and the debug
# fingerprints of these crates go first (the shared target dir keeps every other dependency's
# build; the workspace's own crates rebuild once).
metadata="$(cargo metadata --no-deps --format-version 1 --locked)"
target_dir="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' <<<"$metadata")"
version_of() {
    python3 -c 'import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == sys.argv[1]:
        print(p["version"])' "$1" <<<"$metadata"
}
rm -rf "$target_dir/package"
for crate in "${crates[@]}"; do
    rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$crate-$(version_of "$crate")"
    rm -rf "$target_dir"/debug/.fingerprint/"$crate"-*
done
args=()
for crate in "${crates[@]}"; do args+=(-p "$crate"); done
# --allow-dirty: a working tree with uncommitted changes (a developer's) packages as it is;
# CI's checkout is clean either way.
cargo package --locked --allow-dirty "${args[@]}"
