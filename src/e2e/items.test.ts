// Multi-item posts on the real cluster (node dist/src/main.js): an X-shaped post
// of two videos and a photo (fake platform data, media on a local origin), and a
// page of two videos read by the real yt-dlp. entries in the info, item=N on the
// stream, embed, VRChat and download routes, photos through the image links, and
// single-video answers as they were.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { assertErrorBody, startCluster, until } from '../testing/helpers.ts'
import type { StartedCluster } from '../testing/helpers.ts'
import { makeClip, startCountingServer, startMediaOrigin } from '../testing/origin.ts'
import { writeLocalFixtures } from '../testing/fixtures.ts'
import { CAROUSEL_ID, makeItemMedia, POST_ID, POST_URL, twoVideoPage, writeCarousel, writeMultiItemPost } from '../testing/items.ts'
import { waitForTask } from '../testing/downloads.ts'

const sha = (b: Buffer | ArrayBuffer): string => createHash('sha256').update(Buffer.from(b as ArrayBuffer)).digest('hex')
const POST = `/api/v2/stream/twitter/${POST_ID}`
const YT = 'dQw4w9WgXcQ'
// the fields of a video info, in order, as they were before multi-item posts
const INFO_FIELDS = ['id', 'platform', 'url', 'title', 'description', 'duration', 'uploader', 'uploader_id', 'upload_date', 'view_count',
  'like_count', 'thumbnail', 'thumbnails', 'is_live', 'webpage_url', 'formats', 'subtitles', 'automatic_captions', 'expires_at', 'cached']

type Json = Record<string, unknown>

// the stream types of an MP4 (ffprobe)
function probe (media: Buffer): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-items-probe-'))
  try {
    writeFileSync(join(dir, 'x.mp4'), media)
    return execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', join(dir, 'x.mp4')]).toString().trim().split('\n').sort()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
interface After { after: (fn: () => unknown) => void }

async function getJson (url: string, init: RequestInit = {}): Promise<{ res: Response, body: Json, text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000), ...init })
  const text = await res.text()
  return { res, body: JSON.parse(text) as Json, text }
}

async function bytes (url: string, init: RequestInit = {}): Promise<{ res: Response, body: Buffer }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000), ...init })
  return { res, body: Buffer.from(await res.arrayBuffer()) }
}

async function refused (url: string, status: number, code: string, init: RequestInit = {}): Promise<Json> {
  const { res, body } = await getJson(url, init)
  assert.equal(res.status, status, `${url}: ${JSON.stringify(body)}`)
  assertErrorBody(res, body, code)
  return body
}

