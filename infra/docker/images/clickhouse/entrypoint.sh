#!/bin/bash
# The environment contract of the official clickhouse/clickhouse-server image, on ClickHouse 18.16:
# - CLICKHOUSE_USER / CLICKHOUSE_PASSWORD replace the `default` user by that user, with that
#   password, reachable from any address. Without them `default` has no password and is reachable
#   from inside the container only.
# - On the first start (empty data directory), or on every start with
#   CLICKHOUSE_ALWAYS_RUN_INITDB_SCRIPTS set: CLICKHOUSE_DB is created and the scripts of
#   /docker-entrypoint-initdb.d run (*.sh executed or sourced, *.sql and *.sql.gz piped to
#   clickhouse-client), against a server listening on 127.0.0.1 only.
# - Arguments starting with `--` go to clickhouse-server; anything else runs instead of it.
set -eo pipefail
shopt -s nullglob

CONFIG=/etc/clickhouse-server/config.xml
DATA_DIR=/var/lib/clickhouse
CLICKHOUSE_USER=${CLICKHOUSE_USER:-default}
CLICKHOUSE_PASSWORD=${CLICKHOUSE_PASSWORD:-}
CLICKHOUSE_DB=${CLICKHOUSE_DB:-}

if [ $# -gt 0 ] && [[ $1 != --* ]]; then exec "$@"; fi

# The server runs as `clickhouse` (created by the Debian package) when started as root.
run_as=()
if [ "$(id -u)" = 0 ]; then
  for dir in "$DATA_DIR" "$DATA_DIR/tmp" "$DATA_DIR/user_files" "$DATA_DIR/format_schemas"; do
    mkdir -p "$dir"
    if [ "$(stat -c %U "$dir")" != clickhouse ]; then chown -R clickhouse:clickhouse "$dir"; fi
  done
  run_as=(setpriv --reuid=clickhouse --regid=clickhouse --init-groups)
fi

xml_escape() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }

if [ "$CLICKHOUSE_USER" != default ] || [ -n "$CLICKHOUSE_PASSWORD" ]; then
  [[ $CLICKHOUSE_USER =~ ^[A-Za-z_][A-Za-z0-9_.-]*$ ]] || { echo "$0: invalid CLICKHOUSE_USER '$CLICKHOUSE_USER'" >&2; exit 1; }
  echo "$0: user '$CLICKHOUSE_USER' with a password, reachable from any address, replaces 'default'"
  # Only the password's hash is written down: the file is readable by the server's user, the
  # password stays in the container's environment.
  sha256=$(printf '%s' "$CLICKHOUSE_PASSWORD" | sha256sum | cut -d' ' -f1)
  cat >/etc/clickhouse-server/users.d/default-user.xml <<EOT
<yandex>
  <users>
    <default remove="remove"></default>
    <${CLICKHOUSE_USER}>
      <profile>default</profile>
      <networks><ip>::/0</ip></networks>
      <password_sha256_hex>${sha256}</password_sha256_hex>
      <quota>default</quota>
    </${CLICKHOUSE_USER}>
  </users>
</yandex>
EOT
else
  rm -f /etc/clickhouse-server/users.d/default-user.xml
fi

if [ -n "${CLICKHOUSE_ALWAYS_RUN_INITDB_SCRIPTS:-}" ] || [ ! -d "$DATA_DIR/data" ]; then
  initdb=(/docker-entrypoint-initdb.d/*)
  if [ ${#initdb[@]} -gt 0 ] || [ -n "$CLICKHOUSE_DB" ]; then
    "${run_as[@]}" clickhouse-server --config-file="$CONFIG" -- --listen_host=127.0.0.1 &
    pid=$!
    tries=${CLICKHOUSE_INIT_TIMEOUT:-1000}
    until wget -q -T 1 -O /dev/null http://127.0.0.1:8123/ping; do
      if [ "$tries" -le 0 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "$0: ClickHouse init process failed." >&2
        exit 1
      fi
      tries=$((tries - 1))
      sleep 1
    done
    # The login goes to clickhouse-client in a private config file, not in its arguments (which
    # every process of the container can read); 18.16's client reads no password from the environment.
    login=$(mktemp -d)
    chmod 700 "$login"
    printf '<config><user>%s</user><password>%s</password></config>\n' "$CLICKHOUSE_USER" "$(xml_escape "$CLICKHOUSE_PASSWORD")" >"$login/client.xml"
    trap 'rm -rf "$login"' EXIT
    client=(clickhouse-client --config-file "$login/client.xml" --multiquery --host 127.0.0.1)
    if [ -n "$CLICKHOUSE_DB" ]; then
      echo "$0: create database '$CLICKHOUSE_DB'"
      "${client[@]}" -q "CREATE DATABASE IF NOT EXISTS \`$CLICKHOUSE_DB\`"
    fi
    for f in "${initdb[@]}"; do
      case $f in
        *.sh)
          if [ -x "$f" ]; then echo "$0: running $f"; "$f"
          else echo "$0: sourcing $f"; # shellcheck source=/dev/null
            . "$f"; fi ;;
        *.sql) echo "$0: running $f"; "${client[@]}" <"$f" ;;
        *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | "${client[@]}" ;;
        *) echo "$0: ignoring $f" ;;
      esac
    done
    rm -rf "$login"
    trap - EXIT
    if ! kill -TERM "$pid" || ! wait "$pid"; then
      echo "$0: finishing the ClickHouse init process failed." >&2
      exit 1
    fi
  fi
fi

exec "${run_as[@]}" clickhouse-server --config-file="$CONFIG" "$@"
