// Shared bench plumbing: start servers as child processes pinned to cores,
// read their CPU time from /proc, drive them with autocannon. Every child is
// tracked so that an aborted run still kills what it started (by pid).
import { spawn, execFileSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { availableParallelism } from 'node:os'
import { get, request } from 'node:http'
import autocannon from 'autocannon'
import { childPids } from '../src/testing/helpers.ts'

export const CLOCK_TICKS_PER_SEC = 100

const children = new Set<ChildProcess>()
let exitHookInstalled = false

// Registers a child to be SIGKILLed if the bench process exits before stopping it.
export function track (child: ChildProcess): void {
  children.add(child)
  child.once('exit', () => children.delete(child))
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => { for (const c of children) { try { c.kill('SIGKILL') } catch {} } })
}

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
    srv.on('error', reject)
  })
}

let tasksetFound: boolean | null = null
export function hasTaskset (): boolean {
  if (tasksetFound === null) {
    try { execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }); tasksetFound = true } catch { tasksetFound = false }
  }
  return tasksetFound
}

// The bench pins itself to the last core, and children inherit that mask: every
// child goes through taskset, with its own cores or all of them.
export function pinnedCommand (cmd: string, args: readonly string[], cpus?: string): [string, string[]] {
  if (!hasTaskset()) return [cmd, [...args]]
  return ['taskset', ['-c', cpus ?? `0-${availableParallelism() - 1}`, cmd, ...args]]
}

// The bench process (the load generator) on the last core.
export function pinSelf (cpus: number): void {
  if (!hasTaskset() || cpus < 2) return
  try { execFileSync('taskset', ['-a', '-cp', String(cpus - 1), String(process.pid)], { stdio: 'ignore' }) } catch {}
}

export interface Started { child: ChildProcess, output: () => string, stop: () => Promise<void> }

// Stops a child: SIGTERM, then SIGKILL after graceMs.
export async function stopChild (child: ChildProcess, graceMs = 10000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
    child.once('exit', () => { clearTimeout(t); resolve() })
    child.kill('SIGTERM')
  })
}

export interface StartOptions { env?: Record<string, string>, cpus?: string, ready: RegExp, timeoutMs?: number, stdin?: boolean }

// Starts `node args…` on the given cores (default: all) and waits for a line matching `ready`.
export async function startNode (args: string[], opts: StartOptions): Promise<Started> {
  const [cmd, argv] = pinnedCommand(process.execPath, args, opts.cpus)
  const child = spawn(cmd, argv, { env: { ...process.env, ...opts.env }, stdio: [opts.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
  track(child)
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-200000) })
  child.stderr?.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-200000) })
  const onExit = (code: number | null): void => { fail(new Error(`exited with ${code}:\n${out.slice(-2000)}`)) }
  let fail: (err: Error) => void = () => {}
  try {
    await new Promise<void>((resolve, reject) => {
      fail = reject
      const timer = setTimeout(() => reject(new Error(`not ready in time:\n${out.slice(-2000)}`)), opts.timeoutMs ?? 20000)
      const check = (): void => { if (opts.ready.test(out)) { clearTimeout(timer); resolve() } }
      child.stdout?.on('data', check)
      child.once('exit', onExit)
    })
  } catch (err) {
    await stopChild(child, 3000)
    throw err
  } finally {
    child.off('exit', onExit)
  }
  return { child, output: () => out, stop: async () => await stopChild(child) }
}

// Direct children of a process (cluster workers of the primary), from /proc.
export const childrenOf = childPids

// The pid and all its descendants.
export function processTree (pid: number): number[] {
  return [pid, ...childrenOf(pid).flatMap(processTree)]
}

// Seconds a process's main thread (a Node event loop) has waited for a CPU
// while runnable: /proc/<pid>/schedstat field 2, in ns.
export function runQueueWaitSec (pid: number): number {
  try { return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9 } catch { return 0 }
}

// utime + stime of every process in the tree, plus cutime + cstime: the time of
// children that exited and were reaped (one-shot yt-dlp runs), in seconds. Read
// the tree again at the end of a window: a process that died in between is in
// its parent's cutime, one born in between counts from zero.
export function cpuSeconds (pids: readonly number[]): number {
  let ticks = 0
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])
    } catch {}
  }
  return ticks / CLOCK_TICKS_PER_SEC
}