const postJson = async (url: string, body: unknown): Promise<{ res: Response, body: Json }> => {
  const { res, body: out } = await getJson(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { res, body: out }
}

async function cluster (t: After, env: Record<string, string>, timeoutMs = 30_000, workers = 2): Promise<StartedCluster> {
  const c = await startCluster({ env: { RATE_LIMIT_ENABLED: 'false', ...env }, timeoutMs, workers })
  t.after(async () => { await c.stop() })
  return c
}

test('an X post of two videos and a photo: entries, item=N on every route, the photo through its image link', async (t) => {
  const origin = await startMediaOrigin()
  t.after(async () => { await origin.close() })
  const media = makeItemMedia()
  origin.set.files.set('second.mp4', media.second)
  origin.set.files.set('photo.jpg', media.photo)
  const first = origin.set.files.get('progressive.mp4') ?? Buffer.alloc(0)
  assert.notEqual(sha(first), sha(media.second))
  const dir = writeLocalFixtures(origin.url)
  writeMultiItemPost(dir, origin.url)
  const log = join(mkdtempSync(join(tmpdir(), 'vidgate-items-log-')), 'argv.log')
  t.after(() => { rmSync(dir, { recursive: true, force: true }); rmSync(join(log, '..'), { recursive: true, force: true }) })
  // fake platform data: the fake yt-dlp (the helpers' default) prints the post; the log shows what downloads ask of it
  const app = await cluster(t, { GENERIC_HOSTS: origin.host, FAKE_YTDLP_FIXTURE_DIR: dir, FAKE_YTDLP_LOG: log })

  await t.test('the info lists the items; a photo\'s image is a signed link that serves the image', async () => {
    const { res, body, text } = await getJson(`${app.url}/api/v2/videos/twitter/${POST_ID}`)
    assert.equal(res.status, 200, text)
    assert.equal(body.title, 'Vidgate - two clips and a photo #1', 'the info itself is the first video')
    const entries = body.entries as Json[]
    assert.deepEqual(entries.map((e) => [e.index, e.kind, e.id]), [[1, 'video', '1866000000000000011'], [2, 'video', '1866000000000000012'], [3, 'photo', '1866000000000000013']])
    assert.deepEqual(entries.map((e) => (e.formats as Json[]).map((f) => f.format_id)), [['http-832'], ['http-832'], []])
    assert.equal(entries[1]?.title, 'Vidgate - two clips and a photo #2')
    assert.equal(entries[0]?.image, null)
    const image = String(entries[2]?.image)
    assert.ok(image.startsWith(`${app.url}/api/v2/images/`), image)
    assert.deepEqual([entries[2]?.width, entries[2]?.height], [320, 240])
    assert.ok(!text.includes('photo.jpg'), 'the upstream image URL is never handed out')
    assert.ok(!text.includes(origin.host), 'nor any origin URL')
    const img = await bytes(image)
    assert.equal(img.res.status, 200)
    assert.equal(img.res.headers.get('content-type'), 'image/jpeg')
    assert.equal(sha(img.body), sha(media.photo))
    // the same from the cache (the uWS lane answers from the stored body, links made again)
    const again = await getJson(`${app.url}/api/v2/videos/twitter/${POST_ID}`)
    assert.equal(again.body.cached, true)
    assert.deepEqual((again.body.entries as Json[]).map((e) => e.kind), ['video', 'video', 'photo'])
    assert.ok(String((again.body.entries as Json[])[2]?.image).startsWith(`${app.url}/api/v2/images/`))
  })

  await t.test('stream item=N answers that item\'s bytes; no item is the first video, as before', async () => {
    for (const [query, want] of [['', first], ['&item=1', first], ['&item=2', media.second]] as const) {
      const { res, body } = await bytes(`${app.url}${POST}?mode=proxy${query}`)
      assert.equal(res.status, 200, query)
      assert.equal(sha(body), sha(want), query)
    }
    const part = await bytes(`${app.url}${POST}?mode=proxy&item=2`, { headers: { range: 'bytes=100-299' } })
    assert.equal(part.res.status, 206)
    assert.deepEqual(part.body, media.second.subarray(100, 300))
    // redirects: the handler's, then the cached one (the uWS lane's peek), each to its own item
    for (let i = 0; i < 2; i++) {
      for (const [query, file] of [['&item=2', '/m/second.mp4'], ['', '/m/progressive.mp4'], ['&item=1', '/m/progressive.mp4']] as const) {
        const res = await fetch(`${app.url}${POST}?mode=redirect${query}`, { redirect: 'manual' })
        assert.equal(res.status, 302, query)
        assert.equal(new URL(res.headers.get('location') ?? '').pathname, file, `round ${i}${query}`)
      }
    }
    // mode=json: the item's links; its proxy link serves the item
    const { body: info } = await getJson(`${app.url}${POST}?mode=json&item=2`)
    assert.equal(info.title, 'Vidgate - two clips and a photo #2')
    const viaLink = await bytes(String(info.proxy_url))
    assert.equal(sha(viaLink.body), sha(media.second))
  })

  await t.test('an item past the post or a photo is a 4xx in the error shape', async () => {
    const past = await refused(`${app.url}${POST}?item=4`, 404, 'ITEM_NOT_FOUND')
    assert.match(String(past.detail), /3 items: item=1 to item=3/)
    const photo = await refused(`${app.url}${POST}?item=3&mode=redirect`, 422, 'ITEM_IS_PHOTO')
    assert.match(String(photo.detail), /entries\[\]\.image/)
    await refused(`${app.url}${POST}?item=0`, 400, 'INVALID_INPUT')
    await refused(`${app.url}${POST}?item=two`, 400, 'INVALID_INPUT')
    await refused(`${app.url}/api/v2/stream/embed/twitter/${POST_ID}?item=3`, 422, 'ITEM_IS_PHOTO')
    await refused(`${app.url}/api/vrchat/stream?url=${encodeURIComponent(POST_URL)}&item=4`, 404, 'ITEM_NOT_FOUND')
    await refused(`${app.url}/api/vrchat/info?url=${encodeURIComponent(POST_URL)}&item=3`, 422, 'ITEM_IS_PHOTO')
  })

  await t.test('embed and VRChat play the item asked for', async () => {
    const page = await fetch(`${app.url}/api/v2/stream/embed/twitter/${POST_ID}?item=2`)
    assert.equal(page.status, 200)
    const html = await page.text()
    const src = /<video [^>]*src="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&') ?? ''
    assert.match(src, /[?&]item=2(?:&|$)/)
    assert.equal(sha((await bytes(`${app.url}${src}`)).body), sha(media.second))
    const vr = await fetch(`${app.url}/api/vrchat/stream?url=${encodeURIComponent(POST_URL)}&item=2&format=proxy`, { redirect: 'manual' })
    assert.equal(vr.status, 302)
    const location = vr.headers.get('location') ?? ''
    const played = await bytes(location.startsWith('/') ? `${app.url}${location}` : location)
    assert.equal(sha(played.body), sha(media.second))
    const { body: vrInfo } = await getJson(`${app.url}/api/vrchat/info?url=${encodeURIComponent(POST_URL)}&item=2`)
    assert.equal(vrInfo.title, 'Vidgate - two clips and a photo #2')
  })

  await t.test('download item=N: checked against the post before it is queued, passed to yt-dlp as --playlist-items', async () => {
    const photo = await postJson(`${app.url}/api/v2/videos/download`, { url: POST_URL, item: 3 })
    assert.equal(photo.res.status, 422)
    assertErrorBody(photo.res, photo.body, 'ITEM_IS_PHOTO')
    const past = await postJson(`${app.url}/api/v2/videos/download`, { url: POST_URL, item: 7 })
    assert.equal(past.res.status, 404)
    assertErrorBody(past.res, past.body, 'ITEM_NOT_FOUND')
    const bad = await postJson(`${app.url}/api/v2/videos/download`, { url: POST_URL, item: 1.5 })
    assert.equal(bad.res.status, 400)
    assertErrorBody(bad.res, bad.body, 'INVALID_INPUT')
    const ok = await postJson(`${app.url}/api/v2/videos/download`, { url: POST_URL, item: 2 })
    assert.equal(ok.res.status, 202, JSON.stringify(ok.body))
    const whole = await postJson(`${app.url}/api/v2/videos/download`, { url: POST_URL })
    assert.equal(whole.res.status, 202)
    assert.notEqual(whole.body.task_id, ok.body.task_id, 'another item is another download')
    const runs = await until('both downloads reach yt-dlp', 30_000, async () => {
      const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]).filter((a) => a.includes('--progress-template'))
      return lines.length >= 2 ? lines : undefined
    })
    const items = runs.map((a) => a.includes('--playlist-items') ? a[a.indexOf('--playlist-items') + 1] : null).sort()
    assert.deepEqual(items, ['2', null])
  })

  await t.test('a single video: no entries, the same fields in the same order; item=1 is the video, item=2 is not found', async () => {
    const { body, text } = await getJson(`${app.url}/api/v2/videos/youtube/${YT}`)
    assert.deepEqual(Object.keys(body), INFO_FIELDS)
    assert.ok(!text.includes('"entries"'))
    const plain = await bytes(`${app.url}/api/v2/stream/youtube/${YT}?quality=360p&mode=proxy`)
    const one = await bytes(`${app.url}/api/v2/stream/youtube/${YT}?quality=360p&mode=proxy&item=1`)
    assert.equal(one.res.status, 200)
    assert.equal(sha(one.body), sha(plain.body))
    const past = await refused(`${app.url}/api/v2/stream/youtube/${YT}?item=2`, 404, 'ITEM_NOT_FOUND')
    assert.match(String(past.detail), /one item/)
  })

  await t.test('/openapi.json documents entries and item on the stream, embed and VRChat routes', async () => {
    const { body } = await getJson(`${app.url}/openapi.json`)
    const text = JSON.stringify(body)
    assert.ok(text.includes('"entries"'))
    const params = ((body.paths as Json)['/api/v2/stream/{platform}/{id}'] as { get: { parameters: Json[] } }).get.parameters
    assert.ok(params.some((p) => p.name === 'item'))
    for (const path of ['/api/v2/stream/embed/{platform}/{id}', '/api/vrchat/stream']) {
      assert.ok(((body.paths as Json)[path] as { get: { parameters: Json[] } }).get.parameters.some((p) => p.name === 'item'), path)
    }
  })
})

