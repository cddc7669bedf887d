#!/bin/sh
# The services' MinIO account: keys of its own and a policy that allows their bucket and nothing
# else, so MinIO's root keys stay with the administrator. Idempotent; run by the native stack
# (infra/local) and by the minio-account service of docker-compose.yml.
#   MINIO_URL MINIO_ROOT_USER MINIO_ROOT_PASSWORD S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY [S3_BUCKET] [MC] [MC_CONFIG_DIR]
# Shell built-ins and cat only: the official MinIO image has neither sed nor grep.
# No secret reaches a command's arguments (any process of the machine can read those): mc finds
# the root login in MC_HOST_<alias>, set for its process only, and reads new secrets on stdin.
set -eu
bucket=${S3_BUCKET:-log-batches}
config=${MC_CONFIG_DIR:-/tmp/mc}

# Percent-encodes $1 for the userinfo part of a URL (MC_HOST_<alias> is one).
urlencode() {
  rest=$1 out=
  while [ -n "$rest" ]; do
    tail=${rest#?} c=${rest%"$tail"} rest=$tail
    case $c in
      [A-Za-z0-9._~-]) out=$out$c ;;
      *) out=$out$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

scheme=${MINIO_URL%%://*} hostport=${MINIO_URL#*://}
root="$scheme://$(urlencode "$MINIO_ROOT_USER"):$(urlencode "$MINIO_ROOT_PASSWORD")@$hostport"
mc() { MC_HOST_lapadmin=$root command "${MC:-mc}" --config-dir "$config" --quiet "$@"; }
mkdir -p "$config"
rest=$(cat "${0%/*}/pipeline-policy.json") policy=
while :; do
  case $rest in
    *@BUCKET@*) policy=$policy${rest%%@BUCKET@*}$bucket rest=${rest#*@BUCKET@} ;;
    *) break ;;
  esac
done
printf '%s\n' "$policy$rest" >"$config/pipeline-bucket.json"
mc admin policy create lapadmin pipeline-bucket "$config/pipeline-bucket.json" >/dev/null
# With the access key alone, mc reads the secret key from stdin (and echoes it: kept off the log).
printf '%s\n' "$S3_SECRET_ACCESS_KEY" | mc admin user add lapadmin "$S3_ACCESS_KEY_ID" >/dev/null
# Attaching an attached policy fails; the account is right when the policy is on it either way.
if ! mc admin policy attach lapadmin pipeline-bucket --user "$S3_ACCESS_KEY_ID" >/dev/null 2>&1; then
  case $(mc admin user info lapadmin "$S3_ACCESS_KEY_ID") in
    *pipeline-bucket*) ;;
    *) echo "could not attach policy pipeline-bucket to $S3_ACCESS_KEY_ID" >&2 && exit 1 ;;
  esac
fi
echo "MinIO account $S3_ACCESS_KEY_ID limited to bucket $bucket"
