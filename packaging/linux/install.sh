#!/usr/bin/env bash
# Installs a release build of tsur for all users of a Linux machine:
#   PREFIX/bin/tsur, PREFIX/bin/tsur-server, PREFIX/share/tsur/regions/<pack>,
#   a desktop entry and an icon. PREFIX defaults to /usr/local.
#
#   cargo build --release && sudo packaging/linux/install.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=${1:-/usr/local}
for bin in tsur tsur-server; do
  [ -x "target/release/$bin" ] || { echo "target/release/$bin is missing: run cargo build --release first" >&2; exit 1; }
done
install -Dm755 target/release/tsur "$prefix/bin/tsur"
install -Dm755 target/release/tsur-server "$prefix/bin/tsur-server"
# tsur finds its pack in ../share/tsur/regions/ beside the executable.
mkdir -p "$prefix/share/tsur/regions"
cp -r data/regions/. "$prefix/share/tsur/regions/"
install -Dm644 packaging/linux/tsur.desktop "$prefix/share/applications/tsur.desktop"
install -Dm644 assets/icon.png "$prefix/share/icons/hicolor/128x128/apps/tsur.png"
echo "installed tsur into $prefix"
