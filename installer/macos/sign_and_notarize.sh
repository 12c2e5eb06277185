#!/usr/bin/env bash
# Sign the .app (hardened runtime), build the .dmg, sign it, notarize it with Apple and staple the
# ticket, so Gatekeeper opens it with a double-click. Runs on macOS only (codesign, notarytool).
#
# Needs, from the release workflow's secrets:
#   MACOS_SIGN_IDENTITY   "Developer ID Application: Name (TEAMID)", in the keychain already
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD   an app-specific password for notarytool
# Without MACOS_SIGN_IDENTITY it builds an unsigned .dmg (users then right-click > Open once).
#
#   installer/macos/sign_and_notarize.sh "dist/Morpheus Desktop.app" dist/MorpheusDesktop.dmg
set -euo pipefail
APP=$1
DMG=$2
HERE=$(cd "$(dirname "$0")" && pwd)

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  echo "sign: every Mach-O inside the bundle, innermost first, then the app"
  find "$APP/Contents" -type f \( -name '*.dylib' -o -name '*.so' -o -perm -u+x \) -print0 |
    while IFS= read -r -d '' f; do
      if file -b "$f" | grep -q 'Mach-O'; then
        codesign --force --timestamp --options runtime \
          --entitlements "$HERE/entitlements.plist" --sign "$MACOS_SIGN_IDENTITY" "$f"
      fi
    done
  codesign --force --timestamp --options runtime --entitlements "$HERE/entitlements.plist" \
    --sign "$MACOS_SIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
fi

echo "dmg: $DMG"
rm -f "$DMG"
dmgbuild -s "$HERE/dmg_settings.py" -D app="$APP" "Morpheus Desktop" "$DMG"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
  echo "notarize: submitting to Apple and waiting (minutes)"
  xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
    --password "$APPLE_APP_PASSWORD" --wait
  xcrun stapler staple "$DMG"
  spctl --assess --type open --context context:primary-signature --verbose "$DMG"
else
  echo "sign: MACOS_SIGN_IDENTITY not set; the .dmg is unsigned and not notarized"
fi
