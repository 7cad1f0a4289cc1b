// Assembles one HTTP process from its dependencies: the worker's composition
// root calls it, and in-process tests call it with port 0 and their own deps.
import { createRequire } from 'node:module'
import { createHttpServer } from './http/server.ts'
import { createPolicy } from './http/policy.ts'
import { systemRoutes } from './http/routes/system.ts'
import { docsRoutes } from './http/routes/docs.ts'
import { buildOpenApi } from './http/openapi.ts'
import { createAccess, parseKeysFile } from './guard/access.ts'
import { readFileSync } from 'node:fs'
import { createClientIpResolver } from './guard/client-ip.ts'
import { createRequestMetrics, aggregateMetrics } from './ops/metrics.ts'
import { watchLoopDelay } from './ops/loop-delay.ts'
import { createMemoryRateLimiter, createRedisRateLimiter } from './guard/rate-limit.ts'
import { createCookieStore } from './extract/cookies.ts'
import { createHealthMonitor } from './ops/health.ts'
import { createClusterLink } from './cluster/link.ts'
import { buildClusterStats } from './cluster/stats.ts'
import { videoRoutes, infoParts } from './http/routes/videos.ts'
import { authRoutes } from './http/routes/auth.ts'
import { createPlatformRegistry, PLATFORMS } from './platforms/index.ts'
import { createExtractionPool } from './extract/pool.ts'
import { createInfoCache, redisL2 } from './extract/cache.ts'
import { redisLocks, createSingleFlight } from './extract/single-flight.ts'
import { hostLocks, hostL2 } from './cluster/host-backends.ts'
import { createExtractor } from './extract/engine.ts'
import { itemInfo } from './media/items.ts'
import { createScrubber } from './extract/scrub.ts'
import { isMediaInfo, isPlaylistInfo } from './extract/media-guards.ts'
import { randomBytes } from 'node:crypto'
import { createLinkSigner } from './proxy/signer.ts'
import { createUpstream } from './proxy/upstream.ts'
import { proxyRoutes } from './http/routes/proxy.ts'
import { imageRoutes } from './http/routes/images.ts'
import { subtitleRoutes } from './http/routes/subtitles.ts'
import { createImageService, imageLinkKey } from './proxy/images.ts'
import { createSubtitleService } from './media/subtitles.ts'
import { createRemuxer } from './media/remux.ts'
import { remuxCacheOf } from './media/remux-cache.ts'
import { createStreamService, PLAYLIST_PATH, PROXY_PREFIX } from './media/service.ts'
import { createEgress } from './proxy/egress.ts'
import { compatRoutes } from './http/routes/compat.ts'
import { streamRoutes } from './http/routes/streams.ts'
import { downloadRoutes } from './http/routes/downloads.ts'
import { createPeekBase, createPublicBase } from './http/public-base.ts'
import { createDownloads } from './downloads/index.ts'
import { resolveExecutables } from './extract/executables.ts'
import { createYtDlpSettings, proxyFor, DOWNLOAD_FFMPEG_ARGS } from './extract/settings.ts'
import { ageDays, seenJsRuntime } from './extract/ytdlp-status.ts'
import { createLocalReload, RELOAD_TIMEOUT_MS, summarizeReload } from './extract/ytdlp-update.ts'
import type { Executables } from './extract/executables.ts'
// The composition root may hand a thread module's pure function to src/: the one yt-dlp error table.
import { classifyYtDlpError, settingsArgs } from '../workers/ytdlp/ytdlp.ts'
import { childEnv } from '../workers/children.ts'
import type { RateLimiter } from './guard/rate-limit.ts'
import type { Settings } from './config.ts'
import type { ExtractionPool } from './extract/pool.ts'
import type { Config } from './config.ts'
import type { Logger } from './log.ts'
import type { Redis } from './redis.ts'
import type { ClusterLink, CollectKind } from './cluster/link.ts'
import type { Route } from './http/route.ts'
import type { Target } from './platforms/index.ts'
import type { WorkerStats } from './schemas/system.ts'

