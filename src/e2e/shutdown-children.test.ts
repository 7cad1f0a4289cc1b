// SIGTERM while yt-dlp and ffmpeg are at work: when the server has exited, none of
// the processes it started is left (warm yt-dlp processes, a download, a remux, a
// spawned extraction), read from /proc. Each runs in a process group of its own,
// killed with its worker (workers/children.ts).
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { cmdline, descendants, sleep, startCluster } from '../testing/helpers.ts'
import type { StartedCluster } from '../testing/helpers.ts'
import { makeBigFile, makeMedia, startOrigin } from '../testing/downloads.ts'
import { startCountingServer } from '../testing/origin.ts'

// a zombie (state Z after the closing parenthesis) has exited; init reaps it when it gets to it
function running (pid: number, argv: readonly string[]): boolean {
  let stat: string
  try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8') } catch { return false }
  // the same process, not a new one that was given its pid
  return !/\) Z /.test(stat) && JSON.stringify(cmdline(pid)) === JSON.stringify(argv)
}

// Every process below the primary except its workers, with its argv.
function started (cluster: StartedCluster): Map<number, string[]> {
  const workers = new Set(cluster.workerPids())
  const out = new Map<number, string[]>()
  for (const pid of descendants(cluster.pid)) {
    const argv = cmdline(pid)
    if (argv !== null && !workers.has(pid)) out.set(pid, argv)
  }
  return out
}

async function until (what: string, timeoutMs: number, ok: () => boolean, diagnose: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${diagnose()}`)
    await sleep(100)
  }
}

const show = (procs: ReadonlyMap<number, string[]>): string => [...procs].map(([pid, argv]) => `${pid} ${argv.join(' ').slice(0, 160)}`).join('\n')

async function stopAndCheck (cluster: StartedCluster, procs: ReadonlyMap<number, string[]>): Promise<void> {
  cluster.child.kill('SIGTERM')
  const exit = await Promise.race([cluster.exited, sleep(30_000).then(() => null)])
  assert.ok(exit !== null, `the server exited after SIGTERM:\n${cluster.output().slice(-2000)}`)
  // SIGKILL has been sent by then; the kernel may take a moment to finish them
  await until('every child process is gone', 10_000, () => [...procs].every(([pid, argv]) => !running(pid, argv)),
    () => `still running:\n${show(new Map([...procs].filter(([pid, argv]) => running(pid, argv))))}`)
}

test('SIGTERM during an extraction, a download and a remux: no warm yt-dlp, yt-dlp or ffmpeg process outlives the server', { timeout: 180_000 }, async (t) => {
  const media = mkdtempSync(join(tmpdir(), 'vg-children-'))
  t.after(() => rmSync(media, { recursive: true, force: true }))
  makeMedia(media, 20)
  makeBigFile(media, 'big.mp4', 8 * 1024 * 1024)
  // /slow/ drips 2 KB every 100 ms: the download and the remux are still running when SIGTERM comes
  const origin = await startOrigin(media, 2048)
  t.after(async () => { await origin.close() })
  // a page that never comes: a warm yt-dlp process stays busy extracting it
  const pages = await startCountingServer(() => {})
  t.after(async () => { await pages.close() })
  // the shipped yt-dlp and mode (the helpers default to a fake one in spawn mode)
  const cluster = await startCluster({ workers: 1, env: { YTDLP_PATH: '', YTDLP_MODE: 'warm', GENERIC_HOSTS: `${origin.host},${pages.host}`, RATE_LIMIT_ENABLED: 'false' }, timeoutMs: 60_000 })
  t.after(async () => { await cluster.stop() })

  const download = await fetch(`${cluster.url}/api/v2/videos/download`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `${origin.base}/slow/big.mp4` }) })
  assert.equal(download.status, 202, await download.text())
  const clients = new AbortController()
  t.after(() => clients.abort())
  const waiting = [
    `${cluster.url}/api/v2/stream?url=${encodeURIComponent(`${origin.base}/slow/split/master.m3u8`)}&format=mp4`,
    `${cluster.url}/api/v2/videos?url=${encodeURIComponent(`${pages.url}/page.html`)}`
  ].map(async (url) => await fetch(url, { signal: clients.signal }).then(async (res) => { await res.arrayBuffer() }, () => {}))

  const has = (procs: Map<number, string[]>, test: (argv: string[]) => boolean): boolean => [...procs.values()].some(test)
  const isWarm = (argv: string[]): boolean => argv.includes('-c') && argv.some((a) => /yt.dlp/.test(a))
  const isDownload = (argv: string[]): boolean => argv.includes('--') && argv.at(-1) === `${origin.base}/slow/big.mp4`
  const isFfmpeg = (argv: string[]): boolean => basename(argv[0] ?? '') === 'ffmpeg'
  let procs = new Map<number, string[]>()
  await until('warm yt-dlp processes, the download and the remux are running, and the page was asked for', 90_000, () => {
    procs = started(cluster)
    return has(procs, isWarm) && has(procs, isDownload) && has(procs, isFfmpeg) && pages.paths.includes('/page.html')
  }, () => show(procs))

  await stopAndCheck(cluster, started(cluster))
  clients.abort()
  await Promise.all(waiting)
})

// A one-worker cluster whose spawned yt-dlp (the helpers' fake, in spawn mode) never
// exits: /hang, asked for by a client that is still waiting.
async function hangingExtraction (t: TestContext): Promise<{ cluster: StartedCluster, procs: Map<number, string[]>, asking: AbortController, pending: Promise<void> }> {
  const site = await startCountingServer((_req, res) => { res.end() })
  t.after(async () => { await site.close() })
  const cluster = await startCluster({ workers: 1, env: { GENERIC_HOSTS: site.host, RATE_LIMIT_ENABLED: 'false' } })
  t.after(async () => { await cluster.stop() })
  const asking = new AbortController()
  t.after(() => asking.abort())
  const pending = fetch(`${cluster.url}/api/v2/videos?url=${encodeURIComponent(`${site.url}/hang`)}`, { signal: asking.signal }).then(async (res) => { await res.arrayBuffer() }, () => {})
  let procs = new Map<number, string[]>()
  await until('the spawned yt-dlp is running', 30_000, () => {
    procs = started(cluster)
    return [...procs.values()].some((argv) => argv.at(-1) === `${site.url}/hang`)
  }, () => show(procs))
  return { cluster, procs, asking, pending }
}

test('SIGTERM during a spawned extraction that never ends: the yt-dlp process goes with the server', { timeout: 60_000 }, async (t) => {
  const { cluster, procs, asking, pending } = await hangingExtraction(t)

  await stopAndCheck(cluster, procs)
  asking.abort()
  await pending
})

test('a worker that hangs in its drain is killed by the primary, and its yt-dlp process with it', { timeout: 60_000 }, async (t) => {
  const { cluster, procs, asking, pending } = await hangingExtraction(t)
  // the worker stops running JavaScript: only the primary's deadline (SHUTDOWN_TIMEOUT) ends it
  for (const worker of cluster.workerPids()) process.kill(worker, 'SIGSTOP')

  await stopAndCheck(cluster, procs)
  assert.match(cluster.output(), /shutdown deadline passed/)
  asking.abort()
  await pending
})
