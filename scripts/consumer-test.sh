#!/usr/bin/env bash
# The consumer test: the path every user takes, from the packed tarball to a task row that ends SUCCESS.
#
#   1. build the library (npx projen compile, then the ES module build) and npm pack it into a temp folder;
#   2. per combination, a fresh project in a temp folder, the tarball installed the plain way (no
#      --legacy-peer-deps, no --force):
#        floor    Node 20 (the system node), MikroORM 6.6.16, zod 4, aws-cdk-lib 2.257.0, TypeScript 5.9.3
#        current  Node 24 (the npm `node` package), the newest MikroORM 7, zod, TypeScript, aws-cdk-lib, CLI, esbuild
#        zod3     Node 24, MikroORM 7, zod 3.25: tasks from 'zod/v4' work, classic zod 3 schemas are refused
#   3. floor and current: the README's quick start as the user's code (scripts/consumer/project, *.tpl → *),
#      type-checked with tsc (zero errors);
#   4. `cdk synth` (npx tsx src/app.ts) with the construct's local esbuild bundling;
#   5. the synthesized worker asset, copied out of the project, run in a fresh Node process with the template's
#      environment and an SQS event carrying the message the app's executeOnCommit sent to fauxqs after its
#      commit, against PostgreSQL (DATABASE_URL; each combination makes and drops its own database);
#   6. one JSON line per combination on stdout, prefixed `consumer-test:`.
#
# Usage: DATABASE_URL=postgres://… bash scripts/consumer-test.sh [combination …]   (default: floor current zod3)
# CONSUMER_STRICT_INSTALL=1 makes a failed plain install fatal instead of retrying with MikroORM pinned (see
# install_mikro_orm). Progress and step times go to stderr; a failed step prints the end of its output.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE="$REPO/scripts/consumer"
COMBINATIONS=("$@")
[ ${#COMBINATIONS[@]} -gt 0 ] || COMBINATIONS=(floor current zod3)
for c in "${COMBINATIONS[@]}"; do
  case "$c" in floor | current | zod3) ;; *) echo "consumer-test: unknown combination '$c' (floor, current, zod3)" >&2; exit 2 ;; esac
done
: "${DATABASE_URL:?consumer-test: set DATABASE_URL to a PostgreSQL role that may CREATE DATABASE (CI: postgres://lambda_tasks:lambda_tasks@127.0.0.1:5432/postgres)}"
BASE_DATABASE_URL=$DATABASE_URL
SYSTEM_PATH=$PATH
NPM_FLAGS=(--no-audit --no-fund)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/consumer-test.XXXXXX")
# Everything the tools write to the temp folder (tsx's cache, Node's compile cache, CDK's staging) stays in WORK.
mkdir -p "$WORK/tmp"
export TMPDIR="$WORK/tmp"
FAUXQS_PID=""
: >"$WORK/databases"

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ -f "$WORK/step.pid" ]; then
    local group
    group=$(cat "$WORK/step.pid")
    kill -TERM -- "-$group" 2>/dev/null && sleep 2
    kill -KILL -- "-$group" 2>/dev/null
  fi
  if [ -n "$FAUXQS_PID" ]; then
    kill "$FAUXQS_PID" 2>/dev/null
    wait "$FAUXQS_PID" 2>/dev/null
  fi
  while read -r db; do
    [ -n "$db" ] && PATH=$SYSTEM_PATH DATABASE_URL=$BASE_DATABASE_URL node "$HERE/db-admin.cjs" drop "$db" >&2
  done <"$WORK/databases"
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "consumer-test: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Runs once per combination (in its subshell): `record key value` for the summary line.
RESULT=""
record() { printf '%s=%s\n' "$1" "$2" >>"$RESULT"; }

# step NAME COMMAND…: runs COMMAND (an executable, not a function) within a time limit, stdout and stderr to
# $LOGS/NAME.out and .err, and records its time; on failure prints the end of both and fails the combination.
CURRENT_STEP=""
step() {
  local name=$1
  shift
  CURRENT_STEP=$name
  local t0 rc=0 pid
  t0=$(now)
  # timeout runs COMMAND in a process group of its own: the cleanup ends that group if the run is interrupted.
  timeout --kill-after=10s "${STEP_TIMEOUT:-300}" "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.err" &
  pid=$!
  echo "$pid" >"$WORK/step.pid"
  wait "$pid" || rc=$?
  rm -f "$WORK/step.pid"
  local took
  took=$(since "$t0")
  record "seconds.$name" "$took"
  if [ "$rc" -ne 0 ] && [ "${STEP_MAY_FAIL:-0}" = 1 ]; then
    log "[$COMBINATION] $name: exit $rc (${took} s), handled below"
    return "$rc"
  fi
  if [ "$rc" -ne 0 ]; then
    log "[$COMBINATION] $name FAILED (exit $rc$([ "$rc" -eq 124 ] && echo ': timed out'), ${took} s): $*"
    tail -n 40 "$LOGS/$name.err" | sed 's/^/    stderr| /' >&2
    tail -n 20 "$LOGS/$name.out" | sed 's/^/    stdout| /' >&2
    return "$rc"
  fi
  log "[$COMBINATION] $name: ${took} s"
}

