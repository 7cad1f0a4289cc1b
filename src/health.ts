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
  let cache: HealthReport['checks']['cache'] = { status: 'ok', backend: deps.redis === null ? 'memory' : 'redis', detail: null }
  let storage: HealthReport['checks']['storage'] = { status: 'ok', path: deps.storagePath, free_bytes: null, detail: null }

  async function refresh (): Promise<void> {
    const tasks: Array<Promise<void>> = []
    if (!ytdlpProbed) tasks.push(probeYtDlpVersion(deps.ytdlpPath).then((v) => { ytdlp = v; ytdlpProbed = true }))
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

  const timer = setInterval(() => { refresh().catch(() => {}) }, deps.refreshMs ?? 2000)
  timer.unref()

  function report (): HealthReport {
    const state = deps.cluster()
    const workers = { status: (state.alive >= state.expected ? 'ok' : 'degraded') as CheckStatus, alive: state.alive, expected: state.expected }
    const ytdlpCheck = { status: (ytdlp !== null || !ytdlpProbed ? 'ok' : 'failed') as CheckStatus, version: ytdlp, mode: deps.ytdlpMode, detail: ytdlp === null && ytdlpProbed ? `yt-dlp not runnable at ${deps.ytdlpPath}` : null }
    const checks = { cache, ytdlp: ytdlpCheck, storage, workers }
    const statuses = [cache.status, ytdlpCheck.status, storage.status, workers.status]
    const status = statuses.includes('failed') ? 'unhealthy' : statuses.includes('degraded') ? 'degraded' : 'healthy'
    return { status, timestamp: new Date().toISOString(), version: deps.version, uptime_seconds: (Date.now() - started) / 1000, checks }
  }

  return { report, ytdlpVersion: () => ytdlp, refresh, close: () => clearInterval(timer) }
}
