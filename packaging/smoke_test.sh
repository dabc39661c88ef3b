#!/usr/bin/env bash
# Prove the built one-folder app starts: run dist/allen-viewer/allen-viewer (made by
# packaging/build.sh) under Xvfb with an empty cache and settings file, let it render Pdyn and
# save a screenshot, and check the PNG; then run two display-free commands.
#
#   bash packaging/smoke_test.sh [APP_DIR]        # default dist/allen-viewer
#
# Needs xvfb-run (Debian: xvfb xauth; tools/run_tests.sh installs them) and python3 (standard
# library only: the PNG is decoded here, not with the frozen app's libraries).  The screenshot
# is kept in dist/smoke-test/ (SMOKE_OUT overrides) for CI to archive.  Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

APP_DIR="${1:-dist/allen-viewer}"
APP="$APP_DIR/allen-viewer"
PYTHON="${PYTHON:-python3}"
OUT_DIR="${SMOKE_OUT:-dist/smoke-test}"
SHOT="$OUT_DIR/allen-viewer-Pdyn.png"

fail() { echo "smoke_test.sh: FAIL: $*" >&2; exit 1; }

[ -x "$APP" ] || fail "$APP not found or not executable; run packaging/build.sh first"
command -v xvfb-run >/dev/null || fail "xvfb-run not found (apt-get install xvfb xauth)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# A first start on a clean machine: nothing cached, no settings, nothing from the user's home.
export ALLEN_VIEWER_CACHE="$TMP/cache"
export ALLEN_VIEWER_SETTINGS="$TMP/settings/allen_viewer.ini"
export XDG_RUNTIME_DIR="$TMP/runtime"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
unset ALLEN_VIEWER_OFFLINE QT_QPA_PLATFORM
mkdir -p "$OUT_DIR"
rm -f "$SHOT" "$SHOT.json"  # the screenshot and its sidecar of an earlier run (the program never replaces them unasked)

start=$(date +%s)

# ---- 1. the viewer: render Pdyn and save the window --------------------------------------------
echo "smoke_test.sh: $APP --offline --gene Pdyn --screenshot $SHOT  (under Xvfb)"
set +e
timeout 600 xvfb-run -a -s "-screen 0 1920x1080x24" \
  "$APP" --offline --gene Pdyn --screenshot "$SHOT" >"$TMP/gui.log" 2>&1
rc=$?
set -e
cat "$TMP/gui.log"
[ "$rc" -eq 0 ] || fail "the viewer exited with status $rc"
[ -s "$SHOT" ] || fail "no screenshot at $SHOT"

# Decode the PNG with the standard library only and check its size and content.  The whole
# window must be at least 800 x 600 and not blank, and the 3-D view (top middle of the default
# layout, the part drawn by VTK/OpenGL rather than by Qt) must not be a flat colour either.
"$PYTHON" - "$SHOT" <<'PY'
import struct
import sys
import zlib

path = sys.argv[1]
data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"{path}: not a PNG file")
pos, idat, header = 8, [], None
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + length]
    pos += 12 + length
    if kind == b"IHDR":
        header = struct.unpack(">IIBBBBB", chunk)
    elif kind == b"IDAT":
        idat.append(chunk)
    elif kind == b"IEND":
        break
width, height, depth, colour, _, _, interlace = header
channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
if depth != 8 or channels is None or interlace:
    sys.exit(f"{path}: unexpected PNG format (bit depth {depth}, colour type {colour}, interlace {interlace})")
print(f"screenshot: {width} x {height}, {channels} channels")
if width < 800 or height < 600:
    sys.exit(f"{path}: {width} x {height} is smaller than 800 x 600")

raw = zlib.decompress(b"".join(idat))
stride = width * channels
rows, prev = [], bytearray(stride)
for y in range(height):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(channels, stride):
            line[i] = (line[i] + line[i - channels]) & 255
    elif f == 2:
        for i in range(stride):
            line[i] = (line[i] + prev[i]) & 255
    elif f == 3:
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
    elif f == 4:
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], (prev[i - channels] if i >= channels else 0)
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    elif f != 0:
        sys.exit(f"{path}: bad PNG filter {f}")
    rows.append(bytes(line))
    prev = line


def region(x0, x1, y0, y1, step=2):
    """Pixels (RGB tuples) of the fractional box, every ``step``-th pixel."""
    pixels = []
    for y in range(int(y0 * height), int(y1 * height), step):
        row = rows[y]
        for x in range(int(x0 * width), int(x1 * width), step):
            px = row[x * channels:(x + 1) * channels]
            pixels.append(tuple(px[:3]) if channels >= 3 else (px[0],) * 3)
    return pixels


