#!/usr/bin/env bash
# Every test of the project against the real servers: installs and starts what is missing, runs
# lint, typecheck, unit, integration and e2e tests on the native stack, then the e2e scenarios in
# containers (below); prints the time of each phase, and stops the servers and the Docker engine
# it started itself (what was already running is left running).
#
#   infra/local/test-all.sh [--no-containers | --containers-only]
#
# The containers phases: a Docker engine (infra/docker/engine: started only when none answers),
# the images of docker-compose.yml built from packages (infra/docker/offline-images), the compose
# stack on free host ports with the e2e suite against it (E2E_TARGET=external; scenario 007 is
# scenario 001 while every service is killed with `docker kill` and restarted), `docker-compose
# down -v`, the same against the cluster of docker-compose.cluster.yml (scenario 009: a broker, an
# instance of each service, a ClickHouse replica and ZooKeeper killed, then a rolling restart), then
# the e2e suite again on the same images with testcontainers (E2E_TARGET=containers).
# Credentials are the clone's (.stack/credentials.env) and reach both through the environment
# (docker-compose.yml substitutes them).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NATIVE=1
CONTAINERS=1
case ${1:-} in
  "") ;;
  --no-containers) CONTAINERS=0 ;;
  --containers-only) NATIVE=0 ;;
  *) die "usage: infra/local/test-all.sh [--no-containers | --containers-only]" ;;
