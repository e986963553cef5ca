#!/usr/bin/env bash
# The MikroORM 7 lane: runs the given jest paths (the ORM-dependent suites) on Node 24 with MikroORM 7, on
# PostgreSQL (DATABASE_URL). A copy of the checkout gets its own node_modules: the locked ones plus
# @mikro-orm/* 7 (installed with --legacy-peer-deps only because mikro-orm-pglite, a dev dependency for
# the PGlite suite, wants MikroORM 6; the consumer test checks the plain install). Node 24 comes from the
# npm registry (the `node` package). ts-jest transpiles only here (isolatedModules): the types are checked
# against MikroORM 6 by the main suite and against MikroORM 7 by the consumer test.
#   ORM7_LANE_DIR=/tmp/lane7 scripts/orm7-lane.sh test/runtime/dispatch.test.ts …   (reuses the dir's node_modules)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
: "${DATABASE_URL:?the MikroORM 7 lane runs on PostgreSQL: set DATABASE_URL}"
if [ -n "${ORM7_LANE_DIR:-}" ]; then
  lane=$ORM7_LANE_DIR
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
  npm i --no-save --no-audit --no-fund --loglevel=error --legacy-peer-deps '@mikro-orm/core@^7' '@mikro-orm/postgresql@^7' '@mikro-orm/migrations@^7'
fi
node24=$(npx -y -p node@24 node -e 'process.stdout.write(process.execPath)')
"$node24" -e '
  const v = (p) => require(p + "/package.json").version;
  console.log(`MikroORM 7 lane: node ${process.version}, @mikro-orm/core ${v("@mikro-orm/core")}, @mikro-orm/postgresql ${v("@mikro-orm/postgresql")}, @mikro-orm/sql ${v("@mikro-orm/sql")}, zod ${v("zod")}, jest ${v("jest")}`);
  if (!v("@mikro-orm/core").startsWith("7.")) process.exit(1);'

# The project's jest config, with ts-jest transpiling only (MikroORM 7's types need moduleResolution node16).
"$node24" -e '
  const config = require("./package.json").jest;
  config.transform = { "^.+\\.[t]sx?$": ["ts-jest", { tsconfig: "tsconfig.dev.json", isolatedModules: true }] };
  config.reporters = ["default"];
  require("fs").writeFileSync("jest.orm7.json", JSON.stringify(config));'
# jest loads MikroORM 7 (ES modules) from CommonJS only with --experimental-vm-modules.
NODE_OPTIONS="--experimental-vm-modules --disable-warning=ExperimentalWarning" "$node24" node_modules/jest/bin/jest.js --config jest.orm7.json "$@"
