#!/usr/bin/env bash
# Add the built viewer to the desktop's application menu (for the current user only):
#
#   bash packaging/install-desktop-entry.sh [APP_DIR]      # default dist/allen-viewer
#   bash packaging/install-desktop-entry.sh --uninstall
#
# Installs, under ${XDG_DATA_HOME:-~/.local/share}:
#   applications/allen-viewer.desktop          (Exec/TryExec = APP_DIR/allen-viewer, absolute)
#   icons/hicolor/256x256/apps/allen-viewer.png
#   icons/hicolor/scalable/apps/allen-viewer.svg
# The folder is used where it is: move it first (e.g. to ~/.local/opt/allen-viewer) and run
# this again with its new path if you do not want the menu entry to point into a checkout.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"

DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
DESKTOP_FILE="$DATA_HOME/applications/allen-viewer.desktop"
ICON_PNG="$DATA_HOME/icons/hicolor/256x256/apps/allen-viewer.png"
ICON_SVG="$DATA_HOME/icons/hicolor/scalable/apps/allen-viewer.svg"

refresh_caches() {
  # Optional helpers; desktops also notice new files on their own.
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$DATA_HOME/applications" || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$DATA_HOME/icons/hicolor" || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$DESKTOP_FILE" "$ICON_PNG" "$ICON_SVG"
  refresh_caches
  echo "Removed the Allen Viewer menu entry and icons from $DATA_HOME"
  exit 0
fi
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

APP_DIR="${1:-$REPO/dist/allen-viewer}"
if [ ! -x "$APP_DIR/allen-viewer" ]; then
  echo "install-desktop-entry.sh: $APP_DIR/allen-viewer not found; build it with packaging/build.sh" >&2
  exit 1
fi
APP="$(cd "$APP_DIR" && pwd)/allen-viewer"

# The Exec key's quoting rules (Desktop Entry Specification): quote a path with spaces; the
# characters " ` $ \ would need two levels of escaping, so such paths are refused instead.
case "$APP" in
  *'"'* | *'`'* | *'$'* | *'\'* | *'%'*)
    echo "install-desktop-entry.sh: the path $APP contains \" \` \$ \\ or %; move the folder elsewhere" >&2
    exit 1 ;;
esac
case "$APP" in
  *[[:space:]]*) EXEC="\"$APP\"" ;;
  *) EXEC="$APP" ;;
esac

mkdir -p "$(dirname "$DESKTOP_FILE")" "$(dirname "$ICON_PNG")" "$(dirname "$ICON_SVG")"
install -m 644 "$HERE/icons/allen-viewer.png" "$ICON_PNG"
install -m 644 "$HERE/icons/allen-viewer.svg" "$ICON_SVG"

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    Exec=*) printf 'Exec=%s\n' "$EXEC" ;;
    TryExec=*) printf 'TryExec=%s\n' "$APP" ;;
    *) printf '%s\n' "$line" ;;
  esac
done <"$HERE/allen-viewer.desktop" >"$tmp"
install -m 644 "$tmp" "$DESKTOP_FILE"

if command -v desktop-file-validate >/dev/null 2>&1; then
  # hints (e.g. "more than one main category") are not errors
  desktop-file-validate --no-hints "$DESKTOP_FILE" ||
    echo "install-desktop-entry.sh: warning: desktop-file-validate found problems (above)" >&2
fi
refresh_caches

echo "Installed $DESKTOP_FILE"
echo "  Exec=$EXEC"
echo "  icons: $ICON_PNG, $ICON_SVG"
echo "Allen Viewer should now be in the application menu (Science / Education)."
