#!/bin/bash
# A standalone ZooKeeper with the official image's environment contract (the part the compose files
# use): /conf/zoo.cfg written from the ZOO_* variables unless one is mounted, then the server in
# the foreground as the user zookeeper. Arguments other than none run instead of the server.
set -euo pipefail
if [ $# -gt 0 ]; then exec "$@"; fi

if [ ! -f /conf/zoo.cfg ]; then
  cat >/conf/zoo.cfg <<EOT
dataDir=/data
dataLogDir=/datalog
clientPort=2181
tickTime=${ZOO_TICK_TIME:-2000}
initLimit=${ZOO_INIT_LIMIT:-5}
syncLimit=${ZOO_SYNC_LIMIT:-2}
maxClientCnxns=${ZOO_MAX_CLIENT_CNXNS:-60}
autopurge.purgeInterval=${ZOO_AUTOPURGE_PURGEINTERVAL:-0}
autopurge.snapRetainCount=${ZOO_AUTOPURGE_SNAPRETAINCOUNT:-3}
4lw.commands.whitelist=${ZOO_4LW_COMMANDS_WHITELIST:-srvr}
admin.enableServer=${ZOO_ADMINSERVER_ENABLED:-true}
standaloneEnabled=true
EOT
fi

run_as=()
if [ "$(id -u)" = 0 ]; then
  chown -R zookeeper:zookeeper /data /datalog
  run_as=(setpriv --reuid=zookeeper --regid=zookeeper --init-groups)
fi
# zookeeper.jar names its libraries in its manifest; slf4j-simple prints the server's log on the console.
# shellcheck disable=SC2086
exec "${run_as[@]}" java -Xmx"${ZK_SERVER_HEAP:-1000}"m ${JVMFLAGS:-} -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
  org.apache.zookeeper.server.quorum.QuorumPeerMain /conf/zoo.cfg