def describe(pixels):
    n = len(pixels)
    grey = [sum(p) / 3 for p in pixels]
    mean = sum(grey) / n
    std = (sum((g - mean) ** 2 for g in grey) / n) ** 0.5
    return len(set(pixels)), std


colours, std = describe(region(0, 1, 0, 1))
print(f"whole window: {colours} distinct colours, grey-level std {std:.1f}")
if colours < 64 or std < 10:
    sys.exit(f"{path}: the window looks blank ({colours} colours, std {std:.1f})")
colours3d, std3d = describe(region(0.3, 0.75, 0.1, 0.5))
print(f"3-D view: {colours3d} distinct colours, grey-level std {std3d:.1f}")
if colours3d < 32 or std3d < 3:
    sys.exit(f"{path}: the 3-D view looks empty ({colours3d} colours, std {std3d:.1f}); "
             "did VTK render (OpenGL, Qt xcb plugin)?")
PY
echo "smoke_test.sh: screenshot OK: $SHOT"

# ---- movies: Pillow (GIF) and the bundled ffmpeg program (MP4) work in the bundle ---------------
# (without a bundled ffmpeg -- ALLEN_VIEWER_BUNDLE_FFMPEG=0 at build time -- only the GIF is tried)
movies="gif"
ls "$APP_DIR"/_internal/imageio_ffmpeg/binaries/ffmpeg-* >/dev/null 2>&1 && movies="gif mp4"
for kind in $movies; do
  echo "smoke_test.sh: $APP --offline export movie Pdyn --out $TMP/turn.$kind --frames 4 --size 160x120  (under Xvfb)"
  set +e
  timeout 300 xvfb-run -a -s "-screen 0 1920x1080x24" \
    "$APP" --offline export movie Pdyn --out "$TMP/turn.$kind" --frames 4 --size 160x120 >"$TMP/movie.log" 2>&1
  rc=$?
  set -e
  cat "$TMP/movie.log"
  [ "$rc" -eq 0 ] || fail "'export movie' ($kind) exited with status $rc"
  # one sidecar per output, named after the whole file (turn.gif.json, turn.mp4.json)
  [ -s "$TMP/turn.$kind" ] && [ -s "$TMP/turn.$kind.json" ] || fail "'export movie' wrote no $kind or no sidecar"
  grep -q '"frames": 4' "$TMP/turn.$kind.json" || fail "the $kind movie's sidecar does not say 4 frames"
done
echo "smoke_test.sh: movies OK ($movies)"

# ---- 2. display-free commands --------------------------------------------------------------------
"$APP" --version >"$TMP/version.log" 2>&1 || fail "--version exited non-zero: $(cat "$TMP/version.log")"
grep -q "^allen-viewer [0-9]" "$TMP/version.log" || fail "unexpected --version output: $(cat "$TMP/version.log")"
cat "$TMP/version.log"

echo "smoke_test.sh: $APP --offline info Pdyn  (no display)"
set +e
env -u DISPLAY -u WAYLAND_DISPLAY "$APP" --offline info Pdyn >"$TMP/info.log" 2>"$TMP/info.err"
rc=$?
set -e
cat "$TMP/info.log" "$TMP/info.err"
[ "$rc" -eq 0 ] || fail "'info Pdyn' exited with status $rc"
for pattern in '^experiment id +71717084$' '^gene +Pdyn' '^plane +coronal$' '^data from +embedded$' '^voxels with data +[0-9]+ in the brain \(of its [0-9]+ voxels\); [0-9]+ outside it'; do
  grep -Eq "$pattern" "$TMP/info.log" || fail "'info Pdyn' output lacks /$pattern/"
done

echo "smoke_test.sh: $APP guide; guide --open  (the user guide ships inside the bundle)"
guide="$("$APP" guide)" || fail "'guide' exited non-zero"
[ -f "$guide" ] && grep -q "^# allen_viewer user guide" "$guide" || fail "'guide' printed $guide, not the user guide"
BROWSER=true "$APP" guide --open >"$TMP/guide.log" 2>&1 || fail "'guide --open' failed: $(cat "$TMP/guide.log")"
page="$ALLEN_VIEWER_CACHE/guide/user-guide.html"
[ "$(grep -c '<img src="file://' "$page")" -ge 6 ] || fail "$page does not show the guide's pictures"
echo "smoke_test.sh: guide OK: $guide"

echo "smoke_test.sh: PASS in $(( $(date +%s) - start )) s"
