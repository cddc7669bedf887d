#!/bin/sh
# The provisioning step of the pipeline's bucket, with MinIO's root account: creates the bucket,
# sets its expiry rules, and gives each service an account of its own limited to its prefixes and
# actions (ingestion-policy.json, summarizer-policy.json beside this file), so that neither the
# root keys nor the right to change the bucket's lifecycle or policy reach a service. Idempotent;
# run by the native stack (infra/local) and by the minio-account service of docker-compose.yml.
#   MINIO_URL MINIO_ROOT_USER MINIO_ROOT_PASSWORD
#   INGESTION_S3_ACCESS_KEY_ID INGESTION_S3_SECRET_ACCESS_KEY SUMMARIZER_S3_ACCESS_KEY_ID SUMMARIZER_S3_SECRET_ACCESS_KEY
#   [S3_BUCKET] [S3_RAW_RETENTION_DAYS] [S3_SUMMARY_RETENTION_DAYS] [MC] [MC_CONFIG_DIR]
# Shell built-ins and cat only: the official MinIO image has neither sed nor grep.
# No secret reaches a command's arguments (any process of the machine can read those): mc finds
# the root login in MC_HOST_<alias>, set for its process only, and reads new secrets on stdin.
set -eu
bucket=${S3_BUCKET:-log-batches}
raw_days=${S3_RAW_RETENTION_DAYS:-0}
summary_days=${S3_SUMMARY_RETENTION_DAYS:-0}
config=${MC_CONFIG_DIR:-/tmp/mc}
here=${0%/*}

fail() { echo "$*" >&2; exit 1; }
case $raw_days$summary_days in *[!0-9]*) fail "S3_RAW_RETENTION_DAYS and S3_SUMMARY_RETENTION_DAYS are days (0: keep forever)" ;; esac
raw_days=$((raw_days + 0)) summary_days=$((summary_days + 0))
# Summaries must outlive the raw batches: the ingestion's reconciler announces again every raw
# batch that has no summary, so a summary expiring first would bring its batch back.
if [ "$summary_days" -gt 0 ] && { [ "$raw_days" -eq 0 ] || [ "$summary_days" -le "$raw_days" ]; }; then
  fail "S3_SUMMARY_RETENTION_DAYS ($summary_days) must be 0 (keep forever) or more than S3_RAW_RETENTION_DAYS ($raw_days)"
fi

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

mc mb --ignore-existing "lapadmin/$bucket" >/dev/null

# The pipeline's two rules, by id; the bucket's lifecycle configuration is this step's alone.
rule() { printf '{"ID":"%s","Status":"Enabled","Filter":{"Prefix":"%s"},"Expiration":{"Days":%s}}' "$1" "$2" "$3"; }
rules=
[ "$raw_days" -eq 0 ] || rules=$(rule log-analytics-raw-batches raw/ "$raw_days")
[ "$summary_days" -eq 0 ] || rules=$rules${rules:+,}$(rule log-analytics-summaries summaries/ "$summary_days")
if [ -n "$rules" ]; then
  printf '{"Rules":[%s]}\n' "$rules" | mc ilm rule import "lapadmin/$bucket" >/dev/null
elif mc ilm rule ls "lapadmin/$bucket" >/dev/null 2>&1; then
  mc ilm rule rm --all --force "lapadmin/$bucket" >/dev/null
fi

# account NAME ACCESS_KEY SECRET_KEY: the policy NAME-policy.json for this bucket, on that account.
account() {
  rest=$(cat "$here/$1-policy.json") policy=
  while :; do
    case $rest in
      *@BUCKET@*) policy=$policy${rest%%@BUCKET@*}$bucket rest=${rest#*@BUCKET@} ;;
      *) break ;;
    esac
  done
  printf '%s\n' "$policy$rest" >"$config/$1-$bucket.json"
  mc admin policy create lapadmin "$1-$bucket" "$config/$1-$bucket.json" >/dev/null
  # With the access key alone, mc reads the secret key from stdin (and echoes it: kept off the log).
  printf '%s\n' "$3" | mc admin user add lapadmin "$2" >/dev/null
  # Attaching an attached policy fails; the account is right when the policy is on it either way.
  if ! mc admin policy attach lapadmin "$1-$bucket" --user "$2" >/dev/null 2>&1; then
    case $(mc admin user info lapadmin "$2") in
      *"$1-$bucket"*) ;;
      *) fail "could not attach policy $1-$bucket to $2" ;;
    esac
  fi
  echo "MinIO account $2: $1's prefixes of bucket $bucket"
}
account ingestion "$INGESTION_S3_ACCESS_KEY_ID" "$INGESTION_S3_SECRET_ACCESS_KEY"
account summarizer "$SUMMARIZER_S3_ACCESS_KEY_ID" "$SUMMARIZER_S3_SECRET_ACCESS_KEY"
echo "bucket $bucket: raw batches expire after ${raw_days} days, summaries after ${summary_days} (0: never)"
