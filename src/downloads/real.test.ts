// Real yt-dlp and ffmpeg against a loopback origin, through the real pipeline
// and hyper-express server, with task state in files (no Redis).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cleanupStack, makeBigFile, makeMedia, postJson, readSse, sha256, sha256File, startDownloadsServer, startOrigin, waitForTask } from '../testing/downloads.ts'
import type { DownloadsServer, Origin } from '../testing/downloads.ts'

function streamsOf (path: string): string[] {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name', '-of', 'csv=p=0', path], { encoding: 'utf8' })
  return out.trim().split('\n').map((l) => l.trim()).filter((l) => l !== '').sort()
}

async function fetchFile (srv: DownloadsServer, link: string, into: string): Promise<Buffer> {
  const res = await fetch(`${srv.url}${link}`)
  assert.equal(res.status, 200)
  const body = Buffer.from(await res.arrayBuffer())
  writeFileSync(into, body)
  return body
}

test('downloads with real yt-dlp (state files)', async (t) => {
  const later = cleanupStack(t)
  const media = mkdtempSync(join(tmpdir(), 'vg-origin-'))
  later(() => rmSync(media, { recursive: true, force: true }))
  makeMedia(media)
  makeBigFile(media, 'big.mp4', 4 * 1024 * 1024)
  const origin: Origin = await startOrigin(media)
  later(async () => await origin.close())
  const dir = mkdtempSync(join(tmpdir(), 'vg-dl-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  const srv = await startDownloadsServer({ dir, originHost: origin.host })
  later(async () => await srv.close())
  // the owner token of the first task; later requests send it to be the same client
  let token = ''

  await t.test('progressive MP4: SSE progress in order, then the served file equals the origin bytes', async () => {
    const { status, json } = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.base}/clip.mp4`, filename: 'My Clip.mp4' })
    assert.equal(status, 202, JSON.stringify(json))
    const id = String(json.task_id)
    assert.match(id, /^[A-Za-z0-9_-]{16}$/)
    assert.deepEqual(json.links, { self: `/api/v2/videos/tasks/${id}`, events: `/api/v2/videos/tasks/${id}/events`, file: null })
    const { events, headers } = await readSse(`${srv.url}/api/v2/videos/tasks/${id}/events`)
    assert.match(headers.get('content-type') ?? '', /^text\/event-stream/)
    const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data) as Record<string, unknown>)
    const seqs = events.filter((e) => e.event === 'progress').map((e) => Number(e.id))
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b))
    const percents = progress.map((p) => Number(p.percent))
    assert.deepEqual(percents, [...percents].sort((a, b) => a - b), 'percent never goes down')
    assert.equal(events.at(-1)?.event, 'end')
    const last = progress.at(-1) ?? {}
    assert.equal(last.status, 'completed', JSON.stringify(last))
    assert.equal(last.percent, 100)
    assert.equal(last.filename, `My Clip_${id}.mp4`)
    const link = (last.links as Record<string, string>).file ?? ''
    assert.equal(link, `/api/v2/files/${encodeURIComponent(`My Clip_${id}.mp4`)}`)
    const body = await fetchFile(srv, link, join(media, 'got.mp4'))
    assert.equal(sha256(body), sha256File(join(media, 'clip.mp4')))
    assert.equal(last.file_size, body.length)

    const head = await fetch(`${srv.url}${link}`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('content-length'), String(body.length))
    assert.equal(head.headers.get('content-type'), 'video/mp4')
    assert.equal(head.headers.get('accept-ranges'), 'bytes')
    const etag = head.headers.get('etag') ?? ''
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/)
    assert.match(head.headers.get('last-modified') ?? '', /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/)
    const part = await fetch(`${srv.url}${link}`, { headers: { range: 'bytes=100-199' } })
    assert.equal(part.status, 206)
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${body.length}`)
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), body.subarray(100, 200))
    const tail = await fetch(`${srv.url}${link}`, { headers: { range: 'bytes=-10' } })
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), body.subarray(body.length - 10))
    const bad = await fetch(`${srv.url}${link}`, { headers: { range: `bytes=${body.length}-` } })
    assert.equal(bad.status, 416)
    assert.equal(bad.headers.get('content-range'), `bytes */${body.length}`)
    assert.equal((await bad.json() as Record<string, unknown>).code, 'RANGE_NOT_SATISFIABLE')
    const cached = await fetch(`${srv.url}${link}`, { headers: { 'if-none-match': etag } })
    assert.equal(cached.status, 304)
    const stale = await fetch(`${srv.url}${link}`, { headers: { range: 'bytes=0-9', 'if-range': '"other"' } })
    assert.equal(stale.status, 200)
    await stale.arrayBuffer()

    // the same request of the same owner reuses the finished file; another quality is a new task
    token = String(json.owner_token)
    const again = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.base}/clip.mp4` }, { 'x-task-token': token })
    assert.equal(again.json.task_id, id)
    assert.equal(again.json.reused, true)
    assert.equal(again.json.owner_token, token)
    assert.equal(again.headers.get('x-task-token'), token)
    const other = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.base}/clip.mp4`, quality: '144p' }, { 'x-task-token': token })
    assert.notEqual(other.json.task_id, id)
    assert.equal(other.json.reused, false)
    await waitForTask(srv.url, String(other.json.task_id), ['completed'])
  })

  await t.test('HLS stream: the result is a file ffprobe reads', async () => {
    const { json } = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.base}/hls/index.m3u8` })
    const done = await waitForTask(srv.url, String(json.task_id), ['completed', 'failed'])
    assert.equal(done.status, 'completed', JSON.stringify(done))
    const path = join(media, 'got-hls.mp4')
    await fetchFile(srv, (done.links as Record<string, string>).file ?? '', path)
    assert.deepEqual(streamsOf(path), ['aac,audio', 'h264,video'])
  })

  await t.test('separate video-only and audio renditions are merged by ffmpeg', async () => {
    const seen: number[] = []
    const { json } = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.base}/split/master.m3u8`, format: 'mkv' })
    const { events } = await readSse(`${srv.url}/api/v2/videos/tasks/${String(json.task_id)}/events`, (e) => {
      if (e.event === 'progress') seen.push(Number((JSON.parse(e.data) as Record<string, unknown>).percent))
    })
    const last = JSON.parse(events.at(-1)?.data ?? '{}') as Record<string, unknown>
    assert.equal(last.status, 'completed', JSON.stringify(last))
    assert.match(String(last.filename), /\.mkv$/)
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b))
    const path = join(media, 'got-split.mkv')
    await fetchFile(srv, (last.links as Record<string, string>).file ?? '', path)
    assert.deepEqual(streamsOf(path), ['aac,audio', 'h264,video'])
  })

  await t.test('audio only: m4a extracted', async () => {
    const { json } = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.base}/clip.mp4`, audio_only: true })
    assert.equal(json.format, 'm4a')
    const done = await waitForTask(srv.url, String(json.task_id), ['completed', 'failed'])
    assert.equal(done.status, 'completed', JSON.stringify(done))
    const path = join(media, 'got.m4a')
    await fetchFile(srv, (done.links as Record<string, string>).file ?? '', path)
    assert.deepEqual(streamsOf(path), ['aac,audio'])
  })

  await t.test('a missing video fails with the classified error', async () => {
    const { json } = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.base}/nope.mp4` })
    const done = await waitForTask(srv.url, String(json.task_id), ['completed', 'failed'])
    assert.equal(done.status, 'failed')
    assert.equal((done.error as Record<string, unknown>).code, 'VIDEO_NOT_FOUND')
    assert.match(String((done.error as Record<string, unknown>).message), /404/)
  })

  await t.test('cancel mid-download: SSE streams live, yt-dlp is killed, no partial files are left', async () => {
    const { json } = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.base}/slow/big.mp4` })
    const id = String(json.task_id)
    const eventsUrl = `${srv.url}/api/v2/videos/tasks/${id}/events`
    // a client that leaves mid-stream releases its request
    const leaver = new AbortController()
    await readSse(eventsUrl, () => leaver.abort(), leaver.signal).catch(() => {})
    const pending: { cancel: Promise<Response> | null } = { cancel: null }
    let partials = 0
    const { events } = await readSse(eventsUrl, (e) => {
      const p = JSON.parse(e.data) as Record<string, unknown>
      if (pending.cancel !== null || p.status !== 'running' || Number(p.downloaded_bytes) === 0) return
      // this event arrived while the download runs: the stream is flushed as it goes
      assert.ok(Number(p.percent) < 50)
      const attemptDir = join(dir, '.vidgate', 'tmp', id, '1')
      partials = readdirSync(attemptDir).reduce((sum, n) => sum + statSync(join(attemptDir, n)).size, 0)
      pending.cancel = fetch(`${srv.url}/api/v2/videos/tasks/${id}`, { method: 'DELETE' })
    })
    assert.ok(partials > 0, 'partial data existed while running')
    assert.ok(pending.cancel !== null, 'saw a running event')
    const del = await pending.cancel
    const body = await del.json() as Record<string, unknown>
    assert.equal(del.status, 200)
    assert.equal(body.action, 'cancelled')
    assert.equal((body.task as Record<string, unknown>).status, 'cancelled')
    assert.equal(events.at(-1)?.event, 'end')
    assert.equal((JSON.parse(events.at(-1)?.data ?? '{}') as Record<string, unknown>).status, 'cancelled')
    assert.equal(existsSync(join(dir, '.vidgate', 'tmp', id)), false)
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes(id)), [])
    assert.equal(srv.inflight(), 0)
    // deleting the finished (cancelled) task removes its record
    const gone = await fetch(`${srv.url}/api/v2/videos/tasks/${id}`, { method: 'DELETE' })
    assert.equal((await gone.json() as Record<string, unknown>).action, 'removed')
    assert.equal((await fetch(`${srv.url}/api/v2/videos/tasks/${id}`)).status, 404)
  })

  await t.test('list, filters, batch and input errors', async () => {
    const list = await (await fetch(`${srv.url}/api/v2/videos/tasks?status=completed&limit=2`)).json() as Record<string, unknown>
    assert.equal(list.limit, 2)
    assert.ok(Number(list.total) >= 4)
    assert.equal((list.tasks as unknown[]).length, 2)
    assert.ok((list.tasks as Array<Record<string, unknown>>).every((x) => x.status === 'completed'))
    const batch = await postJson(srv.url, '/api/v2/videos/batch-download', { items: [{ url: `${origin.base}/clip.mp4` }, { url: 'https://example.com/x' }, { url: `${origin.base}/clip.mp4`, format: 'gif' }] }, { 'x-task-token': token })
    assert.equal(batch.status, 202)
    assert.equal(batch.json.owner_token, token)
    const results = batch.json.results as Array<Record<string, unknown>>
    assert.deepEqual(results.map((r) => r.ok), [true, false, false])
    assert.equal(results[0]?.reused, true)
    assert.equal((results[1]?.error as Record<string, unknown>).code, 'UNSUPPORTED_URL')
    assert.match(String((results[2]?.error as Record<string, unknown>).message), /^items\[2\]\.format/)
    const notJson = await fetch(`${srv.url}/api/v2/videos/download`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })
    assert.equal(notJson.status, 400)
    const missing = await postJson(srv.url, '/api/v2/videos/download', { quality: 'best' })
    assert.equal(missing.status, 400)
    assert.match(String(missing.json.error), /^url/)
    assert.equal((await fetch(`${srv.url}/api/v2/videos/tasks/AAAAAAAAAAAAAAAA`)).status, 404)
    assert.equal((await fetch(`${srv.url}/api/v2/videos/tasks/not-an-id`)).status, 400)
  })
})