// CPU seconds of every thread of the processes (GC and libuv helper threads
// included), from /proc/<pid>/task/<tid>/schedstat: nanoseconds, where stat's
// ticks are 10 ms, too coarse for a download that takes a fraction of a second.
// A thread that ended in between is not counted: for long-lived servers only.
export function threadCpuSeconds (pids: readonly number[]): number {
  let ns = 0
  for (const pid of pids) {
    let tids: string[] = []
    try { tids = readdirSync(`/proc/${pid}/task`) } catch {}
    for (const tid of tids) {
      try { ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) } catch {}
    }
  }
  return ns / 1e9
}

// CPU seconds a process tree spends while `work` runs.
export async function measureCpu<T> (pids: () => number[], work: () => Promise<T>): Promise<{ value: T, cpuSec: number }> {
  const before = cpuSeconds(pids())
  const value = await work()
  return { value, cpuSec: cpuSeconds(pids()) - before }
}

export interface LoadResult {
  requests: number
  rps: number
  p50: number
  p975: number
  p99: number
  errors: number
  non2xx: number
  cpuSec: number
  cpuUsPerReq: number
  // bytes read per second (autocannon's average), for the throughput scenarios
  bytesPerSec?: number
  // CPU per request of processes beside the server (LoadOptions.sidePids: redis-server)
  sideCpuUsPerReq?: number
}

export interface LoadOptions {
  connections: number
  durationSec: number
  warmupSec?: number
  pids: () => number[]
  workers?: number
  method?: 'GET' | 'POST'
  pipelining?: number
  // a fixed number of requests instead of a duration (each connection sends amount/connections)
  amount?: number
  timeoutSec?: number
  // a path per request (distinct cold URLs) instead of the url's own
  nextPath?: () => string
  // the status every response should have (default: any 2xx); others count in non2xx
  expectStatus?: number
  // processes the requests also cost CPU in (redis-server), measured apart from the server's
  sidePids?: () => number[]
}

export async function load (url: string, opts: LoadOptions): Promise<LoadResult> {
  if ((opts.warmupSec ?? 0) > 0) await autocannon({ url, connections: opts.connections, duration: opts.warmupSec ?? 1, workers: opts.workers })
  const next = opts.nextPath
  const side = opts.sidePids ?? (() => [])
  const sideBefore = cpuSeconds(side())
  const { value: r, cpuSec } = await measureCpu(opts.pids, async () => await autocannon({
    url,
    connections: opts.connections,
    workers: opts.workers,
    pipelining: opts.pipelining ?? 1,
    method: opts.method ?? 'GET',
    timeout: opts.timeoutSec ?? 10,
    ...(next === undefined ? {} : { requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, path: next() }) }] }),
    ...(opts.amount === undefined ? { duration: opts.durationSec } : { amount: opts.amount })
  }))
  const requests = r.requests.total
  const sideCpuSec = cpuSeconds(side()) - sideBefore
  return {
    requests,
    rps: opts.amount === undefined ? r.requests.average : requests / Math.max(0.001, r.duration),
    p50: r.latency.p50,
    p975: r.latency.p97_5,
    p99: r.latency.p99,
    errors: r.errors,
    non2xx: opts.expectStatus === undefined ? r.non2xx : requests - (r.statusCodeStats?.[`${opts.expectStatus}`]?.count ?? 0),
    cpuSec,
    cpuUsPerReq: requests > 0 ? (cpuSec * 1e6) / requests : 0,
    bytesPerSec: r.throughput.average,
    ...(opts.sidePids === undefined ? {} : { sideCpuUsPerReq: requests > 0 ? (sideCpuSec * 1e6) / requests : 0 })
  }
}

// headers: the response's header lines as sent (name, value)
export interface Fetched { status: number, text: string, body: unknown, ms: number, requestId: string, headers: Array<[string, string]> }

