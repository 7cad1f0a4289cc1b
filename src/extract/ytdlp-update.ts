// Picking up a new yt-dlp without a restart.
// - Worker side: reloadHere() replaces this worker's warm processes (the pool
//   starts each successor and waits until it is ready before an old one retires),
//   then makes health probe the yt-dlp again. Reloads in one worker run one after
//   another, never interleaved.
// - Cluster side: summarizeReload() turns every worker's answer (gathered by the
//   primary, src/cluster/link.ts) into the answer of POST /api/v2/system/ytdlp/reload.
// - Primary side (YTDLP_AUTO_UPDATE): createYtDlpUpdater() runs the operator's
//   update command (never anything a client sent) shortly after start and then
//   every YTDLP_UPDATE_INTERVAL, as an async child process with a timeout; on
//   success it has every worker reload, and either way it publishes the outcome
//   (UpdateStatus), which the primary broadcasts and health reports.
import { spawn } from 'node:child_process'
import type { Logger } from '../log.ts'
import type { Gathered } from '../cluster/link.ts'
import type { ExtractionPool } from './pool.ts'
import type { HealthMonitor } from '../ops/health.ts'
import type { YtDlpReloadAnswer, YtDlpWorkerReload } from '../schemas/system.ts'
import type { UpdateStatus } from './ytdlp-status.ts'

// A reload starts EXTRACT_CONCURRENCY new processes one after another in each
// worker (a few seconds each on a busy host): the time the cluster waits for every worker.
export const RELOAD_TIMEOUT_MS = 120_000
// the update command (a pip upgrade, ensure.js's apt download) is killed after this
export const UPDATE_TIMEOUT_MS = 10 * 60_000
// the first automatic update runs this long after every worker is ready
export const FIRST_UPDATE_DELAY_MS = 5000
const OUTPUT_TAIL_CHARS = 4000
const DETAIL_TAIL_CHARS = 600
const MAX_TIMER_MS = 2 ** 31 - 1

// Concurrent calls share work: one reload runs at a time, and every call that arrives
// meanwhile shares the single one queued behind it (yt-dlp may have changed after the
// running one began), so a burst of reload requests costs at most two reloads.
export function createLocalReload (deps: { pool: Pick<ExtractionPool, 'reload' | 'lastProbe'>, health: Pick<HealthMonitor, 'reprobe' | 'refresh' | 'ytdlp' | 'adopt'>, log: Logger }): () => Promise<YtDlpWorkerReload> {
  let current: Promise<YtDlpWorkerReload> | null = null
  let next: Promise<YtDlpWorkerReload> | null = null
  async function once (): Promise<YtDlpWorkerReload> {
    let replaced = 0
    let failed: string | null
    try {
      const result = await deps.pool.reload()
      replaced = result.replaced
      failed = result.failed
    } catch (err) {
      failed = `the reload did not run: ${err instanceof Error ? err.message : String(err)}`
    }
    // the pool probed the yt-dlp after its reload: health takes that answer
    const probed = deps.pool.lastProbe()
    if (probed !== null) deps.health.adopt(probed)
    else {
      deps.health.reprobe()
      await deps.health.refresh().catch(() => {})
    }
    const version = deps.pool.lastProbe()?.version ?? deps.health.ytdlp()?.version ?? null
    if (failed === null) deps.log.info({ replaced, version }, 'yt-dlp reloaded: warm processes replaced')
    else deps.log.error({ replaced, failed, version }, 'yt-dlp reload failed: the old warm processes keep serving')
    return { pid: process.pid, replaced, failed, version }
  }
  const start = (): Promise<YtDlpWorkerReload> => {
    const run: Promise<YtDlpWorkerReload> = once().finally(() => { if (current === run) current = null })
    current = run
    return run
  }
  return async () => {
    if (current === null) return await start()
    next ??= current.catch(() => {}).then(() => { next = null; return start() })
    return await next
  }
}

export function isWorkerReload (x: unknown): x is YtDlpWorkerReload {
  if (typeof x !== 'object' || x === null) return false
  const r = x as Record<string, unknown>
  return typeof r.pid === 'number' && typeof r.replaced === 'number' &&
    (r.failed === null || typeof r.failed === 'string') && (r.version === null || typeof r.version === 'string')
}

// problems: empty when every worker reloaded
export function summarizeReload (gathered: Gathered, timeoutMs: number, now = new Date()): { answer: YtDlpReloadAnswer, problems: string[] } {
  const workers = gathered.results.filter(isWorkerReload)
  for (const pid of gathered.missing) workers.push({ pid, replaced: 0, failed: `no answer within ${Math.round(timeoutMs / 1000)} s`, version: null })
  workers.sort((a, b) => a.pid - b.pid)
  const problems = workers.filter((w) => w.failed !== null).map((w) => `worker ${w.pid}: ${w.failed ?? ''}`)
  if (!gathered.primaryAnswered) problems.push('the cluster primary did not answer')
  else if (workers.length === 0) problems.push('no live worker answered')
  const versions = new Set(workers.map((w) => w.version))
  const only = versions.size === 1 ? [...versions][0] : undefined
  return { answer: { version: only ?? null, workers, timestamp: now.toISOString() }, problems }
}

export interface UpdateCommand { file: string, args: string[], shown: string }

// configured: YTDLP_UPDATE_COMMAND (the operator's, run by /bin/sh); empty: the project's installer.
export function updateCommand (configured: string, ensureScript: string): UpdateCommand {
  return configured.trim() === ''
    ? { file: process.execPath, args: [ensureScript, 'ytdlp'], shown: `node ${ensureScript} ytdlp` }
    : { file: '/bin/sh', args: ['-c', configured], shown: 'YTDLP_UPDATE_COMMAND' }
}

