#!/usr/bin/env bash
# The part of Kafka's kafka-run-class.sh this image needs: runs a class with the jars of ../libs,
# honouring KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_JMX_OPTS, KAFKA_LOG4J_OPTS,
# KAFKA_OPTS, LOG_DIR and CLASSPATH with the same defaults.
base_dir=$(cd "$(dirname "$0")/.." && pwd)
CLASSPATH="${CLASSPATH:+$CLASSPATH:}$base_dir/libs/*"
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx256M}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}
KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/tools-log4j2.yaml}
LOG_DIR=${LOG_DIR:-$base_dir/logs}
# The option variables hold several options each: word splitting is intended.
# shellcheck disable=SC2086
exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS ${KAFKA_JMX_OPTS:-} $KAFKA_LOG4J_OPTS \
  "-Dkafka.logs.dir=$LOG_DIR" ${KAFKA_OPTS:-} -cp "$CLASSPATH" "$@"
