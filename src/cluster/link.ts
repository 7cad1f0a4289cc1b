// Worker side of the primary ⇄ worker messages, and the one typed set of those
// messages (the primary parses workers' messages with parseWorkerMessage). The
// primary pushes the cluster state (workers alive/expected, the last yt-dlp
// update) and relays "collect" requests, so one worker can answer for all of
// them (stats, metrics) or act in all of them (a yt-dlp reload) without
// sharing memory.
import { randomUUID } from 'node:crypto'
import type { UpdateStatus } from '../extract/ytdlp-status.ts'

export interface ClusterState { alive: number, expected: number, restarts: number }

// ytdlp-reload: every worker reloads its warm yt-dlp processes and answers how it went
export type CollectKind = 'stats' | 'metrics' | 'ytdlp-reload'
const COLLECT_KINDS: ReadonlySet<unknown> = new Set<CollectKind>(['stats', 'metrics', 'ytdlp-reload'])
export const isCollectKind = (x: unknown): x is CollectKind => COLLECT_KINDS.has(x)

// How long the primary waits for the workers' answers when the request names no timeout, and the bounds of one.
export const COLLECT_TIMEOUT_MS = 1500
export const COLLECT_TIMEOUT_MAX_MS = 15 * 60_000
export function collectTimeout (requested: unknown): number {
  return typeof requested === 'number' && Number.isFinite(requested) ? Math.min(COLLECT_TIMEOUT_MAX_MS, Math.max(100, Math.round(requested))) : COLLECT_TIMEOUT_MS
}

// primary → worker
export type PrimaryMessage =
  | { type: 'vidgate:cluster', alive: number, expected: number, restarts: number, ytdlpUpdate: UpdateStatus | null }
  | { type: 'vidgate:collect', id: string, what: CollectKind }
  // missing: pids of the workers asked that gave no answer (timeout, exit, or an answer of null)
  | { type: 'vidgate:response', id: string, results: unknown[], missing: number[] }
  | { type: 'vidgate:shutdown' }

// worker → primary
export type WorkerMessage =
  | { type: 'vidgate:ready', port: number | null }
  | { type: 'vidgate:request', id: string, what: CollectKind, timeoutMs: number }
  | { type: 'vidgate:collected', id: string, data: unknown }

type Fields = Record<string, unknown>
const isFields = (x: unknown): x is Fields => typeof x === 'object' && x !== null && !Array.isArray(x)
const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x)

function parseUpdate (x: unknown): UpdateStatus | null {
  if (!isFields(x) || typeof x.ok !== 'boolean' || !isNumber(x.atMs) || typeof x.detail !== 'string') return null
  return { ok: x.ok, atMs: x.atMs, detail: x.detail }
}

export function parsePrimaryMessage (x: unknown): PrimaryMessage | null {
  if (!isFields(x)) return null
  switch (x.type) {
    case 'vidgate:cluster':
      if (!isNumber(x.alive) || !isNumber(x.expected)) return null
      return { type: x.type, alive: x.alive, expected: x.expected, restarts: isNumber(x.restarts) ? x.restarts : 0, ytdlpUpdate: parseUpdate(x.ytdlpUpdate) }
    case 'vidgate:collect':
      return typeof x.id === 'string' && isCollectKind(x.what) ? { type: x.type, id: x.id, what: x.what } : null
    case 'vidgate:response':
      if (typeof x.id !== 'string' || !Array.isArray(x.results)) return null
      return { type: x.type, id: x.id, results: x.results, missing: Array.isArray(x.missing) ? x.missing.filter(isNumber) : [] }
    case 'vidgate:shutdown':
      return { type: x.type }
    default:
      return null
  }
}

export function parseWorkerMessage (x: unknown): WorkerMessage | null {
  if (!isFields(x)) return null
  switch (x.type) {
    case 'vidgate:ready':
      return { type: x.type, port: isNumber(x.port) ? x.port : null }
    case 'vidgate:request':
      return typeof x.id === 'string' && isCollectKind(x.what) ? { type: x.type, id: x.id, what: x.what, timeoutMs: collectTimeout(x.timeoutMs) } : null
    case 'vidgate:collected':
      return typeof x.id === 'string' ? { type: x.type, id: x.id, data: x.data ?? null } : null
    default:
      return null
  }
}

