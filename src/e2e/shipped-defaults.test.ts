// The server as the README starts it (`npm start -- --workers=2`), with the
// shipped defaults: no YTDLP_PATH, FFMPEG_PATH, FFPROBE_PATH or YTDLP_MODE.
// Warm Python processes with yt_dlp loaded must serve the extractions, the
// yt-dlp in use must be the project's current one, and mp3, m4a and mkv
// downloads (which need ffmpeg and ffprobe) must finish.
//
// It runs the compiled entry `node dist/src/main.js --workers=2` (what `npm
// start` runs after its prestart), not `npm start` itself: prestart rebuilds
// dist/, under the other test files running from it at the same time.
//
// The environment is only:
// - PATH: where the defaults look for ffmpeg, ffprobe (and yt-dlp when the
//   project has none of its own), as on a user's machine;
// - HOME: a fresh temporary folder, so that no yt-dlp configuration or cache in
//   the developer's home changes what is tested;
// - GENERIC_HOSTS=127.0.0.1: the one setting the user sets, so that
//   yt-dlp may reach the local origin;
// - PORT: a free port instead of the default 8000, which a developer's own
//   server or another test file running at the same time may hold.
// The working directory is a temporary folder: downloads land in ./downloads
// (DOWNLOAD_DIRECTORY's default) and are removed with it.
// The one path this file sets is the entry itself (MAIN_JS): the server has to
// be started from somewhere. ffprobe, to check the files, is run by name from PATH.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { Agent, fetch as undiciFetch } from 'undici'
import { MAIN_JS, childPids, cmdline, descendants, freePort, sleep } from '../testing/helpers.ts'
import { cleanupStack, makeMedia, startOrigin } from '../testing/downloads.ts'
import { PROJECT_YTDLP } from '../extract/executables.ts'
import { WARM_SCRIPT } from '../../workers/ytdlp/ytdlp-warm-script.ts'

const EXTRACTIONS = 10
// the release the project provisions (scripts/ensure.js); a newer one is fine
const CURRENT_YTDLP = [2026, 11, 23]

interface WarmProcess { pid: number, worker: number, ytdlp: string }

// A warm process is a Python interpreter running the warm script with the yt-dlp
// path as its argument (workers/ytdlp/ytdlp-warm-process.ts); it exits at once when
// yt_dlp cannot be imported from that path (workers/ytdlp/ytdlp-warm-script.ts).
function warmProcesses (workers: readonly number[]): WarmProcess[] {
  const out: WarmProcess[] = []
  for (const worker of workers) {
    for (const pid of descendants(worker)) {
      const argv = cmdline(pid)
      if (argv === null) continue
      const i = argv.indexOf('-c')
      if (i < 1 || argv[i + 1] !== WARM_SCRIPT || !argv.slice(0, i).some((a) => /^(?:python|pypy)[0-9.]*$/.test(basename(a)))) continue
      out.push({ pid, worker, ytdlp: argv[i + 2] ?? '' })
    }
  }
  return out.sort((a, b) => a.pid - b.pid)
}

// Bytes a process has written (/proc/<pid>/io): a warm process writes each
// extraction's result to its stdout pipe, and nothing while it waits for a job.
function bytesWritten (pid: number): number {
  const m = /^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
  return Number(m?.[1] ?? Number.NaN)
}

function versionParts (v: string): number[] {
  return (/^(\d{4})\.(\d{1,2})\.(\d{1,2})/.exec(v) ?? []).slice(1).map(Number)
}

function atLeast (a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < b.length; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  return true
}

interface Probe { format: { format_name: string, duration?: string }, streams: Array<{ codec_type: string, codec_name: string }> }

function ffprobe (file: string): Probe {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], { encoding: 'utf8' })) as Probe
}

const streams = (p: Probe): string[] => p.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()

interface Server { base: string, pid: number, output: () => string, stop: () => Promise<void> }

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) for (const pid of [...descendants(child.pid ?? 0), child.pid ?? 0]) try { process.kill(pid, 'SIGKILL') } catch {}
})

