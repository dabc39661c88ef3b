#!/usr/bin/env bash
# Build the one-folder desktop app with PyInstaller:  dist/allen-viewer/allen-viewer
#
#   bash packaging/build.sh            # uses $PYTHON (default python3) and its site-packages
#
# The app is frozen from the Python environment that runs this script: the package's
# dependencies must be installed there (`pip install .` or `pip install -e .`; done here when
# allen_viewer cannot be imported).  PyInstaller is pip-installed into it when missing.
# Output: dist/allen-viewer/ (the program and _internal/), build/pyinstaller/ (work files);
# both folders are gitignored.  See packaging/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
# Tested with Python 3.11, PySide6 6.12, VTK 9.7, pyvista 0.49.  Override to try another release.
PYINSTALLER_SPEC="${PYINSTALLER_SPEC:-pyinstaller==6.22.3}"
HOOKS_CONTRIB_SPEC="${HOOKS_CONTRIB_SPEC:-pyinstaller-hooks-contrib==2026.9}"
PIP=("$PYTHON" -m pip install -q --disable-pip-version-check)

start=$(date +%s)

if ! "$PYTHON" -c "import allen_viewer, pyvista, pyvistaqt, PySide6" 2>/dev/null; then
  echo "build.sh: installing the package and its dependencies into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
  "${PIP[@]}" .
fi
if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
  echo "build.sh: installing $PYINSTALLER_SPEC $HOOKS_CONTRIB_SPEC"
  "${PIP[@]}" "$PYINSTALLER_SPEC" "$HOOKS_CONTRIB_SPEC"
fi
echo "build.sh: PyInstaller $("$PYTHON" -m PyInstaller --version), $("$PYTHON" --version 2>&1)"

rm -rf dist/allen-viewer
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/allen_viewer.spec

APP=dist/allen-viewer
INTERNAL="$APP/_internal"
[ -x "$APP/allen-viewer" ] || { echo "build.sh: $APP/allen-viewer was not built" >&2; exit 1; }

# VTK's wheels ship its libraries with their symbol tables (about a third of their size).
# Strip those only: the auditwheel-patched libraries in *.libs/ (numpy's OpenBLAS, ...) break
# when stripped ("ELF load command address/offset not page-aligned"), which is why PyInstaller's
# own strip option stays off in the spec.
if command -v strip >/dev/null 2>&1 && [ -d "$INTERNAL/vtkmodules" ]; then
  find "$INTERNAL/vtkmodules" -maxdepth 1 -type f -name "*.so*" -exec strip --strip-unneeded {} +
else
  echo "build.sh: strip (binutils) not found; VTK libraries left unstripped (bigger bundle)" >&2
fi

# Licence and attribution of the embedded data, next to the program where people look for it.
cp resources/NOTICE "$APP/NOTICE"

for f in "$INTERNAL/allen_viewer/resources/NOTICE" "$INTERNAL/allen_viewer/resources/structure_graph_1.json"; do
  [ -f "$f" ] || { echo "build.sh: embedded data missing from the bundle: $f" >&2; exit 1; }
done

elapsed=$(( $(date +%s) - start ))
echo "build.sh: built $APP in ${elapsed} s"
echo "build.sh: size $(du -sh "$APP" | cut -f1) ($(find "$APP" -type f | wc -l) files)"
