// Assembles one HTTP process from its dependencies: the worker's composition
// root calls it, and in-process tests call it with port 0 and their own deps.
import { createRequire } from 'node:module'
import { createHttpServer } from './http/server.ts'
import { createPipeline } from './http/pipeline.ts'
import { systemRoutes } from './http/routes/system.ts'
import { docsRoutes } from './http/routes/docs.ts'
import { buildOpenApi } from './openapi.ts'
import { createAccess } from './access.ts'
import { createClientIpResolver } from './client-ip.ts'
import { createRequestMetrics, aggregateMetrics } from './metrics.ts'
import { createMemoryRateLimiter, createRedisRateLimiter } from './rate-limit.ts'
import { createCookieStore } from './cookies.ts'
import { createHealthMonitor } from './health.ts'
import { createClusterLink } from './cluster-link.ts'
import { buildClusterStats } from './stats.ts'
import type { RateLimiter } from './rate-limit.ts'
import type { Config } from './config.ts'
import type { Logger } from './log.ts'
import type { Redis } from './redis.ts'
import type { ClusterLink, CollectKind } from './cluster-link.ts'
import type { Route } from './http/route.ts'
import type { WorkerStats } from './schemas/system.ts'

export const PLATFORM_NAMES = ['youtube', 'bilibili', 'twitter', 'instagram', 'twitch'] as const

export interface AppDeps {
  config: Config
  log: Logger
  redis: Redis | null
}

export interface App {
  listen: (port?: number, host?: string) => Promise<number>
  close: () => Promise<void>
  link: ClusterLink
  routes: readonly Route[]
}

const require = createRequire(import.meta.url)
function packageVersion (name: string): string {
  try {
    const pkg: unknown = require(`${name}/package.json`)
    return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch { return 'unknown' }
}

function buildLimiter (config: Config, redis: Redis | null, limit: number, prefix: string): RateLimiter | undefined {
  if (!config.RATE_LIMIT_ENABLED) return undefined
  // Without Redis each worker enforces its share, so the cluster total stays within the limit.
  const share = Math.max(1, Math.floor(limit / config.WORKERS))
  const memory = createMemoryRateLimiter({ limit: share, windowSec: config.RATE_LIMIT_WINDOW })
  if (redis === null) return memory
  return createRedisRateLimiter({ redis, limit, windowSec: config.RATE_LIMIT_WINDOW, prefix, fallback: memory })
}

export function createApp ({ config, log, redis }: AppDeps): App {
  const own = require('../../package.json') as { name: string, version: string, description: string }
  const metrics = createRequestMetrics()
  const access = createAccess(config.API_KEYS, config.REQUIRE_API_KEY)
  const cookies = createCookieStore(config.cookiesDirectory, PLATFORM_NAMES)
  const started = Date.now()

  const localStats = (): WorkerStats => {
    const mem = process.memoryUsage()
    const totals = metrics.totals()
    return {
      pid: process.pid,
      requests: totals.requests,
      errors: totals.errors,
      cache_hits: 0,
      cache_misses: 0,
      extraction_queued: 0,
      extraction_active: 0,
      extractions: 0,
      rss_bytes: mem.rss,
      heap_used_bytes: mem.heapUsed,
      uptime_seconds: (Date.now() - started) / 1000
    }
  }
  const collectLocal = async (what: CollectKind): Promise<unknown> => what === 'metrics' ? await metrics.registry.getMetricsAsJSON() : localStats()
  const link = createClusterLink(collectLocal)

  const health = createHealthMonitor({
    version: own.version,
    redis,
    cluster: link.state,
    ytdlpPath: config.YTDLP_PATH,
    ytdlpMode: config.YTDLP_MODE,
    storagePath: config.DOWNLOAD_DIRECTORY
  })

  const pipeline = createPipeline({
    log,
    metrics,
    access,
    clientIp: createClientIpResolver(config.TRUSTED_PROXIES),
    limiters: { default: buildLimiter(config, redis, config.RATE_LIMIT_MAX_REQUESTS, 'vg:rl:d:') },
    corsOrigins: config.CORS_ORIGINS,
    corsCredentials: config.CORS_ALLOW_CREDENTIALS,
    maxUrlLength: config.MAX_URL_LENGTH,
    maxBodyBytes: config.MAX_REQUEST_BODY_SIZE,
    slowRequestMs: config.SLOW_REQUEST_MS,
    accessLog: config.ACCESS_LOG
  })

  const versionInfo = {
    name: own.name,
    version: own.version,
    node: process.version,
    hyper_express: packageVersion('hyper-express'),
    uws: packageVersion('uWebSockets.js')
  }

  const routes: Route[] = []
  routes.push(...systemRoutes({
    name: own.name,
    version: own.version,
    description: own.description,
    platforms: () => PLATFORM_NAMES,
    health: health.report,
    versionInfo: () => ({ ...versionInfo, ytdlp: health.ytdlpVersion() }),
    stats: async () => buildClusterStats(await link.collect('stats'), link.state(), redis === null ? 'memory' : 'redis'),
    metrics: async () => await aggregateMetrics(await link.collect('metrics')),
    cookies,
    apiKeysRequired: access.required,
    adminRequiresKey: access.keysConfigured
  }))
  routes.push(...docsRoutes(() => JSON.stringify(buildOpenApi(routes, { title: own.name, version: own.version, description: own.description }))))

  const server = createHttpServer({ routes, pipeline, maxBodyBytes: config.MAX_REQUEST_BODY_SIZE })

  return {
    link,
    routes,
    async listen (port = config.PORT, host = config.HOST) {
      await Promise.all([health.refresh(), cookies.refresh()])
      return await server.listen(port, host)
    },
    async close () {
      await server.shutdown(config.SHUTDOWN_TIMEOUT * 1000)
      health.close()
      cookies.close()
      link.close()
    }
  }
}
