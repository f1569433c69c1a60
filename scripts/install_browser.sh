#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver from Debian's packages when missing, for
# the staff workspace's browser tests (tests/ui.rs). Without root it says what to run.
set -euo pipefail

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
((${#missing[@]})) || exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: installing ${missing[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "install_browser: error: missing ${missing[*]}; install them (sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
