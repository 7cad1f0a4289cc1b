// A media server whose redirect carries a Location that is no URL: every route that
// follows upstream redirects (the byte proxy, the stream route's relay, the HLS
// relay) answers 502 UPSTREAM_ERROR in the error shape; nothing reaches the
// unhandled-error path (a 500 and a logged stack).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT, startCluster } from '../../testing/helpers.ts'
import { startCountingServer } from '../../testing/origin.ts'

// Each of these makes `new URL(location, base)` throw.
const BAD_LOCATIONS = ['http://[::1', 'http://exa mple.com/x.mp4', 'http://%zz/', 'https://:0/', 'http://a:99999/']

function writeFixture (dir: string, name: string, formats: unknown[]): void {
  const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'workers', 'fixtures', 'bilibili.json'), 'utf8')) as Record<string, unknown>
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ ...raw, id: name, extractor: 'generic', duration: 4, is_live: false, formats, requested_formats: undefined }))
}

test('a malformed upstream Location is a 502 in the error shape on the proxy, stream and HLS routes', { timeout: 120_000 }, async (t) => {
  const site = await startCountingServer((_req, res, path) => {
    const n = Number(/^\/bad\/(\d+)\//.exec(path)?.[1] ?? -1)
    const location = BAD_LOCATIONS[n]
    if (location === undefined) { res.statusCode = 404; res.end('not found'); return }
    res.writeHead(302, { location })
    res.end()
  })
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-redirect-fixtures-'))
  BAD_LOCATIONS.forEach((_, i) => {
    writeFixture(dir, `file${i}`, [{ format_id: 'f', ext: 'mp4', protocol: 'https', vcodec: 'avc1.64000d', acodec: 'mp4a.40.2', width: 320, height: 240, url: `${site.url}/bad/${i}/v.mp4` }])
    const hls = `${site.url}/bad/${i}/master.m3u8`
    writeFixture(dir, `hls${i}`, [{ format_id: 'h', ext: 'mp4', protocol: 'm3u8_native', vcodec: 'avc1.64000d', acodec: 'mp4a.40.2', width: 320, height: 240, url: hls, manifest_url: hls }])
  })
  // the fake yt-dlp (the test default) reads its fixtures from there
  const cluster = await startCluster({ workers: 1, env: { GENERIC_HOSTS: site.host, RATE_LIMIT_ENABLED: 'false', FAKE_YTDLP_FIXTURE_DIR: dir } })
  t.after(async () => { await cluster.stop(); await site.close(); rmSync(dir, { recursive: true, force: true }) })

  const expect502 = async (url: string, what: string): Promise<void> => {
    const res = await fetch(url, { signal: AbortSignal.timeout(30_000) })
    const text = await res.text()
    assert.equal(res.status, 502, `${what}: ${text}`)
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8', what)
    const body = JSON.parse(text) as Record<string, unknown>
    assert.deepEqual(Object.keys(body).sort(), ['code', 'detail', 'error', 'request_id', 'timestamp'], what)
    assert.equal(body.code, 'UPSTREAM_ERROR', what)
    assert.doesNotMatch(text, /TypeError|ERR_INVALID_URL|\n\s+at /, what)
  }
  const page = (name: string): string => encodeURIComponent(`${site.url}/fixture/${name}`)

  for (let i = 0; i < BAD_LOCATIONS.length; i++) {
    const info = await fetch(`${cluster.url}/api/v2/stream?url=${page(`file${i}`)}&mode=json`)
    const links = await info.json() as Record<string, unknown>
    assert.equal(info.status, 200, JSON.stringify(links))
    assert.match(String(links.proxy_url), /\/api\/v2\/proxy\//)
    await expect502(String(links.proxy_url), `byte proxy, Location ${BAD_LOCATIONS[i]}`)
    await expect502(`${cluster.url}/api/v2/stream?url=${page(`file${i}`)}&mode=proxy`, `stream relay, Location ${BAD_LOCATIONS[i]}`)

    const hls = await fetch(`${cluster.url}/api/v2/stream?url=${page(`hls${i}`)}&mode=json`)
    const hlsLinks = await hls.json() as Record<string, unknown>
    assert.match(String(hlsLinks.hls_url), /\/api\/v2\/hls\//)
    await expect502(String(hlsLinks.hls_url), `HLS relay, Location ${BAD_LOCATIONS[i]}`)
  }
  assert.ok(site.paths.filter((p) => p.startsWith('/bad/')).length >= BAD_LOCATIONS.length * 3, 'every route asked the media server')
  assert.doesNotMatch(cluster.output(), /unhandled error/)
})
