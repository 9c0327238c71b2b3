#!/usr/bin/env bash
# make install-desktop / uninstall-desktop: put the launcher entry, AppStream
# metadata and icons into the user's XDG data folder (XDG_DATA_HOME, default
# ~/.local/share), or take them out again.
#   desktop_files.sh install /abs/path/to/wg-desktop-gui
#   desktop_files.sh uninstall
set -euo pipefail
cd "$(dirname "$0")/.."
# The id lives once, in wg_desktop/constants.py.
app_id=$(sed -n 's/^APP_ID = "\(.*\)"$/\1/p' wg_desktop/constants.py)
[ -n "$app_id" ] || { echo "APP_ID not found in wg_desktop/constants.py" >&2; exit 1; }
data=${XDG_DATA_HOME:-$HOME/.local/share}
sizes=$(cd resources/icons && ls -d [0-9]*x[0-9]* | sort -n)

refresh_caches() {
  # Launchers read these caches when present; without the tools they rescan.
  if command -v update-desktop-database >/dev/null; then
    update-desktop-database -q "$data/applications" || true
  fi
  if command -v gtk-update-icon-cache >/dev/null && [ -f "$data/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
  fi
}

case "${1:-}" in
  install)
    exe=${2:?give the absolute path of the wg-desktop-gui executable}
    case "$exe" in /*) ;; *) echo "not an absolute path: $exe" >&2; exit 2 ;; esac
    [ -x "$exe" ] || { echo "not executable: $exe (run make first)" >&2; exit 1; }
    install -d "$data/applications" "$data/metainfo" "$data/icons/hicolor/scalable/apps"
    # A venv's scripts are not on PATH: the launcher entry names the executable.
    sed "s|^Exec=.*|Exec=\"$exe\"|" "resources/$app_id.desktop" > "$data/applications/$app_id.desktop"
    install -m 644 "resources/$app_id.metainfo.xml" "$data/metainfo/$app_id.metainfo.xml"
    install -m 644 resources/icons/workflowguard.svg "$data/icons/hicolor/scalable/apps/$app_id.svg"
    for size in $sizes; do
      install -d "$data/icons/hicolor/$size/apps"
      install -m 644 "resources/icons/$size/workflowguard.png" "$data/icons/hicolor/$size/apps/$app_id.png"
    done
    refresh_caches
    echo "installed $app_id into $data (launcher runs $exe)"
    ;;
  uninstall)
    rm -f "$data/applications/$app_id.desktop" "$data/metainfo/$app_id.metainfo.xml" \
          "$data/icons/hicolor/scalable/apps/$app_id.svg"
    for size in $sizes; do rm -f "$data/icons/hicolor/$size/apps/$app_id.png"; done
    refresh_caches
    echo "removed $app_id from $data"
    ;;
  *) echo "usage: $0 install EXECUTABLE | uninstall" >&2; exit 2 ;;
esac
