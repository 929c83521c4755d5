#!/usr/bin/env bash
# Startup script for the instance template of benchmark VMs (runs as root at every boot).
# Installs fio, FUSE, Node and Go, fetches gcsfuse-bench, writes the agent's environment from
# instance metadata and (re)starts the agent's systemd unit. See deploy/gce/README.md.
#
# Instance metadata attributes it reads (each checked against a strict pattern before use):
#   gcsfuse-bench-source         gs://bucket/path/name.tgz (a `git archive` of this repo)     [required]
#   temporal-address             host:port of the Temporal frontend                           [required]
#   gcsfuse-bench-artifacts      gs://bucket[/prefix]                                         [required]
#   temporal-namespace           Temporal namespace (default: "default")
#   temporal-api-key-secret      Secret Manager secret ID holding a Temporal Cloud API key
#   gcsfuse-bench-source-sha256  SHA-256 (hex) the source tarball must have
#
# Usage:
#   startup-script.sh                    everything (what GCE runs)
#   startup-script.sh write-env FILE     only read + check metadata (and the API key) and write FILE
#   startup-script.sh install-tools      only install packages, Node and Go (steps 2-3; a chroot test runs it)
# GCSFUSE_BENCH_METADATA_URL replaces the metadata server's attributes URL (tests use a stand-in).
# GCSFUSE_BENCH_DIST_MIRROR (http(s)://host[:port][/path]) serves the Node and Go tarballs by file name
# instead of nodejs.org and go.dev (a local mirror; the pinned SHA-256s apply all the same).
set -euo pipefail
# Byte semantics for every pattern and length below: no locale may widen [A-Za-z] or [[:print:]].
export LC_ALL=C
umask 022

