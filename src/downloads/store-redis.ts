// Task state in Redis, shared by every process on every host:
//   vg:dl:t:<id>   the record (JSON, expires after the retention period)
//   vg:dl:idx      sorted set of every id by creation time; vg:dl:idx:<state> the same by state
//   vg:dl:own:<client>[:<state>]  one owner's ids, vg:dl:cli:<quota> one client's (caps);
//                  these expire with the last record saved into them
//   vg:dl:k:<key>  dedupe key → task id
//   vg:dl:c:<id>   a cancel request; also announced on the vg:dl:cancel channel
//   vg:dl:o:<who>  each process's heartbeat (expires when the process dies)
// Every save is published on vg:dl:ev:<id> for the SSE streams of any process.
import type { Redis } from '../redis.ts'
import type { Logger } from '../log.ts'
import { parseRecord } from './record.ts'
import { ENTRY_GRACE_MS, TASK_STATES } from './types.ts'
import type { TaskClient, TaskListener, TaskRecord, TaskScope, TaskStore } from './types.ts'

export interface RedisStoreOptions {
  redis: Redis
  log: Logger
  ttlSec: number
  leaseMs: number
  prefix?: string
}

// Writes the record (with ARGV[2] a seq: only if the stored one still has it),
// places its id in the sets of its state and out of the other states' sets,
// and publishes it. KEYS: record, events channel, idx, idx:<state> × 5 in
// TASK_STATES order, then for a task with a client own, own:<state> × 5, cli.
// ARGV: json, expected seq or '', ttl, score, id, state number (1-5).
const SAVE = `
if ARGV[2] ~= '' then
  local cur = redis.call('GET', KEYS[1])
  if cur then
    local ok, obj = pcall(cjson.decode, cur)
    if ok and tonumber(obj.seq) ~= tonumber(ARGV[2]) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
local state = tonumber(ARGV[6])
local function place (base)
  redis.call('ZADD', KEYS[base], ARGV[4], ARGV[5])
  for i = 1, 5 do
    if i == state then redis.call('ZADD', KEYS[base + i], ARGV[4], ARGV[5]) else redis.call('ZREM', KEYS[base + i], ARGV[5]) end
  end
end
place(3)
if #KEYS > 8 then
  place(9)
  redis.call('ZADD', KEYS[15], ARGV[4], ARGV[5])
  redis.call('EXPIRE', KEYS[9], ARGV[3])
  redis.call('EXPIRE', KEYS[9 + state], ARGV[3])
  redis.call('EXPIRE', KEYS[15], ARGV[3])
end
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1`

// Counts a new id against its client (KEYS[1]) and the store (KEYS[2]) unless
// either is full: 0 placed, 1 the client is full, 2 the store is.
// ARGV: score, id, per-client cap, store cap (0 = none), ttl.
const RESERVE = `
local per = tonumber(ARGV[3])
local all = tonumber(ARGV[4])
if per > 0 and redis.call('ZCARD', KEYS[1]) >= per then return 1 end
if all > 0 and redis.call('ZCARD', KEYS[2]) >= all then return 2 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 0`

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
    cancelChannel: `${p}cancel`,
    scope: (scope: TaskScope) => `${scope.owner === null ? `${p}idx` : `${p}own:${scope.owner}`}${scope.state === null ? '' : `:${scope.state}`}`,
    quota: (quota: string) => `${p}cli:${quota}`
  }
  // every set a task can be in, in the order SAVE takes them
  const setsOf = (client: TaskClient | null): string[] => {
    const owners: Array<string | null> = client === null ? [null] : [null, client.owner]
    const keys = owners.flatMap((owner) => [k.scope({ owner, state: null }), ...TASK_STATES.map((state) => k.scope({ owner, state }))])
    return client === null ? keys : [...keys, k.quota(client.quota)]
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

  async function write (task: TaskRecord, expectedSeq: number | null): Promise<boolean> {
    const keys = [k.task(task.id), k.events(task.id), ...setsOf(task.client)]
    const args = [JSON.stringify(task), expectedSeq === null ? '' : String(expectedSeq), String(ttlSec), String(Date.parse(task.created_at)), task.id, String(TASK_STATES.indexOf(task.state) + 1)]
    return await redis.eval(SAVE, keys.length, ...keys, ...args) === 1
  }

  async function save (task: TaskRecord): Promise<void> {
    await write(task, null)
  }

  // drops ids whose record is gone (expired without cleanup) from a set, once past the creation grace
  async function dropStale (key: string, entries: Array<{ id: string, score: number, text: string | null }>): Promise<void> {
    const now = Date.now()
    const stale = entries.filter((e) => e.text === null && now - e.score > ENTRY_GRACE_MS).map((e) => e.id)
    if (stale.length > 0) await redis.zrem(key, ...stale)
  }

  // ids of a sorted set from `start` (newest first, or oldest first), with scores and records
  async function read (key: string, start: number, count: number, newest = true): Promise<Array<{ id: string, score: number, text: string | null }>> {
    const flat = newest
      ? await redis.zrevrange(key, start, start + count - 1, 'WITHSCORES')
      : await redis.zrange(key, start, start + count - 1, 'WITHSCORES')
    const ids: Array<{ id: string, score: number }> = []
    for (let i = 0; i + 1 < flat.length; i += 2) ids.push({ id: flat[i] ?? '', score: Number(flat[i + 1]) })
    if (ids.length === 0) return []
    const texts = await redis.mget(ids.map((e) => k.task(e.id)))
    return ids.map((e, i) => ({ ...e, text: texts[i] ?? null }))
  }

  return {
    kind: 'redis',
    get,
    save,
    saveIf: async (task, expectedSeq) => await write(task, expectedSeq),
    async remove (id) {
      const task = await get(id)
      const tx = redis.multi().del(k.task(id), k.cancel(id))
      for (const key of setsOf(task?.client ?? null)) tx.zrem(key, id)
      await tx.publish(k.events(id), '').exec()
    },
    async page (scope, offset, limit) {
      const key = k.scope(scope)
      const total = await redis.zcard(key)
      const tasks: TaskRecord[] = []
      let start = offset
      while (tasks.length < limit && start < total) {
        const entries = await read(key, start, limit - tasks.length)
        if (entries.length === 0) break
        start += entries.length
        await dropStale(key, entries)
        for (const e of entries) {
          const task = e.text === null ? null : parseRecord(e.text)
          if (task === null) continue
          if (scope.state !== null && task.state !== scope.state) continue
          if (scope.owner !== null && task.client?.owner !== scope.owner) continue
          tasks.push(task)
        }
      }
      return { tasks, total }
    },
    async reserve (id, client, createdMs, caps) {
      const run = async (): Promise<unknown> => await redis.eval(RESERVE, 2, k.quota(client.quota), k.index, String(createdMs), id, String(caps.perClient), String(caps.global), String(ttlSec))
      let verdict = await run()
      if (verdict === 1) {
        // the client's set may still hold tasks whose records expired
        const key = k.quota(client.quota)
        const before = await redis.zcard(key)
        await dropStale(key, await read(key, 0, before, false))
        if (await redis.zcard(key) < before) verdict = await run()
      }
      return verdict === 0 ? 'ok' : verdict === 1 ? 'client' : 'global'
    },
    async release (id, client) {
      await redis.multi().zrem(k.quota(client.quota), id).zrem(k.index, id).exec()
    },
    async oldest (quota) {
      for (const e of await read(k.quota(quota), 0, 5, false)) {
        const task = e.text === null ? null : parseRecord(e.text)
        if (task !== null) return task
      }
      return null
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
