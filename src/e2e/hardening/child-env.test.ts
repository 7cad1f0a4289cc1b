// yt-dlp and ffmpeg never see vidgate's secrets: every process the server starts
// (warm and spawned yt-dlp, a download, a remux's ffmpeg) has an allow-listed
// environment, read from /proc/<pid>/environ while it runs. CHILD_ENV_ALLOW adds names.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { cmdline, descendants, sleep, startCluster } from '../../testing/helpers.ts'
import type { StartedCluster } from '../../testing/helpers.ts'
import { makeMedia, startOrigin } from '../../testing/downloads.ts'
import { startCountingServer } from '../../testing/origin.ts'

const SECRETS: Readonly<Record<string, string>> = {
  PROXY_SIGNING_SECRET: 'secret-signing-key-0123456789abcdef',
  API_KEYS: 'secret-api-key-01:admin',
  REDIS_PASSWORD: 'secret-redis-password',
  AWS_SECRET_ACCESS_KEY: 'secret-operator-credential',
  // not a secret, but yt-dlp and ffmpeg must not go around the egress with it
  http_proxy: 'http://127.0.0.1:9/'
}

function environ (pid: number): Map<string, string> | null {
  let text: string
  try { text = readFileSync(`/proc/${pid}/environ`, 'utf8') } catch { return null }
  const out = new Map<string, string>()
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=')
    if (eq > 0) out.set(entry.slice(0, eq), entry.slice(eq + 1))
  }
  return out
}

// The processes below the workers (the workers themselves keep the configuration).
function children (cluster: StartedCluster): Array<{ pid: number, argv: string[] }> {
  return cluster.workerPids().flatMap((w) => descendants(w)).flatMap((pid) => {
    const argv = cmdline(pid)
    return argv === null ? [] : [{ pid, argv }]
  })
}

function assertClean (what: string, env: Map<string, string>): void {
  for (const [name, value] of Object.entries(SECRETS)) {
    assert.equal(env.has(name), false, `${what} has ${name}`)
    for (const [k, v] of env) assert.ok(!v.includes(value), `${what}: ${k} holds the value of ${name}`)
  }
  assert.ok(env.has('PATH') && env.has('HOME'), `${what} has PATH and HOME`)
}

async function until<T> (what: string, timeoutMs: number, probe: () => T | undefined, diagnose: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${diagnose()}`)
    await sleep(100)
  }
}

test('warm yt-dlp, a download and a remux run without the server\'s secrets', { timeout: 180_000 }, async (t) => {
  const media = mkdtempSync(join(tmpdir(), 'vg-child-env-'))
  t.after(() => rmSync(media, { recursive: true, force: true }))
  makeMedia(media, 20)
  // /slow/ drips: the download and the remux are still running while their environment is read
  const origin = await startOrigin(media, 2048)
  t.after(async () => { await origin.close() })
  // the shipped yt-dlp and mode (the helpers default to a fake one in spawn mode)
  const cluster = await startCluster({ workers: 1, env: { ...SECRETS, YTDLP_PATH: '', YTDLP_MODE: 'warm', GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false' }, timeoutMs: 60_000 })
  t.after(async () => { await cluster.stop() })
  const worker = environ(cluster.workerPids()[0] ?? 0)
  assert.equal(worker?.get('PROXY_SIGNING_SECRET'), SECRETS.PROXY_SIGNING_SECRET, 'the worker itself has the secrets to hide')

  const download = await fetch(`${cluster.url}/api/v2/videos/download`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'secret-api-key-01' },
    body: JSON.stringify({ url: `${origin.base}/slow/clip.mp4` })
  })
  assert.equal(download.status, 202, await download.text())
  const remux = new AbortController()
  t.after(() => remux.abort())
  const remuxing = fetch(`${cluster.url}/api/v2/stream?url=${encodeURIComponent(`${origin.base}/slow/split/master.m3u8`)}&format=mp4`, { signal: remux.signal })
    .then(async (res) => { await res.arrayBuffer() }, () => {})

  const kinds = {
    warm: (argv: string[]) => argv.includes('-c') && argv.some((a) => /yt.dlp/.test(a)),
    download: (argv: string[]) => argv.at(-1) === `${origin.base}/slow/clip.mp4`,
    ffmpeg: (argv: string[]) => basename(argv[0] ?? '') === 'ffmpeg'
  }
  const seen = await until('warm yt-dlp processes, the download and the remux are running', 90_000, () => {
    const now = children(cluster)
    const found = Object.entries(kinds).map(([kind, is]) => ({ kind, proc: now.find((p) => is(p.argv)) }))
    return found.every((f) => f.proc !== undefined) ? found : undefined
  }, () => children(cluster).map((p) => `${p.pid} ${p.argv.join(' ').slice(0, 120)}`).join('\n'))
  for (const { kind, proc } of seen) {
    const env = environ(proc?.pid ?? 0)
    assert.ok(env !== null, `${kind} is still running`)
    assertClean(kind, env)
  }
  remux.abort()
  await remuxing
})

test('a spawned yt-dlp runs without the server\'s secrets; CHILD_ENV_ALLOW passes named variables', { timeout: 60_000 }, async (t) => {
  const site = await startCountingServer((_req, res) => { res.end() })
  t.after(async () => { await site.close() })
  // the helpers' fake yt-dlp in spawn mode: /hang runs until the extraction timeout
  const cluster = await startCluster({
    workers: 1,
    env: { ...SECRETS, GENERIC_HOSTS: site.host, RATE_LIMIT_ENABLED: 'false', CHILD_ENV_ALLOW: 'VG_PASSED', VG_PASSED: 'yes', VG_NOT_PASSED: 'no' }
  })
  t.after(async () => { await cluster.stop() })
  const asking = new AbortController()
  t.after(() => asking.abort())
  const pending = fetch(`${cluster.url}/api/v2/videos?url=${encodeURIComponent(`${site.url}/hang`)}`, { signal: asking.signal }).then(async (res) => { await res.arrayBuffer() }, () => {})

  const proc = await until('the spawned yt-dlp is running', 30_000, () => children(cluster).find((p) => p.argv.at(-1) === `${site.url}/hang`),
    () => children(cluster).map((p) => `${p.pid} ${p.argv.join(' ').slice(0, 120)}`).join('\n'))
  const env = environ(proc.pid)
  assert.ok(env !== null)
  assertClean('the spawned yt-dlp', env)
  assert.equal(env.get('VG_PASSED'), 'yes')
  assert.equal(env.has('VG_NOT_PASSED'), false)
  assert.equal(env.has('CHILD_ENV_ALLOW'), false)
  asking.abort()
  await pending
})
