// Subtitles and images on the server as it ships (node dist/src/main.js), with
// YouTube- and BiliBili-shaped info whose tracks and thumbnails are on a local origin.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { assertErrorBody, json, raw, startCluster } from '../testing/helpers.ts'
import { startCountingServer, startMediaOrigin } from '../testing/origin.ts'
import { makeImages, startCaptionOrigin, writeCaptionFixtures } from '../testing/captions.ts'

const YT = '/api/v2/videos/youtube/dQw4w9WgXcQ'
const BILI = '/api/v2/videos/bilibili/BV1GJ411x7h7'

async function text (url: string, init: RequestInit = {}): Promise<{ res: Response, body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000), ...init })
  return { res, body: await res.text() }
}

async function errorOf (url: string, status: number, code: string): Promise<Record<string, unknown>> {
  const { res, body } = await json(url, { signal: AbortSignal.timeout(30_000) })
  assert.equal(res.status, status, JSON.stringify(body))
  assertErrorBody(res, body, code)
  return body
}

test('subtitles as WebVTT and SubRip, and images through signed links, on a running server', async (t) => {
  const media = await startMediaOrigin()
  const captions = await startCaptionOrigin()
  // on loopback but not in GENERIC_HOSTS: the egress policy must keep every fetch away from it
  const canary = await startCountingServer((_req, res) => { res.end('WEBVTT\n') })
  const dir = writeCaptionFixtures(media.url, captions.url, canary.url)
  // The platform data is fake-yt-dlp's (baseEnv's YTDLP_PATH) printing these fixtures; the
  // origins are on loopback, which the egress policy allows only for GENERIC_HOSTS.
  const srv = await startCluster({ workers: 1, timeoutMs: 60_000, env: { FAKE_YTDLP_FIXTURE_DIR: dir, GENERIC_HOSTS: `${media.host},${captions.host}`, RATE_LIMIT_ENABLED: 'false' } })
  t.after(async () => { await srv.stop(); await canary.close(); await captions.close(); await media.close(); rmSync(dir, { recursive: true, force: true }) })
  const { jpeg, png } = makeImages()

  await t.test('the track list: languages, automatic or not, formats offered, links to each as WebVTT and SubRip', async () => {
    const { res, body } = await json(`${srv.url}${YT}/subtitles`, { signal: AbortSignal.timeout(30_000) })
    assert.equal(res.status, 200, JSON.stringify(body))
    const base = `${srv.url}${YT}/subtitles`
    assert.deepEqual(body.tracks, [
      { language: 'en', name: 'English', automatic: false, formats: ['json3', 'vtt'], url: `${base}/en?format=vtt`, srt_url: `${base}/en?format=srt` },
      { language: 'de', name: 'Deutsch', automatic: false, formats: ['srt'], url: `${base}/de?format=vtt`, srt_url: `${base}/de?format=srt` },
      { language: 'fr', name: null, automatic: false, formats: ['ttml'], url: null, srt_url: null },
      { language: 'xx', name: null, automatic: false, formats: ['vtt'], url: `${base}/xx?format=vtt`, srt_url: `${base}/xx?format=srt` },
      { language: 'zz', name: null, automatic: false, formats: ['vtt'], url: `${base}/zz?format=vtt`, srt_url: `${base}/zz?format=srt` },
      { language: 'en', name: null, automatic: true, formats: ['json3'], url: `${base}/en?format=vtt&automatic=true`, srt_url: `${base}/en?format=srt&automatic=true` }
    ])
    const info = await json(`${srv.url}${YT}`)
    // 'ca' is on the canary (loopback, not in GENERIC_HOSTS): the info never names it
    assert.deepEqual(info.body.subtitles, ['en', 'de', 'fr', 'xx', 'zz'])
    assert.deepEqual(info.body.automatic_captions, ['en'])
  })

  await t.test('a WebVTT track is re-serialized: NOTE blocks and unknown tags dropped, text escaped', async () => {
    const { res, body } = await text(`${srv.url}${YT}/subtitles/en`)
    assert.equal(res.status, 200, body)
    assert.equal(res.headers.get('content-type'), 'text/vtt; charset=utf-8')
    assert.equal(body, 'WEBVTT\n\n00:00:00.000 --> 00:00:03.000 align:start\nHello <b>world</b> x\n\n00:00:03.000 --> 00:00:04.000\nSecond &amp; last\n\n')
    const srt = await text(`${srv.url}${YT}/subtitles/en?format=srt&download=true`)
    assert.equal(srt.res.headers.get('content-type'), 'application/x-subrip; charset=utf-8')
    assert.match(srt.res.headers.get('content-disposition') ?? '', /^attachment; filename=".*\.en\.srt"/)
    assert.equal(srt.body, '1\n00:00:00,000 --> 00:00:03,000\nHello <b>world</b> x\n\n2\n00:00:03,000 --> 00:00:04,000\nSecond & last\n\n')
    const head = await fetch(`${srv.url}${YT}/subtitles/en`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(body)))
  })

  await t.test('SubRip and json3 tracks come out as WebVTT; automatic=true picks the automatic captions', async () => {
    const de = await text(`${srv.url}${YT}/subtitles/de`)
    // the converted track is kept: asked again, the origin is not asked again
    assert.equal((await text(`${srv.url}${YT}/subtitles/de`)).body, de.body)
    assert.equal(captions.paths.filter((p) => p === '/subs/de.srt').length, 1)
    assert.equal(de.body, 'WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nHallo <i>Welt</i>\n\n00:00:02.000 --> 00:00:03.500\nZweite Zeile\n\n')
    const auto = await text(`${srv.url}${YT}/subtitles/en?automatic=true`)
    assert.equal(auto.body, 'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nauto words\n\n')
    const byUrl = await text(`${srv.url}/api/v2/videos/subtitles/de?format=srt&url=${encodeURIComponent('https://www.youtube.com/watch?v=dQw4w9WgXcQ')}`)
    assert.equal(byUrl.res.status, 200, byUrl.body)
    assert.match(byUrl.body, /^1\n00:00:00,500 --> 00:00:02,000\nHallo <i>Welt<\/i>\n/)
  })

  await t.test('refusals: no such language, no readable format, too large, not a track, bad input', async () => {
    const none = await errorOf(`${srv.url}${YT}/subtitles/es`, 404, 'SUBTITLE_NOT_FOUND')
    assert.match(String(none.detail), /^available: en, de, fr, xx, zz/)
    await errorOf(`${srv.url}${YT}/subtitles/de?automatic=true`, 404, 'SUBTITLE_NOT_FOUND')
    const ttml = await errorOf(`${srv.url}${YT}/subtitles/fr`, 422, 'SUBTITLE_UNSUPPORTED')
    assert.match(String(ttml.detail), /offered as ttml/)
    const huge = await errorOf(`${srv.url}${YT}/subtitles/xx`, 502, 'UPSTREAM_ERROR')
    assert.match(String(huge.detail), /larger than 10485760 bytes/)
    const page = await errorOf(`${srv.url}${YT}/subtitles/zz`, 502, 'UPSTREAM_ERROR')
    assert.match(String(page.detail), /not a WebVTT file/)
    await errorOf(`${srv.url}${YT}/subtitles/en?format=ass`, 400, 'INVALID_INPUT')
    await errorOf(`${srv.url}${YT}/subtitles/a%20b`, 400, 'INVALID_INPUT')
    await errorOf(`${srv.url}${YT}/subtitles/en?automatic=maybe`, 400, 'INVALID_INPUT')
  })

  await t.test('info hands out signed image links on its own base; the upstream URLs never appear', async () => {
    const first = await json(`${srv.url}${YT}`)
    const again = await json(`${srv.url}${YT}`)
    for (const { body } of [first, again]) {
      assert.match(String(body.thumbnail), new RegExp(`^${srv.url}/api/v2/images/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{22}$`))
      assert.ok(!JSON.stringify(body).includes(captions.url), 'no upstream image URL in info')
      // the ninth, on the canary, is dropped by the egress policy
      assert.equal((body.thumbnails as unknown[]).length, 8)
    }
    // the cached body (the uWS lane's) is made for the base the request asks for
    const other = await raw(srv.port, `GET ${YT} HTTP/1.1\r\nHost: videos.example:8443\r\nConnection: close\r\n\r\n`, 30_000)
    assert.match(other, /"thumbnail":"http:\/\/videos\.example:8443\/api\/v2\/images\//)
    const img = await fetch(String(first.body.thumbnail))
    assert.equal(img.status, 200)
    assert.equal(img.headers.get('content-type'), 'image/jpeg')
    assert.match(img.headers.get('cache-control') ?? '', /^public, max-age=\d+$/)
    assert.deepEqual(Buffer.from(await img.arrayBuffer()), jpeg)
    const head = await fetch(String(first.body.thumbnail), { method: 'HEAD' })
    assert.equal(head.headers.get('content-length'), String(jpeg.length))
    // kept per worker: the CDN was asked once
    assert.equal(captions.paths.filter((p) => p === '/img/thumb.jpg').length, 1)
  })

  await t.test('images: the type comes from the bytes; non-images, SVG and anything over 5 MB are refused', async () => {
    const { body } = await json(`${srv.url}${YT}`)
    const links = (body.thumbnails as Array<{ url: string }>).map((x) => x.url)
    const png0 = await fetch(links[0] ?? '')
    assert.equal(png0.headers.get('content-type'), 'image/png')
    assert.deepEqual(Buffer.from(await png0.arrayBuffer()), png)
    const big = await errorOf(links[1] ?? '', 502, 'UPSTREAM_ERROR')
    assert.match(String(big.detail), /larger than 5242880 bytes/)
    const bigChunked = await errorOf(links[2] ?? '', 502, 'UPSTREAM_ERROR')
    assert.match(String(bigChunked.detail), /larger than 5242880 bytes/)
    for (const link of [links[3], links[4]]) {
      const refused = await errorOf(link ?? '', 502, 'UPSTREAM_ERROR')
      assert.match(String(refused.detail), /first bytes are not those of/)
    }
    const typed = await errorOf(links[5] ?? '', 502, 'UPSTREAM_ERROR')
    assert.match(String(typed.detail), /Content-Type is not an image type/)
    // an answer cut off mid-body
    await errorOf(links[7] ?? '', 502, 'UPSTREAM_ERROR')
  })

  await t.test('images: a tampered or unsigned link is refused before any fetch', async () => {
    const { body } = await json(`${srv.url}${YT}`)
    const link = String(body.thumbnail)
    const before = captions.connections()
    const token = link.slice(link.lastIndexOf('/') + 1)
    const [payload = '', sig = ''] = token.split('.')
    const flipped = payload.slice(0, 5) + (payload[5] === 'A' ? 'B' : 'A') + payload.slice(6)
    await errorOf(`${srv.url}/api/v2/images/${flipped}.${sig}`, 403, 'INVALID_SIGNATURE')
    await errorOf(`${srv.url}/api/v2/images/${payload}.${'A'.repeat(22)}`, 403, 'INVALID_SIGNATURE')
    await errorOf(`${srv.url}/api/v2/images/${Buffer.from(JSON.stringify({ u: `${captions.url}/img/thumb.jpg`, e: 9e9 })).toString('base64url')}`, 403, 'INVALID_SIGNATURE')
    await errorOf(`${srv.url}/api/v2/images/not-a-token`, 403, 'INVALID_SIGNATURE')
    assert.equal(captions.connections(), before, 'no fetch for a refused link')
  })

  await t.test('the egress policy holds for tracks and images: a loopback host outside GENERIC_HOSTS is never contacted', async () => {
    // the info is scrubbed of the canary's track and thumbnail: nobody gets a link to them
    const track = await errorOf(`${srv.url}${YT}/subtitles/ca`, 404, 'SUBTITLE_NOT_FOUND')
    const info = await json(`${srv.url}${YT}`)
    const tracks = await json(`${srv.url}${YT}/subtitles`)
    for (const shown of [track, info.body, tracks.body]) assert.ok(!JSON.stringify(shown).includes(canary.host), 'no answer names the address')
    assert.equal(canary.connections(), 0)
  })

  await t.test('image links and media links are not interchangeable', async () => {
    const { body: stream } = await json(`${srv.url}/api/v2/stream/youtube/dQw4w9WgXcQ?mode=json&quality=360p`)
    const proxyUrl = String(stream.proxy_url)
    assert.match(proxyUrl, /\/api\/v2\/proxy\//)
    await errorOf(`${srv.url}/api/v2/images/${proxyUrl.slice(proxyUrl.lastIndexOf('/') + 1)}`, 403, 'INVALID_SIGNATURE')
    const { body } = await json(`${srv.url}${YT}`)
    const image = String(body.thumbnail)
    await errorOf(`${srv.url}/api/v2/proxy/${image.slice(image.lastIndexOf('/') + 1)}`, 403, 'INVALID_SIGNATURE')
  })

  await t.test('the BiliBili-shaped thumbnail is fetched with BiliBili\'s Referer', async () => {
    const { body } = await json(`${srv.url}${BILI}`)
    const img = await fetch(String(body.thumbnail))
    assert.equal(img.status, 200)
    assert.deepEqual(Buffer.from(await img.arrayBuffer()), jpeg)
    assert.deepEqual(captions.biliReferers, ['https://www.bilibili.com/'])
  })

  await t.test('the embed page: poster and tracks are this server\'s links', async () => {
    const { res, body } = await text(`${srv.url}/api/v2/stream/embed/youtube/dQw4w9WgXcQ?captions=de`)
    assert.equal(res.status, 200, body)
    assert.ok(!body.includes(captions.url), 'no upstream URL on the page')
    assert.match(body, /poster="\/api\/v2\/images\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}"/)
    assert.ok(body.includes('<track kind="subtitles" src="/api/v2/videos/youtube/dQw4w9WgXcQ/subtitles/en?format=vtt" srclang="en" label="English">'), body)
    assert.ok(body.includes('<track kind="subtitles" src="/api/v2/videos/youtube/dQw4w9WgXcQ/subtitles/de?format=vtt" srclang="de" label="Deutsch" default>'), body)
    assert.ok(!body.includes('automatic=true'), 'automatic captions only when there are no subtitles')
    assert.match(res.headers.get('content-security-policy') ?? '', /img-src 'self' data:;/)
  })

  await t.test('the new routes are in /openapi.json', async () => {
    const { body } = await json(`${srv.url}/openapi.json`)
    const paths = Object.keys(body.paths as object)
    for (const p of ['/api/v2/videos/{platform}/{id}/subtitles', '/api/v2/videos/{platform}/{id}/subtitles/{lang}', '/api/v2/videos/subtitles', '/api/v2/videos/subtitles/{lang}', '/api/v2/images/{token}']) {
      assert.ok(paths.includes(p), p)
    }
  })
})
