import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHealthMonitor } from './health.ts'
import type { HealthDeps } from './health.ts'
import type { YtDlpProbe } from '../../workers/protocol.ts'
import type { WarmState } from '../extract/pool.ts'
import { findExecutable } from '../testing/helpers.ts'

const TODAY = new Date().toISOString().slice(0, 10).replaceAll('-', '.')
const FFMPEG = findExecutable('ffmpeg')

// What a current yt-dlp with Deno answers (workers/ytdlp/ytdlp-task.ts runYtDlpProbe; a real one in shipped-defaults tests).
function probeOf (over: Partial<YtDlpProbe> = {}): YtDlpProbe {
  return {
    version: TODAY,
    python: true,
    jsRuntimesOption: true,
    jsRuntimes: [{ name: 'deno', version: '2.9.6', path: '/x/deno', supported: true }],
    ejs: true,
    curlCffi: false,
    warm: true,
    ...over
  }
}

interface Setup { dir: string, deps: HealthDeps, probes: () => number, answer: (p: YtDlpProbe | null) => void, warm: WarmState }

function setup (t: { after: (fn: () => void) => void }, over: Partial<HealthDeps> = {}): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-health-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  let answer: YtDlpProbe | null = probeOf()
  let probes = 0
  const warm: WarmState = { live: 2, ready: 2, exits: 0, startFailures: 0, error: null }
  const deps: HealthDeps = {
    version: '1.2.3',
    redis: null,
    cluster: () => ({ alive: 2, expected: 2, restarts: 0 }),
    ytdlp: {
      path: '/opt/yt-dlp',
      mode: 'warm',
      maxAgeDays: 90,
      probe: async () => { probes++; await new Promise((resolve) => setTimeout(resolve, 20)); return answer },
      warm: () => warm
    },
    ffmpegPath: FFMPEG,
    ffmpegName: 'ffmpeg',
    storagePath: join(dir, 'downloads'),
    minFreeBytes: 0,
    refreshMs: 60_000,
    ytdlpRetryMs: 0,
    ...over
  }
  return { dir, deps, probes: () => probes, answer: (p) => { answer = p }, warm }
}

test('healthy when every check passes; the yt-dlp check says what the probe found', async (t) => {
  const { deps } = setup(t)
  const h = createHealthMonitor(deps)
  t.after(h.close)
  await h.refresh()
  const r = h.report()
  assert.equal(r.status, 'healthy')
  assert.equal(r.version, '1.2.3')
  assert.deepEqual(r.checks.ytdlp, { status: 'ok', version: TODAY, age_days: 0, mode: 'warm', warm_processes: 2, js_runtime: 'deno 2.9.6', detail: null })
  assert.equal(h.ytdlp()?.version, TODAY)
  assert.equal(r.checks.ffmpeg.status, 'ok')
  assert.match(r.checks.ffmpeg.version ?? '', /^\d/)
  assert.equal(r.checks.storage.status, 'ok')
  assert.deepEqual(r.checks.workers, { status: 'ok', alive: 2, expected: 2 })
})

test('a yt-dlp that cannot run is unhealthy, and a later install recovers without a restart', async (t) => {
  const s = setup(t)
  s.answer(null)
  const h = createHealthMonitor(s.deps)
  t.after(h.close)
  await h.refresh()
  assert.equal(h.report().status, 'unhealthy')
  assert.equal(h.report().checks.ytdlp.status, 'failed')
  assert.match(h.report().checks.ytdlp.detail ?? '', /not runnable at \/opt\/yt-dlp/)
  s.answer(probeOf())
  await h.refresh()
  assert.equal(h.report().status, 'healthy')
  assert.equal(h.report().checks.ytdlp.version, TODAY)
})

test('overlapping refreshes share one probe, and reprobe asks again', async (t) => {
  const s = setup(t)
  const h = createHealthMonitor(s.deps)
  t.after(h.close)
  await Promise.all([h.refresh(), h.refresh(), h.refresh()])
  assert.equal(s.probes(), 1)
  await h.refresh()
  assert.equal(s.probes(), 1, 'a successful probe is kept')
  s.answer(probeOf({ version: '2026.12.01' }))
  h.reprobe()
  await h.refresh()
  assert.equal(s.probes(), 2)
  assert.equal(h.ytdlp()?.version, '2026.12.01')
})

