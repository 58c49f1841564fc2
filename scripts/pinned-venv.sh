# Sourced by the scripts that need a Python environment of their own (python-env.sh,
# test-remote.sh, torch-env.sh, diffusion-fixtures-env.sh): one way to make a venv hold
# exactly the pinned packages.
#
#   source scripts/pinned-venv.sh
#   python="$(pinned_venv "$root/.venv-x" "pkg==1.2.3" ...)"
#
# Creates the venv when missing (with $PYTHON, else python3) and installs the pins when any is
# missing; prints the venv's python. Installed versions are compared without a local label
# (torch's `2.15.0+cu130` is `2.15.0`), names normalised as `pip freeze` prints them in pins.
pinned_venv() {
    local venv="$1"
    shift
    local python="$venv/bin/python"
    if [[ ! -x "$python" ]]; then
        echo "creating $venv" >&2
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    local installed pin
    installed="$("$python" -m pip freeze --disable-pip-version-check 2>/dev/null |
        tr 'A-Z_' 'a-z-' | sed 's/+[^ ]*$//')"
    for pin in "$@"; do
        if ! grep -qxF "$pin" <<<"$installed"; then
            echo "installing $*" >&2
            "$python" -m pip install --disable-pip-version-check --quiet "$@"
            echo "$python"
            return
        fi
    done
    echo "pinned packages already installed in $venv" >&2
    echo "$python"
}