readonly METADATA_URL=${GCSFUSE_BENCH_METADATA_URL:-http://metadata.google.internal/computeMetadata/v1/instance/attributes}
readonly DIST_MIRROR=${GCSFUSE_BENCH_DIST_MIRROR:-}
readonly AGENT_ENV=/etc/gcsfuse-bench/agent.env
readonly INSTALL_DIR=/opt/gcsfuse-bench
readonly UNIT=gcsfuse-bench-agent.service
# Unprivileged system user that unpacks the source and runs `npm ci`; the agent never runs as it.
readonly BUILD_USER=gcsfuse-bench-build

# Node: the agent needs >= 20.19 (Debian 12's nodejs is 18). SHA-256 of node-v20.19.5-linux-x64.tar.xz
# as listed in https://nodejs.org/dist/v20.19.5/SHASUMS256.txt; taken from a published copy of the
# release's clearsigned SHASUMS256.txt.asc and checked against four independent public pins of the same
# file (a Bazel WORKSPACE, CI bootstrap scripts); nodejs.org itself was not reachable when this was written.
readonly NODE_VERSION=20.19.5
readonly NODE_SHA256=315046739a513a70e03a4a55a8afda8cf979f30852e576075c340084e3f8ac0f
# Go: builds gcsfuse. gcsfuse v3.13.0's go.mod says `go 1.27.2`, so this release builds it without a
# toolchain switch (Debian 12's golang-go is 1.19, which cannot build gcsfuse v3); with GOTOOLCHAIN=auto
# a later gcsfuse that asks for more fetches its toolchain from the Go module proxy, checked against the
# Go checksum database. SHA-256 of go1.27.2.linux-amd64.tar.gz as listed on https://go.dev/dl/, as pinned
# by several independent public projects that agree; the same value as DEPLOY_GO_* in
# scripts/versions.env and the Dockerfile (a test checks all three).
readonly GO_VERSION=1.27.2
readonly GO_SHA256=ecbadb99091a3f46e31f5f934b068b1864eafa7995211b39eaddf76996045fe5

die() {
  printf 'gcsfuse-bench startup: %s\n' "$*" >&2
  exit 1
}

# Temporary files and folders, removed on any exit.
CLEANUP=()
cleanup() {
  local p
  for p in "${CLEANUP[@]}"; do rm -rf -- "$p"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Metadata -> agent.env
# ---------------------------------------------------------------------------------------------

# What a value may look like, by kind. Nothing here admits a quote, backslash, '$', backtick,
# space, control character or non-ASCII byte, so a value can never end its KEY=value line of
# agent.env, start another one, or mean anything to a shell or to systemd's env-file parser.
readonly RE_LABEL='[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
readonly RE_ADDRESS="^(${RE_LABEL}(\\.${RE_LABEL})*|\\[[0-9A-Fa-f:.]{2,45}\\]):[0-9]{1,5}\$"
readonly RE_BUCKET='[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]'
readonly RE_SEGMENT='[A-Za-z0-9._=+@,~-]+'
readonly RE_GS_PREFIX="^gs://${RE_BUCKET}(/${RE_SEGMENT})*/?\$"
readonly RE_GS_TARBALL="^gs://${RE_BUCKET}(/${RE_SEGMENT})*/${RE_SEGMENT}\\.(tgz|tar\\.gz)\$"
readonly RE_NAMESPACE='^[A-Za-z0-9]([A-Za-z0-9._-]{0,253}[A-Za-z0-9])?$'
readonly RE_SECRET_ID='^[A-Za-z0-9_-]{1,255}$'
readonly RE_SHA256='^[0-9a-f]{64}$'
# Temporal Cloud API keys are JWTs: base64url parts joined by dots.
readonly RE_API_KEY='^[A-Za-z0-9._~+/=-]{16,8192}$'
readonly MAX_VALUE_BYTES=65536

# Reads file $2 byte for byte into the global RAW (command substitution would drop trailing
# newlines, and bash silently drops NUL bytes: both are refused instead). $1 names the value.
read_raw() {
  local what=$1 file=$2 size nonul
  size=$(stat -c %s -- "$file")
  [ "$size" -le "$MAX_VALUE_BYTES" ] || die "$what refused: longer than $MAX_VALUE_BYTES bytes"
  nonul=$(tr -d '\000' <"$file" | wc -c)
  [ "$nonul" -eq "$size" ] || die "$what refused: it contains a NUL byte"
  RAW=$(cat -- "$file"; printf x)
  RAW=${RAW%x}
}

# Checks value $3 ($1 names it) against kind $2; dies with the reason otherwise. The value itself is
# never printed: it may be hostile, or a secret.
check_value() {
  local what=$1 kind=$2 value=$3 re port
  case $value in
    *[[:cntrl:]]*) die "$what refused: it contains a newline or another control character" ;;
  esac
  case $value in
    *[\"\'\\\`\$\ ]*) die "$what refused: it contains a quote, backslash, backtick, '\$' or space" ;;
  esac
  case $value in
    *[![:print:]]*) die "$what refused: it contains a non-ASCII byte" ;;
  esac
  case $kind in
    address) re=$RE_ADDRESS ;;
    gs-prefix) re=$RE_GS_PREFIX ;;
    gs-tarball) re=$RE_GS_TARBALL ;;
    namespace) re=$RE_NAMESPACE ;;
    secret-id) re=$RE_SECRET_ID ;;
    sha256) re=$RE_SHA256 ;;
    api-key) re=$RE_API_KEY ;;
    *) die "internal error: unknown kind $kind" ;;
  esac
  [[ $value =~ $re ]] || die "$what refused: not a valid $kind ($(describe "$kind"))"
  case $kind in
    address)
      port=${value##*:}
      if [ "${#value}" -gt 260 ] || ((10#$port < 1 || 10#$port > 65535)); then
        die "$what refused: not a valid address (port 1-65535, host up to 253 characters)"
      fi
      ;;
    gs-prefix | gs-tarball)
      case /${value#gs://}/ in
        */./* | *..*) die "$what refused: a '.' segment or '..'" ;;
      esac
      ;;
  esac
}

describe() {
  case $1 in
    address) echo 'host:port, e.g. temporal.example.internal:7233' ;;
    gs-prefix) echo 'gs://bucket[/prefix]' ;;
    gs-tarball) echo 'gs://bucket/path/name.tgz' ;;
    namespace) echo 'letters, digits, ".", "_", "-"' ;;
    secret-id) echo 'a Secret Manager secret ID: letters, digits, "_", "-"' ;;
    sha256) echo '64 lowercase hex digits' ;;
    api-key) echo 'a Temporal Cloud API key: base64url parts joined by "."' ;;
  esac
}

# Fetches metadata attribute $1 into the globals ATTR (value) and ATTR_SET (1 if the attribute exists).
fetch_attribute() {
  local key=$1 out code
  out=$(mktemp)
  CLEANUP+=("$out")
  code=$(curl -sS --noproxy '*' --max-time 10 --retry 5 --retry-connrefused --max-filesize "$MAX_VALUE_BYTES" \
    -H 'Metadata-Flavor: Google' -o "$out" -w '%{http_code}' -- "$METADATA_URL/$key") ||
    die "cannot read metadata attribute $key from $METADATA_URL (curl exit $?)"
  case $code in
    200) ;;
    404) ATTR='' ATTR_SET=0; return 0 ;;
    *) die "the metadata server answered HTTP $code for attribute $key" ;;
  esac
  read_raw "metadata attribute $key" "$out"
  ATTR=$RAW ATTR_SET=1
}

# attribute KEY KIND required|optional: sets ATTR to the checked value ('' when an optional one is unset or empty).
attribute() {
  local key=$1 kind=$2 need=$3
  fetch_attribute "$key"
  if [ "$ATTR_SET" = 0 ] || [ -z "$ATTR" ]; then
    [ "$need" = optional ] || die "metadata attribute $key is missing or empty: it is required ($(describe "$kind"))"
    ATTR=
    return 0
  fi
  check_value "metadata attribute $key" "$kind" "$ATTR"
}

# Reads and checks every attribute, before anything is installed or written.
load_metadata() {
  case $METADATA_URL in
    http://*) [[ $METADATA_URL =~ ^http://[A-Za-z0-9.:-]+(/[A-Za-z0-9._/-]*)?$ ]] || die "GCSFUSE_BENCH_METADATA_URL is not a plain http:// URL" ;;
    *) die "GCSFUSE_BENCH_METADATA_URL must be an http:// URL" ;;
  esac
  attribute gcsfuse-bench-source gs-tarball required
  SOURCE=$ATTR
  attribute gcsfuse-bench-source-sha256 sha256 optional
  SOURCE_SHA256=$ATTR
  attribute temporal-address address required
  TEMPORAL_ADDRESS=$ATTR
  attribute gcsfuse-bench-artifacts gs-prefix required
  ARTIFACTS=$ATTR
  attribute temporal-namespace namespace optional
  TEMPORAL_NAMESPACE=${ATTR:-default}
  attribute temporal-api-key-secret secret-id optional
  API_KEY_SECRET=$ATTR
}

# The Temporal Cloud API key from Secret Manager (when the metadata names a secret), checked like the rest.
fetch_api_key() {
  API_KEY=
  [ -n "$API_KEY_SECRET" ] || return 0
  local out
  out=$(mktemp)
  CLEANUP+=("$out")
  gcloud secrets versions access latest --secret="$API_KEY_SECRET" >"$out" ||
    die "cannot read the latest version of secret $API_KEY_SECRET (does the VM's service account have roles/secretmanager.secretAccessor on it?)"
  read_raw "secret $API_KEY_SECRET" "$out"
  # Secrets are often created with `echo KEY | gcloud secrets create --data-file=-`: one trailing newline is not part of the key.
  API_KEY=${RAW%$'\n'}
  check_value "secret $API_KEY_SECRET" api-key "$API_KEY"
}

# Writes agent.env atomically: a 0600 temporary file in the same folder, renamed over the old one.
# A failed run leaves the previous file as it was.
write_agent_env() {
  local target=$1 dir tmp
  dir=$(dirname -- "$target")
  [ -d "$dir" ] || install -d -m 0700 -- "$dir"
  tmp=$(mktemp -- "$dir/.agent.env.XXXXXXXX")
  CLEANUP+=("$tmp")
  chmod 0600 -- "$tmp"
  {
    printf '# Written by gcsfuse-bench deploy/gce/startup-script.sh from checked instance metadata.\n'
    printf 'TEMPORAL_ADDRESS=%s\n' "$TEMPORAL_ADDRESS"
    printf 'TEMPORAL_NAMESPACE=%s\n' "$TEMPORAL_NAMESPACE"
    printf 'GCSFUSE_BENCH_ARTIFACTS=%s\n' "$ARTIFACTS"
    printf 'GCSFUSE_GO_TOOLCHAIN=%s\n' auto
    if [ -n "$API_KEY" ]; then printf 'TEMPORAL_API_KEY=%s\n' "$API_KEY"; fi
  } >"$tmp"
  sync -- "$tmp"
  mv -f -T -- "$tmp" "$target"
}

write_env_step() {
  load_metadata
  fetch_api_key
  write_agent_env "$1"
}

# ---------------------------------------------------------------------------------------------
# Installing
# ---------------------------------------------------------------------------------------------

# download_verified URL SHA256 FILE: refuses (and removes) anything whose SHA-256 differs.
download_verified() {
  local url=$1 sha=$2 out=$3 proto='=https'
  # A mirror may be plain http (e.g. on loopback): the SHA-256 check below is what guards the content.
  [ -z "$DIST_MIRROR" ] || proto='=http,https'
  curl -fsSL --proto "$proto" --tlsv1.2 --retry 5 -o "$out" -- "$url" || die "cannot download $url"
  printf '%s  %s\n' "$sha" "$out" | sha256sum --check --strict --quiet - ||
    { rm -f -- "$out"; die "SHA-256 of $url is not the pinned $sha: not installing it"; }
}

check_mirror() {
  [ -z "$DIST_MIRROR" ] || [[ $DIST_MIRROR =~ ^https?://[A-Za-z0-9.:-]+(/[A-Za-z0-9._/-]*)?$ ]] ||
    die "GCSFUSE_BENCH_DIST_MIRROR is not a plain http(s):// URL"
}

# dist_url OFFICIAL_URL: the URL to download, from the mirror when one is set (same file name).
dist_url() {
  if [ -n "$DIST_MIRROR" ]; then
    echo "${DIST_MIRROR%/}/${1##*/}"
  else
    echo "$1"
  fi
}

# install_tarball NAME URL SHA256 DEST: unpacks a verified tarball into DEST (replaced whole).
install_tarball() {
  local name=$1 url=$2 sha=$3 dest=$4 stage
  download_verified "$url" "$sha" "$DL/$name"
  install -d -m 0755 -- "$(dirname -- "$dest")"
  stage=$(mktemp -d -- "$(dirname -- "$dest")/.stage.XXXXXXXX")
  CLEANUP+=("$stage")
  tar -xf "$DL/$name" -C "$stage" --strip-components=1 --no-same-owner --no-same-permissions
  chmod 0755 -- "$stage"
  rm -rf -- "$dest"
  mv -T -- "$stage" "$dest"
}

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  # apt checks every package against Debian's signed release files.
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends fio fuse3 git curl ca-certificates xz-utils util-linux kmod >/dev/null
  # /dev/fuse ready before the agent starts (its unit may not load kernel modules).
  modprobe fuse 2>/dev/null || true
}

