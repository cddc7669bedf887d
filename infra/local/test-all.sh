#!/usr/bin/env bash
# Every test of the project against the real servers: installs and starts what is missing, runs
# lint, typecheck, unit, integration and e2e tests, prints the time of each phase, and stops
# the servers it started itself (servers that were already running are left running).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

declare -a PHASES=()
phase() {
  local name=$1 start=$SECONDS; shift
  say "$name"
  local rc=0
  "$@" || rc=$?
  PHASES+=("$(printf '%-14s %5ss  %s' "$name" $((SECONDS - start)) "$([ $rc = 0 ] && echo ok || echo FAILED)")")
  if [ $rc != 0 ]; then summary; die "$name failed"; fi
}
summary() {
  echo
  say "phase durations"
  printf '  %s\n' "${PHASES[@]}"
}

started=()
cleanup() {
  local name
  for name in "${started[@]}"; do stop_process "$name" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

bootstrap() {
  ensure_node
  ensure_node_modules
  install_all
}

servers() {
  local name
  for name in "${SERVERS[@]}"; do
    is_running "$name" || started+=("$name")
  done
  start_servers
}

cd "$REPO_ROOT"
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
phase install bootstrap
phase servers servers
test_env
phase lint npx nx run-many -t lint --outputStyle=static --skip-nx-cache
phase typecheck npx tsc -p tsconfig.json --noEmit
phase unit npx jest --selectProjects unit --ci
phase build npx nx run-many -t build --outputStyle=static --skip-nx-cache
phase integration npx jest --selectProjects integration --ci --runInBand
phase e2e npx jest --selectProjects e2e --ci --runInBand
summary
