#!/usr/bin/env bash
# Entrypoint of the Kafka service of docker-compose.yml, for the official apache/kafka image and
# the local one alike: on first start, formats the storage with the administrator's SCRAM
# credential in it (kafka-storage format --add-scram), then hands over to the image's own start,
# which finds the storage formatted. The image formats without users, and a broker that allows
# nothing without a login could then never be given its first user.
#   SASL_ADMIN_USER SASL_ADMIN_PASSWORD CLUSTER_ID KAFKA_LOG_DIRS, and the image's KAFKA_* settings
set -euo pipefail
: "${SASL_ADMIN_USER:?}" "${SASL_ADMIN_PASSWORD:?}" "${CLUSTER_ID:?}" "${KAFKA_LOG_DIRS:?}"

if [ ! -f "$KAFKA_LOG_DIRS/meta.properties" ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  # The configuration the image will start with, written by Kafka's own wrapper from the same
  # KAFKA_* variables; its formatting goes to a throwaway folder.
  KAFKA_LOG_DIRS=$scratch/data /opt/kafka/bin/kafka-run-class.sh kafka.docker.KafkaDockerWrapper setup \
    --default-configs-dir /etc/kafka/docker --mounted-configs-dir /mnt/shared/config --final-configs-dir "$scratch" >/dev/null
  sed -i "s#^log.dirs=.*#log.dirs=$KAFKA_LOG_DIRS#" "$scratch/server.properties"
  # Java reads the arguments from a private file: the password never shows among a process' arguments.
  (umask 077; printf '%s\n' kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$scratch/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=$SASL_ADMIN_USER,password=$SASL_ADMIN_PASSWORD]" >"$scratch/format.args")
  java -cp '/opt/kafka/libs/*' "@$scratch/format.args"
fi
exec /etc/kafka/docker/run "$@"
