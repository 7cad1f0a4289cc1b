// Fair admission to the extraction slots of one worker. Every job belongs to a
// client (an API key or a client IP); waiting jobs sit in one FIFO per client,
// and a freed slot goes to the waiting client with the fewest jobs running,
// in turn among equals (round-robin), so a client with hundreds of jobs queued
// delays another client's job by one freed slot, never by its whole queue. Bounded three ways:
// the slots (threads × concurrency), the jobs queued in all (EXTRACTION_BUSY),
// and each capped client's queued + running jobs (429 with Retry-After).
// A job's deadline starts when it is submitted: one still waiting at its
// deadline leaves the queue with EXTRACTION_TIMEOUT, and one that starts gets
// only the time left. A job is not started with less than a tenth of the
// timeout (at most 1 s) left: it could only time out, and a warm yt-dlp killed
// for that costs a fresh Python start; it leaves the queue that much earlier.
import { AppError } from '../errors.ts'

// Who asks for an extraction. capped: false for the server's own requests
// (loopback: ffmpeg reading our links) and callers without a client.
export interface Requester { readonly id: string, readonly capped: boolean }

export const INTERNAL: Requester = Object.freeze({ id: 'internal', capped: false })

export interface FairQueueOptions {
  // jobs run at once
  slots: number
  // jobs waiting, all clients together; 0: none wait
  maxQueued: number
  // queued + running jobs of one capped client; 0: no cap
  perClient: number
  // from submission to the job's end
  timeoutMs: number
  now?: () => number
}

// A refusal for one client being at its cap: other clients that shared its job
// (single-flight) may try again with a job of their own.
export class ClientCapError extends AppError {
  constructor (readonly client: string, cap: number, retryAfterSec: number) {
    super('RATE_LIMITED', 'Too many extractions queued for this client', {
      detail: `at most ${cap} extractions queued or running at once per client in each worker; retry in ${retryAfterSec} s`,
      headers: { 'retry-after': String(retryAfterSec) }
    })
    this.name = 'ClientCapError'
  }
}

interface Job {
  client: string
  deadline: number
  start: (remainingMs: number) => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
  timer: NodeJS.Timeout | null
}

export interface FairQueueStats { queued: number, running: number, clients: number, expired: number, refused: number }

export interface FairQueue {
  // start: runs the job with the milliseconds left of its deadline
  submit: <T>(who: Requester, start: (remainingMs: number) => Promise<T>) => Promise<T>
  // throws ClientCapError unless `count` more jobs of this client fit under its cap
  admit: (who: Requester, count: number) => void
  // queued + running jobs of a client
  load: (client: string) => number
  stats: () => FairQueueStats
}

export function createFairQueue (opts: FairQueueOptions): FairQueue {
  const now = opts.now ?? Date.now
  const slots = Math.max(1, opts.slots)
  const minRunMs = Math.min(1000, opts.timeoutMs / 10)
  const queues = new Map<string, Job[]>()
  // clients with waiting jobs, in turn order: the head is served next
  const turn: string[] = []
  const loads = new Map<string, number>()
  // running jobs per client
  const runs = new Map<string, number>()
  let running = 0
  let queued = 0
  let expired = 0
  let refused = 0
  // a moving average of job run times, for Retry-After
  let avgRunMs = 1000

  const load = (client: string): number => loads.get(client) ?? 0
  const addLoad = (client: string, d: number): void => {
    const n = load(client) + d
    if (n <= 0) loads.delete(client)
    else loads.set(client, n)
  }

  // seconds until a client with `ahead` jobs of its own can expect one to finish
  const retryAfter = (ahead: number): number => Math.max(1, Math.min(60, Math.ceil((avgRunMs * Math.max(1, ahead / slots)) / 1000)))

  function admit (who: Requester, count: number): void {
    if (!who.capped || opts.perClient <= 0) return
    const have = load(who.id)
    if (have + count <= opts.perClient) return
    refused++
    throw new ClientCapError(who.id, opts.perClient, retryAfter(have))
  }

  function run (job: Job): void {
    running++
    runs.set(job.client, (runs.get(job.client) ?? 0) + 1)
    const started = now()
    const left = job.deadline - started
    let promise: Promise<unknown>
    try { promise = job.start(left) } catch (err) { promise = Promise.reject(err) }
    promise.then(job.resolve, job.reject).finally(() => {
      running--
      const left = (runs.get(job.client) ?? 1) - 1
      if (left <= 0) runs.delete(job.client)
      else runs.set(job.client, left)
      addLoad(job.client, -1)
      avgRunMs = avgRunMs * 0.8 + Math.max(1, now() - started) * 0.2
      next()
    })
  }

  function next (): void {
    while (running < slots && turn.length > 0) {
      // the first in turn among the clients with the fewest jobs running
      let pick = 0
      let fewest = Infinity
      for (let i = 0; i < turn.length && fewest > 0; i++) {
        const n = runs.get(turn[i] as string) ?? 0
        if (n < fewest) { fewest = n; pick = i }
      }
      const client = turn.splice(pick, 1)[0] as string
      const q = queues.get(client)
      const job = q?.shift()
      if (q === undefined || job === undefined) { queues.delete(client); continue }
      if (q.length === 0) queues.delete(client)
      else turn.push(client)
      queued--
      if (job.timer !== null) clearTimeout(job.timer)
      if (job.deadline - now() < minRunMs) { timedOut(job); continue }
      run(job)
    }
  }

  // a job still queued when too little of its time is left
  function expire (job: Job): void {
    const q = queues.get(job.client)
    const i = q?.indexOf(job) ?? -1
    if (q === undefined || i < 0) return
    q.splice(i, 1)
    if (q.length === 0) {
      queues.delete(job.client)
      const t = turn.indexOf(job.client)
      if (t >= 0) turn.splice(t, 1)
    }
    queued--
    timedOut(job)
  }

  function timedOut (job: Job): void {
    expired++
    addLoad(job.client, -1)
    const waited = (now() - job.deadline + opts.timeoutMs) / 1000
    job.reject(new AppError('EXTRACTION_TIMEOUT', undefined, {
      detail: `waited ${waited.toFixed(1)} s in this worker's extraction queue for a free slot; EXTRACT_TIMEOUT (${opts.timeoutMs / 1000} s) counts the wait, and too little of it was left to start`
    }))
  }

  async function submit<T> (who: Requester, start: (remainingMs: number) => Promise<T>): Promise<T> {
    admit(who, 1)
    const waiting = running >= slots || turn.length > 0
    if (waiting && queued >= opts.maxQueued) {
      throw new AppError('EXTRACTION_BUSY', undefined, { detail: `${queued} extractions are queued in this worker`, headers: { 'retry-after': '2' } })
    }
    addLoad(who.id, 1)
    return await new Promise<T>((resolve, reject) => {
      const job: Job = { client: who.id, deadline: now() + opts.timeoutMs, start, resolve: resolve as (v: unknown) => void, reject, timer: null }
      if (!waiting) { run(job); return }
      let q = queues.get(who.id)
      if (q === undefined) {
        q = []
        queues.set(who.id, q)
        turn.push(who.id)
      }
      q.push(job)
      queued++
      job.timer = setTimeout(() => expire(job), Math.max(0, opts.timeoutMs - minRunMs))
    })
  }

  return {
    submit,
    admit,
    load,
    stats: () => ({ queued, running, clients: loads.size, expired, refused })
  }
}
