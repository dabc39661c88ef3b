#!/usr/bin/env bash
# CI, after the tests (.ci/run -> tools/run_tests.sh, which installs the package with its
# dependencies and the Debian packages for Xvfb and Qt's xcb platform plugin): build the
# one-folder desktop app with PyInstaller and prove that the built program starts.
#
#   bash .ci/package.sh
#
# Takes 1.5-2 minutes on 2 cores (build 70-105 s, smoke test 10-20 s); the bundle is ~960 MB (~790 MB without ffmpeg)
# in dist/allen-viewer/, the smoke test's screenshot in dist/smoke-test/.
set -euo pipefail
cd "$(dirname "$0")/.."

# PyInstaller needs binutils on Linux (objdump to check binaries, objcopy to write the program);
# build.sh also strips VTK's libraries with strip.
if ! command -v objcopy >/dev/null 2>&1 || ! command -v objdump >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2>/dev/null || { echo "package.sh: install the Debian package binutils (sudo apt-get install binutils)" >&2; exit 1; }
    SUDO="sudo -n"
  fi
  echo "package.sh: installing Debian package binutils"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends binutils >/dev/null
fi
if ! command -v xvfb-run >/dev/null 2>&1; then
  echo "package.sh: xvfb-run not found; run tools/run_tests.sh first (it installs Xvfb and Qt's libraries)" >&2
  exit 1
fi

start=$(date +%s)
bash packaging/build.sh
bash packaging/smoke_test.sh
echo "package.sh: build and smoke test passed in $(( $(date +%s) - start )) s"
