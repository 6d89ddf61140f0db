# The one Berth image. It runs both programs:
#   berth-operator   the Kubernetes operator (what the Helm chart deploys)
#   berth-registry   the registry, its token issuer (token-server) and the maintenance CLI that the operator's
#                    garbage-collection and migration Jobs run (garbage-collect, migrate)
#
# Node 24 comes from the base image. The `node` package in devDependencies only pins the runtime for
# development and CI; `npm ci --omit=dev` leaves it out, as it should (it downloads a platform binary).
# Keep NODE_VERSION in step with that devDependency. Node 24 runs the TypeScript sources as they are (type
# stripping), so there is no build step and the image holds the same .ts files the tests run. What the image
# adds is Node's compile cache for those files, filled while it is built (see below).
#
# BASE_IMAGE is any image with Node (the pinned version) and npm on PATH and a POSIX /bin/sh: the official slim
# image by default. The end-to-end tests, which cannot pull, build an equivalent locally (the pinned node
# binary, its shared libraries, npm and busybox: test/harness/cluster-images.ts).
#
#   docker build -t berth:0.1.0 .
#   docker run --rm berth:0.1.0 berth-registry --help
ARG NODE_VERSION=24.21.0
ARG BASE_IMAGE=node:${NODE_VERSION}-bookworm-slim

FROM ${BASE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, exactly as locked. None of them needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${BASE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY registry ./registry
COPY operator ./operator
# Command names on PATH, as the chart and the operator's rendered pods call them. The registry's default
# storage directory belongs to the runtime user, for `docker run` without Kubernetes. The operator's V8 flags
# (a 1 MiB young generation; the old generation grows by half of what is live, not up to 4x) keep its peak RSS
# with 200 registries at 179–187 MiB instead of ~300 (bench/README.md, "Operator").
RUN printf '#!/bin/sh\nexec node --max-semi-space-size=1 --heap-growing-percent=50 /app/operator/cli.ts "$@"\n' > /usr/local/bin/berth-operator \
 && printf '#!/bin/sh\nexec node --max-semi-space-size=1 --expose-gc /app/registry/cli.ts "$@"\n' > /usr/local/bin/berth-registry \
 && chmod 0755 /usr/local/bin/berth-operator /usr/local/bin/berth-registry \
 && mkdir -p /var/lib/registry \
 && chown 65532:65532 /var/lib/registry
# Node's compile cache, filled now so that no process of the image strips TypeScript or compiles a module from
# nothing when it starts: each registry pod and GC or migration Job saves ~20 MiB of RSS and the start-up time
# (bench/README.md, "Start-up memory"). image/warm-compile-cache.ts runs as a preload of the real commands, so
# the cache is keyed by the same Node flags and user as at run time (Node keys it by both; another UID, e.g.
# OpenShift's random one, misses it and runs as before). The cache is read-only at run time: Node reads it and
# silently skips writing.
COPY image/warm-compile-cache.ts /tmp/warm-compile-cache.ts
USER 65532:65532
RUN export NODE_COMPILE_CACHE=/tmp/compile-cache NODE_OPTIONS=--import=/tmp/warm-compile-cache.ts \
 && berth-registry --help > /dev/null \
 && berth-operator --help > /dev/null
USER root
RUN mv /tmp/compile-cache /app/compile-cache \
 && rm /tmp/warm-compile-cache.ts \
 && chown -R 0:0 /app/compile-cache \
 && chmod -R a+rX,go-w /app/compile-cache
ENV NODE_COMPILE_CACHE=/app/compile-cache
# A numeric non-root user, so Kubernetes can check runAsNonRoot; the files above stay root-owned and
# read-only to it. The chart runs with the same UID and a read-only root filesystem.
USER 65532:65532
# 5000 registry, 5001 token issuer, 8080 operator metrics and probes (documentation only).
EXPOSE 5000 5001 8080
CMD ["berth-operator"]
