// Issue 15: what an extraction hands out never names an address the egress policy
// refuses. The project's yt-dlp (warm, as shipped) reads hostile pages inside
// GENERIC_HOSTS that list media, a poster and a canonical URL on an "internal"
// canary outside it (both on 127.0.0.1, which is not public), or redirect there.
// Info, formats, stream JSON, redirects and batches list nothing on the canary; a
// video with nothing else, or a page yt-dlp was refused on, is EGRESS_REFUSED
// (403) with the remedy; the canary never sees a connection.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startApp } from '../../testing/helpers.ts'
import type { StartedApp } from '../../testing/helpers.ts'
import { startCountingServer } from '../../testing/origin.ts'
import type { CountingServer } from '../../testing/origin.ts'
import { resolveYtDlp } from '../../extract/executables.ts'

function pages (c: string): Record<string, string> {
  return {
    // one source on the hostile origin, one on the canary, the poster and the canonical URL there too
    '/mixed.html': `<!doctype html><html><head><meta property="og:title" content="Mixed"><link rel="canonical" href="${c}/canonical.html"><title>Mixed</title></head>` +
      `<body><video controls poster="${c}/poster.jpg"><source src="/clip.mp4" type="video/mp4"><source src="${c}/clip.webm" type="video/webm"></video></body></html>`,
    // the only media on the canary
    '/embed.html': `<!doctype html><html><head><title>Embed</title></head><body><video src="${c}/clip.mp4" controls></video></body></html>`
  }
}

interface Setup { app: StartedApp, canary: CountingServer, hostile: CountingServer }

async function setup (t: { after: (fn: () => Promise<void>) => void }): Promise<Setup> {
  const ytdlp = resolveYtDlp('')
  assert.ok(ytdlp !== null, 'npm test provisions .tools/yt-dlp (scripts/ensure.js)')
  const canary = await startCountingServer((_req, res) => { res.end('internal') })
  const html = pages(canary.url)
  const hostile = await startCountingServer((_req, res, path) => {
    if (path === '/redirect.html') { res.writeHead(302, { location: `${canary.url}/page.html` }); res.end(); return }
    const body = html[path]
    if (body === undefined) { res.statusCode = 404; res.end('not found'); return }
    res.setHeader('content-type', 'text/html; charset=utf-8')
    res.end(body)
  })
  // YTDLP_PATH and YTDLP_MODE: the test helpers default to the fake yt-dlp in spawn mode
  const app = await startApp({ YTDLP_PATH: ytdlp, YTDLP_MODE: 'warm', GENERIC_HOSTS: hostile.host, RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close(); await hostile.close(); await canary.close() })
  return { app, canary, hostile }
}

function assertNoCanary (what: string, text: string, canary: CountingServer): void {
  assert.ok(!text.includes(canary.host) && !text.includes(`:${canary.port}`), `${what} names the canary: ${text}`)
}

async function get (app: StartedApp, path: string): Promise<{ status: number, text: string, location: string | null }> {
  const res = await fetch(`${app.url}${path}`, { redirect: 'manual' })
  return { status: res.status, text: await res.text(), location: res.headers.get('location') }
}

test('info never lists a URL on the canary: its media and poster are left out, and a video with nothing else is EGRESS_REFUSED', async (t) => {
  const { app, canary, hostile } = await setup(t)
  const page = (path: string): string => encodeURIComponent(`${hostile.url}${path}`)

  const info = await get(app, `/api/v2/videos?url=${page('/mixed.html')}`)
  assert.equal(info.status, 200, info.text)
  assertNoCanary('the info', info.text, canary)
  const body = JSON.parse(info.text) as { formats: unknown[], thumbnail: string | null, thumbnails: unknown[], webpage_url: string | null }
  assert.equal(body.formats.length, 1, 'the source on the hostile origin stays')
  assert.equal(body.thumbnail, null)
  assert.deepEqual(body.thumbnails, [])
  assert.equal(body.webpage_url, `${hostile.url}/mixed.html`)

  // every route that hands out media URLs reads the same scrubbed info
  for (const path of [`/api/v2/stream?url=${page('/mixed.html')}&mode=json`, `/api/v2/videos/formats?url=${page('/mixed.html')}`]) {
    const r = await get(app, path)
    assert.equal(r.status, 200, `${path}: ${r.text}`)
    assertNoCanary(path, r.text, canary)
  }
  const redirect = await get(app, `/api/v2/stream?url=${page('/mixed.html')}&mode=redirect`)
  assert.equal(redirect.status, 302, redirect.text)
  assert.equal(redirect.location, `${hostile.url}/clip.mp4`)

  const only = await get(app, `/api/v2/videos?url=${page('/embed.html')}`)
  assert.equal(only.status, 403, only.text)
  const refusal = JSON.parse(only.text) as Record<string, unknown>
  assert.equal(refusal.code, 'EGRESS_REFUSED')
  assertNoCanary('the info error', only.text, canary)

  // a batch: one answer per item, none naming the canary
  const res = await fetch(`${app.url}/api/v2/videos/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ items: [{ url: `${hostile.url}/embed.html` }, { url: `${hostile.url}/mixed.html` }, { url: `${hostile.url}/redirect.html` }] })
  })
  const text = await res.text()
  assert.equal(res.status, 200, text)
  assertNoCanary('the batch', text, canary)
  const results = (JSON.parse(text) as { results: Array<{ ok: boolean, error: { code: string, detail: string | null } | null }> }).results
  assert.deepEqual(results.map((r) => r.ok ? 'ok' : r.error?.code), ['EGRESS_REFUSED', 'ok', 'EGRESS_REFUSED'])
  assert.match(results[2]?.error?.detail ?? '', /GENERIC_HOSTS.*Refused by the egress policy/, 'the remedy, then yt-dlp\'s words')

  assert.equal(canary.connections(), 0, `the canary was reached: ${JSON.stringify(canary.paths)}`)
})
