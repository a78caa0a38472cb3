#!/usr/bin/env bash
# The dashboard's browser test drives Debian's chromium through chromium-driver. `make test` calls
# this so the suite runs on a fresh machine; if installing is impossible the browser test fails
# (it never skips) and this says why.
set -u
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
if command -v apt-get >/dev/null 2>&1; then
  echo "Installing chromium and chromium-driver for the dashboard browser test ..." >&2
  $SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium chromium-driver >/dev/null \
    || echo "Could not install chromium/chromium-driver; the dashboard browser test will fail." >&2
else
  echo "apt-get not found: install chromium and chromedriver; the dashboard browser test will fail." >&2
fi
exit 0
