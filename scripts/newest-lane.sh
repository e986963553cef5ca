#!/usr/bin/env bash
# The newest lane: runs the given jest paths on Node 24 with MikroORM 7 and the newest aws-cdk-lib, on
# PostgreSQL (DATABASE_URL). A copy of the checkout gets its own node_modules: the locked ones plus
# @mikro-orm/* 7 and aws-cdk-lib@latest (with --legacy-peer-deps only because mikro-orm-pglite, a dev
# dependency for the PGlite suite, wants MikroORM 6; scripts/consumer-test.sh checks the plain install).
# Node 24 comes from the npm registry (the `node` package). ts-jest only transpiles here (isolatedModules):
# the types are checked against MikroORM 6 by the main suite and against MikroORM 7 by the consumer test.
#   NEWEST_LANE_DIR=/tmp/lane7 scripts/newest-lane.sh test/runtime/dispatch.test.ts …   (reuses the dir's node_modules)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
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
if [ ! -d node_modules/@mikro-orm/sql ]; then
  npm ci --no-audit --no-fund --loglevel=error
  npm i --no-save --no-audit --no-fund --loglevel=error --legacy-peer-deps '@mikro-orm/core@^7' '@mikro-orm/postgresql@^7' '@mikro-orm/migrations@^7' 'aws-cdk-lib@latest'
fi
node24=$(npx -y -p node@24 node -e 'process.stdout.write(process.execPath)')
"$node24" -e '
  const v = (p) => require(p + "/package.json").version;
  console.log(`newest lane: node ${process.version}, @mikro-orm/core ${v("@mikro-orm/core")}, @mikro-orm/postgresql ${v("@mikro-orm/postgresql")}, @mikro-orm/sql ${v("@mikro-orm/sql")}, aws-cdk-lib ${v("aws-cdk-lib")}, zod ${v("zod")}, jest ${v("jest")}`);
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
NODE_OPTIONS="--experimental-vm-modules --disable-warning=ExperimentalWarning" "$node24" node_modules/jest/bin/jest.js --config jest.newest.json "$@"