async function startAsReadme (cwd: string, originHostname: string): Promise<Server> {
  const port = await freePort()
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, GENERIC_HOSTS: originHostname, PORT: String(port) }
  const child = spawn(process.execPath, [MAIN_JS, '--workers=2'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<void>((resolve) => child.once('exit', () => { running.delete(child); resolve() }))
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const tree = descendants(child.pid ?? 0)
    child.kill('SIGTERM')
    const timer = setTimeout(() => { for (const pid of [child.pid ?? 0, ...tree]) try { process.kill(pid, 'SIGKILL') } catch {} }, 15_000)
    await exited
    clearTimeout(timer)
  }
  const until = Date.now() + 30_000
  while (!/"msg":"ready"/.test(out)) {
    if (child.exitCode !== null || Date.now() > until) {
      await stop()
      throw new Error(`the server did not start:\n${out.slice(-3000)}`)
    }
    await sleep(50)
  }
  return { base: `http://127.0.0.1:${port}`, pid: child.pid ?? 0, output: () => out, stop }
}

// the server's log lines, for a failure's message (set once the server runs)
let serverLog = (): string => ''

async function getJson (url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) })
  const text = await res.text()
  assert.equal(res.status, 200, `${url}: ${text.slice(0, 500)}\nserver errors:\n${serverLog().split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-10).join('\n')}`)
  return JSON.parse(text) as Record<string, unknown>
}

const completedExtractions = async (base: string): Promise<number> => {
  const stats = await getJson(`${base}/api/v2/system/stats`)
  return Number((stats.extraction as Record<string, unknown>).completed)
}

// Health's yt-dlp check: the mode in effect and the live warm processes of the
// worker that answered. Nothing over HTTP says which mode served an extraction
// (the pool counts warm and spawn runs, but /api/v2/system/stats shows only the
// total), hence the watch on /proc below.
async function assertHealthSaysWarm (base: string): Promise<void> {
  const health = await getJson(`${base}/api/v2/system/health`)
  const check = (health.checks as Record<string, Record<string, unknown>>).ytdlp ?? {}
  assert.equal(check.mode, 'warm', JSON.stringify(check))
  assert.ok(Number(check.warm_processes) > 0, JSON.stringify(check))
}

