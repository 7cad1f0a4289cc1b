// One long-lived Python process with yt_dlp imported, serving one job at a time over
// JSON lines (protocol in ytdlp-warm-script.ts). The pool lives in ytdlp-warm.ts.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readSync } from 'node:fs'
import { basename } from 'node:path'
import { isRecord } from './json-guards.ts'
import { lowerPriority } from '../nice.ts'
import { killGroup } from '../children.ts'
import { WARM_SCRIPT } from './ytdlp-warm-script.ts'
import { classifyYtDlpError, cleanYtDlpMessage, tail, type ExtractOutcome } from './ytdlp.ts'

const READY_LINE_MAX_BYTES = 64 * 1024
const RETIRE_GRACE_MS = 2000

export interface WarmJob {
  // probe: answer what this yt-dlp offers instead of extracting (url unused)
  probe?: boolean
  url: string
  opts: Record<string, unknown>
  timeoutMs: number
  maxOutputBytes: number
}

// A null outcome means the process never became ready: the caller falls back to spawn.
export interface WarmProcess {
  readonly pid: number | null
  readonly ytdlpPath: string
  // the reload generation it was started in
  readonly generation: number
  readonly ready: Promise<boolean>
  // stderr's tail: after a failed start, why it failed
  readonly stderr: () => string
  readonly exited: Promise<void>
  jobs: number
  busy: boolean
  dead: boolean
  isReady: () => boolean
  run: (job: WarmJob) => Promise<ExtractOutcome | null>
  // graceful: close stdin so Python exits after its current job, SIGKILL after a grace period
  retire: () => void
  kill: () => void
  // for shutdown: retire or kill, and keep the event loop alive until the process has exited
  close: () => void
}

export interface WarmHooks {
  // the process died or was retired; remove it from the pool
  onGone: (proc: WarmProcess, startupFailed: boolean) => void
}

// "#!/usr/bin/python3" → ['/usr/bin/python3']; "#!/usr/bin/env python3" → ['/usr/bin/env', 'python3'].
// Anything that is not Python (a node fake, a PyInstaller binary) → null.
export function parseShebang (firstLine: string): string[] | null {
  if (!firstLine.startsWith('#!')) return null
  const argv = firstLine.slice(2).trim().split(/\s+/).filter(a => a !== '')
  return argv.some(a => /^(?:python|pypy)[0-9.]*$/.test(basename(a))) ? argv : null
}

export function readInterpreter (ytdlpPath: string): string[] | null {
  let fd: number | null = null
  try {
    fd = openSync(ytdlpPath, 'r')
    const head = Buffer.alloc(256)
    const bytes = readSync(fd, head, 0, head.length, 0)
    return parseShebang(head.subarray(0, bytes).toString('utf8').split('\n')[0] ?? '')
  } catch {
    return null
  } finally {
    if (fd !== null) closeSync(fd)
  }
}

function setRef (handle: unknown, on: boolean): void {
  if (typeof handle !== 'object' || handle === null) return
  const method: unknown = Reflect.get(handle, on ? 'ref' : 'unref')
  if (typeof method === 'function') Reflect.apply(method, handle, [])
}

function logText (value: unknown): string {
  return Array.isArray(value) ? value.filter(l => typeof l === 'string').join('\n') : ''
}

interface Pending {
  id: number
  job: WarmJob
  timer: NodeJS.Timeout
  resolve: (outcome: ExtractOutcome | null) => void
}

