# vidgate: Debian bookworm + Node 20 (glibc: uWebSockets.js can crash on musl).
# The build stage compiles the production code only (tsconfig.build.json leaves
# out tests, test support and bench/); the final stage has production npm
# dependencies only (among them `deno`, the JavaScript runtime yt-dlp solves
# YouTube's challenges with) and a current yt-dlp from PyPI in a virtualenv.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim
# yt-dlp from PyPI, pinned (YouTube changes break every yt-dlp release within
# weeks: bump it, or set YTDLP_AUTO_UPDATE=stable|nightly). The extras bring
# yt-dlp-ejs (the challenge solver scripts Deno runs) and curl_cffi.
ARG YTDLP_VERSION=2026.11.23
# Optional: the PO-token provider plugin for a bgutil-ytdlp-pot-provider server
# (see scripts/compose.yaml, profile "pot"); build with
# --build-arg POT_PROVIDER_VERSION=<the server image's version>. Empty = not installed.
ARG POT_PROVIDER_VERSION=
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ffmpeg ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/yt-dlp \
 && /opt/yt-dlp/bin/python -m pip install --no-cache-dir --disable-pip-version-check "yt-dlp[default,curl-cffi]==${YTDLP_VERSION}" \
 && if [ -n "${POT_PROVIDER_VERSION}" ]; then /opt/yt-dlp/bin/python -m pip install --no-cache-dir --disable-pip-version-check "bgutil-ytdlp-pot-provider==${POT_PROVIDER_VERSION}"; fi \
 && chown -R node:node /opt/yt-dlp
# YTDLP_UPDATE_COMMAND upgrades the virtualenv in place (the node user owns it);
# vidgate runs it with /bin/sh -c and YTDLP_UPDATE_CHANNEL=stable|nightly
# (nightly: yt-dlp's pre-releases on PyPI).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    YTDLP_PATH=/opt/yt-dlp/bin/yt-dlp \
    YTDLP_CACHE_DIR=/data/cache/yt-dlp \
    YTDLP_UPDATE_COMMAND='/opt/yt-dlp/bin/python -m pip install --quiet --no-cache-dir --disable-pip-version-check --upgrade $([ "$YTDLP_UPDATE_CHANNEL" = nightly ] && echo --pre) "yt-dlp[default,curl-cffi]"' \
    DOWNLOAD_DIRECTORY=/data/downloads \
    COOKIES_DIRECTORY=/data/cookies
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data/downloads /data/cookies /data/cache/yt-dlp && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/main.js"]
