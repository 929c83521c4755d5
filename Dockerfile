# Image for the orchestrator worker and the agents (docker-compose.yml).
FROM node:20-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends fio fuse3 golang-go git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
