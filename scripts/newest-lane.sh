#!/usr/bin/env bash
# The newest lane: runs the given jest paths on Node 24 with MikroORM 7 and the newest aws-cdk-lib, on
# PostgreSQL (DATABASE_URL). A copy of the checkout gets its own node_modules: the locked ones plus
# @mikro-orm/* 7 and aws-cdk-lib@latest (with --legacy-peer-deps only because mikro-orm-pglite, a dev
# dependency for the PGlite suite, wants MikroORM 6; scripts/consumer-test.sh checks the plain install).
# Node 24 comes from the npm registry (the `node` package). ts-jest only transpiles here (isolatedModules):
# the types are checked against MikroORM 6 by the main suite and against MikroORM 7 by the consumer test.
# `--pglite PATH` (repeatable) also runs PATH on embedded PGlite through MikroORM 7's own driver, @mikro-orm/pglite.
# MikroORM's packages require each other at one exact version, and the registry's newest differ (migrations and
# pglite trail core): every @mikro-orm package is pinned to the newest version all of them have.
#   NEWEST_LANE_DIR=/tmp/lane7 scripts/newest-lane.sh [--pglite test/runtime] test/runtime/dispatch.test.ts …
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
pglite_paths=()
postgres_paths=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pglite) pglite_paths+=("$2"); shift 2 ;;
    *) postgres_paths+=("$1"); shift ;;
  esac
done
: "${DATABASE_URL:?the newest lane runs on PostgreSQL: set DATABASE_URL}"
if [ -n "${NEWEST_LANE_DIR:-}" ]; then
  lane=$NEWEST_LANE_DIR
  mkdir -p "$lane"
else
  lane=$(mktemp -d)
  trap 'rm -rf "$lane"' EXIT
fi

# The checkout as it is (tracked and untracked files, not node_modules).
(cd "$repo" && git ls-files -co --exclude-standard -z | tar -cf - --null -T -) | tar -xf - -C "$lane"
cd "$lane"
if [ ! -d node_modules/@mikro-orm/pglite ]; then
  npm ci --no-audit --no-fund --loglevel=error
  mikro_orm=$(for p in core postgresql migrations pglite; do npm view "@mikro-orm/$p@^7" version --json | tr -d '[]" ' | tr ',' '\n' | sort -V | tail -n1; done | sort -V | head -n1)
  npm i --no-save --no-audit --no-fund --loglevel=error --legacy-peer-deps "@mikro-orm/core@$mikro_orm" "@mikro-orm/postgresql@$mikro_orm" "@mikro-orm/migrations@$mikro_orm" "@mikro-orm/sql@$mikro_orm" "@mikro-orm/pglite@$mikro_orm" 'aws-cdk-lib@latest'
fi
node24=$(npx -y -p node@24 node -e 'process.stdout.write(process.execPath)')
"$node24" -e '
  const v = (p) => require(p + "/package.json").version;
  console.log(`newest lane: node ${process.version}, @mikro-orm/core ${v("@mikro-orm/core")}, @mikro-orm/postgresql ${v("@mikro-orm/postgresql")}, @mikro-orm/sql ${v("@mikro-orm/sql")}, @mikro-orm/pglite ${v("@mikro-orm/pglite")}, aws-cdk-lib ${v("aws-cdk-lib")}, zod ${v("zod")}, jest ${v("jest")}`);
  if (!v("@mikro-orm/core").startsWith("7.")) process.exit(1);'

# The project's jest config, with ts-jest transpiling only (MikroORM 7's types need moduleResolution node16).
"$node24" -e '
  const fs = require("fs");
  fs.writeFileSync("tsconfig.newest.json", JSON.stringify({ extends: "./tsconfig.dev.json", compilerOptions: { isolatedModules: true } }));
  const config = require("./package.json").jest;
  config.transform = { "^.+\\.[t]sx?$": ["ts-jest", { tsconfig: "tsconfig.newest.json" }] };
  config.reporters = ["default"];
  fs.writeFileSync("jest.newest.json", JSON.stringify(config));'
# jest loads MikroORM 7 (ES modules) from CommonJS only with --experimental-vm-modules.
export NODE_OPTIONS="--experimental-vm-modules --disable-warning=ExperimentalWarning"
if [ ${#postgres_paths[@]} -gt 0 ]; then
  echo "== newest lane on PostgreSQL: ${postgres_paths[*]}"
  "$node24" node_modules/jest/bin/jest.js --config jest.newest.json "${postgres_paths[@]}"
fi
if [ ${#pglite_paths[@]} -gt 0 ]; then
  echo "== newest lane on PGlite (@mikro-orm/pglite): ${pglite_paths[*]}"
  env -u DATABASE_URL "$node24" node_modules/jest/bin/jest.js --config jest.newest.json "${pglite_paths[@]}"
fi
