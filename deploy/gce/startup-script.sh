#!/usr/bin/env bash
# Startup script for the instance template of benchmark VMs. Installs Node, fio, FUSE and Go,
# fetches gcsfuse-bench, and runs the agent as a systemd service.
#
# Instance metadata attributes it reads:
#   gcsfuse-bench-source     gs://bucket/path/gcsfuse-bench.tgz (a `git archive` of this repo) [required]
#   temporal-address         host:port of the Temporal frontend                                   [required]
#   gcsfuse-bench-artifacts  gs://artifacts-bucket                                                  [required]
#   temporal-namespace       default: "default"
#   temporal-api-key-secret  Secret Manager secret name holding a Temporal Cloud API key (optional)
set -euo pipefail

md() { curl -fsS -H 'Metadata-Flavor: Google' "http://metadata.google.internal/computeMetadata/v1/instance/attributes/$1" 2>/dev/null || true; }
SOURCE=$(md gcsfuse-bench-source)
TEMPORAL_ADDRESS=$(md temporal-address)
ARTIFACTS=$(md gcsfuse-bench-artifacts)
NAMESPACE=$(md temporal-namespace)
SECRET=$(md temporal-api-key-secret)
for v in SOURCE TEMPORAL_ADDRESS ARTIFACTS; do
  [ -n "${!v}" ] || { echo "gcsfuse-bench: metadata for $v is missing" >&2; exit 1; }
done

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq fio fuse3 git curl ca-certificates xz-utils golang-go >/dev/null

NODE_VERSION=20.19.5
if ! command -v node >/dev/null || [ "$(node --version)" != "v${NODE_VERSION}" ]; then
  curl -fsSL "https://nodejs.org/dist/v${NODE_VERSION}/node-v${NODE_VERSION}-linux-x64.tar.xz" | tar -xJ -C /usr/local --strip-components=1
fi

mkdir -p /opt/gcsfuse-bench /var/lib/gcsfuse-bench /etc/gcsfuse-bench
gcloud storage cp "$SOURCE" /tmp/gcsfuse-bench.tgz
tar -xzf /tmp/gcsfuse-bench.tgz -C /opt/gcsfuse-bench
(cd /opt/gcsfuse-bench && npm ci --omit=dev --no-audit --no-fund)

API_KEY=""
if [ -n "$SECRET" ]; then API_KEY=$(gcloud secrets versions access latest --secret="$SECRET"); fi
umask 077
cat > /etc/gcsfuse-bench/agent.env <<ENV
TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS}
TEMPORAL_NAMESPACE=${NAMESPACE:-default}
GCSFUSE_BENCH_ARTIFACTS=${ARTIFACTS}
GCSFUSE_GO_TOOLCHAIN=auto
${API_KEY:+TEMPORAL_API_KEY=${API_KEY}}
ENV

install -m 0644 /opt/gcsfuse-bench/deploy/gce/gcsfuse-bench-agent.service /etc/systemd/system/gcsfuse-bench-agent.service
systemctl daemon-reload
systemctl enable --now gcsfuse-bench-agent.service