install_node() {
  local dest=/usr/local/lib/nodejs/node-v$NODE_VERSION-linux-x64 b
  if [ ! -x "$dest/bin/node" ] || [ "$("$dest/bin/node" --version)" != "v$NODE_VERSION" ]; then
    install_tarball node.tar.xz "$(dist_url "https://nodejs.org/dist/v$NODE_VERSION/node-v$NODE_VERSION-linux-x64.tar.xz")" "$NODE_SHA256" "$dest"
  fi
  for b in node npm npx; do ln -sfn -- "$dest/bin/$b" "/usr/local/bin/$b"; done
}

install_go() {
  local dest=/usr/local/lib/go$GO_VERSION
  if [ ! -x "$dest/bin/go" ] || [ "$(GOTOOLCHAIN=local "$dest/bin/go" env GOVERSION)" != "go$GO_VERSION" ]; then
    install_tarball go.tar.gz "$(dist_url "https://go.dev/dl/go$GO_VERSION.linux-amd64.tar.gz")" "$GO_SHA256" "$dest"
  fi
  # go finds its GOROOT through the symlink.
  ln -sfn -- "$dest/bin/go" /usr/local/bin/go
}

create_build_user() {
  getent passwd "$BUILD_USER" >/dev/null ||
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --comment 'gcsfuse-bench build user (unpacks the source, runs npm ci)' "$BUILD_USER"
  BUILD_UID=$(id -u "$BUILD_USER")
  BUILD_GID=$(id -g "$BUILD_USER")
}

