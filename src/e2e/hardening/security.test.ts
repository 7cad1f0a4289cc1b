// Security: yt-dlp option injection, SSRF (signed links, the upstream guard),
// path traversal, embed XSS, and secrets (cookie values, keys) kept out of
// responses and logs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { startApp, FAKE_YTDLP } from '../../testing/helpers.ts'
import { writeLocalFixtures } from '../../testing/fixtures.ts'
import { createUpstream } from '../../proxy/upstream.ts'
import { createLinkSigner } from '../../proxy/signer.ts'
import { AppError } from '../../errors.ts'
import { loadConfig } from '../../config.ts'
import { createLogger } from '../../log.ts'
import { createApp } from '../../app.ts'

const enc = encodeURIComponent
const INJECT = ['--exec=touch /tmp/vg-pwned', '-o/tmp/vg-pwned', '--config-location=/etc/passwd', '-', '--', 'https://www.youtube.com/watch?v=--exec', 'https://www.youtube.com/watch?v=-o/tmp/xxxx', 'https://youtu.be/--exec=touc']

async function listen (server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const a = server.address()
  return typeof a === 'object' && a !== null ? a.port : 0
}
const closeServer = async (s: Server): Promise<void> => { s.closeAllConnections(); await new Promise<void>((resolve) => s.close(() => resolve())) }

test('option injection: ids and URLs never reach yt-dlp as options', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vg-inject-'))
  const log = join(dir, 'argv.log')
  process.env.FAKE_YTDLP_LOG = log
  process.env.FAKE_YTDLP_FIXTURE_DIR = writeLocalFixtures('http://127.0.0.1:1')
  const app = await startApp({ RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close(); delete process.env.FAKE_YTDLP_LOG; rmSync(dir, { recursive: true, force: true }) })
  const paths: string[] = ['/api/v2/videos/youtube/dQw4w9WgXcQ']
  for (const x of INJECT) {
    paths.push(`/api/v2/videos/youtube/${enc(x)}`, `/api/v2/videos/bilibili/${enc(x)}`, `/api/v2/videos?url=${enc(x)}`, `/api/v2/stream?url=${enc(x)}&mode=redirect`, `/api/v2/playlists?url=${enc(x)}`)
  }
  for (const p of paths) {
    const res = await fetch(app.url + p, { redirect: 'manual', signal: AbortSignal.timeout(10_000) })
    await res.arrayBuffer()
    assert.ok(res.status < 500, `${p} → ${res.status}`)
  }
  for (const x of INJECT) {
    const res = await fetch(`${app.url}/api/v2/videos/download`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: x }) })
    await res.arrayBuffer()
    assert.ok(res.status >= 400 && res.status < 500, `download ${x} → ${res.status}`)
  }
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[])
  assert.ok(lines.some((argv) => argv.at(-1) === 'https://www.youtube.com/watch?v=dQw4w9WgXcQ'), 'the control extraction was logged')
  for (const argv of lines) {
    // what the yt-dlp in use offers: `--version` and `--help` alone (a yt-dlp that is not Python)
    if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '--help')) continue
    const sep = argv.indexOf('--')
    assert.ok(sep >= 0 && sep === argv.length - 2, `one URL after --: ${JSON.stringify(argv)}`)
    assert.match(argv[sep + 1] ?? '', /^https:\/\//)
    for (const a of argv.slice(0, sep)) assert.ok(!/vg-pwned|\/etc\/passwd|^--exec|^--config-location/.test(a), `injected option ${a}`)
  }
})