// One GET on a new connection (so SO_REUSEPORT may hand it to any worker).
// Never rejects: a failed request has status 0 and the error as its text.
export async function httpGet (url: string, timeoutMs = 60000): Promise<Fetched> {
  const start = performance.now()
  const failed = (err: unknown): Fetched => ({ status: 0, text: String(err), body: null, ms: performance.now() - start, requestId: '', headers: [] })
  return await new Promise<Fetched>((resolve, reject) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => {
        let body: unknown = null
        try { body = JSON.parse(text) } catch {}
        const id = res.headers['x-request-id']
        const headers: Array<[string, string]> = []
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i] ?? '', res.rawHeaders[i + 1] ?? ''])
        resolve({ status: res.statusCode ?? 0, text, body, ms: performance.now() - start, requestId: typeof id === 'string' ? id : '', headers })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
  }).catch(failed)
}

// A LoadResult for a series of single requests (latencies in ms) instead of an autocannon run.
export function seriesResult (samples: ReadonlyArray<Pick<Fetched, 'ms' | 'status'>>, elapsedMs: number, cpuSec: number): LoadResult {
  const ms = samples.map((s) => s.ms)
  const requests = samples.length
  return {
    requests,
    rps: requests / Math.max(0.001, elapsedMs / 1000),
    p50: Math.round(percentile(ms, 50)),
    p975: Math.round(percentile(ms, 97.5)),
    p99: Math.round(percentile(ms, 99)),
    errors: samples.filter((s) => s.status === 0).length,
    non2xx: samples.filter((s) => s.status !== 0 && (s.status < 200 || s.status > 299)).length,
    cpuSec,
    cpuUsPerReq: requests > 0 ? (cpuSec * 1e6) / requests : 0
  }
}

export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] ?? 0
}

export const MB = 1024 * 1024

// Downloads a URL on a new connection, discarding the bytes; optionally throttled to rateMBps.
export async function download (url: string, opts: { range?: string, rateMBps?: number } = {}): Promise<{ bytes: number, sec: number }> {
  const t0 = performance.now()
  return await new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: opts.range === undefined ? {} : { range: opts.range } }, (res) => {
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (opts.rateMBps === undefined) return
        const aheadMs = bytes / (opts.rateMBps * MB) * 1000 - (performance.now() - t0)
        if (aheadMs > 5) { res.pause(); setTimeout(() => res.resume(), aheadMs) }
      })
      res.on('end', () => resolve({ bytes, sec: (performance.now() - t0) / 1000 }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

// A cheap client for throughput runs: one GET on a new connection, the body
// read into one reused buffer and only counted (no HTTP parser, no Buffer per
// read), so that the load generator costs little next to the servers it
// measures. The response must carry a Content-Length.
export async function fetchBody (url: string, opts: { range?: string } = {}): Promise<{ status: number, bytes: number, sec: number }> {
  const u = new URL(url)
  const t0 = performance.now()
  return await new Promise((resolve, reject) => {
    let head: Buffer | null = Buffer.alloc(0)
    let status = 0
    let length = -1
    let bytes = 0
    let done = false
    const finish = (err: Error | null): void => {
      if (done) return
      done = true
      socket.destroy()
      if (err !== null) reject(err)
      else resolve({ status, bytes, sec: (performance.now() - t0) / 1000 })
    }
    const onHead = (chunk: Buffer): void => {
      head = Buffer.concat([head ?? Buffer.alloc(0), chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) { if (head.length > 65536) finish(new Error(`${url}: no end of the response head`)); return }
      const text = head.toString('latin1', 0, end)
      status = Number(text.slice(9, 12))
      const m = /\r\ncontent-length:[ \t]*(\d+)/i.exec(text)
      if (m === null) { finish(new Error(`${url}: ${status} without Content-Length`)); return }
      length = Number(m[1])
      bytes = head.length - end - 4
      head = null
    }
    const socket = connect({
      host: u.hostname,
      port: Number(u.port === '' ? 80 : u.port),
      onread: {
        buffer: Buffer.allocUnsafe(1 << 20),
        callback: (n: number, buf: Uint8Array): boolean => {
          if (head !== null) onHead(Buffer.from(buf.buffer, buf.byteOffset, n))
          else bytes += n
          if (length >= 0 && bytes >= length) finish(null)
          return true
        }
      }
    })
    socket.once('connect', () => {
      socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\nconnection: close\r\n${opts.range === undefined ? '' : `range: ${opts.range}\r\n`}\r\n`)
    })
    socket.once('error', finish)
    socket.once('close', () => finish(length < 0 ? new Error(`${url}: closed before the response head`) : null))
  })
}
