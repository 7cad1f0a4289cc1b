// Downloads belong to their client, with state files and with Redis: anonymous
// clients (an owner token each) and API-key clients see, follow, download and
// delete only their own tasks, anyone else's answers 404 like a missing one, an
// admin key sees all; storage stats show paths and names to admins only; the
// per-client cap answers 429 with Retry-After, the store-wide cap 507.
// Real yt-dlp against a loopback origin, one download slot: a slow download
// holds it, so the tasks made for the caps wait in the queue instead of running.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '../log.ts'
import { connectRedis, createRedis } from '../redis.ts'
import type { Redis } from '../redis.ts'
import { startRedis } from '../testing/helpers.ts'
import { cleanupStack, makeBigFile, makeMedia, postJson, readSse, startDownloadsServer, startOrigin, waitForTask } from '../testing/downloads.ts'
import type { DownloadsServer, Origin } from '../testing/downloads.ts'

const PER_CLIENT = 3
const MAX_TASKS = 14
const ADMIN = { 'x-api-key': 'adminkey01' }
const USER1 = { 'x-api-key': 'userkey001' }
const USER2 = { authorization: 'Bearer userkey002' }
// the server trusts 127.0.0.1 as a proxy: each of these is a remote anonymous client
const ip = (n: number): Record<string, string> => ({ 'x-forwarded-for': `198.51.100.${n}` })

type Json = Record<string, unknown>

async function get (srv: DownloadsServer, path: string, headers: Record<string, string> = {}): Promise<{ status: number, json: Json }> {
  const res = await fetch(`${srv.url}${path}`, { headers })
  return { status: res.status, json: await res.json() as Json }
}

async function del (srv: DownloadsServer, id: string, headers: Record<string, string>): Promise<{ status: number, json: Json }> {
  const res = await fetch(`${srv.url}/api/v2/videos/tasks/${id}`, { method: 'DELETE', headers })
  return { status: res.status, json: await res.json() as Json }
}

const ids = (list: Json): string[] => (list.tasks as Json[]).map((t) => String(t.task_id)).sort()

function assertErrorShape (json: Json, code: string): void {
  assert.equal(json.code, code, JSON.stringify(json))
  assert.equal(typeof json.error, 'string')
  assert.equal(typeof json.detail, 'string')
  assert.equal(typeof json.request_id, 'string')
  assert.equal(typeof json.timestamp, 'string')
}

