// Worker side of the primary ⇄ worker messages, and the one typed set of those
// messages (the primary parses workers' messages with parseWorkerMessage). The
// primary pushes the cluster state (workers alive/expected, the last yt-dlp
// update) and relays "collect" requests, so one worker can answer for all of
// them (stats, metrics) or act in all of them (a yt-dlp reload) without
// sharing memory. Without Redis it also holds the host's shared state for its
// workers (the info cache's L2 and the single-flight locks, cluster/host-state.ts),
// asked with "shared" requests: every answer awaited has an id and a timeout.
import { randomUUID } from 'node:crypto'
import type { UpdateStatus } from '../extract/ytdlp-status.ts'

export interface ClusterState { alive: number, expected: number, restarts: number }

// ytdlp-reload: every worker reloads its warm yt-dlp processes and answers how it went
// cache: each worker's cached info keys and cache counts (/api/v2/stream/cache/stats)
export type CollectKind = 'stats' | 'metrics' | 'ytdlp-reload' | 'cache'
const COLLECT_KINDS: ReadonlySet<unknown> = new Set<CollectKind>(['stats', 'metrics', 'ytdlp-reload', 'cache'])
export const isCollectKind = (x: unknown): x is CollectKind => COLLECT_KINDS.has(x)

// How long the primary waits for the workers' answers when the request names no timeout, and the bounds of one.
export const COLLECT_TIMEOUT_MS = 1500
export const COLLECT_TIMEOUT_MAX_MS = 15 * 60_000
export function collectTimeout (requested: unknown): number {
  return typeof requested === 'number' && Number.isFinite(requested) ? Math.min(COLLECT_TIMEOUT_MAX_MS, Math.max(100, Math.round(requested))) : COLLECT_TIMEOUT_MS
}

// Host-wide state the primary keeps for its workers when there is no Redis. get, lock and wait are
// answered (SharedReply of the same op); set, del and unlock are not. A lock is held until unlocked
// with its token, until it expires (ttlMs) or until its worker exits; wait is answered when the key's
// lock is free (free: true, at once when it is) or after timeoutMs (free: false).
export type SharedRequest =
  | { op: 'get', key: string }
  | { op: 'set', key: string, value: string, ttlMs: number }
  | { op: 'del', key: string }
  | { op: 'lock', key: string, ttlMs: number }
  | { op: 'unlock', key: string, token: string }
  | { op: 'wait', key: string, timeoutMs: number }

// get: the value and the milliseconds it has left; lock: the token, or null while another holds it
export type SharedReply =
  | { op: 'get', value: string | null, ttlMs: number }
  | { op: 'lock', key: string, token: string | null }
  | { op: 'wait', free: boolean }

// The longest lock and wait: longer asks are shortened to it (a timer's limit is 24.8 days).
export const SHARED_MAX_MS = 7 * 86_400_000

// primary → worker
export type PrimaryMessage =
  | { type: 'vidgate:cluster', alive: number, expected: number, restarts: number, ytdlpUpdate: UpdateStatus | null }
  | { type: 'vidgate:collect', id: string, what: CollectKind }
  // missing: pids of the workers asked that gave no answer (timeout, exit, or an answer of null)
  | { type: 'vidgate:response', id: string, results: unknown[], missing: number[] }
  | { type: 'vidgate:shared-reply', id: string, reply: SharedReply }
  | { type: 'vidgate:shutdown' }

// worker → primary
export type WorkerMessage =
  | { type: 'vidgate:ready', port: number | null }
  | { type: 'vidgate:request', id: string, what: CollectKind, timeoutMs: number }
  | { type: 'vidgate:collected', id: string, data: unknown }
  // id: '' for the requests that are not answered
  | { type: 'vidgate:shared', id: string, req: SharedRequest }

type Fields = Record<string, unknown>
const isFields = (x: unknown): x is Fields => typeof x === 'object' && x !== null && !Array.isArray(x)
const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x)

function parseUpdate (x: unknown): UpdateStatus | null {
  if (!isFields(x) || typeof x.ok !== 'boolean' || !isNumber(x.atMs) || typeof x.detail !== 'string') return null
  return { ok: x.ok, atMs: x.atMs, detail: x.detail }
}

const isKey = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 4096
const isSpan = (x: unknown): x is number => isNumber(x) && x > 0
const span = (x: number): number => Math.min(x, SHARED_MAX_MS)

