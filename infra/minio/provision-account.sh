#!/bin/sh
# The services' MinIO account: keys of its own and a policy that allows their bucket and nothing
# else, so MinIO's root keys stay with the administrator. Idempotent; run by the native stack
# (infra/local) and by the minio-account service of docker-compose.yml.
#   MINIO_URL MINIO_ROOT_USER MINIO_ROOT_PASSWORD S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY [S3_BUCKET] [MC] [MC_CONFIG_DIR]
# Shell built-ins and cat only: the official MinIO image has neither sed nor grep.
set -eu
bucket=${S3_BUCKET:-log-batches}
config=${MC_CONFIG_DIR:-/tmp/mc}
mc() { command "${MC:-mc}" --config-dir "$config" --quiet "$@"; }
mkdir -p "$config"
rest=$(cat "${0%/*}/pipeline-policy.json") policy=
while :; do
  case $rest in
    *@BUCKET@*) policy=$policy${rest%%@BUCKET@*}$bucket rest=${rest#*@BUCKET@} ;;
    *) break ;;
  esac
done
printf '%s\n' "$policy$rest" >"$config/pipeline-bucket.json"
mc alias set pipeline-admin "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc admin policy create pipeline-admin pipeline-bucket "$config/pipeline-bucket.json" >/dev/null
mc admin user add pipeline-admin "$S3_ACCESS_KEY_ID" "$S3_SECRET_ACCESS_KEY" >/dev/null
# Attaching an attached policy fails; the account is right when the policy is on it either way.
if ! mc admin policy attach pipeline-admin pipeline-bucket --user "$S3_ACCESS_KEY_ID" >/dev/null 2>&1; then
  case $(mc admin user info pipeline-admin "$S3_ACCESS_KEY_ID") in
    *pipeline-bucket*) ;;
    *) echo "could not attach policy pipeline-bucket to $S3_ACCESS_KEY_ID" >&2 && exit 1 ;;
  esac
fi
echo "MinIO account $S3_ACCESS_KEY_ID limited to bucket $bucket"
