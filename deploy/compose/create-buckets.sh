#!/bin/sh
# Creates buckets in the Cloud Storage emulator (fake-gcs-server) when missing: docker-compose.yml runs it
# once before the workers start; the tests run the same file against a local fake-gcs-server.
#   create-buckets.sh ENDPOINT BUCKET...     e.g. http://gcs:4443 gcsfuse-bench-artifacts
set -eu
[ $# -ge 2 ] || { echo "usage: $0 ENDPOINT BUCKET..." >&2; exit 2; }
endpoint=${1%/}
shift
for bucket in "$@"; do
  # JSON API bucket insert; 409 means it exists already (a second `docker compose up`).
  code=$(curl -sS --retry 10 --retry-connrefused --retry-delay 1 -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' -d "{\"name\":\"$bucket\"}" "$endpoint/storage/v1/b?project=gcsfuse-bench") ||
    { echo "create-buckets: cannot reach $endpoint" >&2; exit 1; }
  case $code in
    200) echo "create-buckets: created gs://$bucket" ;;
    409) echo "create-buckets: gs://$bucket exists" ;;
    *) echo "create-buckets: creating gs://$bucket at $endpoint answered HTTP $code" >&2; exit 1 ;;
  esac
done