# as_build_user HOME CMD...: CMD as the build user, no capabilities, no privilege gain, a minimal environment.
as_build_user() {
  local home=$1
  shift
  setpriv --reuid="$BUILD_UID" --regid="$BUILD_GID" --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" LANG=C.UTF-8 npm_config_cache="$home/.npm" \
    npm_config_update_notifier=false "$@" </dev/null
}

# The source: fetched into the private temp folder, unpacked and `npm ci`-ed by the build user in a
# folder it owns, then handed to root and swapped into place whole.
install_source() {
  local build stage old=
  gcloud storage cp "$SOURCE" "$DL/source.tgz" >/dev/null || die "cannot copy $SOURCE (does the VM's service account have read access?)"
  if [ -n "$SOURCE_SHA256" ]; then
    printf '%s  %s\n' "$SOURCE_SHA256" "$DL/source.tgz" | sha256sum --check --strict --quiet - ||
      die "SHA-256 of $SOURCE is not gcsfuse-bench-source-sha256: not installing it"
  fi
  build=$(mktemp -d /var/tmp/gcsfuse-bench-build.XXXXXXXX)
  CLEANUP+=("$build")
  install -m 0644 -- "$DL/source.tgz" "$build/source.tgz"
  install -d -m 0700 -- "$build/src" "$build/home"
  chown -R "$BUILD_UID:$BUILD_GID" -- "$build"
  as_build_user "$build/home" tar -xzf "$build/source.tgz" -C "$build/src" --no-same-owner --no-same-permissions
  # --ignore-scripts: of the production dependencies only @swc/core, esbuild and protobufjs have install
  # scripts, and none is needed here: @swc/core's checks for its native binding (installed as the optional
  # @swc/core-linux-x64-gnu), esbuild's swaps its JS launcher for the binary of @esbuild/linux-x64, which its
  # API finds without it, protobufjs's only warns about version schemes.
  (cd "$build/src" && as_build_user "$build/home" npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
  # Root owns what root runs: the build user can change nothing of it afterwards.
  chown -R -P -h root:root -- "$build/src"
  chmod -R u+rwX,go+rX,go-w -- "$build/src"
  stage=$(mktemp -d /opt/.gcsfuse-bench.new.XXXXXXXX)
  CLEANUP+=("$stage")
  cp -a -- "$build/src/." "$stage/"
  chmod 0755 -- "$stage"
  if [ -e "$INSTALL_DIR" ]; then
    old=$(mktemp -d /opt/.gcsfuse-bench.old.XXXXXXXX)
    CLEANUP+=("$old")
    mv -T -- "$INSTALL_DIR" "$old/tree"
  fi
  mv -T -- "$stage" "$INSTALL_DIR"
}

install_unit() {
  install -m 0644 -o root -g root -- "$INSTALL_DIR/deploy/gce/$UNIT" "/etc/systemd/system/$UNIT"
  systemctl daemon-reload
  systemctl enable "$UNIT"
  # restart, not start: at a reboot the unit is already running the previous tree.
  systemctl restart "$UNIT"
}

main() {
  [ "$(id -u)" = 0 ] || die "run as root (it is the instance's startup script)"
  check_mirror
  # Everything from the metadata is checked (and the API key fetched) before anything is installed.
  load_metadata
  fetch_api_key
  DL=$(mktemp -d)
  CLEANUP+=("$DL")
  install_packages
  install_node
  install_go
  create_build_user
  install_source
  write_agent_env "$AGENT_ENV"
  install_unit
}

case ${1:-} in
  '') main ;;
  write-env)
    [ $# -eq 2 ] || die "usage: $0 write-env FILE"
    write_env_step "$2"
    ;;
  install-tools)
    [ "$(id -u)" = 0 ] || die "run as root"
    check_mirror
    DL=$(mktemp -d)
    CLEANUP+=("$DL")
    install_packages
    install_node
    install_go
    ;;
  *) die "usage: $0 [write-env FILE | install-tools]" ;;
esac
