// Shared plumbing for tests only (never imported by production code): free
// ports, an in-process app on port 0, a real redis-server, the whole cluster
// as a child process, and where Chromium lives.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../config.ts'
import { createLogger } from '../log.ts'
import { createRedis, connectRedis } from '../redis.ts'
import { createApp } from '../app.ts'
import type { App } from '../app.ts'
import type { Config } from '../config.ts'
import type { Redis } from '../redis.ts'
import { childrenOf } from '../../workers/children.ts'

// dist/src/testing/helpers.js → the repository root, three levels up.
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const FAKE_YTDLP = join(REPO_ROOT, 'workers', 'fixtures', 'fake-yt-dlp')
export const MAIN_JS = join(REPO_ROOT, 'dist', 'src', 'main.js')

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

export function findExecutable (name: string, candidates: readonly string[] = []): string | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '')
  for (const file of [...candidates, ...dirs.map((d) => join(d, name))]) {
    try { accessSync(file, constants.X_OK); return file } catch {}
  }
  return null
}

export const findChromium = (): string | null => findExecutable('chromium', ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'])

// Every redis-server and cluster primary a test file starts is SIGKILLed if the
// file's process ends without stopping them (a failed assertion, or the runner
// killing it on timeout), so nothing outlives the test run. Workers follow
// their primary (they exit on IPC disconnect).
const children = new Set<ChildProcess>()
let reaperInstalled = false
function track (child: ChildProcess): void {
  if (!reaperInstalled) {
    reaperInstalled = true
    const killAll = (): void => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL') }
    process.once('exit', killAll)
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => { killAll(); process.exit(1) })
  }
  children.add(child)
  child.once('exit', () => children.delete(child))
}

// A private scratch folder per app/cluster (downloads, cookies), removed on close.
function scratch (): string {
  return mkdtempSync(join(tmpdir(), 'vidgate-test-'))
}

function baseEnv (dir: string): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    WORKERS: '1',
    LOG_LEVEL: 'silent',
    YTDLP_PATH: FAKE_YTDLP,
    YTDLP_MODE: 'spawn',
    DOWNLOAD_DIRECTORY: join(dir, 'downloads'),
    COOKIES_DIRECTORY: join(dir, 'cookies'),
    // the default is per port, and every test app listens on port 0: each its own
    REMUX_CACHE_DIRECTORY: join(dir, 'remux-cache'),
    SHUTDOWN_TIMEOUT: '2',
    // the fake yt-dlp reads these (children get an allow-listed environment only)
    CHILD_ENV_ALLOW: 'FAKE_YTDLP_LOG,FAKE_YTDLP_FIXTURE_DIR'
  }
}

export interface StartedApp { url: string, port: number, app: App, config: Config, redis: Redis | null, close: () => Promise<void> }

