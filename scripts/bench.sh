#!/usr/bin/env bash
# `npm run bench`: every benchmark in bench/, one JSON line per figure on stdout and nothing else (human lines go
# to stderr), then the figures that depend on MikroORM again on Node 24 + MikroORM 7, in the newest lane's copy of
# the checkout (scripts/newest-lane.sh): their names end in `.mo7`. BENCH_MO7=0 skips that part.
#   DATABASE_URL=postgres://… npm run bench > bench.jsonl   then   node scripts/bench-table.mjs bench.jsonl
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
: "${DATABASE_URL:?the benchmarks need PostgreSQL: set DATABASE_URL (the role needs CREATEDB)}"
ORM_BENCHES=(enqueue worker latency scale bundle coldstart)
run_bench() { "$1" node_modules/ts-node/dist/bin.js --transpile-only --project tsconfig.dev.json "bench/$2.ts"; }

for name in "${ORM_BENCHES[@]}" dispatch source-maps; do run_bench node "$name"; done

if [ "${BENCH_MO7:-1}" != 0 ]; then
  if [ -n "${NEWEST_LANE_DIR:-}" ]; then lane=$NEWEST_LANE_DIR; else lane=$(mktemp -d); trap 'rm -rf "$lane"' EXIT; fi
  NEWEST_LANE_DIR=$lane bash scripts/newest-lane.sh >&2 # copies the checkout and installs MikroORM 7 (no test paths: runs none)
  node24=$(npx -y -p node@24 node -e 'process.stdout.write(process.execPath)')
  cd "$lane"
  for name in "${ORM_BENCHES[@]}"; do run_bench "$node24" "$name"; done
fi
