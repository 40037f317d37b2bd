# syntax=docker/dockerfile:1
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# npm run build: nest build, then the API bundled by esbuild (scripts/bundle-api.ts: main.js and
# its worker script with their source maps in dist/apps/api/apps/api/src, and admin.js, the
# operator's commands: `docker compose exec api node dist/apps/api/apps/api/src/admin.js
# keys:reseal`, README "Working on it"), then the console.
# After the prune (which rewrites node_modules/.package-lock.json), the package resolutions of
# one boot of the pruned tree are recorded next to main.js (scripts/support/record-resolutions.js:
# filed under that lockfile's content, so a container's first boot searches for no package;
# the one the build made before the prune is not this tree's and would not be used).
RUN npm run build && npm prune --omit=dev && node scripts/support/record-resolutions.js

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The data and witness volumes' mount points, owned by the runtime user: a fresh named volume
# is created from its mount point (ownership included), so the vault, the SQLite file and the
# witness file (docker-compose.yml: TLOG_WITNESS_FILE on a volume of its own) are writable
# without root.
RUN mkdir -p /data/uploads && chown -R node:node /data
RUN mkdir -p /witness && chown node:node /witness
ENV DATA_DIR=/data
USER node
EXPOSE 3000
CMD ["node", "dist/apps/api/apps/api/src/main.js"]