// createApp in this process on 127.0.0.1 port 0; env is our defaults plus the overrides only.
export async function startApp (overrides: Record<string, string> = {}): Promise<StartedApp> {
  const dir = scratch()
  const config = loadConfig({ ...baseEnv(dir), ...overrides })
  const log = createLogger(config.LOG_LEVEL, { role: 'test' })
  const redis = config.redisUrl === null ? null : createRedis(config.redisUrl, log)
  if (redis !== null) await connectRedis(redis, 3000)
  const app = createApp({ config, log, redis })
  const port = await app.listen(0, '127.0.0.1')
  // tests read health and version at once: wait for the start-up checks a real client would see a moment later
  await app.checked()
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    app,
    config,
    redis,
    async close () {
      await app.close()
      if (redis !== null) redis.disconnect()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

// pid: the running redis-server's (0 while stopped)
export interface StartedRedis { url: string, port: number, pid: () => number, stop: () => Promise<void>, restart: () => Promise<void> }

async function ping (port: number, host = '127.0.0.1'): Promise<boolean> {
  return await new Promise((resolve) => {
    const sock = connect(port, host)
    let data = ''
    const done = (ok: boolean): void => { sock.destroy(); resolve(ok) }
    sock.setTimeout(500, () => done(false))
    sock.on('error', () => done(false))
    sock.on('connect', () => sock.write('PING\r\n'))
    sock.on('data', (d) => { data += d.toString(); if (data.includes('\r\n')) done(data.startsWith('+PONG')) })
  })
}

export type Wrap = (cmd: string, args: string[]) => [string, string[]]

// wrap: how to run the command (bench/ runs it through taskset on all cores, the
// multi-host tests inside a network namespace); host: the address it listens on
export async function startRedis (wrap: Wrap = (cmd, args) => [cmd, args], host = '127.0.0.1'): Promise<StartedRedis> {
  const bin = findExecutable('redis-server', ['/usr/bin/redis-server'])
  if (bin === null) throw new Error('redis-server is not installed (apt-get install redis-server)')
  const port = await freePort()
  let child: ChildProcess | null = null
  const start = async (): Promise<void> => {
    // protected mode refuses clients off loopback without a password; a test network exists on this machine only
    const open = host === '127.0.0.1' ? [] : ['--protected-mode', 'no']
    const [cmd, args] = wrap(bin, ['--port', String(port), '--bind', host, ...open, '--save', '', '--appendonly', 'no'])
    const proc = spawn(cmd, args, { stdio: 'ignore' })
    track(proc)
    child = proc
    const deadline = Date.now() + 5000
    while (!(await ping(port, host))) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`)
      await sleep(25)
    }
  }
  const stop = async (): Promise<void> => {
    const proc = child
    child = null
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return
    await new Promise<void>((resolve) => { proc.once('exit', () => resolve()); proc.kill('SIGKILL') })
  }
  await start()
  const pid = (): number => (child as ChildProcess | null)?.pid ?? 0
  return { url: `redis://${host}:${port}`, port, pid, stop, restart: async () => { await stop(); await start() } }
}

export interface StartedCluster {
  url: string
  port: number
  child: ChildProcess
  pid: number
  output: () => string
  workerPids: () => number[]
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  stop: () => Promise<void>
}

// Children of a process from /proc (cluster workers are the primary's children).
export function childPids (pid: number): number[] {
  return childrenOf(pid).sort((a, b) => a - b)
}

// Every process below pid (children, their children, ...).
export function descendants (pid: number): number[] {
  return childPids(pid).flatMap((c) => [c, ...descendants(c)])
}

// A process's argv from /proc, or null once it is gone.
export function cmdline (pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1)
  } catch {
    return null
  }
}

// wrap: how to run `node dist/src/main.js` (inside a network namespace); url: where
// clients reach it when args choose the address (default: 127.0.0.1 and a free port)
export interface ClusterOptions {
  workers?: number
  env?: Record<string, string>
  args?: string[]
  execArgv?: string[]
  waitReady?: boolean
  timeoutMs?: number
  wrap?: Wrap
  url?: string
}

// Spawns the compiled entry; resolves once the primary logs "ready" (or at once with waitReady: false).
export async function startCluster (opts: ClusterOptions = {}): Promise<StartedCluster> {
  const dir = scratch()
  const port = await freePort()
  const { PORT: _unused, ...base } = baseEnv(dir)
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...base, LOG_LEVEL: 'info', ...opts.env }
  const args = opts.args ?? [`--workers=${opts.workers ?? 2}`, `--port=${port}`, '--host=127.0.0.1']
  const [cmd, argv] = (opts.wrap ?? ((c, a) => [c, a]))(process.execPath, [...(opts.execArgv ?? []), MAIN_JS, ...args])
  const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  track(child)
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { rmSync(dir, { recursive: true, force: true }); resolve({ code, signal }) })
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const pids = childPids(child.pid ?? 0)
      child.kill('SIGTERM')
      const timer = setTimeout(() => { for (const p of [child.pid ?? 0, ...pids]) try { process.kill(p, 'SIGKILL') } catch {} }, 8000)
      await exited
      clearTimeout(timer)
    }
  }
  if (opts.waitReady !== false) {
    const ready = /"msg":"ready"/
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { stop().catch(() => {}); reject(new Error(`cluster not ready in time:\n${out.slice(-2000)}`)) }, opts.timeoutMs ?? 60_000)
      const check = (): void => { if (ready.test(out)) { clearTimeout(timer); resolve() } }
      child.stdout?.on('data', check)
      exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`cluster exited with ${code}:\n${out.slice(-2000)}`)) }, () => {})
    })
  }
  const url = opts.url ?? `http://127.0.0.1:${port}`
  return {
    url,
    port: Number(new URL(url).port),
    child,
    pid: child.pid ?? 0,
    output: () => out,
    workerPids: () => childPids(child.pid ?? 0),
    exited,
    stop
  }
}

// Writes `text` on a fresh connection and returns everything read until the server closes it.
export async function raw (port: number, text: string, timeoutMs = 3000): Promise<string> {
  return await new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no close within ${timeoutMs} ms; got ${Buffer.concat(chunks).toString().slice(0, 300)}`)) }, timeoutMs)
    sock.on('data', (d: Buffer) => chunks.push(d))
    sock.on('error', (err) => { clearTimeout(timer); reject(err) })
    sock.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('latin1')) })
    sock.write(text)
  })
}

export async function json (url: string, init: RequestInit = {}): Promise<{ res: Response, body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000), ...init })
  const body: unknown = await res.json()
  assert.ok(typeof body === 'object' && body !== null && !Array.isArray(body), `${url}: not a JSON object`)
  return { res, body: body as Record<string, unknown> }
}

// What API.md promises on every response.
export function assertCommonHeaders (res: Response): void {
  assert.match(res.headers.get('x-request-id') ?? '', /^[A-Za-z0-9._:-]{1,128}$/, 'X-Request-Id')
  assert.match(res.headers.get('x-process-time') ?? '', /^\d+\.\d+$/, 'X-Process-Time')
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
  assert.equal(res.headers.get('x-frame-options'), 'DENY')
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer')
  assert.ok(res.headers.get('content-security-policy') !== null, 'Content-Security-Policy')
}

export function assertErrorBody (res: Response, body: Record<string, unknown>, code: string): void {
  assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
  assert.deepEqual(Object.keys(body).sort(), ['code', 'detail', 'error', 'request_id', 'timestamp'])
  assert.equal(body.code, code)
  assert.equal(typeof body.error, 'string')
  assert.equal(body.request_id, res.headers.get('x-request-id'))
  assert.ok(!Number.isNaN(Date.parse(String(body.timestamp))))
}

// Polls `probe` until it gives a value; the bound is a deadline for hangs, not a timing assertion.
export async function until<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(50)
  }
}