test('a stale yt-dlp (Debian 12\'s 2023.03.04) is degraded with a detail saying what to do, HTTP-wise still serving', async (t) => {
  const s = setup(t)
  s.answer(probeOf({ version: '2023.03.04', jsRuntimesOption: false, jsRuntimes: [], ejs: false }))
  const h = createHealthMonitor(s.deps)
  t.after(h.close)
  await h.refresh()
  const r = h.report()
  assert.equal(r.status, 'degraded')
  assert.equal(r.checks.ytdlp.status, 'degraded')
  assert.ok((r.checks.ytdlp.age_days ?? 0) > 1000)
  assert.match(r.checks.ytdlp.detail ?? '', /days old \(YTDLP_MAX_AGE_DAYS=90\).*YTDLP_AUTO_UPDATE/)
  assert.match(r.checks.ytdlp.detail ?? '', /cannot use a JavaScript runtime/)
})

test('no JavaScript runtime seen by a current yt-dlp is degraded', async (t) => {
  const s = setup(t)
  s.answer(probeOf({ jsRuntimes: [{ name: 'deno', version: null, path: null, supported: false }] }))
  const h = createHealthMonitor(s.deps)
  t.after(h.close)
  await h.refresh()
  assert.equal(h.report().checks.ytdlp.status, 'degraded')
  assert.equal(h.report().checks.ytdlp.js_runtime, null)
  assert.match(h.report().checks.ytdlp.detail ?? '', /no JavaScript runtime.*YTDLP_JS_RUNTIME/)
})

test('warm processes that cannot start: the mode in effect is spawn, and the reason is in the detail', async (t) => {
  const s = setup(t)
  s.warm.live = 0
  s.warm.ready = 0
  s.warm.error = 'cannot import yt_dlp: ModuleNotFoundError'
  const h = createHealthMonitor(s.deps)
  t.after(h.close)
  await h.refresh()
  const c = h.report().checks.ytdlp
  assert.equal(c.mode, 'spawn')
  assert.equal(c.warm_processes, 0)
  assert.equal(c.status, 'degraded')
  assert.match(c.detail ?? '', /cannot import yt_dlp/)
})

test('a failed update keeps serving and says so', async (t) => {
  const s = setup(t)
  s.deps.ytdlp.update = () => ({ ok: false, atMs: Date.now(), detail: 'pip: no network' })
  const h = createHealthMonitor(s.deps)
  t.after(h.close)
  await h.refresh()
  assert.equal(h.report().checks.ytdlp.status, 'degraded')
  assert.match(h.report().checks.ytdlp.detail ?? '', /last yt-dlp update failed.*pip: no network/)
})

test('a missing ffmpeg is degraded with a detail, never unhealthy', async (t) => {
  const { deps } = setup(t, { ffmpegPath: null, ffmpegName: 'ffmpeg-not-here' })
  const h = createHealthMonitor(deps)
  t.after(h.close)
  await h.refresh()
  const r = h.report()
  assert.equal(r.status, 'degraded')
  assert.deepEqual(r.checks.ffmpeg, { status: 'degraded', path: null, version: null, detail: r.checks.ffmpeg.detail })
  assert.match(r.checks.ffmpeg.detail ?? '', /FFMPEG_PATH=ffmpeg-not-here.*FFMPEG_MISSING/)
})

test('storage, Redis-less cache and missing workers degrade but never make it unhealthy', async (t) => {
  const { dir, deps } = setup(t, { cluster: () => ({ alive: 1, expected: 2, restarts: 3 }) })
  // a regular file where a folder should be (ENOTDIR); note that Node 20's
  // recursive mkdir spins forever under /proc, so that is no place to try this
  writeFileSync(join(dir, 'file'), '')
  deps.storagePath = join(dir, 'file', 'downloads')
  const h = createHealthMonitor(deps)
  t.after(h.close)
  await h.refresh()
  const r = h.report()
  assert.equal(r.checks.storage.status, 'failed')
  assert.equal(r.checks.storage.free_bytes, null)
  assert.deepEqual(r.checks.workers, { status: 'degraded', alive: 1, expected: 2 })
  assert.equal(r.status, 'degraded')
})

test('low disk space is degraded', async (t) => {
  const { deps } = setup(t, { minFreeBytes: Number.MAX_SAFE_INTEGER })
  const h = createHealthMonitor(deps)
  t.after(h.close)
  await h.refresh()
  assert.equal(h.report().checks.storage.status, 'degraded')
  assert.equal(h.report().status, 'degraded')
})