test('SSRF: the upstream guard refuses private addresses, odd schemes and redirects into them', { timeout: 20_000 }, async (t) => {
  let secretHits = 0
  const secret = createServer((_req, res) => { secretHits++; res.end('internal') })
  const sPort = await listen(secret)
  const hops: Record<string, string> = {
    '/to-loopback': `http://127.0.0.1:${sPort}/`,
    '/to-v6': `http://[::1]:${sPort}/`,
    '/to-localhost': `http://localhost:${sPort}/`,
    '/to-meta': 'http://169.254.169.254/latest/meta-data/',
    '/to-ten': 'http://10.0.0.1/',
    '/to-file': 'file:///etc/passwd'
  }
  const origin = createServer((req, res) => {
    const to = hops[req.url ?? '']
    if (to !== undefined) { res.writeHead(302, { location: to }); res.end(); return }
    res.end('ok')
  })
  const oPort = await listen(origin)
  const up = createUpstream({ connectTimeoutMs: 2000, headersTimeoutMs: 2000 })
  t.after(async () => { await up.close(); await closeServer(origin); await closeServer(secret) })
  const get = async (url: string, allow: readonly string[] = []): Promise<unknown> => {
    try {
      const res = await up.request({ url, method: 'GET', headers: {}, allow, signal: AbortSignal.timeout(5000) })
      await res.body.dump()
      return res.status
    } catch (err) { return err }
  }
  const refused = (x: unknown, what: string): void => {
    assert.ok(x instanceof AppError && x.code === 'FORBIDDEN', `${what}: ${String(x)}`)
  }
  for (const url of [`http://127.0.0.1:${sPort}/`, 'http://169.254.169.254/latest/meta-data/', `http://[::1]:${sPort}/`, 'http://10.1.2.3/', 'http://0.0.0.0/', `http://2130706433:${sPort}/`, `http://[::ffff:127.0.0.1]:${sPort}/`, `http://localhost:${sPort}/`, 'file:///etc/passwd', 'ftp://ftp.example.com/x', `http://user:pw@127.0.0.1:${oPort}/`]) {
    refused(await get(url), url)
  }
  const allow = [`127.0.0.1:${oPort}`]
  assert.equal(await get(`http://127.0.0.1:${oPort}/ok`, allow), 200, 'an allowed host is reachable')
  for (const hop of Object.keys(hops)) refused(await get(`http://127.0.0.1:${oPort}${hop}`, allow), `redirect ${hop}`)
  assert.equal(secretHits, 0, 'no request reached the internal server')
})

test('SSRF: signed proxy links cannot be forged or altered', { timeout: 20_000 }, async (t) => {
  let hits = 0
  const origin = createServer((_req, res) => { hits++; res.end('media') })
  const port = await listen(origin)
  const secretKey = 'k'.repeat(40)
  const app = await startApp({ PROXY_SIGNING_SECRET: secretKey, GENERIC_HOSTS: `127.0.0.1:${port}`, RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close(); await closeServer(origin) })
  const good = createLinkSigner(secretKey).sign({ route: 'proxy', url: `http://127.0.0.1:${port}/a.mp4` }, 60)
  const ok = await fetch(`${app.url}/api/v2/proxy/${good}`)
  assert.equal(ok.status, 200)
  assert.equal(await ok.text(), 'media')
  const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1)
  const forged = [
    createLinkSigner('x'.repeat(40)).sign({ route: 'proxy', url: `http://127.0.0.1:${port}/a.mp4` }, 60),
    flip(good, 3), flip(good, good.length - 2), good.slice(0, -1), good + 'A', 'x', '..%2F..%2Fetc%2Fpasswd'
  ]
  const before = hits
  for (const token of forged) {
    const res = await fetch(`${app.url}/api/v2/proxy/${token}`)
    const body = await res.json() as { code: string }
    assert.ok(res.status === 403 || res.status === 400, `${token.slice(0, 40)} → ${res.status}`)
    assert.ok(body.code === 'INVALID_SIGNATURE' || body.code === 'INVALID_INPUT', body.code)
  }
  assert.equal(hits, before, 'forged links never reach the origin')
})

test('path traversal on /api/v2/files and XSS vectors in the embed page', { timeout: 30_000 }, async (t) => {
  const dir = writeLocalFixtures('http://127.0.0.1:1')
  const yt = JSON.parse(readFileSync(join(dir, 'youtube.json'), 'utf8')) as Record<string, unknown>
  yt.title = '"><svg onload=alert(1)>\' onmouseover=\'alert(2)` <!-- ]]> </video><script>alert(3)</script>'
  yt.thumbnail = 'javascript:alert(4)'
  writeFileSync(join(dir, 'youtube.json'), JSON.stringify(yt))
  const bili = JSON.parse(readFileSync(join(dir, 'bilibili.json'), 'utf8')) as Record<string, unknown>
  bili.title = 'ok'
  bili.thumbnail = 'https://img.example/x.jpg" onerror="alert(5)'
  writeFileSync(join(dir, 'bilibili.json'), JSON.stringify(bili))
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  // the fixtures' media are on a dead local origin: allowed, or no info would list them (EGRESS_REFUSED)
  const app = await startApp({ GENERIC_HOSTS: '127.0.0.1:1', RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close(); rmSync(dir, { recursive: true, force: true }) })

  for (const name of ['..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%5C..%5Cetc%5Cpasswd', '%2Fetc%2Fpasswd', '.env', 'a%00.mp4', '..', '%2e%2e', '....%2F%2F....%2F%2Fetc%2Fpasswd']) {
    const res = await fetch(`${app.url}/api/v2/files/${name}`)
    const body = await res.text()
    assert.ok(res.status === 400 || res.status === 404, `${name} → ${res.status}`)
    assert.ok(!body.includes('root:'), name)
  }

  const page = await fetch(`${app.url}/api/v2/stream/embed/youtube/dQw4w9WgXcQ`)
  assert.equal(page.status, 200)
  const html = await page.text()
  assert.equal(html.split('</video>').length, 2, 'one video element, not closed early')
  for (const bad of ['<svg', '<script>', 'javascript:', 'onmouseover=\'', '<!--']) assert.ok(!html.includes(bad), `${bad} in ${html}`)
  assert.ok(!/poster=/.test(html), 'a javascript: thumbnail is not used as a poster')
  const page2 = await fetch(`${app.url}/api/v2/stream/embed/bilibili/BV1GJ411x7h7`)
  assert.equal(page2.status, 200)
  const html2 = await page2.text()
  assert.ok(!html2.includes('onerror'), html2)
  // the poster is this server's signed image link: nothing of the upstream URL is on the page
  assert.ok(!html2.includes('img.example'), html2)
  assert.match(html2, /poster="\/api\/v2\/images\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}"/)
})

