// Task state in Redis, shared by every process on every host:
//   vg:dl:t:<id>   the record (JSON, expires after the retention period)
//   vg:dl:idx      sorted set of ids by creation time, for listing
//   vg:dl:k:<key>  dedupe key → task id
//   vg:dl:c:<id>   a cancel request; also announced on the vg:dl:cancel channel
//   vg:dl:o:<who>  each process's heartbeat (expires when the process dies)
// Every save is published on vg:dl:ev:<id> for the SSE streams of any process.
import type { Redis } from '../redis.ts'
import type { Logger } from '../log.ts'
import { parseRecord } from './record.ts'
import type { TaskListener, TaskRecord, TaskStore } from './types.ts'

export interface RedisStoreOptions {
  redis: Redis
  log: Logger
  ttlSec: number
  leaseMs: number
  prefix?: string
}

// Replace the record only when its seq is the expected one; publish on success.
const SAVE_IF = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, obj = pcall(cjson.decode, cur)
  if ok and tonumber(obj.seq) ~= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1`

const REPLACE_KEY = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0`

const UNCLAIM_KEY = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

export async function createRedisStore (opts: RedisStoreOptions): Promise<TaskStore> {
  const { redis, log, ttlSec } = opts
  const p = opts.prefix ?? 'vg:dl:'
  const k = {
    task: (id: string) => `${p}t:${id}`,
    events: (id: string) => `${p}ev:${id}`,
    key: (key: string) => `${p}k:${key}`,
    cancel: (id: string) => `${p}c:${id}`,
    owner: (who: string) => `${p}o:${who}`,
    index: `${p}idx`,
    cancelChannel: `${p}cancel`
  }
  // pub/sub needs its own connection; it queues commands while reconnecting and resubscribes itself
  const sub = redis.duplicate({ lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined })
  sub.on('error', (err) => log.debug({ err }, 'download events subscriber error'))
  const listeners = new Map<string, Set<TaskListener>>()
  const cancelHandlers: Array<(id: string) => void> = []

  sub.on('message', (channel: string, message: string) => {
    if (channel === k.cancelChannel) {
      for (const h of cancelHandlers) h(message)
      return
    }
    const id = channel.slice(k.events('').length)
    const task = message === '' ? null : parseRecord(message)
    if (message !== '' && task === null) return
    for (const l of listeners.get(id) ?? []) l(task)
  })
  // not awaited: while Redis is down the subscription waits in the offline queue instead of holding up start
  sub.subscribe(k.cancelChannel).catch((err: unknown) => log.warn({ err }, 'cannot subscribe to download cancels'))

  async function get (id: string): Promise<TaskRecord | null> {
    const text = await redis.get(k.task(id))
    return text === null ? null : parseRecord(text)
  }

  async function save (task: TaskRecord): Promise<void> {
    const json = JSON.stringify(task)
    await redis.multi()
      .set(k.task(task.id), json, 'EX', ttlSec)
      .zadd(k.index, Date.parse(task.created_at), task.id)
      .publish(k.events(task.id), json)
      .exec()
  }

  return {
    kind: 'redis',
    get,
    save,
    async saveIf (task, expectedSeq) {
      const json = JSON.stringify(task)
      const done = await redis.eval(SAVE_IF, 2, k.task(task.id), k.events(task.id), json, String(expectedSeq), String(ttlSec))
      return done === 1
    },
    async remove (id) {
      await redis.multi().del(k.task(id), k.cancel(id)).zrem(k.index, id).publish(k.events(id), '').exec()
    },
    async list () {
      const ids = await redis.zrevrange(k.index, 0, -1)
      const out: TaskRecord[] = []
      const stale: string[] = []
      for (let i = 0; i < ids.length; i += 200) {
        const chunk = ids.slice(i, i + 200)
        const texts = await redis.mget(chunk.map(k.task))
        texts.forEach((text, j) => {
          const task = text === null ? null : parseRecord(text)
          if (task !== null) out.push(task)
          else if (text === null) stale.push(chunk[j] ?? '')
        })
      }
      if (stale.length > 0) await redis.zrem(k.index, ...stale)
      return out
    },
    async claim (key, id) {
      for (let i = 0; i < 5; i++) {
        const set = await redis.set(k.key(key), id, 'EX', ttlSec, 'NX')
        if (set === 'OK') return null
        const holder = await redis.get(k.key(key))
        if (holder !== null) return holder
      }
      throw new Error(`dedupe key ${key} keeps changing`)
    },
    async replace (key, staleId, id) {
      return await redis.eval(REPLACE_KEY, 1, k.key(key), staleId, id, String(ttlSec)) === 1
    },
    async unclaim (key, id) {
      await redis.eval(UNCLAIM_KEY, 1, k.key(key), id)
    },
    async requestCancel (id) {
      await redis.multi().set(k.cancel(id), '1', 'EX', ttlSec).publish(k.cancelChannel, id).exec()
    },
    async cancelRequested (id) {
      return await redis.exists(k.cancel(id)) === 1
    },
    onCancel (handler) { cancelHandlers.push(handler) },
    async heartbeat (owner) {
      await redis.set(k.owner(owner), String(Date.now()), 'PX', opts.leaseMs)
    },
    async ownerAlive (owner) {
      return await redis.exists(k.owner(owner)) === 1
    },
    watch (id, listener) {
      let set = listeners.get(id)
      if (set === undefined) {
        listeners.set(id, set = new Set())
        sub.subscribe(k.events(id)).catch((err: unknown) => log.warn({ err, id }, 'cannot subscribe to download events'))
      }
      set.add(listener)
      return () => {
        set.delete(listener)
        if (set.size === 0 && listeners.get(id) === set) {
          listeners.delete(id)
          sub.unsubscribe(k.events(id)).catch(() => {})
        }
      }
    },
    async prune () {},
    async close () {
      listeners.clear()
      sub.disconnect()
    }
  }
}
