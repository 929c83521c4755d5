# Image for the orchestrator worker and the agents (docker-compose.yml).
# Base image by tag, not digest: pin a digest (node:20-bookworm@sha256:...) for reproducible builds.
FROM node:20-bookworm
# fio, FUSE and git from Debian (apt checks packages against Debian's signed release files).
RUN apt-get update && apt-get install -y --no-install-recommends fio fuse3 git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# Go for building gcsfuse: Debian 12's golang-go is 1.19, too old for gcsfuse v3 (its go.mod says
# go 1.27.2). A pinned release, checked against its SHA-256 before unpacking; the values of
# DEPLOY_GO_* in scripts/versions.env, which deploy/gce/startup-script.sh uses too (a test checks both).
ARG GO_VERSION=1.27.2
RUN set -eu; \
    arch="$(dpkg --print-architecture)"; \
    case "$arch" in \
      amd64) sha=ecbadb99091a3f46e31f5f934b068b1864eafa7995211b39eaddf76996045fe5 ;; \
      arm64) sha=94f3e30b8e374bc285e7dadc11e0865726b9bc6e85b841ccceaabc0214c6b7c8 ;; \
      *) echo "no pinned Go for $arch" >&2; exit 1 ;; \
    esac; \
    curl -fsSL --proto '=https' -o /tmp/go.tgz "https://go.dev/dl/go${GO_VERSION}.linux-${arch}.tar.gz"; \
    echo "$sha  /tmp/go.tgz" | sha256sum --check --strict -; \
    tar -C /usr/local -xzf /tmp/go.tgz --no-same-owner; \
    rm /tmp/go.tgz; \
    ln -s /usr/local/go/bin/go /usr/local/bin/go
WORKDIR /app
RUN chown node:node /app
COPY --chown=node:node package.json package-lock.json ./
# npm ci as the image's unprivileged `node` user, production dependencies only, no install scripts
# (the three production packages that have one do not need it: see deploy/gce/startup-script.sh).
USER node
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
# Root at run time: the agents mount gcsfuse and drop the page cache, which only uid 0 may do
# (deploy/gce/README.md). The orchestrator needs neither and could run as `node`.
USER root
COPY . .
