#!/usr/bin/env bash
# make dist-check: run the PyInstaller bundle as a user would, on throw-away
# data and XDG folders: its version, a CLI command, the demo portal's command,
# a sync of the built-in demo portal, and the window opened offscreen through
# the smoke mode (WG_SMOKE_EXIT_AFTER_PAINT, see packaging/README.md), which
# also loads a page in the sign-in view (QtWebEngine).
#   packaging/dist_check.sh EXECUTABLE EXPECTED_VERSION
set -euo pipefail
exe=$1
version=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_RUNTIME_DIR; do
  mkdir -p -m 700 "$tmp/$name"; export "$name=$tmp/$name"
done
# No display, no keychain, nothing of the caller's: the secrets go to the
# passphrase-protected file, which needs neither D-Bus nor a desktop session.
unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS WG_DATA_DIR PYTHON_KEYRING_BACKEND \
      HUBSPOT_API_BASE HUBSPOT_AUTH_BASE HUBSPOT_CLIENT_ID HUBSPOT_MOCK_MODE || true
export QT_QPA_PLATFORM=offscreen WG_SECURITY_SECRET_BACKEND=file \
       WG_SECRETS_PASSPHRASE="dist-check passphrase"
# Chromium's sandbox refuses to start as root and needs user namespaces, which
# CI containers lack; the check is about what the bundle contains.
export QTWEBENGINE_DISABLE_SANDBOX=1

fail() { echo "dist-check: $*" >&2; exit 1; }

got=$("$exe" --version)
[ "$got" = "wg-desktop $version" ] || fail "--version says '$got', expected $version"

"$exe" --data-dir "$tmp/data" paths --json > "$tmp/paths.json"
grep -q "\"$tmp/data\"" "$tmp/paths.json" || fail "paths does not name the data folder"

# The CLI imports its command modules by name: a missing hidden import shows here.
"$exe" --data-dir "$tmp/data" demo-portal --help > /dev/null

# A fresh folder talks to the built-in demo portal: sync it, list what was stored.
"$exe" --data-dir "$tmp/cli" sync --json > "$tmp/sync.json" 2> "$tmp/sync.err" \
  || fail "sync of the demo portal failed: $(cat "$tmp/sync.err")"
stored=$("$exe" --data-dir "$tmp/cli" workflows --json | grep -c '"flow_id"' || true)
[ "$stored" -gt 0 ] || fail "the demo portal's sync stored no workflows"

# The window: painted once on a fresh folder, the sign-in view loaded, then quit.
if ! timeout 120 env WG_SMOKE_EXIT_AFTER_PAINT=1 "$exe" --data-dir "$tmp/gui" \
     > "$tmp/gui.out" 2> "$tmp/gui.err"; then
  cat "$tmp/gui.out" >&2
  fail "the window's smoke run failed: $(grep -m1 'smoke: FAILED' "$tmp/gui.err" \
        || tail -n 5 "$tmp/gui.err")"
fi
grep -q "^smoke: painted 'WorkflowGuard Desktop'" "$tmp/gui.out" \
  || fail "the smoke run did not report the painted window: $(cat "$tmp/gui.out")"
grep -q "^smoke: sign-in view (QtWebEngine) loaded a page" "$tmp/gui.out" \
  || fail "the smoke run did not load the sign-in view: $(cat "$tmp/gui.out")"
sed 's/^/  /' "$tmp/gui.out"
echo "dist-check: $exe $version runs (--version, paths, demo-portal, demo sync of" \
     "$stored workflows, window painted offscreen, sign-in view loaded)"