test('an Instagram carousel of separate video and audio: each item remuxed from its own sources, at once', async (t) => {
  const origin = await startMediaOrigin()
  t.after(async () => { await origin.close() })
  const media = makeItemMedia()
  origin.set.files.set('second.mp4', media.second)
  origin.set.files.set('photo.jpg', media.photo)
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-items-fixtures-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  writeCarousel(dir, origin.url)
  // one worker: concurrent remuxes of one key meet in one process, where they share one ffmpeg
  const app = await cluster(t, { GENERIC_HOSTS: origin.host, FAKE_YTDLP_FIXTURE_DIR: dir }, 30_000, 1)
  const path = `/api/v2/stream/instagram/${CAROUSEL_ID}?format=mp4`
  // the two items' formats have the same ids: only the item tells their remuxes apart
  const [one, two] = await Promise.all([bytes(`${app.url}${path}&item=1`), bytes(`${app.url}${path}&item=2`)])
  for (const r of [one, two]) {
    assert.equal(r.res.status, 200)
    assert.equal(r.res.headers.get('x-stream-mode'), 'remux')
    assert.deepEqual(probe(r.body), ['audio', 'video'])
  }
  assert.notEqual(sha(one.body), sha(two.body), 'item 2 is not item 1\'s remux')
  assert.ok(origin.requests.some((r) => r.path.startsWith('/m/second.mp4')), 'item 2 read its own video')
  await refused(`${app.url}${path}&item=3`, 422, 'ITEM_IS_PHOTO')
})