test('cookie values, API keys and auth headers never show up in responses or logs', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vg-secrets-'))
  let logText = ''
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { logText += chunk.toString(); cb() } })
  const KEY = 'adminkey-SECRET-0001'
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    WORKERS: '1',
    LOG_LEVEL: 'debug',
    ACCESS_LOG: 'true',
    YTDLP_PATH: FAKE_YTDLP,
    YTDLP_MODE: 'spawn',
    DOWNLOAD_DIRECTORY: join(dir, 'dl'),
    COOKIES_DIRECTORY: join(dir, 'cookies'),
    SHUTDOWN_TIMEOUT: '2',
    API_KEYS: `${KEY}:admin`,
    RATE_LIMIT_ENABLED: 'false'
  })
  const log = createLogger(config.LOG_LEVEL, { role: 'test' }, sink)
  const app = createApp({ config, log, redis: null })
  const port = await app.listen(0, '127.0.0.1')
  const url = `http://127.0.0.1:${port}`
  t.after(async () => { await app.close(); rmSync(dir, { recursive: true, force: true }) })

  const COOKIE = 'COOKIEVALUE-SECRET-7f3a9c'
  const file = `# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t2147483647\tSID\t${COOKIE}\n`
  const bodies: string[] = []
  const call = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const res = await fetch(url + path, { signal: AbortSignal.timeout(10_000), ...init })
    bodies.push(JSON.stringify([...res.headers]) + await res.text())
    return res
  }
  assert.equal((await call('/api/v2/auth/cookies/youtube', { method: 'PUT', body: file, headers: { 'x-api-key': KEY, 'content-type': 'text/plain' } })).status, 200)
  assert.equal((await call('/api/v2/auth/cookies/youtube', { method: 'PUT', body: file.replace('2147483647', 'never'), headers: { 'x-api-key': KEY } })).status, 400)
  await call('/api/v2/auth/status')
  await call('/api/v2/auth/platforms/youtube')
  await call('/api/v2/videos?url=' + enc('https://www.youtube.com/watch?v=dQw4w9WgXcQ'))
  const secrets = { authorization: 'Bearer BEARER-SECRET-1234', 'x-api-key': 'XKEY-SECRET-5678', cookie: `sid=${COOKIE}; other=HDRCOOKIE-SECRET` }
  assert.equal((await call('/api/v2/videos/youtube/--bad', { headers: secrets })).status, 401)
  await call('/nope', { headers: { cookie: secrets.cookie } })
  await call('/api/v2/auth/cookies/youtube', { method: 'PUT', body: file, headers: { authorization: `Bearer ${KEY}` } })
  log.info({ headers: secrets, req: { headers: secrets } }, 'redaction probe')
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.ok(logText.includes('"msg":"request"'), 'the access log was captured')
  assert.ok(logText.includes('[redacted]'), 'the probe was redacted')
  for (const s of [COOKIE, 'BEARER-SECRET', 'XKEY-SECRET', 'HDRCOOKIE-SECRET', KEY]) {
    assert.ok(!logText.includes(s), `${s} in the logs`)
    for (const b of bodies) assert.ok(!b.includes(s), `${s} in a response: ${b.slice(0, 300)}`)
  }
})
