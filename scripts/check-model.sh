#!/usr/bin/env bash
# The model checker's long run: `npm run check:model -- --runs N --seed S [--path P] [--exclude f1,f2] [--max-commands M] [--quiet]`.
# jest takes no flags of its own for these, so they reach test/model/model.test.ts as MODEL_* environment variables.
# Needs DATABASE_URL (the checker runs on PostgreSQL). MikroORM 7: `--newest` runs it in the newest lane
# (scripts/newest-lane.sh; NEWEST_LANE_DIR keeps its install between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?the model checker runs on PostgreSQL: set DATABASE_URL}"
export MODEL_RUNS=${MODEL_RUNS:-200} MODEL_VERBOSE=${MODEL_VERBOSE:-1}
newest=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) MODEL_RUNS=$2; shift 2 ;;
    --seed) export MODEL_SEED=$2; shift 2 ;;
    --path) export MODEL_PATH=$2; shift 2 ;;
    --exclude) export MODEL_EXCLUDE=$2; shift 2 ;;
    --max-commands) export MODEL_MAX_COMMANDS=$2; shift 2 ;;
    --quiet) MODEL_VERBOSE=0; shift ;;
    --newest) newest=1; shift ;;
    *) echo "check:model: unknown argument '$1' (--runs N --seed S --path P --exclude f1,f2 --max-commands M --quiet --newest)" >&2; exit 2 ;;
  esac
done
: "${MODEL_SEED:=$(date +%s)}"
export MODEL_SEED
echo "check:model: $MODEL_RUNS programs, seed $MODEL_SEED${MODEL_EXCLUDE:+, without $MODEL_EXCLUDE}$([ $newest = 1 ] && echo ', MikroORM 7')" >&2
started=$(date +%s)
set +e
if [ $newest = 1 ]; then
  bash scripts/newest-lane.sh test/model/model.test.ts --testTimeout=86400000 -t "every program"
else
  NODE_OPTIONS="--experimental-vm-modules --disable-warning=ExperimentalWarning" npx jest --maxWorkers=1 --testTimeout=86400000 test/model/model.test.ts -t 'every program'
fi
rc=$?
set -e
echo "check:model: $MODEL_RUNS programs (seed $MODEL_SEED) took $(( $(date +%s) - started )) s, exit $rc" >&2
exit $rc