esac

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
stop_started_servers() {
  local name
  for name in "${started[@]}"; do stop_process "$name" >/dev/null 2>&1 || true; done
  started=()
}
cleanup() {
  stop_started_servers
  containers_cleanup
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

# --- containers -----------------------------------------------------------------------------------
ENGINE_STARTED=0
COMPOSE_PROJECT=
CONTAINERS_RUN=
COMPOSE_ENV_FILE=infra/docker/offline.env
# The files of the project under test: the single-node stack, then the cluster.
SINGLE_NODE_FILES=(-f docker-compose.yml -f e2e/compose/e2e.yml)
CLUSTER_FILES=(-f docker-compose.yml -f docker-compose.cluster.yml -f e2e/compose/e2e-cluster.yml)
COMPOSE_FILES=("${SINGLE_NODE_FILES[@]}")
compose() {
  docker-compose --env-file "$COMPOSE_ENV_FILE" "${COMPOSE_FILES[@]}" -p "$COMPOSE_PROJECT" "$@"
}

# Fresh machines carry only a Docker client: the engine, compose and the base image builder come
# from Debian.
docker_tools() {
  local -a missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  [ ${#missing[@]} = 0 ] && return
  say "installing ${missing[*]} from Debian"
  as_root apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

docker_engine() {
  docker_tools
  if infra/docker/engine status >/dev/null 2>&1; then
    infra/docker/engine status
  else
    infra/docker/engine start
    ENGINE_STARTED=1
  fi
  stale_runs
}

# An interrupted earlier run (its process gone) leaves its compose project or its labelled
# containers behind, and an engine started again restarts them: remove them, and nothing else.
stale_runs() {
  local project run pid ids
  for project in $(docker ps -a --format '{{.Label "com.docker.compose.project"}}' | grep -E '^log-analytics-(e2e|cluster)-[0-9]+$' | sort -u); do
    pid=${project##*-}
    ! kill -0 "$pid" 2>/dev/null || continue
    say "removing the compose project $project an interrupted run left"
    # shellcheck disable=SC2046
    docker rm -fv $(docker ps -aq --filter "label=com.docker.compose.project=$project") >/dev/null
    docker network rm $(docker network ls -q --filter "label=com.docker.compose.project=$project") >/dev/null 2>&1 || true
    # shellcheck disable=SC2046
    docker volume rm $(docker volume ls -q --filter "label=com.docker.compose.project=$project") >/dev/null 2>&1 || true
  done
  for run in $(docker ps -a --format '{{.Label "org.log-analytics.e2e.run"}}' | grep -E '^ci[0-9]+$' | sort -u); do
    pid=${run#ci}
    ! kill -0 "$pid" 2>/dev/null || continue
    say "removing the containers of e2e run $run an interrupted run left"
    CONTAINERS_RUN=$run containers_leftovers
  done
}

# Host ports for the compose stack: each *_HOST_PORT variable of docker-compose.yml and
# docker-compose.cluster.yml on a free port from LAP_COMPOSE_PORT_BASE (28000) up, so that it runs
# next to a native stack on the defaults.
compose_ports() {
  local port=${LAP_COMPOSE_PORT_BASE:-28000} var
  for var in $(grep -oh '[A-Z0-9_]*_HOST_PORT' docker-compose.yml docker-compose.cluster.yml | sort -u); do
    while port_busy "$port"; do port=$((port + 1)); done
    export "$var=$port"
    port=$((port + 1))
  done
}

compose_up() {
  COMPOSE_PROJECT=${1:-log-analytics-e2e-$$}
  local timeout=${2:-180}
  compose_ports
  say "docker-compose project $COMPOSE_PROJECT: ingestion 127.0.0.1:$INGESTION_HOST_PORT, Kafka 127.0.0.1:$KAFKA_HOST_PORT, MinIO 127.0.0.1:$MINIO_HOST_PORT, ClickHouse 127.0.0.1:$CLICKHOUSE_HOST_PORT"
  compose up -d
  local deadline=$((SECONDS + timeout)) states
  # shellcheck disable=SC2046
  # Healthy, or done for a one-shot service (minio-account: exited with 0).
  until states=$(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}} {{.State.ExitCode}}{{end}}' $(compose ps -q)) \
    && ! grep -Eqv ' (healthy|exited 0)$' <<<"$states"; do
    if grep -Eq ' exited [1-9][0-9]*$' <<<"$states"; then
      echo "$states" >&2
      die "a one-shot service of the compose stack failed (docker-compose -p $COMPOSE_PROJECT logs)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "$states" >&2
      die "the compose stack was not healthy within ${timeout}s (docker-compose -p $COMPOSE_PROJECT logs)"
    fi
    sleep 2
  done
  sed 's/^/  /' <<<"$states"
}

# The whole suite through the compose stack; 007 is scenario 001 with every service killed by
# `docker kill` and started again.
e2e_compose() {
  E2E_TARGET=external E2E_COMPOSE_PROJECT=$COMPOSE_PROJECT npx jest --selectProjects e2e --ci --runInBand
}

compose_down() {
  local logs="$STACK_DIR/test-logs/$COMPOSE_PROJECT.log"
  mkdir -p "$(dirname "$logs")"
  compose logs --no-color --timestamps >"$logs" 2>&1 || true
  say "service logs of the compose stack: ${logs#"$REPO_ROOT/"}"
  compose down -v
  COMPOSE_PROJECT=
}

# The cluster (docker-compose.cluster.yml) on the same images: three brokers, two instances of every
# service behind the balancer, two ClickHouse replicas and ZooKeeper. Its start takes longer (every
# broker, then the provisioning, then the services); what it holds in memory once up is printed.
cluster_up() {
  COMPOSE_FILES=("${CLUSTER_FILES[@]}")
  compose_up "log-analytics-cluster-$$" 300
  # shellcheck disable=SC2046
  docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' $(compose ps -q) | awk '
    { split($2, m, /[A-Za-z]+/); unit = substr($2, length(m[1]) + 1); mib = m[1] * (unit == "GiB" ? 1024 : unit == "KiB" ? 1 / 1024 : unit == "B" ? 1 / 1048576 : 1); total += mib; printf "  %-50s %8.0f MiB\n", $1, mib }
    END { printf "  %-50s %8.0f MiB\n", "the cluster in all", total }'
}

# The suite through the cluster's balancer; 009 kills one broker, one instance of each service, one
# replica and ZooKeeper under scenario 001, then restarts every instance in turn. 007 is left to the
# single-node phase: it kills the one MinIO server, which the cluster does not replicate, and a
# create-only write racing that kill can be acknowledged twice (docs/scaling.md).
e2e_cluster() {
  E2E_TARGET=external E2E_COMPOSE_PROJECT=$COMPOSE_PROJECT npx jest --selectProjects e2e --ci --runInBand --testPathIgnorePatterns 007-crash-recovery
}

cluster_down() {
  compose_down
  COMPOSE_FILES=("${SINGLE_NODE_FILES[@]}")
}

e2e_containers() {
  CONTAINERS_RUN=ci$$
  # The reaper image comes from a registry; the run's containers are removed by label instead.
  TESTCONTAINERS_RYUK_DISABLED=${TESTCONTAINERS_RYUK_DISABLED:-true} E2E_CONTAINERS_RUN=$CONTAINERS_RUN \
    E2E_COMPOSE_ENV_FILE=$COMPOSE_ENV_FILE E2E_TARGET=containers \
    npx jest --selectProjects e2e --ci --runInBand
}

# What a failed or interrupted run left: its compose project, its labelled containers and network.
containers_leftovers() {
  local ids networks
  [ -z "$COMPOSE_PROJECT" ] || compose_down || warn "docker-compose down -v failed for $COMPOSE_PROJECT"
  [ -n "$CONTAINERS_RUN" ] || return 0
  ids=$(docker ps -aq --filter "label=org.log-analytics.e2e.run=$CONTAINERS_RUN")
  # shellcheck disable=SC2086
  [ -z "$ids" ] || { say "removing containers the suite left: $(echo $ids)"; docker rm -fv $ids >/dev/null; }
  networks=$(docker network ls -q --filter "label=org.log-analytics.e2e.run=$CONTAINERS_RUN")
  # shellcheck disable=SC2086
  [ -z "$networks" ] || docker network rm $networks >/dev/null
  CONTAINERS_RUN=
}

containers_cleanup() {
  containers_leftovers >/dev/null 2>&1 || true
  if [ "$ENGINE_STARTED" = 1 ]; then infra/docker/engine stop || true; ENGINE_STARTED=0; fi
}

cd "$REPO_ROOT"
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
phase install bootstrap
if [ "$NATIVE" = 1 ]; then
  phase servers servers
  test_env
  phase lint npx nx run-many -t lint --outputStyle=static --skip-nx-cache
  phase typecheck npx tsc -p tsconfig.json --noEmit
  phase unit npx jest --selectProjects unit --ci
  phase build npx nx run-many -t build --outputStyle=static --skip-nx-cache
  phase integration npx jest --selectProjects integration --ci --runInBand
  phase e2e npx jest --selectProjects e2e --ci --runInBand
  # The native servers are done with; the containers run on their own.
  stop_started_servers
fi
if [ "$CONTAINERS" = 1 ]; then
  # The stack's secrets as docker-compose.yml reads them (the native phases exported admin logins
  # under the services' names: read the file again).
  ensure_credentials
  set -a
  # shellcheck disable=SC1090
  . "$CREDENTIALS_FILE"
  set +a
  export E2E_GATEWAY_TOKEN=$GATEWAY_TOKEN
  phase docker-engine docker_engine
  phase images infra/docker/offline-images
  phase compose-up compose_up
  phase e2e-compose e2e_compose
  phase compose-down compose_down
  phase cluster-up cluster_up
  phase e2e-cluster e2e_cluster
  phase cluster-down cluster_down
  phase e2e-containers e2e_containers
  phase cleanup containers_leftovers
fi
summary
