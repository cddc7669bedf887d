#!/usr/bin/env bash
# The provisioning step of Kafka's users and ACLs, with the administrator's login: one SCRAM user
# per service (its password set, or reset, from the environment), allowed only its own topics and
# consumer group, by the names the services are configured with. Every other client is refused:
# the broker allows nothing no ACL allows (allow.everyone.if.no.acl.found=false), the
# administrator alone is a super user. Idempotent; run by the native stack (infra/local) and by
# the kafka-access service of docker-compose.yml.
#   KAFKA_BROKERS SASL_ADMIN_USER SASL_ADMIN_PASSWORD
#   INGESTION_KAFKA_USER INGESTION_KAFKA_PASSWORD SUMMARIZER_KAFKA_USER SUMMARIZER_KAFKA_PASSWORD
#   AGGREGATOR_KAFKA_USER AGGREGATOR_KAFKA_PASSWORD
#   [TOPIC_BATCH_INGESTED] [TOPIC_INSIGHT_EVENTS] [TOPIC_BATCH_INGESTED_DLQ] [TOPIC_INSIGHT_EVENTS_DLQ]
#   [SUMMARIZER_GROUP_ID] [AGGREGATOR_GROUP_ID]
#   [KAFKA_CLASSPATH] [KAFKA_LOG4J]   Kafka's jars and a log configuration, outside a Kafka image
# The services create their own topics at start (partitions are theirs to configure), so each may
# CREATE exactly the topics it uses, and nothing else. No secret reaches a command's arguments:
# the tools read the administrator's login from the environment (admin.properties beside this
# file) and each new password on stdin.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${KAFKA_BROKERS:?}" "${SASL_ADMIN_USER:?}" "${SASL_ADMIN_PASSWORD:?}"
export SASL_ADMIN_USER SASL_ADMIN_PASSWORD
ingested=${TOPIC_BATCH_INGESTED:-batch-ingested}
insight=${TOPIC_INSIGHT_EVENTS:-insight-events}
ingested_dlq=${TOPIC_BATCH_INGESTED_DLQ:-batch-ingested-dlq}
insight_dlq=${TOPIC_INSIGHT_EVENTS_DLQ:-insight-events-dlq}
summarizer_group=${SUMMARIZER_GROUP_ID:-batch-summarizer}
aggregator_group=${AGGREGATOR_GROUP_ID:-window-aggregator}

run_class() {
  if [ -n "${KAFKA_CLASSPATH:-}" ]; then
    java ${KAFKA_LOG4J:+"-Dlog4j2.configurationFile=$KAFKA_LOG4J"} -cp "$KAFKA_CLASSPATH" "$@"
  else
    /opt/kafka/bin/kafka-run-class.sh "$@"
  fi
}
as_admin() {
  local class=$1; shift
  run_class "$class" --bootstrap-server "$KAFKA_BROKERS" --command-config "$here/admin.properties" "$@"
}

# user NAME PASSWORD: the SCRAM-SHA-512 credential of NAME, replaced if it exists.
user() {
  printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$2" \
    | as_admin kafka.admin.ConfigCommand --alter --entity-type users --entity-name "$1" --add-config-file /dev/stdin >/dev/null
}

# allow NAME OPTIONS...: ACLs allowing User:NAME the given operations on the given resources.
allow() {
  local name=$1; shift
  as_admin org.apache.kafka.tools.AclCommand --add --allow-principal "User:$name" "$@" >/dev/null
}

user "${INGESTION_KAFKA_USER:?}" "${INGESTION_KAFKA_PASSWORD:?}"
user "${SUMMARIZER_KAFKA_USER:?}" "${SUMMARIZER_KAFKA_PASSWORD:?}"
user "${AGGREGATOR_KAFKA_USER:?}" "${AGGREGATOR_KAFKA_PASSWORD:?}"

# WRITE implies DESCRIBE, and is all an idempotent producer needs since Kafka 3.0 (KIP-679: no
# IDEMPOTENT_WRITE on the cluster); READ on a topic and a group is what a consumer group needs,
# committing offsets and reading its lag included.
allow "$INGESTION_KAFKA_USER" --operation Write --operation Create --topic "$ingested"
# DESCRIBE on the summarizer's group reads its committed offsets (its backlog), never its messages.
allow "$INGESTION_KAFKA_USER" --operation Describe --group "$summarizer_group"
echo "Kafka user $INGESTION_KAFKA_USER: writes $ingested, reads the backlog of group $summarizer_group"

allow "$SUMMARIZER_KAFKA_USER" --operation Read --operation Create --topic "$ingested"
allow "$SUMMARIZER_KAFKA_USER" --operation Read --group "$summarizer_group"
allow "$SUMMARIZER_KAFKA_USER" --operation Write --operation Create --topic "$insight" --topic "$ingested_dlq"
echo "Kafka user $SUMMARIZER_KAFKA_USER: reads $ingested (group $summarizer_group), writes $insight and $ingested_dlq"

allow "$AGGREGATOR_KAFKA_USER" --operation Read --operation Create --topic "$insight"
allow "$AGGREGATOR_KAFKA_USER" --operation Read --group "$aggregator_group"
allow "$AGGREGATOR_KAFKA_USER" --operation Write --operation Create --topic "$insight_dlq"
echo "Kafka user $AGGREGATOR_KAFKA_USER: reads $insight (group $aggregator_group), writes $insight_dlq"
