#!/usr/bin/env bash
# Kafka's kafka-server-start.sh: the broker, logging with config/log4j2.yaml and a 1 GiB heap
# unless KAFKA_LOG4J_OPTS / KAFKA_HEAP_OPTS say otherwise.
if [ $# -lt 1 ]; then
  echo "USAGE: $0 server.properties [--override property=value]*" >&2
  exit 1
fi
base_dir=$(cd "$(dirname "$0")/.." && pwd)
export KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/log4j2.yaml}
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}
exec "$base_dir/bin/kafka-run-class.sh" kafka.Kafka "$@"
