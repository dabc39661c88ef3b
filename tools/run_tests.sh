#!/usr/bin/env bash
# Install what the tests need (Debian packages for a virtual display and OpenGL, the package
# with its test extras) and run the whole test suite under Xvfb.  This is the README's test
# command and what CI runs (.ci/run); desktop-file-utils is for tests/test_packaging.py's
# desktop-file-validate, so that test runs in CI instead of skipping.  Exits non-zero when a
# test fails or no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="xvfb xauth libegl1 libgl1-mesa-dri libdbus-1-3 libfontconfig1 libglib2.0-0 libxkbcommon0
libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
libxcb-shape0 libxcb-util1 libxcb-xkb1 desktop-file-utils"

missing=()
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # Never prompt: as root, or through `sudo -n` (no password asked); else say what to install.
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    else
      echo "run_tests.sh: these Debian packages are missing and cannot be installed without a password:" >&2
      echo "  ${missing[*]}" >&2
      echo "install them (sudo apt-get install ${missing[*]}) and run this script again." >&2
      exit 1
    fi
  fi
  echo "Installing Debian packages: ${missing[*]}"
  if ! { ${SUDO[@]+"${SUDO[@]}"} apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive ${SUDO[@]+"${SUDO[@]}"} apt-get install -y -qq --no-install-recommends \
           "${missing[@]}" >/dev/null; }; then
    echo "run_tests.sh: apt-get could not install: ${missing[*]}" >&2
    echo "install them (sudo apt-get install ${missing[*]}) and run this script again." >&2
    exit 1
  fi
fi

PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pip install -q --disable-pip-version-check -e ".[test]"

# Two pytest-xdist worker processes when the machine has two CPUs or more (none on one CPU);
# ALLEN_VIEWER_TEST_WORKERS sets the number (0: every test in this one process), and a -n given
# to this script wins.  --dist loadfile runs each test module whole in one worker, so its
# module-scoped window and fake server are built once; tests/conftest.py sends the modules
# that take longest first, and gives each worker a virtual display of its own.
cpus=$(nproc 2>/dev/null || echo 1)
workers="${ALLEN_VIEWER_TEST_WORKERS:-$(( cpus >= 2 ? 2 : 0 ))}"

set +e
xvfb-run -a -s "-screen 0 1920x1080x24" "$PYTHON" -m pytest -p no:cacheprovider -n "$workers" --dist loadfile --no-loadscope-reorder "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "run_tests.sh: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$rc"
