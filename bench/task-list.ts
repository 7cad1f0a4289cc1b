// Listing download tasks costs the page, not the store: tasks are seeded through
// the store itself (state files, then Redis), and the server's own time for a
// listing (X-Process-Time) is measured with 100 tasks and again with --tasks
// (10,000), for an admin's page of everyone's, a status filter, one owner's page
// and a deep offset. The ratio of the two sizes is the claim (1x = O(page));
// the absolute times move with the machine's load. With state files, a listing
// right after a change of the folder reads its names again ("after a change").
//   node dist/bench/task-list.js [--tasks=10000] [--runs=40] [--files-only]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '../src/log.ts'
import { connectRedis, createRedis } from '../src/redis.ts'
import type { Redis } from '../src/redis.ts'
import { startRedis } from '../src/testing/helpers.ts'
import { startDownloadsServer } from '../src/testing/downloads.ts'
import type { DownloadsServer } from '../src/testing/downloads.ts'
import { createFileStore } from '../src/downloads/store-files.ts'
import { createRedisStore } from '../src/downloads/store-redis.ts'
import { STATE_DIR } from '../src/downloads/names.ts'
import { ipQuota, tokenOwner } from '../src/downloads/owner.ts'
import { newRecord, revise } from '../src/downloads/record.ts'
import type { TaskRecord, TaskStore } from '../src/downloads/types.ts'

function arg (name: string, def: number): number {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`))
  return hit === undefined ? def : Number(hit.split('=')[1])
}

const TOKENS = Array.from({ length: 20 }, (_, i) => `bench-owner-token-${String(i).padStart(2, '0')}-${'x'.repeat(20)}`)
// owner 0 holds half the tasks: its own listing is as large as the store's
const ownerOf = (i: number): number => i % 2 === 0 ? 0 : 1 + (i % (TOKENS.length - 1))
const START_MS = Date.parse('2026-12-01T00:00:00.000Z')

function record (i: number): TaskRecord {
  const owner = ownerOf(i)
  const id = `bench${String(i).padStart(11, '0')}`
  const spec = { url: `https://example.com/v/${i}`, platform: 'generic', video_id: String(i), quality: 'best' as const, format: 'mp4' as const, audio_only: false, filename: null }
  const task = newRecord(id, spec, `key${i}`, null, { owner: tokenOwner(TOKENS[owner] ?? ''), quota: ipQuota(`198.51.100.${owner}`) }, new Date(START_MS + i * 1000))
  const state = i % 10 === 0 ? 'failed' : 'completed'
  return revise(task, { state, percent: 100, title: `Video ${i}`, finished_at: task.created_at, ...(state === 'completed' ? { file: `v_${id}.mp4`, file_size: 1000 } : { error: { code: 'VIDEO_NOT_FOUND', message: 'gone' } }) })
}

async function seed (store: TaskStore, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 64) {
    await Promise.all(Array.from({ length: Math.min(64, to - i) }, async (_, j) => await store.save(record(i + j))))
  }
}

interface Series { p50_ms: number, p90_ms: number, max_ms: number }

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0
const round = (ms: number): number => Math.round(ms * 100) / 100

async function serverMs (srv: DownloadsServer, path: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${srv.url}${path}`, { headers })
  const body = await res.json() as { tasks?: unknown[] }
  if (res.status !== 200 || !Array.isArray(body.tasks) || body.tasks.length === 0) throw new Error(`${path}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`)
  return Number(res.headers.get('x-process-time')) * 1000
}

// between: run before each request (a change to the store, or nothing)
async function series (srv: DownloadsServer, path: string, headers: Record<string, string>, runs: number, between?: (n: number) => Promise<void>): Promise<Series> {
  for (let i = 0; i < 3; i++) await serverMs(srv, path, headers)
  const xs: number[] = []
  for (let i = 0; i < runs; i++) {
    await between?.(i)
    xs.push(await serverMs(srv, path, headers))
  }
  return { p50_ms: round(pct(xs, 0.5)), p90_ms: round(pct(xs, 0.9)), max_ms: round(pct(xs, 1)) }
}

const CASES: ReadonlyArray<{ name: string, path: string, headers: Record<string, string> }> = [
  // loopback without API keys: an admin, who lists every client's tasks
  { name: 'admin, newest page of 50', path: '/api/v2/videos/tasks?limit=50', headers: {} },
  // one task in ten failed: a full page of 10 in either store
  { name: 'admin, status=failed', path: '/api/v2/videos/tasks?status=failed&limit=10', headers: {} },
  { name: 'admin, offset 40 (deep)', path: '/api/v2/videos/tasks?limit=50&offset=40', headers: {} },
  { name: 'one owner (half the store)', path: '/api/v2/videos/tasks?limit=50', headers: { 'x-task-token': TOKENS[0] ?? '' } }
]

async function measure (srv: DownloadsServer, store: TaskStore, total: number, runs: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  await seed(store, 0, 100)
  const small: Record<string, Series> = {}
  for (const c of CASES) small[c.name] = await series(srv, c.path, c.headers, runs)
  await seed(store, 100, total)
  const large: Record<string, Series> = {}
  // a deep offset is deep only in the large store
  for (const c of CASES) large[c.name] = await series(srv, c.path.replace('offset=40', `offset=${Math.floor(total / 2)}`), c.headers, runs)
  let n = total
  const changed = await series(srv, CASES[0]?.path ?? '', {}, runs, async () => { await store.save(record(n++)) })
  for (const c of CASES) {
    out[c.name] = { tasks_100: small[c.name], [`tasks_${total}`]: large[c.name], p50_ratio: round((large[c.name]?.p50_ms ?? 0) / (small[c.name]?.p50_ms ?? 1)) }
  }
  out['admin page after a change (a save before each listing)'] = { [`tasks_${total}`]: changed, p50_ratio_to_quiet: round(changed.p50_ms / (large[CASES[0]?.name ?? '']?.p50_ms ?? 1)) }
  return out
}

async function main (): Promise<void> {
  const total = arg('tasks', 10_000)
  const runs = arg('runs', 40)
  const log = createLogger('silent', {})
  const report: Record<string, unknown> = { tasks: total, runs, date: new Date().toISOString() }

  const dir = mkdtempSync(join(tmpdir(), 'vg-bench-list-'))
  try {
    const srv = await startDownloadsServer({ dir, originHost: '127.0.0.1:9', config: { DOWNLOAD_TASKS_PER_CLIENT: 0, DOWNLOAD_TASKS_MAX: 0 } })
    const store = await createFileStore({ stateDir: join(dir, STATE_DIR), leaseMs: 10_000, pollMs: 250 })
    report.files = await measure(srv, store, total, runs)
    await store.close()
    await srv.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }

  if (!process.argv.includes('--files-only')) {
    const redisServer = await startRedis()
    const redis: Redis = createRedis(redisServer.url, log)
    const rdir = mkdtempSync(join(tmpdir(), 'vg-bench-list-'))
    try {
      await connectRedis(redis, 3000)
      const srv = await startDownloadsServer({ dir: rdir, originHost: '127.0.0.1:9', redis, config: { DOWNLOAD_TASKS_PER_CLIENT: 0, DOWNLOAD_TASKS_MAX: 0 } })
      const store = await createRedisStore({ redis, log, ttlSec: 86_400, leaseMs: 10_000, prefix: 'vg:dl:' })
      report.redis = await measure(srv, store, total, runs)
      await store.close()
      await srv.close()
    } finally {
      redis.disconnect()
      await redisServer.stop()
      rmSync(rdir, { recursive: true, force: true })
    }
  }
  console.log(JSON.stringify(report, null, 2))
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