function parseSharedRequest (x: unknown): SharedRequest | null {
  if (!isFields(x) || !isKey(x.key)) return null
  switch (x.op) {
    case 'get': return { op: x.op, key: x.key }
    case 'del': return { op: x.op, key: x.key }
    case 'set': return typeof x.value === 'string' && isSpan(x.ttlMs) ? { op: x.op, key: x.key, value: x.value, ttlMs: x.ttlMs } : null
    case 'lock': return isSpan(x.ttlMs) ? { op: x.op, key: x.key, ttlMs: span(x.ttlMs) } : null
    case 'unlock': return typeof x.token === 'string' ? { op: x.op, key: x.key, token: x.token } : null
    case 'wait': return isSpan(x.timeoutMs) ? { op: x.op, key: x.key, timeoutMs: span(x.timeoutMs) } : null
    default: return null
  }
}

function parseSharedReply (x: unknown): SharedReply | null {
  if (!isFields(x)) return null
  switch (x.op) {
    case 'get': return (typeof x.value === 'string' || x.value === null) && isNumber(x.ttlMs) ? { op: x.op, value: x.value, ttlMs: x.ttlMs } : null
    case 'lock': return isKey(x.key) && (typeof x.token === 'string' || x.token === null) ? { op: x.op, key: x.key, token: x.token } : null
    case 'wait': return typeof x.free === 'boolean' ? { op: x.op, free: x.free } : null
    default: return null
  }
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
    case 'vidgate:shared-reply': {
      const reply = parseSharedReply(x.reply)
      return typeof x.id === 'string' && reply !== null ? { type: x.type, id: x.id, reply } : null
    }
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
    case 'vidgate:shared': {
      const req = parseSharedRequest(x.req)
      return typeof x.id === 'string' && req !== null ? { type: x.type, id: x.id, req } : null
    }
    default:
      return null
  }
}

// The workers' answers to one collect. missing: pids of workers asked that did not
// answer; primaryAnswered false: the primary itself did not answer in time (results empty).
export interface Gathered { results: unknown[], missing: number[], primaryAnswered: boolean }

// The primary's shared state, asked over the link (null in a single process: no primary).
export interface SharedChannel {
  // the primary's answer, or null when none came within timeoutMs. From then on the primary counts
  // as slow: asks answer null at once (one goes out at a time) until an answer comes, however late.
  ask: (req: SharedRequest & { op: 'get' | 'lock' | 'wait' }, timeoutMs: number) => Promise<SharedReply | null>
  // a request that is not answered (set, del, unlock)
  tell: (req: SharedRequest & { op: 'set' | 'del' | 'unlock' }) => void
}

// How long a worker waits for the primary's answer to get and lock before it goes on without it.
export const SHARED_TIMEOUT_MS = 2000

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
  shared: SharedChannel | null
  close: () => void
}

// How much longer the link waits than the primary, whose own timer answers first.
const LINK_MARGIN_MS = 500
const ignoreSendError = (): void => {}

export function createClusterLink (local: (what: CollectKind) => Promise<unknown>, timeoutMs = 2000): ClusterLink {
  // A write racing the primary's end fails in the callback (without one it would be an 'error' event).
  const send: ((msg: WorkerMessage) => void) | undefined = process.send === undefined ? undefined : (msg) => { process.send?.(msg, undefined, undefined, ignoreSendError) }
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
    } else if (msg.type === 'vidgate:shared-reply') {
      sharedPending.get(msg.id)?.(msg.reply)
      sharedPending.delete(msg.id)
    } else {
      for (const fn of shutdownHandlers) fn()
    }
  }
  if (send !== undefined) process.on('message', onMessage)

  // id → what to do with the primary's answer
  const sharedPending = new Map<string, (reply: SharedReply) => void>()
  let sharedIds = 0
  let slow = false
  let probing = false
  // An answer that came too late says the primary is back; a lock it grants is nobody's: give it back.
  const late = (reply: SharedReply): void => {
    slow = false
    probing = false
    if (reply.op === 'lock' && reply.token !== null) send?.({ type: 'vidgate:shared', id: '', req: { op: 'unlock', key: reply.key, token: reply.token } })
  }
  const shared: SharedChannel | null = send === undefined
    ? null
    : {
        async ask (req, ms) {
          const id = String(++sharedIds)
          if (slow) {
            if (!probing) { probing = true; sharedPending.set(id, late); send({ type: 'vidgate:shared', id, req }) }
            return null
          }
          return await new Promise<SharedReply | null>((resolve) => {
            // An answer already read from the channel is handled in the poll phase, before setImmediate's
            // check phase: a worker whose own loop lagged past the timer does not blame the primary.
            const timer = setTimeout(() => setImmediate(() => {
              if (!sharedPending.has(id)) return
              sharedPending.set(id, late)
              slow = true
              resolve(null)
            }), ms)
            sharedPending.set(id, (reply) => { clearTimeout(timer); resolve(reply) })
            send({ type: 'vidgate:shared', id, req })
          })
        },
        tell (req) { send({ type: 'vidgate:shared', id: '', req }) }
      }

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
    shared,
    close () { process.off('message', onMessage) }
  }
}