export interface CommandResult { ok: boolean, code: number | null, signal: string | null, timedOut: boolean, error: string | null, output: string }

// Runs the command in its own process group (killed as a whole on timeout or abort); never throws.
export async function runUpdateCommand (cmd: UpdateCommand, opts: { env: NodeJS.ProcessEnv, timeoutMs: number, signal?: AbortSignal }): Promise<CommandResult> {
  return await new Promise((resolve) => {
    let output = ''
    let timedOut = false
    let settled = false
    const keep = (chunk: Buffer): void => { output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS) }
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(cmd.file, cmd.args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    } catch (err) {
      resolve({ ok: false, code: null, signal: null, timedOut: false, error: err instanceof Error ? err.message : String(err), output: '' })
      return
    }
    const killGroup = (): void => {
      const pid = child.pid
      if (pid === undefined) return
      try { process.kill(-pid, 'SIGKILL') } catch { child.kill('SIGKILL') }
    }
    const timer = setTimeout(() => { timedOut = true; killGroup() }, opts.timeoutMs)
    const onAbort = (): void => killGroup()
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    const finish = (result: CommandResult): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      resolve(result)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    child.once('error', (err) => finish({ ok: false, code: null, signal: null, timedOut, error: err.message, output }))
    child.once('close', (code, signal) => finish({ ok: code === 0 && !timedOut, code, signal, timedOut, error: null, output }))
  })
}

function oneLine (text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `…${flat.slice(-max)}` : flat
}

export function describeFailure (result: CommandResult, timeoutMs: number): string {
  const what = result.error !== null
    ? `the update command could not run (${result.error})`
    : result.timedOut
      ? `the update command did not finish within ${Math.round(timeoutMs / 1000)} s and was killed`
      : `the update command exited with ${result.signal ?? `code ${result.code ?? '?'}`}`
  const tail = oneLine(result.output, DETAIL_TAIL_CHARS)
  return tail === '' ? `${what}; the installed yt-dlp stays` : `${what}; the installed yt-dlp stays: ${tail}`
}

export interface UpdaterDeps {
  channel: 'stable' | 'nightly'
  command: UpdateCommand
  intervalMs: number
  timeoutMs?: number
  env: NodeJS.ProcessEnv
  log: Logger
  // has every live worker reload (the same path as POST /api/v2/system/ytdlp/reload)
  reload: () => Promise<Gathered>
  // the outcome of each run, for every worker (and health)
  publish: (status: UpdateStatus) => void
}

export interface YtDlpUpdater {
  // the first run after delayMs, then one every intervalMs after the previous one ended
  start: (delayMs: number) => void
  runOnce: () => Promise<UpdateStatus>
  stop: () => void
}

export function createYtDlpUpdater (deps: UpdaterDeps): YtDlpUpdater {
  const timeoutMs = deps.timeoutMs ?? UPDATE_TIMEOUT_MS
  const abort = new AbortController()
  let timer: NodeJS.Timeout | null = null
  let stopped = false
  let started = false

  async function runOnce (): Promise<UpdateStatus> {
    const startedAt = Date.now()
    deps.log.info({ channel: deps.channel, command: deps.command.shown }, 'yt-dlp update: running the update command')
    const result = await runUpdateCommand(deps.command, { env: { ...deps.env, YTDLP_UPDATE_CHANNEL: deps.channel }, timeoutMs, signal: abort.signal })
    const output = oneLine(result.output, 1000)
    let status: UpdateStatus
    if (!result.ok) {
      status = { ok: false, atMs: Date.now(), detail: describeFailure(result, timeoutMs) }
      deps.log.error({ channel: deps.channel, code: result.code, signal: result.signal, timedOut: result.timedOut, error: result.error, output, ms: Date.now() - startedAt }, 'yt-dlp update failed; the installed yt-dlp stays')
    } else {
      const { answer, problems } = summarizeReload(await deps.reload(), RELOAD_TIMEOUT_MS)
      if (problems.length > 0) {
        status = { ok: false, atMs: Date.now(), detail: `the update command succeeded but the new yt-dlp was not picked up everywhere (${problems.join('; ')}); old warm processes keep serving where it did not start` }
        deps.log.error({ channel: deps.channel, problems, workers: answer.workers, output, ms: Date.now() - startedAt }, 'yt-dlp updated, but the reload failed')
      } else {
        status = { ok: true, atMs: Date.now(), detail: `yt-dlp ${answer.version ?? '(version unknown)'} in use after the ${deps.channel} update; ${answer.workers.length} worker(s) reloaded` }
        deps.log.info({ channel: deps.channel, version: answer.version, workers: answer.workers, output, ms: Date.now() - startedAt }, 'yt-dlp updated and reloaded')
      }
    }
    if (!stopped) deps.publish(status)
    return status
  }

  // setTimeout holds at most 2^31-1 ms (24.8 days; the interval may be 30): longer waits go in steps.
  const schedule = (ms: number): void => {
    if (stopped) return
    const step = Math.min(ms, MAX_TIMER_MS)
    timer = setTimeout(() => {
      timer = null
      if (ms > step) { schedule(ms - step); return }
      runOnce().catch((err: unknown) => deps.log.error({ err }, 'yt-dlp update: unexpected error'))
        .finally(() => schedule(deps.intervalMs))
    }, step)
  }

  return {
    start (delayMs) {
      if (started) return
      started = true
      schedule(delayMs)
    },
    runOnce,
    stop () {
      stopped = true
      if (timer !== null) clearTimeout(timer)
      timer = null
      abort.abort()
    }
  }
}
