#!/usr/bin/env bash
# A real Temporal server (not the dev server): go.temporal.io/server at the tag pinned in
# scripts/versions.env, on Debian's PostgreSQL, with SQL visibility (search attributes work).
#
#   scripts/temporal-server.sh install            build temporal-server and temporal-sql-tool into
#                                                 .gcsfuse-bench/bin (cached: skipped when built already)
#   scripts/temporal-server.sh start DIR [PORT]   a fresh or existing server whose state lives in DIR:
#                                                 PostgreSQL on 127.0.0.1, schema, server, namespace
#                                                 `default`; frontend on 127.0.0.1:PORT (default 7233),
#                                                 the other services and PostgreSQL on PORT+1..PORT+10
#   scripts/temporal-server.sh stop DIR           stop both (server first)
#
# start waits until the frontend answers and the namespace exists, then prints the frontend address.
# Logs: DIR/temporal-server.log, DIR/postgresql.log. The schema and namespace steps are the ones
# docker-compose.yml runs (deploy/compose/temporal-setup.sh), with the same environment names.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/versions.env
source "$REPO/scripts/versions.env"

BIN="$REPO/.gcsfuse-bench/bin"
# The server's schema files and config template, copied out of the module at install time.
SHARE="$REPO/.gcsfuse-bench/share/temporal-server-$TEMPORAL_SERVER_VERSION"
MODULE=go.temporal.io/server
PG_USER=temporal
PG_PASSWORD=temporal
NAMESPACE=default
START_TIMEOUT_S=${TEMPORAL_SERVER_START_TIMEOUT_S:-120}

log() { printf '[temporal-server] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

installed() {
  [ -x "$BIN/temporal-server" ] && [ -x "$BIN/temporal-sql-tool" ] && [ -d "$SHARE/schema" ] &&
    [ "$(cat "$BIN/.temporal-server.version" 2>/dev/null)" = "$MODULE@$TEMPORAL_SERVER_VERSION" ]
}

install_postgresql() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
  [ "$(id -u)" = 0 ] || die "PostgreSQL is missing: install it (sudo apt-get install postgresql) and run again"
  log "installing PostgreSQL with apt-get"
  apt-get update -qq
  # Only the binaries are used: the package's own cluster is not started.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

install_server() {
  install_postgresql
  if installed; then return 0; fi
  command -v go >/dev/null 2>&1 || die "go is not installed: cannot build $MODULE"
  log "building $MODULE@$TEMPORAL_SERVER_VERSION (server and SQL schema tool; a few minutes, once)"
  local gobin
  gobin=$(mktemp -d)
  # v1.32 needs a newer Go than Debian's or the machine's: the go command fetches the pinned one.
  GOBIN=$gobin GOTOOLCHAIN=$TEMPORAL_SERVER_GO_TOOLCHAIN go install \
    "$MODULE/cmd/server@$TEMPORAL_SERVER_VERSION" "$MODULE/cmd/tools/sql@$TEMPORAL_SERVER_VERSION" ||
    { rm -rf -- "$gobin"; die "building $MODULE@$TEMPORAL_SERVER_VERSION failed"; }
  local src
  src=$(GOTOOLCHAIN=$TEMPORAL_SERVER_GO_TOOLCHAIN go env GOMODCACHE)/$MODULE@$TEMPORAL_SERVER_VERSION
  [ -d "$src/schema/postgresql/v12" ] || die "no schema in $src"
  mkdir -p "$BIN" "$SHARE"
  rm -rf -- "$SHARE/schema"
  # Module cache files are read-only: copy without their modes.
  cp -r --no-preserve=mode -- "$src/schema" "$SHARE/schema"
  install -m 0644 -- "$src/common/config/config_template_embedded.yaml" "$SHARE/config_template_embedded.yaml"
  # The names the upstream images use (temporalio/server, temporalio/admin-tools).
  mv -f -- "$gobin/server" "$BIN/temporal-server"
  mv -f -- "$gobin/sql" "$BIN/temporal-sql-tool"
  rm -rf -- "$gobin"
  echo "$MODULE@$TEMPORAL_SERVER_VERSION" >"$BIN/.temporal-server.version"
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  die "PostgreSQL is not installed (apt-get install postgresql): scripts/setup.sh installs it"
}

# PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=postgres --regid=postgres --clear-groups -- "$@"
  else
    "$@"
  fi
}

