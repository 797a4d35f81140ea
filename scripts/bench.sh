#!/usr/bin/env bash
# Benchmarks anyone can run with one command (release build):
#   scripts/bench.sh [APPEALS]      (default 1000000)
# Prints wall time and peak memory of `tsur demo-data` and `tsur stats --json` on that many
# appeals, best of three runs each, then the initial-sync benchmark (`cargo bench --bench sync`:
# a real server on 127.0.0.1 into an empty replica, against a raw bulk insert of the same rows)
# the analytics benchmark (the read model and a full recompute of every view) and the operator
# workstation benchmark (cold start, memory, frame time).
# Results go to BENCHMARKS.md by hand, with the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
appeals=${1:-1000000}
cargo build --release --quiet --bin tsur
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
db=$dir/bench.sqlite

measure() { # label, command...
  local label=$1; shift
  local best_s="" best_kb="" secs kb
  for _ in 1 2 3; do
    /usr/bin/time -o "$dir/time" -f "%e %M" "$@" >/dev/null 2>"$dir/err" || { cat "$dir/err" >&2; exit 1; }
    read -r secs kb < "$dir/time"
    if [ -z "$best_s" ] || awk -v a="$secs" -v b="$best_s" 'BEGIN { exit !(a < b) }'; then
      best_s=$secs
      best_kb=$kb
    fi
  done
  printf '%-40s %8.2f s %8d MB peak\n' "$label" "$best_s" $((best_kb / 1024))
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
measure "demo-data --appeals $appeals" sh -c "rm -f '$db' && target/release/tsur demo-data --db '$db' --appeals $appeals --seed 1 --now 2026-11-25"
measure "stats --json ($appeals appeals)" target/release/tsur stats --db "$db" --json --now 2026-11-25
echo "replica size: $(du -m "$db" | cut -f1) MB"

echo "== initial sync ($appeals appeals; the server database is kept in target/bench-data/)"
cargo bench --quiet --bench sync -- "$appeals"

echo "== analytics ($appeals appeals; the replica is kept in target/bench-data/)"
cargo bench --quiet -p tsur-core --bench analytics -- "$appeals"

echo "== the same aggregates in DuckDB and PostgreSQL (needs: pip install duckdb psycopg2-binary)"
python3 scripts/compare_analytics.py "target/bench-data/demo-$appeals.sqlite"

echo "== operator workstation ($appeals appeals: cold start, memory, frame time)"
cargo bench --quiet --bench frame -- "$appeals"

echo "== video wall ($appeals appeals: each scene at 4K, memory over a simulated day)"
cargo bench --quiet --bench wall -- "$appeals"
