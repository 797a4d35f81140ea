#!/usr/bin/env bash
# Opens the real tsur window under Xvfb on a demo replica and saves a screenshot of it.
#
#   scripts/screenshot.sh [OUT_DIR]        (default: target/screenshots)
#
# Environment: PROFILE=debug|release (default debug), APPEALS (size of the demo region the app
# creates on first start, default 50000; the app's own default is 200000), WAIT_SECS (how long
# the first start may take, default 300).
# Needs: xvfb, imagemagick (import), xdotool, Mesa (libgl1-mesa-dri) — .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

out_dir=${1:-target/screenshots}
profile=${PROFILE:-debug}
appeals=${APPEALS:-50000}
wait_secs=${WAIT_SECS:-300}
mkdir -p "$out_dir"

if [ "$profile" = release ]; then
  cargo build --release --bin tsur
  bin=target/release/tsur
else
  cargo build --bin tsur
  bin=target/debug/tsur
fi

data_dir=$(mktemp -d)
xvfb_pid=""
app_pid=""
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
  rm -rf "$data_dir"
}
trap cleanup EXIT


display=":$((90 + RANDOM % 100))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp &
xvfb_pid=$!
for _ in $(seq 50); do
  xdpyinfo -display "$display" >/dev/null 2>&1 && break
  sleep 0.1
done

log=$data_dir/tsur.log
# A real first start: the app seeds its embedded server with the demo region and syncs from it.
DISPLAY=$display TSUR_DATA_DIR=$data_dir TSUR_DEMO_APPEALS=$appeals LIBGL_ALWAYS_SOFTWARE=1 "$bin" 2>"$log" &
app_pid=$!

# Wait until the app says its data is loaded, then give it a moment to draw.
for _ in $(seq $((wait_secs * 5))); do
  grep -q "открыта реплика" "$log" && break
  kill -0 "$app_pid" 2>/dev/null || { echo "tsur exited while loading:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.2
done
grep -q "открыта реплика" "$log" || { echo "tsur did not load in ${wait_secs} s:" >&2; cat "$log" >&2; exit 1; }
sleep 2

DISPLAY=$display import -window root "$out_dir/main.png"
# A map with points has hundreds of colours; a blank or black window has a handful.
colours=$(identify -format %k "$out_dir/main.png")
if [ "$colours" -lt 200 ]; then
  echo "the screenshot looks empty ($colours colours): $out_dir/main.png" >&2
  exit 1
fi
echo "saved $out_dir/main.png ($colours colours)"