# The environment of both the server and the setup steps: the names the server's embedded config
# template reads (the same block docker-compose.yml gives the temporalio/server image).
server_env() {
  local dir=$1 port=$2
  export DB=postgres12 POSTGRES_SEEDS=127.0.0.1 DB_PORT=$((port + 10)) POSTGRES_USER=$PG_USER POSTGRES_PWD=$PG_PASSWORD
  export BIND_ON_IP=127.0.0.1 FRONTEND_GRPC_PORT=$port HISTORY_GRPC_PORT=$((port + 1)) MATCHING_GRPC_PORT=$((port + 2))
  export WORKER_GRPC_PORT=$((port + 3)) FRONTEND_HTTP_PORT=$((port + 4)) FRONTEND_MEMBERSHIP_PORT=$((port + 5))
  export HISTORY_MEMBERSHIP_PORT=$((port + 6)) MATCHING_MEMBERSHIP_PORT=$((port + 7)) WORKER_MEMBERSHIP_PORT=$((port + 8))
  export INTERNAL_FRONTEND_HTTP_PORT=$((port + 9))
  export DYNAMIC_CONFIG_FILE_PATH=$REPO/deploy/compose/temporal-dynamicconfig.yaml LOG_LEVEL=${LOG_LEVEL:-warn}
  export SCHEMA_DIR=$SHARE/schema SQL_TOOL=$BIN/temporal-sql-tool TEMPORAL_ADDRESS=127.0.0.1:$port NAMESPACE=$NAMESPACE
}

start_postgres() {
  local dir=$1 port=$2 pg data
  pg=$(pg_bin)
  data=$dir/postgresql
  if [ ! -f "$data/PG_VERSION" ]; then
    install -d -m 0700 -- "$data"
    if [ "$(id -u)" = 0 ]; then
      chown postgres:postgres -- "$data"
      # The postgres user must reach its folder (mktemp -d makes DIR 0700).
      chmod o+x -- "$dir"
      as_pg test -x "$dir" ||
        die "the postgres user cannot reach $dir: a folder above it is closed to others (chmod o+x it, or use another DIR)"
    fi
    local pwfile
    pwfile=$(mktemp)
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    chmod 0644 -- "$pwfile"
    as_pg "$pg/initdb" -D "$data" -U "$PG_USER" --pwfile="$pwfile" --auth=scram-sha-256 -E UTF8 --locale=C >/dev/null ||
      { rm -f -- "$pwfile"; die "initdb failed in $data"; }
    rm -f -- "$pwfile"
  fi
  touch -- "$dir/postgresql.log"
  [ "$(id -u)" != 0 ] || chown postgres:postgres -- "$dir/postgresql.log"
  # Loopback only, and the socket in the data folder (not /var/run/postgresql, which may not exist).
  as_pg "$pg/pg_ctl" -D "$data" -l "$dir/postgresql.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $data" start >/dev/null ||
    die "PostgreSQL did not start: see $dir/postgresql.log"
}

start() {
  local dir=${1:?usage: start DIR [PORT]} port=${2:-7233}
  # The server stores its membership ports in a SMALLINT column: all must stay below 32768.
  if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port + 10 > 32767)); then die "PORT must be a number with PORT+10 <= 32767, got $port"; fi
  installed || die "not installed: run scripts/temporal-server.sh install"
  mkdir -p -- "$dir"
  dir=$(cd "$dir" && pwd)
  [ ! -f "$dir/temporal-server.pid" ] || ! kill -0 "$(cat "$dir/temporal-server.pid")" 2>/dev/null ||
    die "a server already runs from $dir (pid $(cat "$dir/temporal-server.pid"))"
  server_env "$dir" "$port"
  start_postgres "$dir" "$DB_PORT"
  sh "$REPO/deploy/compose/temporal-setup.sh" schema >"$dir/schema.log" 2>&1 ||
    die "schema setup failed: see $dir/schema.log"
  # The embedded config template (no --config-file): what the temporalio/server image runs.
  (cd "$dir" && exec setsid "$BIN/temporal-server" start </dev/null >>"$dir/temporal-server.log" 2>&1) &
  echo $! >"$dir/temporal-server.pid"
  local deadline=$((SECONDS + START_TIMEOUT_S))
  # Frontend up (its HTTP API answers), then the namespace; the same command docker-compose.yml uses.
  until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$FRONTEND_HTTP_PORT/api/v1/system-info" 2>/dev/null; do
    kill -0 "$(cat "$dir/temporal-server.pid")" 2>/dev/null || die "the server exited: see $dir/temporal-server.log"
    ((SECONDS < deadline)) || die "the frontend did not answer on 127.0.0.1:$FRONTEND_HTTP_PORT within ${START_TIMEOUT_S}s: see $dir/temporal-server.log"
    sleep 0.5
  done
  until TEMPORAL_CLI=$(command -v temporal) sh "$REPO/deploy/compose/temporal-setup.sh" namespace >"$dir/namespace.log" 2>&1; do
    ((SECONDS < deadline)) || die "namespace $NAMESPACE could not be created within ${START_TIMEOUT_S}s: see $dir/namespace.log"
    sleep 1
  done
  echo "127.0.0.1:$port"
}

stop() {
  local dir=${1:?usage: stop DIR} pid pg
  if [ -f "$dir/temporal-server.pid" ]; then
    pid=$(cat "$dir/temporal-server.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f -- "$dir/temporal-server.pid"
  fi
  if [ -f "$dir/postgresql/postmaster.pid" ]; then
    pg=$(pg_bin)
    as_pg "$pg/pg_ctl" -D "$dir/postgresql" -m fast -w stop >/dev/null
  fi
}

case ${1:-} in
  install) install_server ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "usage: $0 install | start DIR [PORT] | stop DIR" ;;
esac
