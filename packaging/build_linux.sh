#!/usr/bin/env bash
# `make dist` on Linux: the PyInstaller bundle, then a self-contained tarball and a .deb from it.
#
#   dist/morpheus-desktop/                         the one-folder bundle (run ./morpheus-desktop)
#   dist/morpheus-desktop-VERSION-linux-ARCH.tar.gz  that folder + desktop entry, icon, installer
#   dist/morpheus-desktop_VERSION_DEBARCH.deb        /opt/morpheus-desktop, menu entry, icon, deps
#
# No AppImage: appimagetool and the AppImage runtime are published only as binaries on GitHub
# releases, not in Debian (bookworm has only libappimage), PyPI or npm, which are the only sources
# this project's machines and CI reach (see packaging/README.md).
# SKIP_FREEZE=1 reuses an existing dist/morpheus-desktop/ (to re-pack without the slow freeze).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY="$ROOT/.venv/bin/python"
NAME=morpheus-desktop
VERSION=$("$PY" -c 'import app; print(app.__version__)')
ARCH=$(uname -m)
DEBARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
BUNDLE="$ROOT/dist/$NAME"

if [ "${SKIP_FREEZE:-0}" != 1 ] || [ ! -x "$BUNDLE/$NAME" ]; then
  if ! "$PY" -c 'import PyInstaller' 2>/dev/null; then
    echo "dist: installing PyInstaller (the 'dist' extra) into .venv"
    "$PY" -m pip install -q 'pyinstaller>=6.10,<7'
  fi
  echo "dist: freezing the program with PyInstaller (a few minutes)"
  nice -n 10 "$PY" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" packaging/$NAME.spec
fi
cp packaging/$NAME.desktop "$BUNDLE/$NAME.desktop"
cp resources/icons/app.svg "$BUNDLE/$NAME.svg"
cp packaging/install-linux.sh "$BUNDLE/install.sh"
chmod 755 "$BUNDLE/install.sh"

# --- tarball -------------------------------------------------------------------------------
TARBALL="$ROOT/dist/$NAME-$VERSION-linux-$ARCH.tar.gz"
rm -f "$TARBALL"
echo "dist: $TARBALL"
tar -C "$ROOT/dist" --owner=0 --group=0 -czf "$TARBALL" "$NAME"

# --- .deb ----------------------------------------------------------------------------------
STAGE="$ROOT/build/deb"
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
  "$STAGE/usr/share/icons/hicolor/scalable/apps"
cp -a "$BUNDLE" "$STAGE/opt/$NAME"
rm -f "$STAGE/opt/$NAME/install.sh" "$STAGE/opt/$NAME/$NAME.desktop" "$STAGE/opt/$NAME/$NAME.svg"
ln -s "/opt/$NAME/$NAME" "$STAGE/usr/bin/$NAME"
ln -s "/opt/$NAME/$NAME" "$STAGE/usr/bin/morpheus"  # the entry runs the CLI under this name
sed "s|^Exec=.*|Exec=/opt/$NAME/$NAME|" packaging/$NAME.desktop \
  > "$STAGE/usr/share/applications/$NAME.desktop"
cp resources/icons/app.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/$NAME.svg"
SIZE_KB=$(du -sk "$STAGE" | cut -f1)
# What Qt's X11 plugin and OpenGL need from the system (the bundle carries everything else).
DEPENDS=$(grep -v '^[[:space:]]*$' packaging/deb-depends.txt | paste -sd, - | sed 's/,/, /g')
cat > "$STAGE/DEBIAN/control" <<EOF
Package: $NAME
Version: $VERSION
Section: net
Priority: optional
Architecture: $DEBARCH
Maintainer: Morpheus Desktop developers <noreply@mor.org>
Installed-Size: $SIZE_KB
Depends: $DEPENDS
Description: Desktop client for the Morpheus decentralized AI inference network
 A wallet for ETH and MOR, chat with local models or with models hosted on the
 Morpheus network, and "Share my GPU" to earn MOR by serving a model with
 llama.cpp. Carries its own Python, Qt, llama.cpp and a small model.
EOF
DEB="$ROOT/dist/${NAME}_${VERSION}_${DEBARCH}.deb"
rm -f "$DEB"
echo "dist: $DEB"
dpkg-deb --root-owner-group -Zgzip -z6 --build "$STAGE" "$DEB" >/dev/null
rm -rf "$STAGE"
ls -l "$ROOT/dist" | sed 's/^/dist: /'
