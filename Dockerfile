# fatturad container image (docs/install.md).
#
#   docker build -t fatturad .
#   docker run -d --name fatturad --stop-timeout 30 \
#     -v fatturad-data:/var/lib/fatturad -v /srv/fatturad/etc:/etc/fatturad:ro \
#     -p 127.0.0.1:9470:9470 fatturad
#
# Both stages use the same base image, so better-sqlite3's native module is built for the very
# Node.js it runs on. The tag pins Node 20.20 on Debian 12; in production pin the digest too
# (node:20.20-bookworm-slim@sha256:...) and rebuild to take security updates.
ARG NODE_IMAGE=node:20.20-bookworm-slim

# ---------------------------------------------------------------------------------------------
# Stage 1: install, compile, drop the development dependencies.
FROM ${NODE_IMAGE} AS build
# The tools node-gyp needs to compile better-sqlite3.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# Exactly the locked versions. better-sqlite3 is compiled from the sources in its npm package,
# against the Node.js headers that come with the image, instead of fetching a prebuilt binary:
# the build needs only the npm registry and Debian's mirrors.
RUN if [ -f /usr/local/include/node/common.gypi ]; then export npm_config_nodedir=/usr/local; fi \
 && npm_config_build_from_source=better-sqlite3 npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY config ./config
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && cd node_modules/better-sqlite3 \
 && rm -rf deps src build/deps build/Release/obj build/Release/obj.target build/Release/.deps \
      build/Release/test_extension.node build/Release/sqlite3.a

# ---------------------------------------------------------------------------------------------
# Stage 2: the runtime, without compilers, npm caches or sources.
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="fatturad" \
      org.opencontainers.image.description="On-premise daemon for Italian electronic invoicing (FatturaPA / SdI)"

# A dedicated user with a fixed uid/gid (10001, not the image's uid 1000, which is often a person
# on the host): bind-mounted folders must be writable by 10001:10001.
RUN groupadd --system --gid 10001 fatturad \
 && useradd --system --uid 10001 --gid fatturad --home-dir /var/lib/fatturad \
      --shell /usr/sbin/nologin fatturad \
 && install -d -o fatturad -g fatturad -m 0750 /var/lib/fatturad \
 && install -d -o root -g fatturad -m 0750 /etc/fatturad \
 && printf '%s\n' \
      '# Baseline configuration of the image. Mount your own /etc/fatturad (with a config.yaml)' \
      '# to replace it; FATTURAD_* variables override both (docs/configuration.md).' \
      'dataDir: /var/lib/fatturad' \
      'log:' \
      '  format: json' \
      'intake:' \
      '  folders:' \
      '    - path: /var/lib/fatturad/outbox' \
      'passive:' \
      '  importDir: /var/lib/fatturad/inbox' \
      > /etc/fatturad/config.yaml \
 && chown root:fatturad /etc/fatturad/config.yaml \
 && chmod 0640 /etc/fatturad/config.yaml

# The program is owned by root and read-only for fatturad.
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/config ./config

# Every fatturad command in the container (start, status, show, archive verify...) reads the
# same file. Missing, it is an invalid configuration (exit 3), not a silent fallback.
# dataDir is the volume whatever the file says. The health endpoint listens on every interface
# of the container so that "docker run -p" reaches it: publish it on the host's loopback only
# (-p 127.0.0.1:9470:9470); it has no authentication.
ENV NODE_ENV=production \
    FATTURAD_CONFIG=/etc/fatturad/config.yaml \
    FATTURAD_DATA_DIR=/var/lib/fatturad \
    FATTURAD_HTTP__HOST=0.0.0.0

# Relative paths in the configuration land in the data volume.
WORKDIR /var/lib/fatturad
USER 10001:10001
VOLUME ["/var/lib/fatturad", "/etc/fatturad"]
EXPOSE 9470

# No curl in slim images: Node's own fetch. Follows FATTURAD_HTTP__PORT when it is set.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.FATTURAD_HTTP__PORT||9470)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]

# SIGTERM is a clean stop that can take up to 20 s: run with --stop-timeout 30 (Docker's default
# is 10 s, then SIGKILL; nothing is lost, but the stop is not clean). fatturad starts no child
# processes, so node as PID 1 needs no init.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["start"]
