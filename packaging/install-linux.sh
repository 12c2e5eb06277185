#!/bin/sh
# Adds Morpheus Desktop to your applications menu, pointing at this folder (no root needed).
#   ./install.sh            add the menu entry and icon for you
#   ./install.sh --remove   take them away again (your wallet and chats are kept)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
ENTRY="$DATA/applications/morpheus-desktop.desktop"
ICON="$DATA/icons/hicolor/scalable/apps/morpheus-desktop.svg"
if [ "${1:-}" = "--remove" ]; then
  rm -f "$ENTRY" "$ICON"
  echo "Removed the menu entry. Your data (wallet, chats, settings) was not touched."
  exit 0
fi
mkdir -p "$(dirname "$ENTRY")" "$(dirname "$ICON")"
cp "$HERE/morpheus-desktop.svg" "$ICON"
# Exec needs the absolute path; quote it for folders with spaces.
sed "s|^Exec=.*|Exec=\"$HERE/morpheus-desktop\"|" "$HERE/morpheus-desktop.desktop" > "$ENTRY"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$DATA/applications" || true
echo "Morpheus Desktop is now in your applications menu (it runs from $HERE)."
