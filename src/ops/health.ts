// Health is computed off the request path: a timer refreshes a snapshot (Redis
// ping, free disk, what the yt-dlp in use offers, ffmpeg) and /health only stamps
// and serializes it.
import { execFile } from 'node:child_process'
import { statfs, mkdir } from 'node:fs/promises'
import { buildYtDlpCheck } from '../extract/ytdlp-status.ts'
import type { UpdateStatus } from '../extract/ytdlp-status.ts'
import type { HealthReport, CheckStatus } from '../schemas/system.ts'
import type { Redis } from '../redis.ts'
import type { ClusterState } from '../cluster/link.ts'
import type { YtDlpProbe } from '../../workers/protocol.ts'
import type { WarmState } from '../extract/pool.ts'
import { childEnv } from '../../workers/children.ts'

export interface HealthDeps {
  version: string
  redis: Redis | null
  cluster: () => ClusterState
  ytdlp: {
    path: string
    mode: 'warm' | 'spawn'
    maxAgeDays: number
    // runs the probe (the extraction pool's); null: yt-dlp could not be run
    probe: () => Promise<YtDlpProbe | null>
    warm: () => WarmState
    update?: () => UpdateStatus | null
  }
  // null: not found (the configured name is then in `ffmpegName`)
  ffmpegPath: string | null
  ffmpegName: string
  storagePath: string
  minFreeBytes?: number
  refreshMs?: number
  ytdlpRetryMs?: number
}

export interface HealthMonitor {
  report: () => HealthReport
  // the last probe of yt-dlp (null until one succeeded)
  ytdlp: () => YtDlpProbe | null
  ffmpegVersion: () => string | null
  // probe yt-dlp again on the next refresh (after a reload or an update)
  reprobe: () => void
  // a probe the caller just ran (a reload probes): taken as is instead of probing again
  adopt: (probe: YtDlpProbe) => void
  refresh: () => Promise<void>
  close: () => void
}

// "ffmpeg version 5.1.8-0+deb12u1 Copyright …" → "5.1.8-0+deb12u1"
export function probeFfmpegVersion (path: string, timeoutMs = 15000): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(path, ['-version'], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024, env: childEnv(process.env) }, (err, stdout) => {
      const m = /^ffmpeg version (\S{1,60})/.exec(String(stdout))
      resolve(err === null && m?.[1] !== undefined ? m[1] : null)
    })
  })
}

export function createHealthMonitor (deps: HealthDeps): HealthMonitor {
  const started = Date.now()
  const minFree = deps.minFreeBytes ?? 1024 ** 3
  let probe: YtDlpProbe | null | false = null
  let ytdlpNextProbe = 0
  let ffmpegVersion: string | null = null
  let running: Promise<void> | null = null
  let cache: HealthReport['checks']['cache'] = { status: 'ok', backend: deps.redis === null ? 'memory' : 'redis', detail: null }
  let storage: HealthReport['checks']['storage'] = { status: 'ok', path: deps.storagePath, free_bytes: null, detail: null }

  // A failed probe is retried (a busy start or a fixed install recovers);
  // overlapping refreshes share one run instead of piling up probes.
  async function refreshOnce (): Promise<void> {
    const tasks: Array<Promise<void>> = []
    if ((probe === null || probe === false) && Date.now() >= ytdlpNextProbe) {
      tasks.push(deps.ytdlp.probe().then((p) => {
        probe = p ?? false
        ytdlpNextProbe = Date.now() + (deps.ytdlpRetryMs ?? 30_000)
      }))
    }
    const ffmpegPath = deps.ffmpegPath
    if (ffmpegPath !== null && ffmpegVersion === null) tasks.push(probeFfmpegVersion(ffmpegPath).then((v) => { ffmpegVersion = v }))
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
    const warm = deps.ytdlp.warm()
    const ytdlpCheck = buildYtDlpCheck({
      path: deps.ytdlp.path,
      probe,
      mode: deps.ytdlp.mode,
      warmLive: warm.live,
      warmError: warm.error,
      maxAgeDays: deps.ytdlp.maxAgeDays,
      update: deps.ytdlp.update?.() ?? null,
      nowMs: Date.now()
    })
    const ffmpeg = deps.ffmpegPath === null
      ? { status: 'degraded' as CheckStatus, path: null, version: null, detail: `no ffmpeg (FFMPEG_PATH=${deps.ffmpegName}): merged streams, audio conversion and downloads answer 503 FFMPEG_MISSING; install ffmpeg or set FFMPEG_PATH` }
      : { status: 'ok' as CheckStatus, path: deps.ffmpegPath, version: ffmpegVersion, detail: null }
    const checks = { cache, ytdlp: ytdlpCheck, ffmpeg, storage, workers }
    // Only a check without which nothing can be served makes us unhealthy (503,
    // out of the load balancer): yt-dlp. Storage serves downloads only, ffmpeg
    // merges and conversions, and Redis and missing workers have fallbacks: those degrade.
    const others = [cache.status, ffmpeg.status, storage.status, workers.status]
    const status = ytdlpCheck.status === 'failed' ? 'unhealthy' : ytdlpCheck.status === 'degraded' || others.some((s) => s !== 'ok') ? 'degraded' : 'healthy'
    return { status, timestamp: new Date().toISOString(), version: deps.version, uptime_seconds: (Date.now() - started) / 1000, checks }
  }

  return {
    report,
    ytdlp: () => probe === false ? null : probe,
    ffmpegVersion: () => ffmpegVersion,
    reprobe: () => { probe = null; ytdlpNextProbe = 0 },
    adopt: (p) => { probe = p },
    refresh,
    close: () => clearInterval(timer)
  }
}
