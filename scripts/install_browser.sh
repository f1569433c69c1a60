#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver from Debian's packages when missing, for
# the staff workspace's browser tests (tests/ui.rs, tests/ui_desk.rs), and axe-core (the
# accessibility checker those tests run in each page) from the npm registry into the
# cache. Without root it says what to run.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh"

AXE_VERSION=4.14.1
AXE_TGZ_SHA=e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745
AXE_DIR=${DEVICEKB_CACHE:-$HOME/.cache/devicekb}/axe-core-$AXE_VERSION

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
[[ -f $AXE_DIR/axe.min.js ]] || command -v npm >/dev/null 2>&1 || missing+=(npm)
apt_install install_browser "${missing[@]}"

if [[ ! -f $AXE_DIR/axe.min.js ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "install_browser: fetching axe-core $AXE_VERSION from the npm registry" >&2
  (cd "$work" && npm pack "axe-core@$AXE_VERSION" --silent >/dev/null)
  echo "$AXE_TGZ_SHA  $work/axe-core-$AXE_VERSION.tgz" | sha256sum -c --quiet
  tar xzf "$work/axe-core-$AXE_VERSION.tgz" -C "$work" package/axe.min.js package/LICENSE
  mkdir -p "$AXE_DIR"
  mv "$work/package/LICENSE" "$AXE_DIR/LICENSE"
  mv "$work/package/axe.min.js" "$AXE_DIR/axe.min.js"
fi
