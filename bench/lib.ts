// Shared bench plumbing: start servers as child processes pinned to cores,
// read their CPU time from /proc, drive them with autocannon.
import { spawn, execFileSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { createServer } from 'node:net'
import autocannon from 'autocannon'

export const CLOCK_TICKS_PER_SEC = 100

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

export function hasTaskset (): boolean {
  try { execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }); return true } catch { return false }
}

export interface Started { child: ChildProcess, output: () => string, stop: () => Promise<void> }

// Starts `node args…` (optionally pinned with taskset) and waits for a line matching `ready`.
export async function startNode (args: string[], opts: { env?: Record<string, string>, cpus?: string, ready: RegExp, timeoutMs?: number }): Promise<Started> {
  const cmd = opts.cpus !== undefined && hasTaskset() ? 'taskset' : process.execPath
  const argv = cmd === 'taskset' ? ['-c', opts.cpus ?? '0', process.execPath, ...args] : args
  const child = spawn(cmd, argv, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in time:\n${out.slice(-2000)}`)), opts.timeoutMs ?? 20000)
    const check = (): void => { if (opts.ready.test(out)) { clearTimeout(timer); resolve() } }
    child.stdout?.on('data', check)
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}:\n${out.slice(-2000)}`)) })
  })
  child.removeAllListeners('exit')
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { child.kill('SIGKILL') }, 10000)
        child.once('exit', () => { clearTimeout(t); resolve() })
        child.kill('SIGTERM')
      })
    }
  }
}

// The pid and all its descendants (cluster workers), from /proc.
export function processTree (pid: number): number[] {
  const out = [pid]
  let tasks: string[] = []
  try { tasks = readdirSync(`/proc/${pid}/task`) } catch { return out }
  for (const t of tasks) {
    let text = ''
    try { text = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8') } catch {}
    for (const c of text.split(/\s+/).filter((x) => x !== '')) out.push(...processTree(Number(c)))
  }
  return out
}

// utime + stime of every process in the tree, in seconds.
export function cpuSeconds (pids: readonly number[]): number {
  let ticks = 0
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {}
  }
  return ticks / CLOCK_TICKS_PER_SEC
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
}

export async function load (url: string, opts: { connections: number, durationSec: number, warmupSec?: number, pids: () => number[], workers?: number, method?: 'GET' | 'POST', pipelining?: number }): Promise<LoadResult> {
  if ((opts.warmupSec ?? 0) > 0) await autocannon({ url, connections: opts.connections, duration: opts.warmupSec ?? 1, workers: opts.workers })
  const pids = opts.pids()
  const before = cpuSeconds(pids)
  const r = await autocannon({ url, connections: opts.connections, duration: opts.durationSec, workers: opts.workers, pipelining: opts.pipelining ?? 1, method: opts.method ?? 'GET' })
  const cpuSec = cpuSeconds(pids) - before
  const requests = r.requests.total
  return {
    requests,
    rps: r.requests.average,
    p50: r.latency.p50,
    p975: r.latency.p97_5,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    cpuSec,
    cpuUsPerReq: requests > 0 ? (cpuSec * 1e6) / requests : 0
  }
}
