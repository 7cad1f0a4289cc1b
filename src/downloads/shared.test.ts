// Tasks shared between instances: two instances on one folder without Redis
// (how the HTTP worker processes of one host see each other's tasks), two
// instances on one real redis-server (BullMQ + Redis state), and an instance
// killed mid-download whose task another instance resumes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLogger } from '../log.ts'
import { connectRedis, createRedis } from '../redis.ts'
import type { Redis } from '../redis.ts'
import { startRedis } from '../testing/helpers.ts'
import { writeAtomic } from './store-files.ts'
import { newRecord, revise } from './record.ts'
import { cleanupStack, makeBigFile, makeMedia, postJson, readSse, sha256, sha256File, startDownloadsServer, startOrigin, waitForTask } from '../testing/downloads.ts'
import type { DownloadsServer, Origin } from '../testing/downloads.ts'

const SERVE = fileURLToPath(new URL('./fixtures/serve.js', import.meta.url))

async function media (later: (fn: () => unknown) => void): Promise<{ dir: string, origin: Origin }> {
  const dir = mkdtempSync(join(tmpdir(), 'vg-origin-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  makeMedia(dir, 2)
  makeBigFile(dir, 'big.mp4', 4 * 1024 * 1024)
  makeBigFile(dir, 'mid.mp4', 640 * 1024)
  const origin = await startOrigin(dir)
  later(async () => await origin.close())
  return { dir, origin }
}

async function untilRunning (srv: DownloadsServer, id: string): Promise<Record<string, unknown>> {
  const until = Date.now() + 15_000
  for (;;) {
    const state = await (await fetch(`${srv.url}/api/v2/videos/tasks/${id}`)).json() as Record<string, unknown>
    if (state.status === 'running' && Number(state.downloaded_bytes) > 0) return state
    if (Date.now() > until) throw new Error(`not running: ${JSON.stringify(state)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function sharedScenario (a: DownloadsServer, b: DownloadsServer, origin: Origin, originDir: string, dir: string): Promise<void> {
  const { status, json } = await postJson(a.url, '/api/v2/videos/download', { url: `${origin.base}/clip.mp4` })
  assert.equal(status, 202)
  const id = String(json.task_id)
  const seen = await (await fetch(`${b.url}/api/v2/videos/tasks/${id}`)).json() as Record<string, unknown>
  assert.equal(seen.task_id, id)
  const dup = await postJson(b.url, '/api/v2/videos/download', { url: `${origin.base}/clip.mp4` }, { 'x-task-token': String(json.owner_token) })
  assert.equal(dup.json.task_id, id)
  assert.equal(dup.json.reused, true)
  const { events } = await readSse(`${b.url}/api/v2/videos/tasks/${id}/events`)
  const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data) as Record<string, unknown>)
  const percents = progress.map((p) => Number(p.percent))
  assert.deepEqual(percents, [...percents].sort((x, y) => x - y))
  const last = progress.at(-1) ?? {}
  assert.equal(last.status, 'completed', JSON.stringify(last))
  const file = await fetch(`${b.url}${(last.links as Record<string, string>).file ?? ''}`)
  assert.equal(file.status, 200)
  assert.equal(sha256(Buffer.from(await file.arrayBuffer())), sha256File(join(originDir, 'clip.mp4')))
  const listed = await (await fetch(`${a.url}/api/v2/videos/tasks?status=completed`)).json() as Record<string, unknown>
  assert.ok((listed.tasks as Array<Record<string, unknown>>).some((x) => x.task_id === id))

  // a slow download started through A is cancelled through B
  const slow = await postJson(a.url, '/api/v2/videos/download', { url: `${origin.base}/slow/big.mp4` })
  const slowId = String(slow.json.task_id)
  await untilRunning(b, slowId)
  const del = await (await fetch(`${b.url}/api/v2/videos/tasks/${slowId}`, { method: 'DELETE' })).json() as Record<string, unknown>
  assert.equal(del.action, 'cancelled')
  assert.equal((del.task as Record<string, unknown>).status, 'cancelled')
  assert.equal(existsSync(join(dir, '.vidgate', 'tmp', slowId)), false)
  assert.equal((await waitForTask(a.url, slowId, ['cancelled'])).status, 'cancelled')
}

test('two instances on one folder without Redis share tasks, files and cancels', async (t) => {
  const later = cleanupStack(t)
  const { dir: originDir, origin } = await media(later)
  const dir = mkdtempSync(join(tmpdir(), 'vg-dl-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  const a = await startDownloadsServer({ dir, originHost: origin.host })
  later(async () => await a.close())
  const b = await startDownloadsServer({ dir, originHost: origin.host })
  later(async () => await b.close())
  await sharedScenario(a, b, origin, originDir, dir)

  // a task whose owner stopped heartbeating is failed with a reason, never left running
  const ghost = revise(newRecord('GGGGGGGGGGGGGGGG', { url: `${origin.base}/x.mp4`, platform: 'generic', video_id: 'x', quality: 'best', format: 'mp4', audio_only: false, filename: null }, 'ghostkey', 'deadhost-1-00000000', null), { state: 'running', percent: 40 })
  await writeAtomic(join(dir, '.vidgate', 'tasks', 'GGGGGGGGGGGGGGGG.json'), JSON.stringify(ghost))
  const read = await (await fetch(`${b.url}/api/v2/videos/tasks/GGGGGGGGGGGGGGGG`)).json() as Record<string, unknown>
  assert.equal(read.status, 'failed')
  assert.match(String((read.error as Record<string, unknown>).message), /interrupted/)
})

test('two instances on one redis-server: BullMQ queue and Redis task state', async (t) => {
  const later = cleanupStack(t)
  const { dir: originDir, origin } = await media(later)
  const redisServer = await startRedis()
  later(async () => await redisServer.stop())
  const dir = mkdtempSync(join(tmpdir(), 'vg-dl-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  const clients: Redis[] = []
  const client = async (): Promise<Redis> => {
    const r = createRedis(redisServer.url, createLogger('silent', {}))
    assert.ok(await connectRedis(r, 3000))
    clients.push(r)
    return r
  }
  later(() => { for (const c of clients) c.disconnect() })
  const a = await startDownloadsServer({ dir, originHost: origin.host, redis: await client() })
  later(async () => await a.close())
  const b = await startDownloadsServer({ dir, originHost: origin.host, redis: await client() })
  later(async () => await b.close())
  await sharedScenario(a, b, origin, originDir, dir)
  // Redis holds the state, the temp folders are gone
  const keys = await clients[0]?.keys('vg:dl:t:*') ?? []
  assert.ok(keys.length >= 2)
})

test('an instance killed mid-download: another one resumes the task', async (t) => {
  const later = cleanupStack(t)
  const { origin } = await media(later)
  const redisServer = await startRedis()
  later(async () => await redisServer.stop())
  const dir = mkdtempSync(join(tmpdir(), 'vg-dl-'))
  const pids: number[] = []
  later(() => {
    // the killed instance's yt-dlp runs in its own process group and outlives it
    for (const pid of pids) try { process.kill(-pid, 'SIGKILL') } catch {}
    rmSync(dir, { recursive: true, force: true })
  })
  const child = spawn(process.execPath, [SERVE], { env: { ...process.env, DIR: dir, ORIGIN_HOST: origin.host, REDIS_URL: redisServer.url }, stdio: ['ignore', 'pipe', 'inherit'] })
  later(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number((JSON.parse(d.toString()) as { port: number }).port)))
    child.once('exit', (code) => reject(new Error(`child exited ${String(code)}`)))
  })
  const a = { url: `http://127.0.0.1:${port}` }
  const { json } = await postJson(a.url, '/api/v2/videos/download', { url: `${origin.base}/slow/mid.mp4` })
  const id = String(json.task_id)
  // only the child runs a worker until it is killed
  const until = Date.now() + 15_000
  let running: Record<string, unknown> = {}
  while (Date.now() < until) {
    running = await (await fetch(`${a.url}/api/v2/videos/tasks/${id}`)).json() as Record<string, unknown>
    if (running.status === 'running' && Number(running.downloaded_bytes) > 0) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.equal(running.status, 'running')
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try { if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(join(dir, '.vidgate', 'tmp', id))) pids.push(Number(name)) } catch {}
  }
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))

  const redis = createRedis(redisServer.url, createLogger('silent', {}))
  later(() => redis.disconnect())
  assert.ok(await connectRedis(redis, 3000))
  const b = await startDownloadsServer({ dir, originHost: origin.host, redis, options: { bullLockMs: 2000, bullStalledIntervalMs: 1000 } })
  later(async () => await b.close())
  const done = await waitForTask(b.url, id, ['completed', 'failed'], 30_000)
  assert.equal(done.status, 'completed', JSON.stringify(done))
  assert.equal(done.attempt, 2)
  const file = await fetch(`${b.url}${(done.links as Record<string, string>).file ?? ''}`)
  assert.equal(Buffer.from(await file.arrayBuffer()).length, 640 * 1024)
})
