// The cluster primary: validates config, forks the HTTP workers, restarts dead
// ones (within 1 s, with a crash-loop limit), relays collect requests between
// workers, drains on SIGTERM/SIGINT and rolls the workers on SIGHUP.
// It never accepts connections: each worker binds the port (SO_REUSEPORT).
import cluster from 'node:cluster'
import type { Worker } from 'node:cluster'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { loadConfig, parseArgs, ConfigError } from './config.ts'
import type { Config } from './config.ts'
import { createLogger } from './log.ts'

const CRASH_WINDOW_MS = 30_000
const CRASH_LIMIT = 10
// Workers that die before they ever listen, in a row: broken code or host, not bad luck.
const STARTUP_FAILURE_LIMIT = 5

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
  const pendingCollect = new Map<string, { from: Worker, waiting: Set<number>, results: unknown[], timer: NodeJS.Timeout }>()

  const live = (): Slot[] => [...slots.values()].filter((s) => s.ready && !s.retiring)
  const broadcast = (): void => {
    const msg = { type: 'vidgate:cluster', alive: live().length, expected: config.WORKERS, restarts }
    for (const s of slots.values()) if (s.worker.isConnected()) s.worker.send(msg)
  }

  function fork (replacement = false): Worker {
    const worker = cluster.fork(env)
    slots.set(worker.id, { worker, ready: false, retiring: false, replacement })
    worker.on('message', (msg: unknown) => onMessage(worker, msg))
    return worker
  }

  function finishCollect (id: string): void {
    const p = pendingCollect.get(id)
    if (p === undefined) return
    pendingCollect.delete(id)
    clearTimeout(p.timer)
    if (p.from.isConnected()) p.from.send({ type: 'vidgate:response', id, results: p.results })
  }

  function onMessage (worker: Worker, msg: unknown): void {
    if (typeof msg !== 'object' || msg === null || !('type' in msg)) return
    const m = msg as { type: unknown, id?: unknown, what?: unknown, data?: unknown, port?: unknown }
    const slot = slots.get(worker.id)
    if (m.type === 'vidgate:ready' && slot !== undefined) {
      slot.ready = true
      slot.replacement = false
      startupFailures = 0
      if (typeof m.port === 'number') port = m.port
      broadcast()
      if (!announced && live().length >= config.WORKERS) {
        announced = true
        log.info({ port, workers: config.WORKERS, host: config.HOST }, 'ready')
      }
    } else if (m.type === 'vidgate:request' && typeof m.id === 'string') {
      const targets = live()
      const waiting = new Set(targets.map((s) => s.worker.id))
      const id = m.id
      const timer = setTimeout(() => finishCollect(id), 1500)
      pendingCollect.set(id, { from: worker, waiting, results: [], timer })
      for (const s of targets) s.worker.send({ type: 'vidgate:collect', id, what: m.what })
      if (waiting.size === 0) finishCollect(id)
    } else if (m.type === 'vidgate:collected' && typeof m.id === 'string') {
      const p = pendingCollect.get(m.id)
      if (p === undefined || !p.waiting.delete(worker.id)) return
      if (m.data !== null) p.results.push(m.data)
      if (p.waiting.size === 0) finishCollect(m.id)
    }
  }

  cluster.on('exit', (worker, code, signal) => {
    const slot = slots.get(worker.id)
    slots.delete(worker.id)
    for (const [id, p] of pendingCollect) if (p.waiting.delete(worker.id) && p.waiting.size === 0) finishCollect(id)
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
    log.info({ timeoutS: config.SHUTDOWN_TIMEOUT }, 'shutting down')
    for (const s of slots.values()) if (s.worker.isConnected()) s.worker.send({ type: 'vidgate:shutdown' })
    const deadline = setTimeout(() => {
      for (const s of slots.values()) s.worker.process.kill('SIGKILL')
      log.warn('shutdown deadline passed; killed remaining workers')
      process.exit(exitCode)
    }, config.SHUTDOWN_TIMEOUT * 1000 + 500)
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
          if (typeof msg === 'object' && msg !== null && 'type' in msg && msg.type === 'vidgate:ready') { clearTimeout(timer); resolve(true) }
        })
        next.once('exit', () => { clearTimeout(timer); resolve(false) })
      })
      if (!ok) {
        // A replacement stuck before ready is not left running beside the old worker.
        if (next.process.exitCode === null && next.process.signalCode === null) next.process.kill('SIGKILL')
        log.error('replacement worker did not start; reload stopped')
        break
      }
      old.retiring = true
      broadcast()
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { old.worker.process.kill('SIGKILL'); resolve() }, config.SHUTDOWN_TIMEOUT * 1000 + 500)
        old.worker.once('exit', () => { clearTimeout(timer); resolve() })
        if (old.worker.isConnected()) old.worker.send({ type: 'vidgate:shutdown' })
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
