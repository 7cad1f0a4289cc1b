// Worker side of the primary ⇄ worker messages. The primary pushes the cluster
// state (workers alive/expected) and relays "collect" requests, so one worker
// can answer for all of them (stats, metrics) without sharing memory.
import { randomUUID } from 'node:crypto'

export interface ClusterState { alive: number, expected: number, restarts: number }

export type CollectKind = 'stats' | 'metrics'

export interface ClusterLink {
  state: () => ClusterState
  collect: (what: CollectKind) => Promise<unknown[]>
  ready: (port: number) => void
  onShutdown: (fn: () => void) => void
  close: () => void
}

interface Message { type?: unknown, id?: unknown, what?: unknown, results?: unknown, alive?: unknown, expected?: unknown, restarts?: unknown }

function isMessage (x: unknown): x is Message {
  return typeof x === 'object' && x !== null
}

export function createClusterLink (local: (what: CollectKind) => Promise<unknown>, timeoutMs = 2000): ClusterLink {
  const send = process.send?.bind(process)
  let state: ClusterState = { alive: 1, expected: 1, restarts: 0 }
  const pending = new Map<string, (results: unknown[]) => void>()
  const shutdownHandlers: Array<() => void> = []

  const onMessage = (msg: unknown): void => {
    if (!isMessage(msg)) return
    if (msg.type === 'vidgate:cluster' && typeof msg.alive === 'number' && typeof msg.expected === 'number') {
      state = { alive: msg.alive, expected: msg.expected, restarts: typeof msg.restarts === 'number' ? msg.restarts : 0 }
    } else if (msg.type === 'vidgate:collect' && typeof msg.id === 'string' && (msg.what === 'stats' || msg.what === 'metrics')) {
      const id = msg.id
      local(msg.what).then(
        (data) => send?.({ type: 'vidgate:collected', id, data }),
        () => send?.({ type: 'vidgate:collected', id, data: null })
      )
    } else if (msg.type === 'vidgate:response' && typeof msg.id === 'string' && Array.isArray(msg.results)) {
      pending.get(msg.id)?.(msg.results)
      pending.delete(msg.id)
    } else if (msg.type === 'vidgate:shutdown') {
      for (const fn of shutdownHandlers) fn()
    }
  }
  if (send !== undefined) process.on('message', onMessage)

  return {
    state: () => state,
    async collect (what) {
      if (send === undefined) return [await local(what)]
      const id = randomUUID()
      return await new Promise<unknown[]>((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          local(what).then((x) => resolve([x]), () => resolve([]))
        }, timeoutMs)
        pending.set(id, (results) => { clearTimeout(timer); resolve(results) })
        send({ type: 'vidgate:request', id, what })
      })
    },
    ready (port) { send?.({ type: 'vidgate:ready', port }) },
    onShutdown (fn) { shutdownHandlers.push(fn) },
    close () { process.off('message', onMessage) }
  }
}