async function media (later: (fn: () => unknown) => void): Promise<Origin> {
  const dir = mkdtempSync(join(tmpdir(), 'vg-origin-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  makeMedia(dir, 2)
  makeBigFile(dir, 'big.mp4', 8 * 1024 * 1024)
  const origin = await startOrigin(dir)
  later(async () => await origin.close())
  return origin
}

async function server (later: (fn: () => unknown) => void, origin: Origin, redis: Redis | null): Promise<DownloadsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vg-dl-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  const srv = await startDownloadsServer({
    dir,
    originHost: origin.host,
    redis,
    // a key exists, so only the admin key is an admin (loopback is not)
    apiKeys: ['adminkey01:admin', 'userkey001', 'userkey002'],
    trustedProxies: ['127.0.0.1/32'],
    config: { MAX_CONCURRENT_DOWNLOADS: 1, DOWNLOAD_TASKS_PER_CLIENT: PER_CLIENT, DOWNLOAD_TASKS_MAX: MAX_TASKS },
    options: { concurrency: 1 }
  })
  later(async () => await srv.close())
  return srv
}

async function scenario (srv: DownloadsServer, origin: Origin): Promise<void> {
  const submit = async (body: Json, headers: Record<string, string>): Promise<{ status: number, json: Json, headers: Headers }> =>
    await postJson(srv.url, '/api/v2/videos/download', body, headers)

  // anonymous A: a token comes back in the body and the header, and makes A the owner
  const a1 = await submit({ url: `${origin.base}/clip.mp4` }, ip(1))
  assert.equal(a1.status, 202, JSON.stringify(a1.json))
  const tokenA = String(a1.json.owner_token)
  assert.match(tokenA, /^[A-Za-z0-9_-]{43}$/)
  assert.equal(a1.headers.get('x-task-token'), tokenA)
  const A = { ...ip(1), 'x-task-token': tokenA }
  const a1Id = String(a1.json.task_id)
  const done = await waitForTask(srv.url, a1Id, ['completed', 'failed'], 60_000, A)
  assert.equal(done.status, 'completed', JSON.stringify(done))
  // from now on the only download slot is taken: every task below waits in the queue
  const slow = await submit({ url: `${origin.base}/slow/big.mp4` }, ADMIN)
  assert.equal(slow.status, 202)
  assert.equal(slow.json.owner_token, null, 'an API key owns its tasks by itself')
  assert.equal(slow.headers.get('x-task-token'), null)

  const a2 = await submit({ url: `${origin.base}/hls/index.m3u8` }, A)
  assert.equal(a2.json.owner_token, tokenA, 'a task created with a token joins it')
  const b1 = await submit({ url: `${origin.base}/clip.mp4` }, ip(2))
  const tokenB = String(b1.json.owner_token)
  assert.notEqual(tokenB, tokenA)
  assert.notEqual(b1.json.task_id, a1Id, 'the same download for another client is another task')
  assert.equal(b1.json.reused, false)
  const B = { ...ip(2), 'x-task-token': tokenB }
  const k1 = await submit({ url: `${origin.base}/clip.mp4` }, USER1)
  const k2 = await submit({ url: `${origin.base}/clip.mp4`, format: 'mkv' }, USER2)
  for (const r of [a2, b1, k1, k2]) assert.equal(r.status, 202, JSON.stringify(r.json))
  const mine = { A: [a1Id, String(a2.json.task_id)].sort(), B: [String(b1.json.task_id)], U1: [String(k1.json.task_id)], U2: [String(k2.json.task_id)] }

  // listings: each client its own, nothing without an identity, the admin all
  const list = async (headers: Record<string, string>, query = ''): Promise<Json> => (await get(srv, `/api/v2/videos/tasks${query}`, headers)).json
  assert.deepEqual(ids(await list(A)), mine.A)
  assert.equal((await list(A)).total, 2)
  assert.deepEqual(ids(await list(B)), mine.B)
  assert.deepEqual(ids(await list(USER1)), mine.U1)
  assert.deepEqual(ids(await list({ ...USER2, 'x-task-token': tokenA })), mine.U2, 'a key wins over a token')
  assert.deepEqual(await list(ip(1)), { total: 0, limit: 50, offset: 0, tasks: [] }, 'no token, no tasks')
  assert.deepEqual(ids(await list(A, '?status=completed')), [a1Id])
  assert.deepEqual(ids(await list(A, '?status=queued')), [String(a2.json.task_id)])
  const all = await list(ADMIN)
  assert.equal(all.total, 6)
  assert.deepEqual(ids(all), [...mine.A, ...mine.B, ...mine.U1, ...mine.U2, String(slow.json.task_id)].sort())
  const page = await list(ADMIN, '?limit=2&offset=1')
  assert.deepEqual((page.tasks as Json[]).map((t) => t.task_id), (all.tasks as Json[]).slice(1, 3).map((t) => t.task_id), 'newest first, paged')

  // one task, its events and its file: the owner and the admin; anyone else gets 404 like a missing id
  const missing = await get(srv, '/api/v2/videos/tasks/AAAAAAAAAAAAAAAA', A)
  assert.equal(missing.status, 404)
  for (const who of [B, USER1, ip(1), { ...ip(1), 'x-task-token': 'x'.repeat(43) }]) {
    const other = await get(srv, `/api/v2/videos/tasks/${a1Id}`, who)
    assert.equal(other.status, 404, JSON.stringify(who))
    assert.equal(other.json.code, 'TASK_NOT_FOUND')
    assert.equal((await fetch(`${srv.url}/api/v2/videos/tasks/${a1Id}/events`, { headers: who })).status, 404)
  }
  assert.equal((await get(srv, `/api/v2/videos/tasks/${a1Id}`, { ...ip(1), 'x-task-token': 'short' })).status, 400)
  assert.equal((await get(srv, `/api/v2/videos/tasks/${a1Id}`, A)).status, 200)
  assert.equal((await get(srv, `/api/v2/videos/tasks/${a1Id}`, ADMIN)).status, 200)
  const { events } = await readSse(`${srv.url}/api/v2/videos/tasks/${a1Id}/events`, undefined, undefined, A)
  assert.equal(events.at(-1)?.event, 'end')
  const file = `${srv.url}${String((done.links as Json).file)}`
  for (const who of [B, USER1, ip(1)]) {
    const res = await fetch(file, { headers: who })
    assert.equal(res.status, 404, JSON.stringify(who))
    assert.equal((await res.json() as Json).code, 'FILE_NOT_FOUND')
  }
  for (const who of [A, ADMIN]) {
    const res = await fetch(file, { headers: who })
    assert.equal(res.status, 200)
    assert.ok((await res.arrayBuffer()).byteLength > 1000)
  }

  // storage: use and quota for everyone, the folder and file names for admins only
  const stats = (await get(srv, '/api/v2/system/storage', A)).json
  assert.equal(stats.directory, null)
  assert.equal(stats.oldest_file, null)
  assert.ok(Number(stats.used_bytes) > 0)
  const full = (await get(srv, '/api/v2/system/storage', ADMIN)).json
  assert.equal(full.directory, srv.downloads.root)
  assert.equal(full.oldest_file, done.filename)

  // delete: not someone else's (and it stays); the owner's and the admin's do
  for (const who of [B, USER2]) assert.equal((await del(srv, a1Id, who)).status, 404)
  assert.equal((await get(srv, `/api/v2/videos/tasks/${a1Id}`, A)).status, 200)
  const removed = await del(srv, a1Id, A)
  assert.equal(removed.json.action, 'removed')
  assert.equal(removed.json.file_removed, true)
  assert.equal((await fetch(file, { headers: ADMIN })).status, 404)
  assert.equal((await del(srv, mine.B[0] ?? '', ADMIN)).json.action, 'cancelled')

  // per client (one IP, whatever the tokens): PER_CLIENT tasks, then 429 with Retry-After
  const c = []
  for (let i = 0; i < PER_CLIENT; i++) {
    const r = await submit({ url: `${origin.base}/clip.mp4?c=${i}` }, ip(3))
    assert.equal(r.status, 202, JSON.stringify(r.json))
    c.push(r)
  }
  const over = await submit({ url: `${origin.base}/clip.mp4?c=over` }, ip(3))
  assert.equal(over.status, 429)
  assertErrorShape(over.json, 'TOO_MANY_TASKS')
  assert.match(over.headers.get('retry-after') ?? '', /^[1-9]\d*$/)
  // a cancelled task still counts until it is deleted
  const first = { ...ip(3), 'x-task-token': String(c[0]?.json.owner_token) }
  assert.equal((await del(srv, String(c[0]?.json.task_id), first)).json.action, 'cancelled')
  assert.equal((await submit({ url: `${origin.base}/clip.mp4?c=over` }, ip(3))).status, 429)
  assert.equal((await del(srv, String(c[0]?.json.task_id), first)).json.action, 'removed')
  assert.equal((await submit({ url: `${origin.base}/clip.mp4?c=over` }, ip(3))).status, 202)
  // a batch from a fresh client: the first PER_CLIENT items are taken, the rest refused per item
  const batch = await postJson(srv.url, '/api/v2/videos/batch-download', { urls: [0, 1, 2, 3, 4].map((i) => `${origin.base}/clip.mp4?d=${i}`) }, ip(4))
  assert.equal(batch.status, 202)
  const codes = (batch.json.results as Json[]).map((r) => r.ok === true ? 'ok' : String((r.error as Json).code))
  assert.deepEqual(codes.sort(), [...new Array<string>(PER_CLIENT).fill('ok'), ...new Array<string>(5 - PER_CLIENT).fill('TOO_MANY_TASKS')].sort())
  assert.equal(batch.headers.get('x-task-token'), batch.json.owner_token)

  // the whole store: an admin (no per-client cap) fills it, then 507
  let stored = Number((await list(ADMIN)).total)
  assert.ok(stored < MAX_TASKS, `${stored} tasks before the store cap`)
  for (let i = 0; stored < MAX_TASKS; i++, stored++) {
    const r = await submit({ url: `${origin.base}/clip.mp4?e=${i}` }, ADMIN)
    assert.equal(r.status, 202, JSON.stringify(r.json))
  }
  const fullStore = await submit({ url: `${origin.base}/clip.mp4?e=full` }, ADMIN)
  assert.equal(fullStore.status, 507)
  assertErrorShape(fullStore.json, 'TASK_STORE_FULL')
  assert.equal((await list(ADMIN)).total, MAX_TASKS)
  assert.equal((await submit({ url: `${origin.base}/clip.mp4?e=full` }, ip(5))).status, 507)
}

test('tasks belong to their client (state files)', async (t) => {
  const later = cleanupStack(t)
  const origin = await media(later)
  await scenario(await server(later, origin, null), origin)
})

test('tasks belong to their client (Redis)', async (t) => {
  const later = cleanupStack(t)
  const origin = await media(later)
  const redisServer = await startRedis()
  later(async () => await redisServer.stop())
  const redis = createRedis(redisServer.url, createLogger('silent', {}))
  later(() => redis.disconnect())
  assert.ok(await connectRedis(redis, 3000))
  await scenario(await server(later, origin, redis), origin)
})