test('real yt-dlp: a page of two videos lists both; item=2 streams and downloads the second', async (t) => {
  const clipA = makeClip()
  const clipB = makeItemMedia().second
  const photo = makeItemMedia().photo
  const files: Record<string, [Buffer, string]> = { '/a.mp4': [clipA, 'video/mp4'], '/b.mp4': [clipB, 'video/mp4'], '/photo.jpg': [photo, 'image/jpeg'] }
  const site = await startCountingServer((req, res, path) => {
    if (path === '/post.html') { res.setHeader('content-type', 'text/html; charset=utf-8'); res.end(twoVideoPage('Two clips')); return }
    const file = files[path]
    if (file === undefined) { res.statusCode = 404; res.end(); return }
    res.setHeader('content-type', file[1])
    res.setHeader('content-length', file[0].length)
    res.end(req.method === 'HEAD' ? undefined : file[0])
  })
  t.after(async () => { await site.close() })
  // the real yt-dlp: the server's own (YTDLP_PATH empty) in the default warm mode
  const app = await cluster(t, { YTDLP_PATH: '', YTDLP_MODE: 'warm', GENERIC_HOSTS: site.host }, 60_000)
  const page = `${site.url}/post.html`
  const q = `url=${encodeURIComponent(page)}`

  const { res, body } = await getJson(`${app.url}/api/v2/videos?${q}`)
  assert.equal(res.status, 200, JSON.stringify(body))
  const entries = body.entries as Json[]
  assert.deepEqual(entries.map((e) => [e.index, e.kind]), [[1, 'video'], [2, 'video']])
  assert.deepEqual(entries.map((e) => (e.formats as Json[]).length), [1, 1])

  for (const [query, want] of [['', clipA], ['&item=1', clipA], ['&item=2', clipB]] as const) {
    const got = await bytes(`${app.url}/api/v2/stream?${q}&mode=proxy${query}`)
    assert.equal(got.res.status, 200, query)
    assert.equal(sha(got.body), sha(want), query)
  }
  await refused(`${app.url}/api/v2/stream?${q}&item=3`, 404, 'ITEM_NOT_FOUND')

  const past = await postJson(`${app.url}/api/v2/videos/download`, { url: page, item: 3 })
  assert.equal(past.res.status, 404)
  const sent = await postJson(`${app.url}/api/v2/videos/download`, { url: page, item: 2 })
  assert.equal(sent.res.status, 202, JSON.stringify(sent.body))
  const headers = { 'x-task-token': String(sent.body.owner_token) }
  const done = await waitForTask(app.url, String(sent.body.task_id), ['completed', 'failed'], 60_000, headers)
  assert.equal(done.status, 'completed', JSON.stringify(done))
  const file = await bytes(`${app.url}${String((done.links as Json).file)}`, { headers })
  assert.equal(file.res.status, 200)
  assert.equal(sha(file.body), sha(clipB), 'the second video, as the origin serves it')
})