export const PLATFORM_NAMES: readonly string[] = PLATFORMS.map((p) => p.name)

export interface AppDeps {
  config: Config
  log: Logger
  redis: Redis | null
  // tests may share one pool between apps or hand in their own
  pool?: ExtractionPool
  // resolved once per process (worker.ts); resolved here when not given
  executables?: Executables
}

export interface App {
  listen: (port?: number, host?: string) => Promise<number>
  close: () => Promise<void>
  link: ClusterLink
  routes: readonly Route[]
  pool: ExtractionPool
  // the start-up checks (yt-dlp's probe, ffmpeg, storage) are done; listen() does not wait for them
  checked: () => Promise<void>
}

const require = createRequire(import.meta.url)
function packageVersion (name: string): string {
  try {
    const pkg: unknown = require(`${name}/package.json`)
    return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch { return 'unknown' }
}

function parseJson<T> (bytes: Buffer, guard: (x: unknown) => x is T): T | null {
  try {
    const value: unknown = JSON.parse(bytes.toString())
    return guard(value) ? value : null
  } catch { return null }
}

function buildLimiter (config: Config, redis: Redis | null, limit: number, prefix: string): RateLimiter | undefined {
  if (!config.RATE_LIMIT_ENABLED) return undefined
  // Without Redis each worker enforces its share, so the cluster total stays within the limit.
  const memory = createMemoryRateLimiter({ limit, windowSec: config.RATE_LIMIT_WINDOW, divisor: config.WORKERS })
  if (redis === null) return memory
  return createRedisRateLimiter({ redis, limit, windowSec: config.RATE_LIMIT_WINDOW, prefix, fallback: memory })
}

function ttlSetting (config: Config, name: string | null): number {
  const key = name as keyof Settings | null
  const value = key !== null && Object.hasOwn(config, key) ? config[key] : undefined
  return typeof value === 'number' ? value : config.CACHE_TTL
}

export function createApp ({ config, log, redis, pool: givenPool, executables }: AppDeps): App {
  const tools = executables ?? resolveExecutables(config)
  // Not found: keep the configured name, so that every use fails with a clear message and health says why.
  const ytdlpPath = tools.ytdlp ?? (config.YTDLP_PATH === '' ? 'yt-dlp' : config.YTDLP_PATH)
  for (const problem of tools.problems) log.warn({ problem }, 'start-up check')
  // Every fetch yt-dlp and ffmpeg make leaves through this worker's egress proxy, held
  // to the byte proxy's address policy (public addresses, or GENERIC_HOSTS) and chained
  // to the operator's proxy; ffmpeg's remux inputs reach only this server's media links.
  const egress = createEgress({
    allow: config.GENERIC_HOSTS,
    proxyFor: (platform) => proxyFor(config, platform),
    platforms: [null, ...PLATFORM_NAMES],
    local: { target: () => listenPort === 0 ? null : `${selfHost.includes(':') ? `[${selfHost}]` : selfHost}:${listenPort}`, paths: [PROXY_PREFIX, PLAYLIST_PATH] },
    onRefused: (why) => log.info({ why }, 'the egress proxy refused a fetch')
  })
  const ytdlpSettings = createYtDlpSettings(config, tools, (platform) => egress.url(platform))
  // what yt-dlp and ffmpeg get of this process's environment: an allow-list, never its secrets
  const env = childEnv(process.env, config.CHILD_ENV_ALLOW)
  const warmErrorsLogged = new Set<string>()
  const own = require('../../package.json') as { name: string, version: string, description: string }
  const metrics = createRequestMetrics()
  const keyEntries = [...config.API_KEYS, ...(config.API_KEYS_FILE === '' ? [] : parseKeysFile(readFileSync(config.API_KEYS_FILE, 'utf8')))]
  const access = createAccess(keyEntries, config.REQUIRE_API_KEY)
  const cookies = createCookieStore(config.cookiesDirectory, PLATFORM_NAMES)
  const started = Date.now()

  const registry = createPlatformRegistry({ genericHosts: config.GENERIC_HOSTS, maxUrlLength: config.MAX_URL_LENGTH })
  const pool = givenPool ?? createExtractionPool({
    threads: config.EXTRACT_THREADS,
    concurrency: config.EXTRACT_CONCURRENCY,
    maxQueue: config.EXTRACT_QUEUE,
    perClient: config.EXTRACT_MAX_PER_CLIENT,
    scrub: createScrubber({ allow: config.GENERIC_HOSTS }),
    ytdlpPath,
    mode: config.YTDLP_MODE,
    timeoutMs: config.extractTimeoutMs,
    settings: ytdlpSettings,
    env,
    onWarmError: (reason) => {
      if (warmErrorsLogged.has(reason) || warmErrorsLogged.size >= 20) return
      warmErrorsLogged.add(reason)
      log.warn({ ytdlpPath, reason }, 'warm yt-dlp processes cannot start; extractions spawn yt-dlp instead')
    }
  })
  // exits of ready warm processes: each is replaced on demand (job limit, crash, timeout, reload)
  metrics.setWarmRestarts(() => pool.warm().exits)
  // The L2 and the single-flight locks: Redis's, else (REDIS_URL empty) the primary's for its
  // workers, over the link; in a single process (no primary) this process's alone.
  const link = createClusterLink(async (what) => await collectLocal(what))
  const l2 = redis !== null ? redisL2(redis) : link.shared === null ? null : hostL2(link.shared)
  const locks = redis !== null ? redisLocks(redis) : link.shared === null ? null : hostLocks(link.shared)
  const cacheOpts = { l2, l1MaxEntries: config.CACHE_L1_SIZE, l1TtlSec: config.CACHE_L1_TTL, encode: JSON.stringify }
  const infoCache = createInfoCache({ ...cacheOpts, decode: (bytes) => parseJson(bytes, isMediaInfo) })
  const playlistCache = createInfoCache({ ...cacheOpts, decode: (bytes) => parseJson(bytes, isPlaylistInfo) })
  metrics.watchCache('info', infoCache.stats)
  metrics.watchCache('playlist', playlistCache.stats)
  const flights = createSingleFlight({ locks, lockTtlMs: config.extractTimeoutMs + 5000, waitTimeoutMs: config.extractTimeoutMs + 5000 })
  const ttlByPlatform = new Map(registry.list.map((p) => [p.name, ttlSetting(config, p.cacheTtlEnv)]))
  const extractor = createExtractor({
    pool,
    cache: infoCache,
    playlists: playlistCache,
    flights,
    shared: l2,
    cookieFile: (platform) => cookies.fileFor(platform),
    ttlSec: (platform) => ttlByPlatform.get(platform) ?? config.CACHE_TTL,
    observe: metrics.extraction,
    infoParts
  })

  // Event-loop delay since the previous stats read (bench/ reads it around a load phase).
  const loopDelay = watchLoopDelay(config.EVENT_LOOP_RESOLUTION_MS)

  const localStats = (): WorkerStats => {
    const mem = process.memoryUsage()
    const totals = metrics.totals()
    return {
      pid: process.pid,
      requests: totals.requests,
      errors: totals.errors,
      cache_hits: infoCache.stats().hits,
      cache_misses: infoCache.stats().misses,
      extraction_queued: pool.stats().queued,
      extraction_active: pool.stats().active,
      extractions: pool.stats().completed,
      rss_bytes: mem.rss,
      heap_used_bytes: mem.heapUsed,
      uptime_seconds: (Date.now() - started) / 1000,
      event_loop_delay_max_ms: loopDelay.maxMs(),
      event_loop_delay_p99_ms: loopDelay.p99Ms()
    }
  }
  const collectLocal = async (what: CollectKind): Promise<unknown> => {
    if (what === 'ytdlp-reload') return await reloadHere()
    if (what === 'metrics') return await metrics.registry.getMetricsAsJSON()
    if (what === 'cache') return { keys: infoCache.keys(), hits: infoCache.stats().hits, misses: infoCache.stats().misses }
    const stats = localStats()
    loopDelay.reset()
    return stats
  }

  const health = createHealthMonitor({
    version: own.version,
    redis,
    cluster: link.state,
    ytdlp: {
      path: ytdlpPath,
      mode: config.YTDLP_MODE,
      maxAgeDays: config.YTDLP_MAX_AGE_DAYS,
      probe: pool.probe,
      warm: pool.warm,
      update: link.ytdlpUpdate
    },
    ffmpegPath: tools.ffmpeg,
    ffmpegName: config.FFMPEG_PATH,
    storagePath: config.DOWNLOAD_DIRECTORY
  })

  let startupChecks: Promise<void> = Promise.resolve()
  const reloadHere = createLocalReload({ pool, health, log })

  const clientIp = createClientIpResolver(config.TRUSTED_PROXIES, config.IPV6_PREFIX)
  const policy = createPolicy(config.policy, {
    log,
    metrics,
    access,
    clientIp,
    limiters: {
      default: buildLimiter(config, redis, config.RATE_LIMIT_MAX_REQUESTS, 'vg:rl:d:'),
      extract: buildLimiter(config, redis, config.RATE_LIMIT_EXTRACT_MAX_REQUESTS, 'vg:rl:x:')
    }
  })

  const versionInfo = {
    name: own.name,
    version: own.version,
    node: process.version,
    hyper_express: packageVersion('hyper-express'),
    uws: packageVersion('uWebSockets.js')
  }

  // Without a configured secret (tests, a single process) links are signed with a per-process key.
  const signingSecret = config.PROXY_SIGNING_SECRET !== '' ? config.PROXY_SIGNING_SECRET : randomBytes(32).toString('hex')
  const signer = createLinkSigner(signingSecret)
  const upstream = createUpstream({ proxyFor: (platform) => proxyFor(config, platform) })
  let listenPort = 0
  const selfHost = config.HOST === '0.0.0.0' || config.HOST === '::' || config.HOST === '' ? '127.0.0.1' : config.HOST
  const streams = createStreamService({
    extractor,
    registry,
    signer,
    upstream,
    allowHosts: config.GENERIC_HOSTS,
    pool,
    remuxer: createRemuxer({ ffmpegPath: tools.ffmpeg, maxConcurrent: config.REMUX_MAX_CONCURRENT, httpProxy: () => egress.localUrl(), env, cache: remuxCacheOf(config) }),
    linkTtlSec: config.PROXY_LINK_TTL,
    cacheMaxAgeSec: config.CACHE_MAX_AGE,
    selfBase: () => `http://${selfHost.includes(':') ? `[${selfHost}]` : selfHost}:${listenPort}`,
    proxyBytes: metrics.proxyBytes
  })
  const publicBase = createPublicBase({ publicUrl: config.PUBLIC_URL, isTrusted: clientIp.isTrusted, fallback: () => `http://127.0.0.1:${listenPort}` })
  // thumbnails and posters through signed image links, fetched with the platform's media headers (BiliBili's Referer)
  const images = createImageService({ signer: createLinkSigner(imageLinkKey(signingSecret)), upstream, allowHosts: config.GENERIC_HOSTS, linkTtlSec: config.PROXY_LINK_TTL })
  const imageOf = (target: Target, url: string): string => images.link({ platform: target.platform.name, id: target.id, headers: target.platform.mediaHeaders }, url)
  const subtitles = createSubtitleService({ extractor, upstream, pool, allowHosts: config.GENERIC_HOSTS })

  const downloads = createDownloads({
    config,
    log,
    redis,
    registry,
    classify: classifyYtDlpError,
    cookiesFor: (platform) => cookies.fileFor(platform),
    // jsRuntimesOption comes from the probe: a yt-dlp that predates --js-runtimes would refuse it
    // and ffmpeg under yt-dlp takes http(s) through the egress only
    settingsArgs: (platform) => [...settingsArgs({ ...ytdlpSettings(platform), jsRuntimesOption: pool.lastProbe()?.jsRuntimesOption === true }), ...DOWNLOAD_FFMPEG_ARGS],
    // item=N: the post must have that item, and it must be a video (else 404 / 422 before anything is queued)
    checkItem: async (target, item) => { itemInfo((await extractor.info(target)).info, item) },
    options: {
      ytdlpPath,
      ffmpegPath: tools.ffmpeg,
      env,
      ffmpegRequired: true,
      downloadTimeoutMs: config.downloadTimeoutMs,
      stallTimeoutMs: config.downloadStallTimeoutMs,
      batchMax: config.BATCH_DOWNLOAD_MAX
    }
  })

  const routes: Route[] = []
  routes.push(...systemRoutes({
    name: own.name,
    version: own.version,
    description: own.description,
    platforms: () => PLATFORM_NAMES,
    health: health.report,
    clusterState: link.state,
    versionInfo: () => {
      const probe = health.ytdlp()
      return {
        ...versionInfo,
        ytdlp: probe?.version ?? null,
        ytdlp_age_days: probe === null ? null : ageDays(probe.version, Date.now()),
        js_runtime: probe === null ? null : seenJsRuntime(probe),
        yt_dlp_ejs: probe?.ejs ?? false,
        curl_cffi: probe?.curlCffi ?? false,
        ffmpeg: health.ffmpegVersion()
      }
    },
    stats: async () => buildClusterStats(await link.collect('stats'), link.state(), redis === null ? 'memory' : 'redis'),
    metrics: async () => await aggregateMetrics(await link.collect('metrics')),
    cookies,
    apiKeysRequired: access.required,
    adminRequiresKey: access.keysConfigured,
    reloadYtDlp: async () => summarizeReload(await link.gather('ytdlp-reload', RELOAD_TIMEOUT_MS), RELOAD_TIMEOUT_MS)
  }))
  routes.push(...videoRoutes({ registry, extractor, batchMax: config.BATCH_MAX, images: { base: publicBase, peekBase: createPeekBase(config.PUBLIC_URL), link: imageOf } }))
  routes.push(...subtitleRoutes({ registry, subtitles, publicBase }))
  routes.push(...imageRoutes({ images }))
  routes.push(...authRoutes({ cookies, platforms: PLATFORM_NAMES }))
  routes.push(...downloadRoutes(downloads))
  routes.push(...streamRoutes({ registry, streams, extractor, publicBase, batchMax: config.BATCH_MAX, image: imageOf }))
  routes.push(...compatRoutes({ registry, extractor, streams, publicBase, image: imageOf, health: health.report, version: own.version, cacheState: async () => await link.collect('cache') }))
  routes.push(...proxyRoutes({ signer, upstream, allowHosts: config.GENERIC_HOSTS, resolveRef: async (ref, _signal, client) => await streams.resolveRef(ref, client), proxyBytes: metrics.proxyBytes }))
  routes.push(...docsRoutes(() => JSON.stringify(buildOpenApi(routes, { title: own.name, version: own.version, description: own.description }))))

  const server = createHttpServer({ routes, policy })

  return {
    link,
    routes,
    pool,
    checked: async () => { await startupChecks },
    async listen (port = config.PORT, host = config.HOST) {
      // before any yt-dlp runs: its settings carry the egress's address. Children inherit
      // this environment, and ffmpeg would go around the egress for the hosts in no_proxy.
      delete process.env.no_proxy
      delete process.env.NO_PROXY
      await egress.start()
      pool.prewarm().catch(() => {})
      // Probing yt-dlp starts a Python process (seconds on a busy host): health says
      // "starting" until it answers rather than holding the port back.
      startupChecks = health.refresh().catch(() => {})
      await cookies.refresh()
      listenPort = await server.listen(port, host)
      await downloads.start()
      return listenPort
    },
    async close () {
      await server.shutdown(config.shutdownTimeoutMs)
      await downloads.close()
      loopDelay.stop()
      health.close()
      cookies.close()
      link.close()
      await flights.close()
      await upstream.close()
      if (givenPool === undefined) await pool.close()
      await egress.close()
    }
  }
}
