// The cluster primary: validates config, forks the HTTP workers, restarts dead
// ones (within 1 s, with a crash-loop limit), relays collect requests between
// workers, drains on SIGTERM/SIGINT and rolls the workers on SIGHUP. Without
// Redis it keeps the host's info L2 and single-flight locks for its workers
// (cluster/host-state.ts), so a video is extracted once per host. With
// YTDLP_AUTO_UPDATE it is the one process per host that updates yt-dlp (then
// has every worker reload it) and tells the workers how the last update went.
// It never accepts connections: each worker binds the port (SO_REUSEPORT).
import cluster from 'node:cluster'
import type { Worker } from 'node:cluster'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { loadConfig, parseArgs, ConfigError } from './config.ts'
import type { Config } from './config.ts'
import { createLogger } from './log.ts'
import { collectTimeout, parseWorkerMessage } from './cluster/link.ts'
import type { CollectKind, Gathered, PrimaryMessage } from './cluster/link.ts'
import { createHostState } from './cluster/host-state.ts'
import { createYtDlpUpdater, FIRST_UPDATE_DELAY_MS, RELOAD_TIMEOUT_MS, updateCommand } from './extract/ytdlp-update.ts'
import type { UpdateStatus } from './extract/ytdlp-status.ts'
import { childEnv, childrenOf, killGroup, PROXY_ENV } from '../workers/children.ts'

const CRASH_WINDOW_MS = 30_000
const CRASH_LIMIT = 10
// Workers that die before they ever listen, in a row: broken code or host, not bad luck.
const STARTUP_FAILURE_LIMIT = 5
// The project's installer, the default YTDLP_UPDATE_COMMAND: dist/src/primary.js → scripts/ensure.js.
const ENSURE_SCRIPT = fileURLToPath(new URL('../../scripts/ensure.js', import.meta.url))

// replacement: started by a rolling reload; until it is ready, reload() owns its fate.
interface Slot { worker: Worker, ready: boolean, retiring: boolean, replacement: boolean }

// Node flags of each worker: the primary's own, plus
// - no memory reducer: V8 shrinks an idle-looking heap with a full mark-compact
//   run as a task on the event loop; after a burst of extractions that pause was
//   28 ms on a 20 MB heap (bench/ loop-stall), against ≤ 15 ms without it. The
//   heap still collects normally; it just does not shrink when load drops.
// - MEMORY_LIMIT_MB: each worker's V8 heap gets its share of 3/4 of the budget
//   (the rest is left to buffers, threads and the yt-dlp/ffmpeg children).
export function workerExecArgv (config: Pick<Config, 'MEMORY_LIMIT_MB' | 'WORKERS'>, inherited: readonly string[]): string[] {
  const args = [...inherited, '--no-memory-reducer']
  if (config.MEMORY_LIMIT_MB > 0) args.push(`--max-old-space-size=${Math.max(64, Math.floor((config.MEMORY_LIMIT_MB * 0.75) / config.WORKERS))}`)
  return args
}

const ignoreSendError = (): void => {}

// A worker that must be killed cannot kill its children (yt-dlp, ffmpeg) itself: their
// process groups go with it, read before it dies (then they are init's).
function killWorker (worker: Worker): void {
  const children = childrenOf(worker.process.pid ?? 0)
  worker.process.kill('SIGKILL')
  for (const child of children) killGroup(child)
}

