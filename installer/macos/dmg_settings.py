# dmgbuild settings: the drag-to-Applications disk image for the macOS .app.
#
#   dmgbuild -s installer/macos/dmg_settings.py -D app="dist/Morpheus Desktop.app" \
#       "Morpheus Desktop" dist/MorpheusDesktop-VERSION-macos-arm64.dmg
#
# Built on a macOS runner by .github/workflows/release.yml (dmgbuild needs macOS's hdiutil).
# ruff: noqa
import os.path

application = defines.get("app", "dist/Morpheus Desktop.app")  # noqa: F821 (dmgbuild's globals)
appname = os.path.basename(application)

format = "UDZO"  # zlib-compressed, readable on every supported macOS
filesystem = "HFS+"
size = None  # computed from the contents
files = [application]
symlinks = {"Applications": "/Applications"}
icon_locations = {appname: (140, 120), "Applications": (500, 120)}
background = "builtin-arrow"
window_rect = ((200, 200), (640, 280))
default_view = "icon-view"
show_status_bar = False
show_toolbar = False
show_sidebar = False
icon_size = 128
