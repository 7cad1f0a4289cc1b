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

export async function connectRedis (client: Redis, timeoutMs: number): Promise<boolean> {
  const timer = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref())
  const connected = client.connect().then(() => true, () => false)
  return await Promise.race([connected, timer])
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
