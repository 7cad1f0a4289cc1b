// One of two hosts killed during a download (every process in its network
// namespace, SIGKILL: primary, worker, warm and downloading yt-dlp). The
// download queue is BullMQ on the shared Redis: once the dead host's job lock
// expires, the stalled-job check puts the job back and the surviving host runs
// it from the start. Download folders are per host, so the survivor holds the
// file and serves it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cmdline } from '../../testing/helpers.ts'
import { cleanupStack, makeBigFile, sha256, sha256File, startOrigin } from '../../testing/downloads.ts'
import { createHostNet, get, startHostPair, until } from '../../testing/hosts.ts'
import type { Json } from '../../testing/hosts.ts'
import type { NetNode } from '../../testing/netns.ts'

test('a host killed during a download: the other host finishes the task and serves the file', { timeout: 175_000 }, async (t) => {
  const later = cleanupStack(t)
  const net = createHostNet(later)
  const media = mkdtempSync(join(tmpdir(), 'vg-multihost-'))
  later(() => rmSync(media, { recursive: true, force: true }))
  const file = makeBigFile(media, 'big.mp4', 2 * 1024 * 1024)
  const origin = await startOrigin(media, undefined, net.root.front)
  later(origin.close)
  // this test polls tasks; the rate limit is not what it is about
  const { a, b, node } = await startHostPair(later, net, { GENERIC_HOSTS: origin.host, RATE_LIMIT_MAX_REQUESTS: '100000' })

  // /held/ drips 1 KB per 100 ms until released: the download is still running when its host dies
  const submit = await fetch(`${a.url}/api/v2/videos/download`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `${origin.base}/held/big.mp4` })
  })
  const submitted = await submit.json() as Json
  assert.equal(submit.status, 202, JSON.stringify(submitted))
  const id = String(submitted.task_id)
  // the task and its file are this client's: it proves that with the token it was given, on either host
  const owner = { 'x-task-token': String(submitted.owner_token) }
  const task = async (url: string): Promise<Json> => (await get(`${url}/api/v2/videos/tasks/${id}`, 15_000, owner)).body
  const running = await until('the download to run', 120_000, async () => await task(a.url), (s) => s.status === 'running' && Number(s.downloaded_bytes) > 0)
  assert.equal(running.attempt, 1)

  // whichever host's queue worker took the job: its yt-dlp names the task's folder
  const holds = (n: NetNode): boolean => n.pids().some((pid) => (cmdline(pid) ?? []).some((arg) => arg.includes(id)))
  const [victim, dead, alive] = holds(node.a) ? [node.a, a, b] : [node.b, b, a]
  assert.ok(holds(victim), 'a yt-dlp for the task runs on one of the hosts')
  const killed = await victim.kill()
  const killedAt = Date.now()
  assert.ok(killed.includes(dead.pid), 'the primary died with the rest of its host')
  await dead.exited
  origin.release()

  const seen: string[] = []
  const done = await until('the survivor to finish the task', 150_000, async () => {
    const r = await get(`${alive.url}/api/v2/videos/tasks/${id}`, 15_000, owner)
    const s = r.body
    const step = r.status === 200 ? `${String(s.status)}#${String(s.attempt)}` : `${r.status} ${String(s.code)}`
    if (seen.at(-1)?.startsWith(step) !== true) seen.push(`${step}@${Math.round((Date.now() - killedAt) / 1000)}s`)
    return s
  }, (s) => s.status === 'completed' || s.status === 'failed')
  t.diagnostic(`killed ${killed.length} processes; the survivor read the task as ${seen.join(' → ')} after the kill`)
  assert.equal(done.status, 'completed', JSON.stringify(done))
  assert.equal(done.attempt, 2, 'downloaded again from the start on the surviving host')
  // fetched a few times: over a real link the file route once lost the rest of a chunk under backpressure
  const link = (done.links as Record<string, string | null>).file ?? ''
  for (let i = 0; i < 3; i++) {
    const res = await fetch(alive.url + link, { headers: owner, signal: AbortSignal.timeout(30_000) })
    assert.equal(res.status, 200)
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256File(file), 'the file is byte-exact')
  }
})
