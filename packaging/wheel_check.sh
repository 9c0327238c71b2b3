#!/usr/bin/env bash
# make wheel-check: build the wheel, install it into a clean virtualenv (no
# source tree on the path, no test extras) and prove that it runs: the console
# and GUI scripts, a CLI command, the demo portal's command, and the main
# window built offscreen from the installed package with its packaged resources.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
builder=${1:-.venv/bin/python}   # builds the wheel (has pip)
python=${2:-python3}             # makes the clean virtualenv
out=$root/build/wheel-check
rm -rf "$out" build/lib          # setuptools reuses build/lib: a deleted module would ship
mkdir -p "$out"
"$builder" -m pip wheel -q --no-deps -w "$out/dist" .
wheel=$(ls "$out"/dist/wg_desktop-*-py3-none-any.whl)
version=$(basename "$wheel" | cut -d- -f2)
"$python" -m venv "$out/venv"
"$out/venv/bin/pip" install -q "$wheel"

# From here on only the installed package can be imported.
cd "$out"
export QT_QPA_PLATFORM=offscreen QTWEBENGINE_DISABLE_SANDBOX=1
for name in XDG_DATA_HOME XDG_CONFIG_HOME XDG_CACHE_HOME XDG_RUNTIME_DIR; do
  mkdir -p -m 700 "$out/xdg/$name"; export "$name=$out/xdg/$name"
done
unset WG_DATA_DIR PYTHON_KEYRING_BACKEND DISPLAY WAYLAND_DISPLAY || true

fail() { echo "wheel-check: $*" >&2; exit 1; }
got=$("$out/venv/bin/wg-desktop" --version)
[ "$got" = "wg-desktop $version" ] || fail "--version says '$got', the wheel is $version"
got=$("$out/venv/bin/wg-desktop-gui" --version)
[ "$got" = "wg-desktop $version" ] || fail "wg-desktop-gui --version says '$got'"
"$out/venv/bin/wg-desktop" --data-dir "$out/data" paths --json > "$out/paths.json"
grep -q "\"$out/data\"" "$out/paths.json" || fail "paths does not name the data folder: $(cat "$out/paths.json")"
"$out/venv/bin/wg-desktop" demo-portal --help > /dev/null
"$out/venv/bin/python" "$root/packaging/smoke_gui.py" "$out/gui-data" "$out/window.png"
echo "wheel-check: $(basename "$wheel") installs and runs (CLI, demo portal command, window offscreen)"