// The workers' answers to one collect. missing: pids of workers asked that did not
// answer; primaryAnswered false: the primary itself did not answer in time (results empty).
export interface Gathered { results: unknown[], missing: number[], primaryAnswered: boolean }

export interface ClusterLink {
  state: () => ClusterState
  // the outcome of the primary's last automatic yt-dlp update (YTDLP_AUTO_UPDATE), null before one
  ytdlpUpdate: () => UpdateStatus | null
  // every live worker's answer (this one's alone when the primary does not answer)
  collect: (what: CollectKind) => Promise<unknown[]>
  // every live worker's answer within timeoutMs, and who did not answer
  gather: (what: CollectKind, timeoutMs: number) => Promise<Gathered>
  ready: (port: number) => void
  onShutdown: (fn: () => void) => void
  close: () => void
}

// How much longer the link waits than the primary, whose own timer answers first.
const LINK_MARGIN_MS = 500

export function createClusterLink (local: (what: CollectKind) => Promise<unknown>, timeoutMs = 2000): ClusterLink {
  const send: ((msg: WorkerMessage) => void) | undefined = process.send === undefined ? undefined : (msg) => { process.send?.(msg) }
  let state: ClusterState = { alive: 1, expected: 1, restarts: 0 }
  let update: UpdateStatus | null = null
  const pending = new Map<string, (results: unknown[], missing: number[]) => void>()
  const shutdownHandlers: Array<() => void> = []

  const onMessage = (raw: unknown): void => {
    const msg = parsePrimaryMessage(raw)
    if (msg === null) return
    if (msg.type === 'vidgate:cluster') {
      state = { alive: msg.alive, expected: msg.expected, restarts: msg.restarts }
      update = msg.ytdlpUpdate
    } else if (msg.type === 'vidgate:collect') {
      const id = msg.id
      local(msg.what).then(
        (data) => send?.({ type: 'vidgate:collected', id, data }),
        () => send?.({ type: 'vidgate:collected', id, data: null })
      )
    } else if (msg.type === 'vidgate:response') {
      pending.get(msg.id)?.(msg.results, msg.missing)
      pending.delete(msg.id)
    } else {
      for (const fn of shutdownHandlers) fn()
    }
  }
  if (send !== undefined) process.on('message', onMessage)

  async function ask (what: CollectKind, primaryTimeoutMs: number, linkTimeoutMs: number): Promise<Gathered | null> {
    if (send === undefined) return null
    const id = randomUUID()
    return await new Promise<Gathered | null>((resolve) => {
      const timer = setTimeout(() => { pending.delete(id); resolve(null) }, linkTimeoutMs)
      pending.set(id, (results, missing) => { clearTimeout(timer); resolve({ results, missing, primaryAnswered: true }) })
      send({ type: 'vidgate:request', id, what, timeoutMs: primaryTimeoutMs })
    })
  }

  return {
    state: () => state,
    ytdlpUpdate: () => update,
    async collect (what) {
      const got = await ask(what, COLLECT_TIMEOUT_MS, Math.max(timeoutMs, COLLECT_TIMEOUT_MS + LINK_MARGIN_MS))
      if (got !== null) return got.results
      try { return [await local(what)] } catch { return [] }
    },
    async gather (what, ms) {
      const wait = collectTimeout(ms)
      if (send === undefined) {
        // a single process (tests, in-process apps): this process is every worker
        let timer: NodeJS.Timeout | undefined
        const late = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), wait) })
        const data = await Promise.race([local(what).catch(() => null), late]).finally(() => clearTimeout(timer))
        return { results: data === null ? [] : [data], missing: data === null ? [process.pid] : [], primaryAnswered: true }
      }
      return await ask(what, wait, wait + LINK_MARGIN_MS) ?? { results: [], missing: [], primaryAnswered: false }
    },
    ready (port) { send?.({ type: 'vidgate:ready', port }) },
    onShutdown (fn) { shutdownHandlers.push(fn) },
    close () { process.off('message', onMessage) }
  }
}
