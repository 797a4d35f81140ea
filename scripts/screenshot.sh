#!/usr/bin/env bash
# Opens the real tsur window under Xvfb on a demo replica and saves a screenshot of each mode:
# operator.png (map, queues, KPI panel), case.png (a case opened from the queue), review.png,
# briefing.png (the briefing's first slide), then starts `tsur --wall` on a 3840×2160 screen and
# saves wall.png.
#
#   scripts/screenshot.sh [OUT_DIR]        (default: target/screenshots)
#
# Environment: PROFILE=debug|release (default debug), APPEALS (size of the demo region the app
# creates on first start, default 50000; the app's own default is 200000), WAIT_SECS (how long
# the first start may take, default 300).
# Needs: xvfb, imagemagick (import), xdotool, Mesa (libgl1-mesa-dri); installed when missing
# (apt-get, as root).
set -euo pipefail
cd "$(dirname "$0")/.."

out_dir=${1:-target/screenshots}
profile=${PROFILE:-debug}
appeals=${APPEALS:-50000}
wait_secs=${WAIT_SECS:-300}
mkdir -p "$out_dir"

packages=(xvfb libgl1-mesa-dri libegl1 libxkbcommon-x11-0 imagemagick x11-utils xdotool)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

target_dir=${CARGO_TARGET_DIR:-target}
if [ "$profile" = release ]; then
  cargo build --release --bin tsur
  bin=$target_dir/release/tsur
else
  cargo build --bin tsur
  bin=$target_dir/debug/tsur
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
Xvfb "$display" -screen 0 1600x900x24 -nolisten tcp &
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

# A map with data has hundreds of colours; a blank or black window has a handful.
shot() {
  local name=$1 min=${2:-200}
  DISPLAY=$display import -window root "$out_dir/$name.png"
  local colours
  colours=$(identify -format %k "$out_dir/$name.png")
  if [ "$colours" -lt "$min" ]; then
    echo "the screenshot looks empty ($colours colours): $out_dir/$name.png" >&2
    exit 1
  fi
  echo "saved $out_dir/$name.png ($colours colours)"
}
keys() {
  local window
  window=$(DISPLAY=$display xdotool search --name "tsur" | head -n 1)
  DISPLAY=$display xdotool windowfocus --sync "$window" 2>/dev/null || true
  DISPLAY=$display xdotool key --window "$window" "$@"
  sleep 3
}

shot operator
# The first case of the queue: J moves to it, Enter opens it.
keys j Return
shot case
keys Escape ctrl+2
sleep 3
# Text and charts: fewer colours than the map.
shot review 60
keys ctrl+4
sleep 3
shot briefing 30

# The video wall: its own process on a 4K screen, one borderless window over all of it, synced
# from the same embedded server with a wall token (the demo region is seeded already).
kill "$app_pid" && wait "$app_pid" 2>/dev/null || true
app_pid=""
kill "$xvfb_pid" && wait "$xvfb_pid" 2>/dev/null || true
display=":$((90 + RANDOM % 100))"
Xvfb "$display" -screen 0 3840x2160x24 -nolisten tcp &
xvfb_pid=$!
for _ in $(seq 50); do
  xdpyinfo -display "$display" >/dev/null 2>&1 && break
  sleep 0.1
done
cat >"$data_dir/wall.toml" <<'TOML'
[window]
mode = "canvas"
position = [0, 0]
size = [3840, 2160]
# The map scene rather than an alarm (the demo's planted surges set one off; tests cover it).
[alarm]
surge_ratio = 0
TOML
wall_log=$data_dir/wall.log
DISPLAY=$display TSUR_DATA_DIR=$data_dir TSUR_DEMO_APPEALS=$appeals LIBGL_ALWAYS_SOFTWARE=1 \
  "$bin" --wall --wall-config "$data_dir/wall.toml" 2>"$wall_log" &
app_pid=$!
for _ in $(seq $((wait_secs * 5))); do
  grep -q "открыта реплика" "$wall_log" && break
  kill -0 "$app_pid" 2>/dev/null || { echo "tsur --wall exited while loading:" >&2; cat "$wall_log" >&2; exit 1; }
  sleep 0.2
done
grep -q "открыта реплика" "$wall_log" || { echo "tsur --wall did not load in ${wait_secs} s:" >&2; cat "$wall_log" >&2; exit 1; }
sleep 4
shot wall 60
identify -format "wall.png: %wx%h\n" "$out_dir/wall.png"