test('the shipped defaults, started as the README says', { timeout: 170_000 }, async (t) => {
  const later = cleanupStack(t)
  const cwd = mkdtempSync(join(tmpdir(), 'vidgate-shipped-'))
  later(() => rmSync(cwd, { recursive: true, force: true }))
  const media = join(cwd, 'origin')
  mkdirSync(media)
  makeMedia(media)
  // a page yt-dlp's generic extractor reads; any query string serves it, so ?v=<n> are distinct URLs
  writeFileSync(join(media, 'page.html'), '<!doctype html><html><head><meta property="og:title" content="Shipped Defaults Clip"><title>Shipped Defaults Clip</title></head><body><video src="/clip.mp4" controls></video></body></html>')
  const origin = await startOrigin(media)
  later(async () => await origin.close())
  const server = await startAsReadme(cwd, '127.0.0.1')
  later(async () => await server.stop())
  const diagnose = (): string => `\nserver output (tail):\n${server.output().slice(-3000)}`
  serverLog = server.output

  const workers = childPids(server.pid)
  assert.equal(workers.length, 2, `two HTTP workers under the primary${diagnose()}`)

  await t.test('the yt-dlp in use is the project\'s current one', async () => {
    // Each worker asks its yt-dlp what it is after it listens (health says
    // "starting" meanwhile): wait until answers from both workers carry a version.
    // Health is polled (it is not rate-limited; /version is).
    const answered = new Set<number>()
    const until = Date.now() + 60_000
    while (answered.size < workers.length && Date.now() < until) {
      // a new connection each time: the kernel spreads connections, not requests, over the workers
      const res = await undiciFetch(`${server.base}/api/v2/system/health`, { dispatcher: new Agent({ pipelining: 0 }) })
      const health = await res.json() as { checks: { ytdlp: { version: string | null } } }
      // request ids start with the answering worker's pid in base 36 (src/http/policy.ts)
      const id = res.headers.get('x-request-id') ?? ''
      const worker = workers.filter((w) => id.startsWith(w.toString(36))).sort((a, b) => b.toString(36).length - a.toString(36).length)[0]
      if (health.checks.ytdlp.version !== null && worker !== undefined) answered.add(worker)
      else await sleep(200)
    }
    assert.equal(answered.size, workers.length, `the workers' yt-dlp probes did not answer in 60 s${diagnose()}`)
    const version = await getJson(`${server.base}/api/v2/system/version`)
    assert.ok(atLeast(versionParts(String(version.ytdlp)), CURRENT_YTDLP), `yt-dlp ${String(version.ytdlp)} is older than ${CURRENT_YTDLP.join('.')}${diagnose()}`)
    const health = await getJson(`${server.base}/api/v2/system/health`)
    const check = (health.checks as Record<string, Record<string, unknown>>).ytdlp ?? {}
    assert.equal(check.version, version.ytdlp)
    assert.notEqual(check.status, 'failed', JSON.stringify(check))
    // the JavaScript runtime YouTube needs, as the warm process's yt-dlp sees it: Deno from the npm package
    const runtime = version.js_runtime as { name?: string, version?: string, path?: string } | null
    assert.equal(runtime?.name, 'deno', JSON.stringify(version))
    assert.match(String(runtime?.path), /node_modules\/@deno\//)
    assert.equal(version.yt_dlp_ejs, true)
    assert.equal(check.js_runtime, `deno ${runtime?.version ?? ''}`)
    assert.equal(check.status, 'ok', `a current yt-dlp with Deno is healthy: ${JSON.stringify(check)}`)
  })

  await t.test('warm Python processes with yt_dlp loaded serve the extractions', async () => {
    // They start when each worker listens. Wait until every worker has its own and
    // the set has settled (the same for a second): a probe of what yt-dlp offers may
    // run the same script once more, briefly, while they start.
    let before: WarmProcess[] = []
    let same = 0
    const until = Date.now() + 30_000
    while (Date.now() < until) {
      const now = warmProcesses(workers)
      same = now.map((p) => p.pid).join() === before.map((p) => p.pid).join() ? same + 1 : 0
      before = now
      if (same >= 10 && workers.every((w) => before.some((p) => p.worker === w))) break
      await sleep(100)
    }
    assert.ok(workers.every((w) => before.some((p) => p.worker === w)), `no warm yt-dlp process under worker(s) ${workers.filter((w) => !before.some((p) => p.worker === w)).join(', ')}${diagnose()}`)
    // the default YTDLP_PATH is the project's own yt-dlp, not one from PATH
    assert.deepEqual([...new Set(before.map((p) => p.ytdlp))], [PROJECT_YTDLP])
    await assertHealthSaysWarm(server.base)

    const completedBefore = await completedExtractions(server.base)
    const written = new Map(before.map((p) => [p.pid, bytesWritten(p.pid)]))
    // A one-shot extraction is a yt-dlp process with the page URL among its
    // arguments (a warm process reads its URL from stdin): watch for any, and for
    // warm processes that come or go, while the extractions run.
    const oneShots = new Map<number, string>()
    const warmSeen = new Set<number>(before.map((p) => p.pid))
    const watch = (): void => {
      for (const pid of descendants(server.pid)) {
        const argv = cmdline(pid)
        if (argv === null) continue
        if (argv.includes(WARM_SCRIPT)) warmSeen.add(pid)
        else if (argv.some((a) => a.startsWith(`${origin.base}/page.html`))) oneShots.set(pid, argv.join(' ').slice(0, 300))
      }
    }
    const watcher = setInterval(watch, 10)
    const titles: string[] = []
    try {
      for (let i = 0; i < EXTRACTIONS; i++) {
        const page = `${origin.base}/page.html?v=${Date.now()}-${i}`
        const info = await getJson(`${server.base}/api/v2/videos?url=${encodeURIComponent(page)}`)
        assert.equal(info.cached, false, `${page} was a fresh URL`)
        titles.push(String(info.title))
      }
    } finally {
      clearInterval(watcher)
    }
    watch()
    // the page's title (current yt-dlp numbers a page's videos: "… (1)")
    for (const title of titles) assert.match(title, /^Shipped Defaults Clip\b/)
    assert.equal(await completedExtractions(server.base) - completedBefore, EXTRACTIONS, 'each request ran one extraction')
    assert.deepEqual([...oneShots.values()], [], `extractions ran as one-shot yt-dlp processes${diagnose()}`)
    const after = warmProcesses(workers)
    assert.deepEqual(after.map((p) => p.pid), before.map((p) => p.pid), 'the same warm processes before and after')
    // A warm-script process that came and went meanwhile is a probe of what yt-dlp offers
    // (run once on its own when every warm process is busy); none of them stayed.
    const stayed = [...warmSeen].filter((pid) => !before.some((p) => p.pid === pid) && cmdline(pid) !== null)
    assert.deepEqual(stayed, [], `no warm process started or replaced meanwhile${diagnose()}`)
    // and they did the work: their results went out through their stdout pipes
    const wrote = after.reduce((n, p) => n + bytesWritten(p.pid) - (written.get(p.pid) ?? 0), 0)
    assert.ok(wrote > 0, `the warm processes wrote nothing while ${EXTRACTIONS} extractions ran${diagnose()}`)
    await assertHealthSaysWarm(server.base)
  })

  await t.test('mp3, m4a and mkv downloads finish and hold mp3, AAC and Matroska', async () => {
    const requests = {
      mp3: { url: `${origin.base}/clip.mp4`, audio_only: true, format: 'mp3' },
      m4a: { url: `${origin.base}/clip.mp4`, audio_only: true, format: 'm4a' },
      // split/master.m3u8 has a video-only variant and a separate audio rendition: yt-dlp merges them with ffmpeg
      mkv: { url: `${origin.base}/split/master.m3u8`, format: 'mkv' }
    }
    const ids = new Map<string, string>()
    for (const [name, body] of Object.entries(requests)) {
      const res = await fetch(`${server.base}/api/v2/videos/download`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const json = await res.json() as Record<string, unknown>
      assert.equal(res.status, 202, `${name}: ${JSON.stringify(json)}`)
      ids.set(name, String(json.task_id))
    }
    // poll every task about once a second (the default rate limit is 100 requests a minute per client)
    const done = new Map<string, Record<string, unknown>>()
    const until = Date.now() + 120_000
    while (done.size < ids.size) {
      assert.ok(Date.now() < until, `downloads still running after 120 s: ${[...ids.keys()].filter((n) => !done.has(n)).join(', ')}${diagnose()}`)
      await sleep(1000)
      for (const [name, id] of ids) {
        if (done.has(name)) continue
        const task = await getJson(`${server.base}/api/v2/videos/tasks/${id}`)
        if (task.status === 'completed' || task.status === 'failed' || task.status === 'cancelled') done.set(name, task)
      }
    }
    const failed = [...done].filter(([, task]) => task.status !== 'completed')
    assert.deepEqual(failed.map(([name, task]) => `${name}: ${task.status as string} ${JSON.stringify(task.error)}`), [], `every download completes${diagnose()}`)

    const probes = new Map<string, Probe>()
    for (const [name, task] of done) {
      const link = (task.links as Record<string, string | null>).file ?? ''
      const res = await fetch(`${server.base}${link}`)
      assert.equal(res.status, 200, `${name}: GET ${link}`)
      const file = join(cwd, `got.${name}`)
      writeFileSync(file, Buffer.from(await res.arrayBuffer()))
      // the default DOWNLOAD_DIRECTORY is ./downloads of the working directory
      assert.ok(existsSync(join(cwd, 'downloads', String(task.filename))), `${name}: ${String(task.filename)} is in ./downloads`)
      probes.set(name, ffprobe(file))
    }
    const mp3 = probes.get('mp3')
    assert.equal(mp3?.format.format_name, 'mp3')
    assert.deepEqual(mp3 === undefined ? null : streams(mp3), ['audio:mp3'])
    const m4a = probes.get('m4a')
    assert.match(m4a?.format.format_name ?? '', /\bm4a\b/)
    assert.deepEqual(m4a === undefined ? null : streams(m4a), ['audio:aac'])
    const mkv = probes.get('mkv')
    assert.equal(mkv?.format.format_name, 'matroska,webm')
    assert.deepEqual(mkv === undefined ? null : streams(mkv), ['audio:aac', 'video:h264'])
    assert.ok(Number(mkv?.format.duration) > 3, `the merged file holds the whole clip (${String(mkv?.format.duration)} s)`)
  })
})