export function startWarmProcess (ytdlpPath: string, interpreter: readonly string[], hooks: WarmHooks, generation = 0): WarmProcess {
  const [command = 'python3', ...pre] = interpreter
  // its own process group: a kill reaches what it started too (children.ts)
  const child = spawn(command, [...pre, '-c', WARM_SCRIPT, ytdlpPath], { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  lowerPriority(child.pid)
  let state: 'starting' | 'ready' | 'gone' = 'starting'
  let stopping = false
  let pending: Pending | null = null
  let seq = 0
  let stderr = ''
  let partial: Buffer[] = []
  let partialBytes = 0
  let resolveReady: (ok: boolean) => void = () => {}
  let resolveExited: () => void = () => {}
  const ready = new Promise<boolean>(resolve => { resolveReady = resolve })
  const exited = new Promise<void>(resolve => { resolveExited = resolve })

  const refAll = (on: boolean): void => {
    for (const handle of [child, child.stdin, child.stdout, child.stderr]) setRef(handle, on)
  }
  const finish = (outcome: ExtractOutcome | null): void => {
    if (pending === null) return
    clearTimeout(pending.timer)
    const { resolve } = pending
    pending = null
    proc.busy = false
    if (!proc.dead) refAll(false)
    resolve(outcome)
  }
  const failAndKill = (outcome: ExtractOutcome): void => {
    finish(outcome)
    proc.kill()
  }
  const gone = (why: string): void => {
    if (state === 'gone') return
    const startupFailed = state === 'starting' && !stopping
    // why it never became ready: what it printed, then how it ended
    if (startupFailed) stderr = tail(`${stderr}warm yt-dlp process ${why}`)
    state = 'gone'
    proc.dead = true
    resolveReady(false)
    finish(startupFailed ? null : { ok: false, code: 'EXTRACTION_FAILED', message: `warm yt-dlp process ${why}`, stderrTail: stderr })
    hooks.onGone(proc, startupFailed)
    resolveExited()
  }

  const onLine = (line: string): void => {
    if (state === 'gone') return
    let msg: unknown
    try {
      msg = JSON.parse(line)
    } catch {
      msg = null
    }
    if (state === 'starting') {
      if (isRecord(msg) && msg.ready === true) {
        state = 'ready'
        resolveReady(true)
      } else {
        stderr = tail(`${stderr}${isRecord(msg) ? String(msg.error) : line}\n`)
        killGroup(child.pid) // not stopping: gone() reports a startup failure
      }
      return
    }
    if (!isRecord(msg)) return failAndKill({ ok: false, code: 'EXTRACTION_FAILED', message: 'warm yt-dlp protocol error', stderrTail: tail(line, 300) })
    if (pending === null || msg.id !== pending.id) {
      return failAndKill({ ok: false, code: 'EXTRACTION_FAILED', message: 'warm yt-dlp answered an unknown job', stderrTail: stderr })
    }
    proc.jobs++
    if (msg.ok === true) return finish({ ok: true, raw: msg.info })
    const error = typeof msg.error === 'string' ? msg.error : 'unknown yt-dlp error'
    finish({ ok: false, code: classifyYtDlpError(error), message: cleanYtDlpMessage(error), stderrTail: tail(logText(msg.log) || error) })
  }

  child.stdout.on('data', (chunk: Buffer) => {
    let start = 0
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const line = Buffer.concat([...partial, chunk.subarray(start, nl)]).toString('utf8')
      partial = []
      partialBytes = 0
      start = nl + 1
      onLine(line)
    }
    if (start >= chunk.length || state === 'gone') return
    partial.push(chunk.subarray(start))
    partialBytes += chunk.length - start
    const limit = pending === null ? READY_LINE_MAX_BYTES : pending.job.maxOutputBytes
    if (partialBytes > limit) {
      failAndKill({ ok: false, code: 'EXTRACTION_FAILED', message: `yt-dlp output exceeded ${limit} bytes`, stderrTail: stderr })
    }
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => { stderr = tail(stderr + chunk) })
  child.stdin.on('error', () => {}) // EPIPE after a crash; the exit handler reports it
  child.on('error', err => gone(`could not start: ${err.message}`))
  child.on('exit', (code, signal) => gone(`exited with ${signal ?? `code ${code}`}`))

  const proc: WarmProcess = {
    pid: child.pid ?? null,
    ytdlpPath,
    generation,
    ready,
    stderr: () => stderr,
    exited,
    jobs: 0,
    busy: false,
    dead: false,
    isReady: () => state === 'ready',
    run (job) {
      return new Promise(resolve => {
        const id = ++seq
        const timer = setTimeout(() => failAndKill({
          ok: false, code: 'EXTRACTION_TIMEOUT', message: `yt-dlp did not finish within ${job.timeoutMs} ms`, stderrTail: stderr
        }), job.timeoutMs)
        pending = { id, job, timer, resolve }
        proc.busy = true
        refAll(true)
        void ready.then(ok => {
          if (ok && pending?.id === id) child.stdin.write(`${JSON.stringify({ id, url: job.url, opts: job.opts, probe: job.probe === true })}\n`)
        })
      })
    },
    retire () {
      if (proc.dead) return
      stopping = true
      proc.dead = true
      hooks.onGone(proc, false)
      child.stdin.end()
      const timer = setTimeout(() => killGroup(child.pid), RETIRE_GRACE_MS)
      timer.unref()
      void exited.then(() => clearTimeout(timer))
    },
    kill () {
      stopping = true
      proc.dead = true
      killGroup(child.pid)
    },
    close () {
      if (state === 'gone') return
      setRef(child, true)
      if (proc.busy) proc.kill()
      else proc.retire()
    }
  }
  refAll(false)
  return proc
}
