// One ioredis client per process, built to fail fast: while Redis is down every
// command errors at once (no offline queue), so callers degrade instead of hanging.
import { Redis } from 'ioredis'
import type { Logger } from './log.ts'

export type { Redis }

export function createRedis (url: string, log: Logger, options: { commandTimeoutMs?: number } = {}): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 1000,
    connectTimeout: 2000,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(times * 200, 2000)
  })
  client.on('connect', () => { coalesceWrites(client.stream) })
  let down = false
  client.on('error', (err) => {
    if (!down) log.warn({ err }, 'redis unavailable')
    down = true
  })
  client.on('ready', () => {
    if (down) log.info('redis reconnected')
    down = false
  })
  return client
}

// The commands written in one turn of the event loop leave in one write: every
// request uWS hands over in one poll phase (their rate-limit counts and cache
// reads), flushed when the phase is over (setImmediate). ioredis writes each
// command with its own write(2), and Redis reads each apart. Its
// enableAutoPipelining batches one tick with a Pipeline each, whose bookkeeping
// cost more CPU than the system calls it saved (measured: 22-27 vs 18-20 µs per
// GET+EVALSHA pair; a corked socket: 13-16 µs); a turn holds many ticks (uWS
// runs each request's callback as its own).
const coalesced = new WeakSet<object>()
function coalesceWrites (stream: NodeJS.WritableStream & { cork: () => void, uncork: () => void }): void {
  if (coalesced.has(stream)) return
  coalesced.add(stream)
  let corked = false
  const uncork = (): void => { corked = false; stream.uncork() }
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean
  stream.write = ((...args: unknown[]): boolean => {
    if (!corked) { corked = true; stream.cork(); setImmediate(uncork) }
    return write(...args)
  }) as typeof stream.write
}

export async function connectRedis (client: Redis, timeoutMs: number): Promise<boolean> {
  const timer = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref())
  const connected = client.connect().then(() => true, () => false)
  return await Promise.race([connected, timer])
}

// A command that timed out means the link is gone without a close (a cut cable,
// a frozen host or Redis): left alone, every later command would wait out its
// own timeout too. Callers report such failures here, and the connection is
// dropped; while ioredis reconnects (retryStrategy) every command fails at once
// (no offline queue), so callers take their fallbacks without waiting.
export function redisFailed (client: Redis, err: unknown): void {
  if (client.status !== 'ready' || !(err instanceof Error) || err.message !== 'Command timed out') return
  // destroy, not end(): a graceful close waits for a peer that no longer answers;
  // ioredis sees the close and reconnects by its retryStrategy
  client.stream.destroy()
}

export function isRedisReady (client: Redis): boolean {
  return client.status === 'ready'
}

// quit() waits for a reply (and, with an offline queue, for a reconnect that may
// never come): only ask a connected server, and never wait long.
export async function closeRedis (client: Redis, timeoutMs = 1000): Promise<void> {
  if (client.status !== 'ready') { client.disconnect(); return }
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref())
  const quit = client.quit().then(() => 'ok' as const, () => 'error' as const)
  if (await Promise.race([quit, timer]) !== 'ok') client.disconnect()
}
