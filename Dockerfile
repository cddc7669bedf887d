# One image per service, built from the same sources with the same build script as the native
# build (`node infra/build/build-app.js <app>`: an esbuild bundle with npm packages external).
# Targets: batch-ingestion, batch-summarizer, window-aggregator.
#
#   docker build --target batch-ingestion -t log-analytics/batch-ingestion .
#
# Needs BuildKit (the default builder of current Docker). NODE_IMAGE picks the Node.js base
# (infra/docker/offline-images passes its locally built one). Behind a TLS-inspecting proxy, give
# npm the machine's certificates as a secret; it is used by the build only, never stored:
#
#   docker build --secret id=ca-certificates,src=/etc/ssl/certs/ca-certificates.crt ...

ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# Production dependencies only: what the bundles require at run time.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=ca-certificates,required=false \
    if [ -f /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# The bundles, built exactly like the native build.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=ca-certificates,required=false \
    if [ -f /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi \
 && npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json ./
COPY infra/build infra/build
COPY infra/clickhouse infra/clickhouse
COPY libs libs
COPY apps apps
RUN node infra/build/build-app.js batch-ingestion \
 && node infra/build/build-app.js batch-summarizer \
 && node infra/build/build-app.js window-aggregator

# Common run-time layer: production node_modules, owned by root and read-only for the service.
FROM ${NODE_IMAGE} AS runtime
# Smaller young generation: V8 sizes it from the host's memory, which keeps ~100 MiB more
# resident per service under load with no measurable throughput gain.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    NODE_OPTIONS=--max-semi-space-size=16
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
# `node` (uid 1000) is the unprivileged user of the official Node.js image.
USER node

FROM runtime AS batch-ingestion
COPY --from=build /src/dist/apps/batch-ingestion ./
ENV PORT=8080 OPS_PORT=8090
EXPOSE 8080 8090
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.OPS_PORT || process.env.PORT) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--enable-source-maps", "main.js"]

FROM runtime AS batch-summarizer
COPY --from=build /src/dist/apps/batch-summarizer ./
ENV PORT=8081
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.OPS_PORT || process.env.PORT) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--enable-source-maps", "main.js"]

# The build script puts the ClickHouse migrations next to the bundle (./migrations), where the
# aggregator applies them at start.
FROM runtime AS window-aggregator
COPY --from=build /src/dist/apps/window-aggregator ./
ENV PORT=8082
EXPOSE 8082
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.OPS_PORT || process.env.PORT) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--enable-source-maps", "main.js"]
