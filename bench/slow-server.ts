// A deliberately slow vidgate for bench/gate.test.ts: the real route table from
// createApp, served by a second HTTP server (same pipeline and server modules)
// whose routes busy-wait BENCH_SLOW_US µs before the real handler. createApp
// registers its routes when it is built and offers no wrapper hook, so the
// routes are re-served rather than patched. Single process; takes the same
// --port/--host flags as the cluster and logs "ready" the same way.
import { loadConfig } from '../src/config.ts'
import { createLogger } from '../src/log.ts'
import { createApp } from '../src/app.ts'
import { createHttpServer } from '../src/http/server.ts'
import { createPipeline } from '../src/http/pipeline.ts'
import { createRequestMetrics } from '../src/metrics.ts'
import { createAccess } from '../src/access.ts'
import { createClientIpResolver } from '../src/client-ip.ts'
import { createMemoryRateLimiter } from '../src/rate-limit.ts'
import { fileURLToPath } from 'node:url'
import type { Route } from '../src/http/route.ts'

export function busyWait (us: number): void {
  const until = performance.now() + us / 1000
  while (performance.now() < until) { /* spin: the regression being simulated is CPU */ }
}

export function slowRoute (route: Route, busyUs: number): Route {
  const fast = route.fast
  return {
    ...route,
    handle: (req, res, ctx) => { busyWait(busyUs); return route.handle(req, res, ctx) },
    ...(fast === undefined ? {} : { fast: () => { busyWait(busyUs); return fast() } })
  }
}

async function main (): Promise<void> {
  const busyUs = Number(process.env.BENCH_SLOW_US ?? '0')
  if (!(busyUs >= 0)) throw new Error('BENCH_SLOW_US must be a number of microseconds ≥ 0')
  const config = loadConfig(process.env, process.argv.slice(2))
  const log = createLogger(config.LOG_LEVEL, { role: 'slow-server', busyUs })
  const app = createApp({ config, log, redis: null })
  const limiter = (limit: number): ReturnType<typeof createMemoryRateLimiter> | undefined =>
    config.RATE_LIMIT_ENABLED ? createMemoryRateLimiter({ limit, windowSec: config.RATE_LIMIT_WINDOW }) : undefined
  const pipeline = createPipeline({
    log,
    metrics: createRequestMetrics(),
    access: createAccess(config.API_KEYS, config.REQUIRE_API_KEY),
    clientIp: createClientIpResolver(config.TRUSTED_PROXIES),
    limiters: { default: limiter(config.RATE_LIMIT_MAX_REQUESTS), extract: limiter(config.RATE_LIMIT_EXTRACT_MAX_REQUESTS) },
    corsOrigins: config.CORS_ORIGINS,
    corsCredentials: config.CORS_ALLOW_CREDENTIALS,
    maxUrlLength: config.MAX_URL_LENGTH,
    maxBodyBytes: config.MAX_REQUEST_BODY_SIZE,
    slowRequestMs: config.SLOW_REQUEST_MS,
    accessLog: config.ACCESS_LOG
  })
  const server = createHttpServer({ routes: app.routes.map((r) => slowRoute(r, busyUs)), pipeline, maxBodyBytes: config.MAX_REQUEST_BODY_SIZE })
  const stop = (): void => {
    server.shutdown(2000).then(async () => await app.close()).then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  const port = await server.listen(config.PORT, config.HOST)
  log.info({ port }, 'ready')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => { process.stderr.write(`slow-server failed: ${String(err)}\n`); process.exit(1) })
}
