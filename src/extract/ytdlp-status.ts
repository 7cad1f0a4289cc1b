// What health and /api/v2/system/version say about the yt-dlp in use, from its probe
// (workers/ytdlp/ytdlp-task.ts runYtDlpProbe), the warm processes' counters and the last update.
// Pure: the caller hands in the readings and the time.
import type { YtDlpProbe } from '../../workers/protocol.ts'
import type { CheckStatus, YtDlpCheck } from '../schemas/system.ts'

export interface UpdateStatus { ok: boolean, atMs: number, detail: string }

export interface YtDlpReadings {
  path: string
  // null: the probe did not run yet; false: yt-dlp could not be run
  probe: YtDlpProbe | null | false
  mode: 'warm' | 'spawn'
  warmLive: number
  warmError: string | null
  maxAgeDays: number
  update: UpdateStatus | null
  nowMs: number
}

const DAY_MS = 86_400_000

// yt-dlp versions are release dates: 2026.11.23, nightlies 2026.11.23.234512 (or .dev…).
export function releaseDateMs (version: string): number | null {
  const m = /^(\d{4})\.(\d{1,2})\.(\d{1,2})(?:\D|$)/.exec(version)
  if (m === null) return null
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
  return Number.isFinite(ms) ? ms : null
}

export function ageDays (version: string, nowMs: number): number | null {
  const released = releaseDateMs(version)
  return released === null ? null : Math.max(0, Math.floor((nowMs - released) / DAY_MS))
}

// The runtime yt-dlp would use: the first one it found and supports.
export function seenJsRuntime (probe: YtDlpProbe): { name: string, version: string | null, path: string | null } | null {
  const runtime = probe.jsRuntimes.find((r) => r.supported && r.version !== null)
  return runtime === undefined ? null : { name: runtime.name, version: runtime.version, path: runtime.path }
}

export function buildYtDlpCheck (r: YtDlpReadings): YtDlpCheck {
  const warmBroken = r.mode === 'warm' && r.warmLive === 0 && r.warmError !== null
  const mode = r.mode === 'warm' && !warmBroken ? 'warm' : 'spawn'
  if (r.probe === null) return { status: 'ok', version: null, age_days: null, mode, warm_processes: r.warmLive, js_runtime: null, detail: 'starting' }
  if (r.probe === false) {
    return { status: 'failed', version: null, age_days: null, mode, warm_processes: r.warmLive, js_runtime: null, detail: `yt-dlp not runnable at ${r.path}` }
  }
  const probe = r.probe
  const age = ageDays(probe.version, r.nowMs)
  const runtime = seenJsRuntime(probe)
  const problems: string[] = []
  if (age !== null && age > r.maxAgeDays) {
    problems.push(`yt-dlp ${probe.version} is ${age} days old (YTDLP_MAX_AGE_DAYS=${r.maxAgeDays}); sites change faster than that: update it (YTDLP_AUTO_UPDATE=stable, or upgrade it and POST /api/v2/system/ytdlp/reload)`)
  }
  // A yt-dlp that is not Python (a single binary) cannot be asked which runtime it sees.
  if (runtime === null && probe.python) {
    problems.push(probe.jsRuntimesOption || probe.jsRuntimes.length > 0
      ? 'yt-dlp sees no JavaScript runtime: YouTube formats will be missing; install Deno >= 2.3 (npm ci does) or Node >= 22, or set YTDLP_JS_RUNTIME'
      : 'this yt-dlp cannot use a JavaScript runtime, which YouTube needs: update yt-dlp')
  }
  if (warmBroken) problems.push(`warm yt-dlp processes cannot start, every extraction pays yt-dlp's start-up: ${r.warmError ?? ''}`)
  if (r.update !== null && !r.update.ok) problems.push(`the last yt-dlp update failed (${new Date(r.update.atMs).toISOString()}), still running ${probe.version}: ${r.update.detail}`)
  const status: CheckStatus = problems.length > 0 ? 'degraded' : 'ok'
  return {
    status,
    version: probe.version,
    age_days: age,
    mode,
    warm_processes: r.warmLive,
    js_runtime: runtime === null ? null : `${runtime.name} ${runtime.version ?? ''}`.trim(),
    detail: problems.length > 0 ? problems.join('; ') : null
  }
}