# npm's warnings of an install step (besides the install-scripts notice), shown once.
show_npm_warnings() {
  grep -h '^npm warn' "$LOGS/$1.out" "$LOGS/$1.err" 2>/dev/null | grep -v 'install-scripts' | sed "s/^/    [$COMBINATION] /" >&2 || true
}

# The last stdout line of a step that is a JSON object.
last_json() { grep '^{' "$LOGS/$1.out" | tail -n 1; }
json_field() { node -e 'const v = JSON.parse(process.argv[1])[process.argv[2]]; process.stdout.write(v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v))' "$1" "$2"; }

# ---------------------------------------------------------------------------------------------------------------
# Node 24 from the npm registry (there is no system Node 24), installed once per run into WORK.
NODE24_BIN=""
install_node24() {
  local t0
  t0=$(now)
  local prefix="$WORK/node24"
  if npm i "${NPM_FLAGS[@]}" --prefix "$prefix" node@24 >"$WORK/node24.log" 2>&1 && "$prefix/node_modules/.bin/node" -v 2>/dev/null | grep -q '^v24\.'; then
    NODE24_BIN="$prefix/node_modules/.bin"
  else
    # The `node` package fetches its binary in a preinstall script; the binary package itself needs none.
    local os arch
    os=$(node -p process.platform)
    arch=$(node -p process.arch)
    npm i "${NPM_FLAGS[@]}" --prefix "$WORK/node24-bin" "node-$os-$arch@24" >>"$WORK/node24.log" 2>&1 || { tail -n 20 "$WORK/node24.log" >&2; return 1; }
    mkdir -p "$WORK/node24-bin/path"
    ln -s "$WORK/node24-bin/node_modules/node-$os-$arch/bin/node" "$WORK/node24-bin/path/node"
    NODE24_BIN="$WORK/node24-bin/path"
  fi
  log "Node 24 from the npm registry: $("$NODE24_BIN/node" -v) ($NODE24_BIN/node, $(since "$t0") s)"
}

# fauxqs (the repository's devDependency), one server for the whole run on a free loopback port.
FAUXQS_ENDPOINT=""
start_fauxqs() {
  local port
  port=$(node -e "const s = require('node:net').createServer(); s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")
  FAUXQS_PORT=$port FAUXQS_LOGGER=false node --require "$REPO/examples/support/loopback-only.cjs" "$REPO/node_modules/fauxqs/dist/cli.js" >"$WORK/fauxqs.log" 2>&1 &
  FAUXQS_PID=$!
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      FAUXQS_ENDPOINT="http://127.0.0.1:$port"
      log "fauxqs $(node -p "require('$REPO/node_modules/fauxqs/package.json').version") on $FAUXQS_ENDPOINT (pid $FAUXQS_PID)"
      return 0
    fi
    kill -0 "$FAUXQS_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$WORK/fauxqs.log" >&2
  log "fauxqs did not start"
  return 1
}

# ---------------------------------------------------------------------------------------------------------------
# A combination's setup: its Node (PATH), its project folder, its logs.
begin_combination() {
  COMBINATION=$1
  local node_major=$2
  RUN="$WORK/$COMBINATION"
  PROJECT="$RUN/project"
  LOGS="$RUN/logs"
  RESULT="$RUN/result"
  mkdir -p "$PROJECT" "$LOGS"
  record combination "$COMBINATION"
  if [ "$node_major" = 24 ]; then export PATH="$NODE24_BIN:$SYSTEM_PATH"; else export PATH=$SYSTEM_PATH; fi
  local version
  version=$(node -v)
  record node "$version"
  case "$version" in "v$node_major".*) ;; *) log "[$COMBINATION] expected Node $node_major, got $version"; return 1 ;; esac
  cd "$PROJECT"
  printf '{\n  "name": "consumer-%s",\n  "version": "1.0.0",\n  "private": true,\n  "type": "commonjs"\n}\n' "$COMBINATION" >package.json
  log "[$COMBINATION] Node $version, project $PROJECT"
}

