// Health is computed off the request path: a timer refreshes a snapshot (Redis
// ping, free disk, yt-dlp presence) and /health only stamps and serializes it.
import { execFile } from 'node:child_process'
import { statfs, mkdir } from 'node:fs/promises'
import type { HealthReport, CheckStatus } from './schemas/system.ts'
import type { Redis } from './redis.ts'
import type { ClusterState } from './cluster-link.ts'

export interface HealthDeps {
  version: string
  redis: Redis | null
  cluster: () => ClusterState
  ytdlpPath: string
  ytdlpMode: string
  storagePath: string
  minFreeBytes?: number
  refreshMs?: number
  ytdlpRetryMs?: number
}

export interface HealthMonitor {
  report: () => HealthReport
  ytdlpVersion: () => string | null
  refresh: () => Promise<void>
  close: () => void
}

export function probeYtDlpVersion (path: string, timeoutMs = 15000): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(path, ['--version'], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4096 }, (err, stdout) => {
      const version = String(stdout).trim().split('\n')[0] ?? ''
      resolve(err === null && /^[\w.+-]{1,40}$/.test(version) ? version : null)
    })
  })
}

export function createHealthMonitor (deps: HealthDeps): HealthMonitor {
  const started = Date.now()
  const minFree = deps.minFreeBytes ?? 1024 ** 3
  let ytdlp: string | null = null
  let ytdlpProbed = false
  let ytdlpNextProbe = 0
  let running: Promise<void> | null = null
  let cache: HealthReport['checks']['cache'] = { status: 'ok', backend: deps.redis === null ? 'memory' : 'redis', detail: null }
  let storage: HealthReport['checks']['storage'] = { status: 'ok', path: deps.storagePath, free_bytes: null, detail: null }

  // A failed probe is retried (a busy start or a fixed install recovers);
  // overlapping refreshes share one run instead of piling up probes.
  async function refreshOnce (): Promise<void> {
    const tasks: Array<Promise<void>> = []
    if (ytdlp === null && Date.now() >= ytdlpNextProbe) {
      tasks.push(probeYtDlpVersion(deps.ytdlpPath).then((v) => {
        ytdlp = v
        ytdlpProbed = true
        ytdlpNextProbe = Date.now() + (deps.ytdlpRetryMs ?? 30_000)
      }))
    }
    const redis = deps.redis
    if (redis !== null) {
      tasks.push(redis.ping().then(
        () => { cache = { status: 'ok', backend: 'redis', detail: null } },
        (err: unknown) => { cache = { status: 'degraded', backend: 'redis', detail: `redis unreachable (${err instanceof Error ? err.message : 'error'}); serving from per-worker memory` } }
      ))
    }
    tasks.push((async () => {
      try {
        await mkdir(deps.storagePath, { recursive: true })
        const s = await statfs(deps.storagePath)
        const free = s.bavail * s.bsize
        storage = { status: free < minFree ? 'degraded' : 'ok', path: deps.storagePath, free_bytes: free, detail: free < minFree ? 'less than 1 GB free' : null }
      } catch (err) {
        storage = { status: 'failed', path: deps.storagePath, free_bytes: null, detail: err instanceof Error ? err.message : 'storage error' }
      }
    })())
    await Promise.all(tasks)
  }

  async function refresh (): Promise<void> {
    running ??= refreshOnce().finally(() => { running = null })
    await running
  }

  const timer = setInterval(() => { refresh().catch(() => {}) }, deps.refreshMs ?? 2000)
  timer.unref()

  function report (): HealthReport {
    const state = deps.cluster()
    const workers = { status: (state.alive >= state.expected ? 'ok' : 'degraded') as CheckStatus, alive: state.alive, expected: state.expected }
    const ytdlpCheck = { status: (ytdlp !== null || !ytdlpProbed ? 'ok' : 'failed') as CheckStatus, version: ytdlp, mode: deps.ytdlpMode, detail: ytdlp === null && ytdlpProbed ? `yt-dlp not runnable at ${deps.ytdlpPath}` : null }
    const checks = { cache, ytdlp: ytdlpCheck, storage, workers }
    // Only a check without which nothing can be served makes us unhealthy (503,
    // out of the load balancer): yt-dlp. Storage serves downloads only, and
    // Redis and missing workers have fallbacks: those degrade.
    const others = [cache.status, storage.status, workers.status]
    const status = ytdlpCheck.status === 'failed' ? 'unhealthy' : ytdlpCheck.status === 'degraded' || others.some((s) => s !== 'ok') ? 'degraded' : 'healthy'
    return { status, timestamp: new Date().toISOString(), version: deps.version, uptime_seconds: (Date.now() - started) / 1000, checks }
  }

  return { report, ytdlpVersion: () => ytdlp, refresh, close: () => clearInterval(timer) }
}
