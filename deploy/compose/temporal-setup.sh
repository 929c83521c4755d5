#!/bin/sh
# One-shot setup of a Temporal server on PostgreSQL, in POSIX sh: docker-compose.yml runs it in the
# upstream temporalio/admin-tools image (busybox sh), and scripts/temporal-server.sh runs the very same
# file against the locally built tools, so what compose does is exercised by the tests.
#
#   temporal-setup.sh schema      create both databases (when missing) and bring their schemas up to date
#   temporal-setup.sh namespace   create the namespace (when missing)
#
# Environment (the names the Temporal server itself reads, so one env block serves both):
#   DB (postgres12), POSTGRES_SEEDS, DB_PORT, POSTGRES_USER, POSTGRES_PWD   the database   (schema)
#   DBNAME (temporal), VISIBILITY_DBNAME (temporal_visibility)                      (schema)
#   SCHEMA_DIR   the server's schema folder (the image's /etc/temporal/schema)     (schema)
#   SQL_TOOL     temporal-sql-tool binary (default: on PATH)                        (schema)
#   TEMPORAL_ADDRESS, NAMESPACE (default), NAMESPACE_RETENTION (7d)                (namespace)
#   TEMPORAL_CLI temporal CLI binary (default: on PATH)                             (namespace)
set -eu

die() {
  echo "temporal-setup: $*" >&2
  exit 1
}

need() {
  eval "v=\${$1:-}"
  [ -n "$v" ] || die "$1 is not set"
}

schema() {
  [ "${DB:-postgres12}" = postgres12 ] || die "DB=$DB: only postgres12 is set up here"
  need POSTGRES_SEEDS
  need POSTGRES_USER
  need POSTGRES_PWD
  need SCHEMA_DIR
  tool=${SQL_TOOL:-temporal-sql-tool}
  # The sql tool reads its password from SQL_PASSWORD; no password on a command line.
  SQL_PASSWORD=$POSTGRES_PWD
  export SQL_PASSWORD
  for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
    db=${pair%%:*}
    dir=$SCHEMA_DIR/postgresql/v12/${pair#*:}/versioned
    [ -d "$dir" ] || die "no schema folder $dir (SCHEMA_DIR=$SCHEMA_DIR)"
    set -- --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" --db "$db"
    # `create` fails when the database exists (a second `up`): only a missing one is created.
    if ! "$tool" "$@" update-schema -d "$dir" >/dev/null 2>&1; then
      "$tool" "$@" create-database >/dev/null 2>&1 || true
      "$tool" "$@" setup-schema -v 0.0
      "$tool" "$@" update-schema -d "$dir"
    fi
    echo "temporal-setup: database $db is at the schema in $dir"
  done
}

namespace() {
  need TEMPORAL_ADDRESS
  cli=${TEMPORAL_CLI:-temporal}
  ns=${NAMESPACE:-default}
  if "$cli" operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$ns" >/dev/null 2>&1; then
    echo "temporal-setup: namespace $ns exists"
    return 0
  fi
  "$cli" operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$ns" --retention "${NAMESPACE_RETENTION:-7d}"
  # The frontend knows a new namespace only after its namespace cache refreshes (a few seconds):
  # done only when a call that goes through that cache succeeds, so nothing started next sees NotFound.
  tries=0
  until "$cli" operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$ns" >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 120 ] || die "namespace $ns was created but the frontend still does not know it after 60 s"
    sleep 0.5
  done
  echo "temporal-setup: namespace $ns created"
}

case ${1:-} in
  schema) schema ;;
  namespace) namespace ;;
  *) die "usage: $0 schema|namespace" ;;
esac