# install_mikro_orm STEP EXTRA… -- MIKRO_ORM_SPEC…: `npm i EXTRA… MIKRO_ORM_SPEC…`, the plain way. MikroORM's packages
# pin each other's exact version as peers; when the registry lacks one package's newest version (here
# @mikro-orm/migrations stops at 7.2.1 while core and postgresql are at 7.2.5) the plain install fails with
# ERESOLVE. Then the reason is recorded and the install retried with every @mikro-orm package pinned to the
# newest version all of them have (unless CONSUMER_STRICT_INSTALL=1).
install_mikro_orm() {
  local name=$1
  shift
  local extra=() specs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do extra+=("$1"); shift; done
  shift
  specs=("$@")
  if STEP_MAY_FAIL=1 step "$name" npm i "${NPM_FLAGS[@]}" "${extra[@]}" "${specs[@]}"; then
    show_npm_warnings "$name"
    return 0
  fi
  if ! grep -q 'ERESOLVE' "$LOGS/$name.err"; then
    tail -n 40 "$LOGS/$name.err" | sed 's/^/    stderr| /' >&2
    return 1
  fi
  local reason
  # npm's explanation, without the paths, blank lines and advice: what it found, and what it could not resolve.
  reason=$(sed -n '/^npm error Found:/,/^npm error Fix the upstream/p' "$LOGS/$name.err" | sed -e 's/^npm error *//' \
    | grep -v -E '^$|^node_modules/|^Fix the upstream|^cdk-lambda-tasks@"file:' | paste -sd ';' | sed -e 's/;/; /g' -e 's/:; /: /g')
  if [ "${CONSUMER_STRICT_INSTALL:-0}" = 1 ]; then
    record installNote "plain install failed: ERESOLVE: $reason"
    return 1
  fi
  # The newest version every requested @mikro-orm package has, within the requested ranges (default: the latest's major).
  local pkg range lists=() latest_major
  latest_major=$(npm view @mikro-orm/core version | cut -d. -f1)
  for spec in "${specs[@]}"; do
    pkg=${spec%@*}
    range=${spec##*@}
    if [ "$pkg" = "" ] || [ "$spec" = "$pkg" ] || [[ "$spec" != @*@* ]]; then pkg=$spec; range=$latest_major; fi
    lists+=("$(npm view "$pkg@$range" version --json)")
  done
  local pin
  pin=$(node -e '
    const lists = process.argv.slice(1).map((s) => [].concat(JSON.parse(s)));
    const common = lists[0].filter((v) => !v.includes("-") && lists.every((l) => l.includes(v)));
    const key = (v) => v.split(".").map(Number);
    common.sort((a, b) => { const [x, y] = [key(a), key(b)]; for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i]; return 0; });
    process.stdout.write(common.pop() ?? "");' "${lists[@]}")
  [ -n "$pin" ] || { log "[$COMBINATION] no version common to ${specs[*]}"; return 1; }
  local pinned=()
  for spec in "${specs[@]}"; do
    if [[ "$spec" == @*@* ]]; then pinned+=("${spec%@*}@$pin"); else pinned+=("$spec@$pin"); fi
  done
  log "[$COMBINATION] the plain install failed (ERESOLVE: $reason); retrying with ${pinned[*]}"
  record installNote "plain 'npm i ${specs[*]}' failed: ERESOLVE: $reason; installed ${pinned[*]} (-E), the newest version all of them have on this registry"
  step "$name-pinned" npm i "${NPM_FLAGS[@]}" -E "${extra[@]}" "${pinned[@]}"
  show_npm_warnings "$name-pinned"
}

# Steps 3–5 for an app combination (floor, current): the user's code, type-check, synth, run the worker asset.
run_app() {
  # 3. The README's quick start as the user's code.
  cp -r "$HERE/project/." "$PROJECT/"
  find "$PROJECT/src" -name '*.tpl' -exec sh -c 'for f in "$@"; do mv "$f" "${f%.tpl}"; done' sh {} +
  # A type error fails the combination, at the end: synth and the run still go as far as they can.
  local typecheck_failed=false
  step typecheck npx tsc -p tsconfig.json || typecheck_failed=true
  if $typecheck_failed; then
    record typeErrors "$(grep -oE '^src/[^:]+: error TS[0-9]+' "$LOGS/typecheck.out" | node -e 'process.stdout.write(JSON.stringify(require("node:fs").readFileSync(0, "utf8").split("\n").filter(Boolean)))')"
  else
    log "[$COMBINATION] $(npx tsc --version): no errors"
  fi

  # 4. cdk synth (cdk.json: npx tsx src/app.ts), bundled with the local esbuild.
  step synth env CDK_DISABLE_CLI_TELEMETRY=true npx cdk synth --no-notices -q
  grep -h -i -E 'warn|error' "$LOGS/synth.err" | grep -v 'feature flags' | sed "s/^/    [$COMBINATION] synth: /" >&2 || true

  # 5. PostgreSQL, the template's queues on fauxqs, the app enqueues, the worker asset runs the task.
  local db="consumer_${COMBINATION}_$$"
  echo "$db" >>"$WORK/databases"
  step create-database env DATABASE_URL="$BASE_DATABASE_URL" node "$HERE/db-admin.cjs" create "$db"
  local database_url
  database_url=$(DATABASE_URL=$BASE_DATABASE_URL node "$HERE/db-admin.cjs" url "$db")
  step prepare-queues node "$HERE/sqs-driver.mjs" prepare cdk.out "$FAUXQS_ENDPOINT" "$COMBINATION-$$" "$RUN"
  local asset asset_dir
  asset=$(node -p "require('$RUN/worker.json').asset")
  asset_dir=$(dirname "$asset")
  record workerBundleBytes "$(stat -c %s "$asset")"
  log "[$COMBINATION] worker asset $(basename "$asset_dir")/index.js: $(stat -c %s "$asset") bytes"

  local queues_json
  queues_json=$(node -p "require('$RUN/worker.json').env.LAMBDA_TASKS_QUEUES")
  # The app (README, Quick start 1 and 3): migrate, write a user and enqueue in one transaction; the message is
  # sent to fauxqs after the commit (a failed send fails the step: onDispatchError 'throw').
  step enqueue env DATABASE_URL="$database_url" LAMBDA_TASKS_QUEUES="$queues_json" LAMBDA_TASKS_ON_DISPATCH_ERROR=throw \
    AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    NODE_OPTIONS="--require $HERE/localhost-dns.cjs" npx tsx src/produce.ts
  local task_id
  task_id=$(json_field "$(last_json enqueue)" taskId)
  [ -n "$task_id" ] || { log "[$COMBINATION] the app printed no task id"; return 1; }
  record taskId "$task_id"
  step receive node "$HERE/sqs-driver.mjs" receive "$RUN"

  # The asset outside the project (so nothing unbundled can be found next to it), with the SDK the Lambda
  # runtime provides (@aws-sdk/*, external in the bundle) on NODE_PATH, like /var/runtime/node_modules.
  mkdir -p "$RUN/lambda/task" "$RUN/lambda/runtime/node_modules"
  cp -r "$asset_dir/." "$RUN/lambda/task/"
  ln -s "$PROJECT/node_modules/@aws-sdk" "$RUN/lambda/runtime/node_modules/@aws-sdk"
  cp "$HERE/invoke-worker.mjs" "$RUN/lambda/"
  local template_node_options
  template_node_options=$(node -p "require('$RUN/worker.json').env.NODE_OPTIONS ?? ''")
  step invoke-worker env -i PATH="$PATH" HOME="$HOME" TMPDIR="$TMPDIR" LANG=C.UTF-8 TZ=UTC \
    NODE_PATH="$RUN/lambda/runtime/node_modules" LAMBDA_TASK_ROOT="$RUN/lambda/task" \
    AWS_EXECUTION_ENV="AWS_Lambda_$(node -p "require('$RUN/worker.json').runtime")" \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    DATABASE_URL="$database_url" NODE_OPTIONS="--require $HERE/localhost-dns.cjs $template_node_options" \
    node "$RUN/lambda/invoke-worker.mjs" "$RUN/worker.json" "$RUN/event.json" "$RUN/lambda/task"
  log "[$COMBINATION] worker: $(last_json invoke-worker)"

  # README, Quick start 4: the row, read back through the library.
  step follow env DATABASE_URL="$database_url" npx tsx src/follow.ts "$task_id"
  local outcome status
  outcome=$(last_json follow)
  status=$(json_field "$outcome" status)
  record taskStatus "$status"
  record taskResult "$(json_field "$outcome" result)"
  CURRENT_STEP=status
  [ "$status" = SUCCESS ] || { log "[$COMBINATION] task $task_id ended $status: $outcome"; return 1; }
  [ "$(json_field "$outcome" result)" = sent ] || { log "[$COMBINATION] task $task_id returned $(json_field "$outcome" result), not 'sent'"; return 1; }
  step drop-database env DATABASE_URL="$BASE_DATABASE_URL" node "$HERE/db-admin.cjs" drop "$db"
  if $typecheck_failed; then
    CURRENT_STEP=typecheck
    return 1
  fi
}

combination_floor() {
  begin_combination floor 20
  step install-app npm i "${NPM_FLAGS[@]}" -E "$TARBALL" @mikro-orm/core@6.6.16 @mikro-orm/postgresql@6.6.16 @mikro-orm/migrations@6.6.16 zod@4
  show_npm_warnings install-app
  step install-cdk npm i "${NPM_FLAGS[@]}" -D -E aws-cdk-lib@2.257.0 constructs@10 esbuild aws-cdk@2.1148.1 typescript@5.9.3 tsx @types/node@20
  show_npm_warnings install-cdk
  run_app
}

combination_current() {
  begin_combination current 24
  install_mikro_orm install-app "$TARBALL" zod -- @mikro-orm/core @mikro-orm/postgresql @mikro-orm/migrations
  step install-cdk npm i "${NPM_FLAGS[@]}" -D aws-cdk-lib constructs esbuild aws-cdk typescript tsx @types/node@24
  show_npm_warnings install-cdk
  run_app
}

combination_zod3() {
  begin_combination zod3 24
  install_mikro_orm install-app "$TARBALL" zod@3.25 -- @mikro-orm/core@7 @mikro-orm/postgresql@7
  cp "$HERE/zod3-check.mjs" "$PROJECT/"
  step zod3-check env LAMBDA_TASKS_LOG_LEVEL=silent node zod3-check.mjs
  local outcome
  outcome=$(last_json zod3-check)
  record zod3 "$outcome"
}

# Runs one combination in a subshell (errexit on: it is not called in a condition); its summary line is printed
# whatever happens. Sets COMBINATION_RC.
run_combination() {
  local name=$1 t0
  t0=$(now)
  set +e
  (
    set -euo pipefail
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'rc=$?; record ok "$([ $rc -eq 0 ] && echo true || echo false)"; [ $rc -eq 0 ] || record failedStep "$CURRENT_STEP"; record wallSeconds "$(since "'"$t0"'")"; node "$HERE/summary.mjs" "$PROJECT" "$RESULT"' EXIT
    "combination_$name"
  )
  COMBINATION_RC=$?
  set -e
  COMBINATION_SECONDS+=("$name $(since "$t0") s")
}

# ---------------------------------------------------------------------------------------------------------------
t_all=$(now)
cd "$REPO"
log "temp folder $WORK; combinations: ${COMBINATIONS[*]}"

# 1. Build and pack, from a clean build: tsc --build keeps the outputs of deleted sources and esbuild keeps old
# chunks in lib/esm/chunks, and the `files` allow-list would pack them.
t0=$(now)
rm -rf lib tsconfig.tsbuildinfo
npx projen compile >"$WORK/compile.log" 2>&1 || { tail -n 40 "$WORK/compile.log" >&2; log "compile failed"; exit 1; }
log "npx projen compile: $(since "$t0") s"
t0=$(now)
node scripts/build-esm.mjs lib >>"$WORK/compile.log" 2>&1 || { tail -n 40 "$WORK/compile.log" >&2; log "ES module build failed"; exit 1; }
log "node scripts/build-esm.mjs lib: $(since "$t0") s"
t0=$(now)
mkdir -p "$WORK/pack"
npm pack --pack-destination "$WORK/pack" >"$WORK/pack.log" 2>&1 || { tail -n 40 "$WORK/pack.log" >&2; log "npm pack failed"; exit 1; }
TARBALL=$(ls "$WORK"/pack/*.tgz)
log "npm pack: $(basename "$TARBALL"), $(stat -c %s "$TARBALL") bytes, $(grep -o 'total files: *[0-9]*' "$WORK/pack.log" | grep -o '[0-9]*$') files ($(since "$t0") s)"

needs_node24=false
needs_app=false
for c in "${COMBINATIONS[@]}"; do
  case "$c" in current | zod3) needs_node24=true ;; esac
  case "$c" in floor | current) needs_app=true ;; esac
done
if $needs_node24; then install_node24; fi
if $needs_app; then start_fauxqs; fi

COMBINATION_SECONDS=()
passed=0
failed=()
for c in "${COMBINATIONS[@]}"; do
  run_combination "$c"
  if [ "$COMBINATION_RC" -eq 0 ]; then passed=$((passed + 1)); else failed+=("$c"); fi
done

log "wall time: ${COMBINATION_SECONDS[*]/%/;} total $(since "$t_all") s"
echo "consumer-test: ${passed} passed, ${#failed[@]} failed${failed:+ (${failed[*]})}"
[ ${#failed[@]} -eq 0 ]