export function runPrimary (): void {
  let config: Config
  try {
    config = loadConfig(process.env, process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`vidgate: ${err instanceof ConfigError ? err.message : String(err)}\n`)
    process.exit(1)
  }
  const log = createLogger(config.LOG_LEVEL, { role: 'primary' })
  // Workers re-read the environment: hand them the flags and one shared secret.
  const env: Record<string, string> = { ...parseArgs(process.argv.slice(2)).overrides, WORKERS: String(config.WORKERS) }
  if (config.PROXY_SIGNING_SECRET === '') env.PROXY_SIGNING_SECRET = randomBytes(32).toString('hex')
  cluster.setupPrimary({ execArgv: workerExecArgv(config, process.execArgv) })

  const slots = new Map<number, Slot>()
  const crashes: number[] = []
  let startupFailures = 0
  let restarts = 0
  let shuttingDown = false
  let announced = false
  let port = config.PORT
  // waiting: worker id → pid of the workers asked that have not answered yet
  const pendingCollect = new Map<string, { waiting: Map<number, number>, results: unknown[], missing: number[], timer: NodeJS.Timeout, done: (g: Gathered) => void }>()
  let ytdlpUpdate: UpdateStatus | null = null
  // with Redis the workers share it instead (and never ask)
  const host = config.redisUrl === null ? createHostState({ maxBytes: config.CACHE_L2_MB * 1024 * 1024 }) : null

  // A worker that just died can still look connected: the write fails with EPIPE, which
  // goes to the callback (without one it is an 'error' event that would end the primary).
  const send = (worker: Worker, msg: PrimaryMessage): void => { if (worker.isConnected()) worker.send(msg, undefined, undefined, ignoreSendError) }
  const live = (): Slot[] => [...slots.values()].filter((s) => s.ready && !s.retiring)
  const broadcast = (): void => {
    const msg: PrimaryMessage = { type: 'vidgate:cluster', alive: live().length, expected: config.WORKERS, restarts, ytdlpUpdate }
    for (const s of slots.values()) send(s.worker, msg)
  }

  function fork (replacement = false): Worker {
    const worker = cluster.fork(env)
    slots.set(worker.id, { worker, ready: false, retiring: false, replacement })
    worker.on('message', (msg: unknown) => onMessage(worker, msg))
    // its exit is handled below; an IPC write racing its death is not a primary failure
    worker.on('error', (err) => log.debug({ err, pid: worker.process.pid }, 'worker channel error'))
    return worker
  }

  function finishCollect (id: string): void {
    const p = pendingCollect.get(id)
    if (p === undefined) return
    pendingCollect.delete(id)
    clearTimeout(p.timer)
    p.done({ results: p.results, missing: [...p.missing, ...p.waiting.values()], primaryAnswered: true })
  }

  // Asks every live worker and hands over their answers once all answered, or at the timeout.
  function gather (what: CollectKind, timeoutMs: number, done: (g: Gathered) => void, id: string = randomBytes(16).toString('hex')): void {
    const targets = live()
    const waiting = new Map(targets.map((s) => [s.worker.id, s.worker.process.pid ?? 0]))
    const timer = setTimeout(() => finishCollect(id), timeoutMs)
    pendingCollect.set(id, { waiting, results: [], missing: [], timer, done })
    for (const s of targets) send(s.worker, { type: 'vidgate:collect', id, what })
    if (waiting.size === 0) finishCollect(id)
  }

  function onMessage (worker: Worker, raw: unknown): void {
    const m = parseWorkerMessage(raw)
    if (m === null) return
    const slot = slots.get(worker.id)
    if (m.type === 'vidgate:ready' && slot !== undefined) {
      slot.ready = true
      slot.replacement = false
      startupFailures = 0
      if (m.port !== null) port = m.port
      broadcast()
      if (!announced && live().length >= config.WORKERS) {
        announced = true
        log.info({ port, workers: config.WORKERS, host: config.HOST }, 'ready')
        updater?.start(FIRST_UPDATE_DELAY_MS)
      }
    } else if (m.type === 'vidgate:request') {
      const id = m.id
      // a request id comes from a worker: a duplicate must not orphan the pending one
      if (pendingCollect.has(id)) return
      gather(m.what, m.timeoutMs, (g) => send(worker, { type: 'vidgate:response', id, results: g.results, missing: g.missing }), id)
    } else if (m.type === 'vidgate:shared') {
      const id = m.id
      host?.handle(worker.id, m.req, (reply) => send(worker, { type: 'vidgate:shared-reply', id, reply }))
    } else if (m.type === 'vidgate:collected') {
      const p = pendingCollect.get(m.id)
      const pid = p?.waiting.get(worker.id)
      if (p === undefined || pid === undefined) return
      p.waiting.delete(worker.id)
      if (m.data !== null) p.results.push(m.data)
      else p.missing.push(pid)
      if (p.waiting.size === 0) finishCollect(m.id)
    }
  }

  // YTDLP_AUTO_UPDATE: the operator's command (or the project's installer), then every worker reloads.
  const updater = config.YTDLP_AUTO_UPDATE === 'off'
    ? null
    : createYtDlpUpdater({
      channel: config.YTDLP_AUTO_UPDATE,
      command: updateCommand(config.YTDLP_UPDATE_COMMAND, ENSURE_SCRIPT),
      intervalMs: config.ytdlpUpdateIntervalMs,
      // the allow-list, and the operator's proxy variables (pip, apt-get)
      env: childEnv(process.env, [...PROXY_ENV, ...config.CHILD_ENV_ALLOW]),
      log,
      reload: async () => await new Promise<Gathered>((resolve) => gather('ytdlp-reload', collectTimeout(RELOAD_TIMEOUT_MS), resolve)),
      publish: (status) => { ytdlpUpdate = status; broadcast() }
    })

  cluster.on('exit', (worker, code, signal) => {
    const slot = slots.get(worker.id)
    slots.delete(worker.id)
    // its locks go free at once: the other workers' waiters take over instead of waiting out the expiry
    host?.workerGone(worker.id)
    for (const [id, p] of pendingCollect) {
      const pid = p.waiting.get(worker.id)
      if (pid === undefined) continue
      p.waiting.delete(worker.id)
      p.missing.push(pid)
      if (p.waiting.size === 0) finishCollect(id)
    }
    broadcast()
    if (shuttingDown || slot === undefined || slot.retiring) return
    // A failed reload replacement is not restarted: the old worker keeps serving.
    if (slot.replacement) return
    const now = Date.now()
    crashes.push(now)
    while (crashes.length > 0 && (crashes[0] ?? now) < now - CRASH_WINDOW_MS) crashes.shift()
    if (!slot.ready) startupFailures++
    if (crashes.length > CRASH_LIMIT || startupFailures >= STARTUP_FAILURE_LIMIT) {
      log.fatal({ crashes: crashes.length, windowMs: CRASH_WINDOW_MS, startupFailures }, 'workers crash-looping; giving up')
      shutdown(1)
      return
    }
    restarts++
    const delayMs = Math.min(900, 50 * 2 ** (crashes.length - 1))
    log.error({ pid: worker.process.pid, code, signal, delayMs }, 'worker died; restarting')
    setTimeout(() => { if (!shuttingDown) fork() }, delayMs)
  })

  function shutdown (exitCode: number): void {
    if (shuttingDown) return
    shuttingDown = true
    updater?.stop()
    log.info({ timeoutS: config.SHUTDOWN_TIMEOUT }, 'shutting down')
    for (const s of slots.values()) send(s.worker, { type: 'vidgate:shutdown' })
    const deadline = setTimeout(() => {
      for (const s of slots.values()) killWorker(s.worker)
      log.warn('shutdown deadline passed; killed remaining workers')
      process.exit(exitCode)
    }, config.shutdownTimeoutMs + 500)
    const check = (): void => {
      if (slots.size > 0) return
      clearTimeout(deadline)
      log.info('stopped')
      process.exit(exitCode)
    }
    cluster.on('exit', check)
    check()
  }

  // Rolling reload: start a replacement, wait until it listens, then drain the old one.
  let reloading = false
  async function reload (): Promise<void> {
    if (reloading || shuttingDown) return
    reloading = true
    log.info('reloading workers one at a time')
    for (const old of [...slots.values()]) {
      if (shuttingDown) break
      const next = fork(true)
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 30_000)
        next.on('message', (msg: unknown) => {
          if (parseWorkerMessage(msg)?.type === 'vidgate:ready') { clearTimeout(timer); resolve(true) }
        })
        next.once('exit', () => { clearTimeout(timer); resolve(false) })
      })
      if (!ok) {
        // A replacement stuck before ready is not left running beside the old worker.
        if (next.process.exitCode === null && next.process.signalCode === null) killWorker(next)
        log.error('replacement worker did not start; reload stopped')
        break
      }
      old.retiring = true
      broadcast()
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { killWorker(old.worker); resolve() }, config.shutdownTimeoutMs + 500)
        old.worker.once('exit', () => { clearTimeout(timer); resolve() })
        send(old.worker, { type: 'vidgate:shutdown' })
      })
    }
    reloading = false
    log.info({ workers: live().length }, 'reload done')
  }

  process.on('SIGTERM', () => shutdown(0))
  process.on('SIGINT', () => shutdown(0))
  process.on('SIGHUP', () => { reload().catch((err: unknown) => log.error({ err }, 'reload failed')) })

  // uWS binds with SO_REUSEPORT, so a second instance on a busy port would
  // silently share it. Refuse to start instead.
  listenProblem(config.PORT, config.HOST).then((problem) => {
    if (problem !== null) {
      log.fatal({ port: config.PORT, host: config.HOST, code: problem }, problem === 'EADDRINUSE' ? 'port already in use' : `cannot listen on ${config.HOST}:${config.PORT} (${problem})`)
      process.exit(1)
    }
    for (let i = 0; i < config.WORKERS; i++) fork()
  }, (err: unknown) => { log.fatal({ err }, 'cannot check the port'); process.exit(1) })
}

// null when the workers will be able to bind; otherwise the error code (EADDRINUSE, EADDRNOTAVAIL, ENOTFOUND…).
async function listenProblem (port: number, host: string): Promise<string | null> {
  return await new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(null)))
  })
}
