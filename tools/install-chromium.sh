#!/usr/bin/env bash
# Debian's Chromium for the browser tests. Playwright's own browser download cannot work on
# machines without general internet access, so the tests drive the system's /usr/bin/chromium.
# As root it runs apt-get directly (sudo need not exist); otherwise through sudo.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-chromium: /usr/bin/chromium is missing and installing it needs root;" \
      "run as root, or install sudo, or run: apt-get install chromium" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "install-chromium: installing Debian's chromium package with apt-get${sudo:+ (through sudo)}:" \
  "the browser tests drive /usr/bin/chromium"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
