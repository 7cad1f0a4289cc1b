// The real, current yt-dlp the project ships (.tools/yt-dlp, provisioned by npm test) in
// both modes against a loopback origin.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import type { MediaInfo, TaskResult, YtDlpTask } from '../protocol.ts'
import { closeWarmProcesses, listWarmProcesses, runYtDlpTask } from './ytdlp-task.ts'

// dist/workers/ytdlp/ → the repository (threads' tests import nothing of src/)
const YTDLP = fileURLToPath(new URL('../../../.tools/yt-dlp', import.meta.url))
const TYPES: Record<string, string> = { mp4: 'video/mp4', m3u8: 'application/vnd.apple.mpegurl', ts: 'video/mp2t', html: 'text/html; charset=utf-8' }

function makeMedia (dir: string): void {
  const ff = (args: string[]): void => { execFileSync('ffmpeg', ['-loglevel', 'error', '-y', ...args], { stdio: 'ignore' }) }
  ff(['-f', 'lavfi', '-i', 'testsrc=duration=2:size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=duration=2',
    '-c:v', 'libx264', '-c:a', 'aac', '-shortest', join(dir, 'clip.mp4')])
  mkdirSync(join(dir, 'hls'))
  ff(['-i', join(dir, 'clip.mp4'), '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', join(dir, 'hls', 'index.m3u8')])
  writeFileSync(join(dir, 'page.html'), '<!doctype html><html><head><meta property="og:title" content="Local Test Clip">' +
    '<title>ignored</title></head><body><video src="/clip.mp4" controls></video></body></html>')
}

// /trickle sends a byte every 200 ms forever: slower than any task timeout, never idle long
// enough for yt-dlp's socket timeout.
function startOrigin (dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/'))
    if (path === '/trickle') {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.write('<html>')
      const timer = setInterval(() => res.write(' '), 200)
      res.on('close', () => clearInterval(timer))
      return
    }
    const file = join(dir, path)
    if (!file.startsWith(dir) || !existsSync(file) || path === '/') {
      res.writeHead(404).end('not found')
      return
    }
    const body = readFileSync(file)
    res.writeHead(200, { 'content-type': TYPES[file.split('.').pop() ?? ''] ?? 'application/octet-stream', 'content-length': body.length })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  return new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve(server)))
}

function info (result: TaskResult<unknown>): MediaInfo {
  assert.ok(result.ok, JSON.stringify(result))
  return result.value as MediaInfo
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitFor (check: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (!check() && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 25))
  return check()
}

test('real yt-dlp against a loopback origin', async (t) => {
  assert.ok(existsSync(YTDLP), `${YTDLP} is provisioned by npm test (scripts/ensure.js)`)
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-ytdlp-'))
  makeMedia(dir)
  const server = await startOrigin(dir)
  t.after(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
    await closeWarmProcesses()
    rmSync(dir, { recursive: true, force: true })
  })
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const task = (path: string, overrides: Partial<YtDlpTask> = {}): YtDlpTask => ({
    kind: 'info', url: `${origin}${path}`, ytdlpPath: YTDLP, mode: 'spawn', timeoutMs: 30_000, maxOutputBytes: 8 << 20, cookiesFile: null, maxWarmJobs: 50, ...overrides
  })

  for (const mode of ['spawn', 'warm'] as const) {
    await t.test(`${mode}: mp4 file, HLS playlist and an HTML page`, async () => {
      const mp4 = await runYtDlpTask(task('/clip.mp4', { mode }))
      assert.equal(mp4.ok && mp4.mode, mode)
      const file = info(mp4)
      assert.equal(file.extractor, 'generic')
      assert.equal(file.formats.length, 1)
      assert.deepEqual([file.formats[0]?.url, file.formats[0]?.has_audio, file.formats[0]?.has_video], [`${origin}/clip.mp4`, true, true])

      const hls = info(await runYtDlpTask(task('/hls/index.m3u8', { mode })))
      assert.ok(hls.formats.length >= 1)
      assert.equal(hls.formats[0]?.protocol, 'm3u8_native')
      assert.equal(hls.formats[0]?.has_video, true)

      const page = info(await runYtDlpTask(task('/page.html', { mode })))
      assert.match(page.title, /^Local Test Clip/)
      assert.equal(page.formats[0]?.url, `${origin}/clip.mp4`)
      assert.deepEqual([page.formats[0]?.has_audio, page.formats[0]?.has_video], [true, true])
      assert.equal(page.formats[0]?.headers.Referer, `${origin}/page.html`)

      const missing = await runYtDlpTask(task('/nothere.mp4', { mode }))
      assert.deepEqual(missing.ok ? 'ok' : missing.code, 'VIDEO_NOT_FOUND')
    })
  }

  await t.test('warm is much faster than spawn on the second call', async () => {
    await closeWarmProcesses()
    const timings: Record<string, number[]> = { spawn: [], warm: [] }
    for (const mode of ['spawn', 'warm'] as const) {
      for (let i = 0; i < 4; i++) {
        const result = await runYtDlpTask(task('/clip.mp4', { mode }))
        assert.ok(result.ok)
        timings[mode]?.push(result.ms)
      }
    }
    t.diagnostic(`spawn ms: ${timings.spawn?.join(', ')}; warm ms (first includes start-up): ${timings.warm?.join(', ')}`)
  })

  await t.test('a warm process is replaced after maxWarmJobs', async () => {
    await closeWarmProcesses()
    const recycle = (): YtDlpTask => task('/clip.mp4', { mode: 'warm', maxWarmJobs: 2 })
    info(await runYtDlpTask(recycle()))
    const first = listWarmProcesses()[0]?.pid
    assert.ok(typeof first === 'number' && isAlive(first))
    info(await runYtDlpTask(recycle()))
    assert.ok(await waitFor(() => !isAlive(first), 5000), 'retired process exits')
    const replacement = listWarmProcesses()
    assert.equal(replacement.length, 1)
    assert.equal(replacement[0]?.jobs, 0)
    const third = await runYtDlpTask(recycle())
    assert.equal(third.ok && third.mode, 'warm')
    assert.notEqual(listWarmProcesses()[0]?.pid, first)
  })

  await t.test('a slow origin times out a warm job and its process is killed', async () => {
    await closeWarmProcesses()
    info(await runYtDlpTask(task('/clip.mp4', { mode: 'warm' })))
    const before = listWarmProcesses()[0]?.pid ?? 0
    const started = Date.now()
    const slow = await runYtDlpTask(task('/trickle', { mode: 'warm', timeoutMs: 1500 }))
    assert.deepEqual(slow.ok ? 'ok' : slow.code, 'EXTRACTION_TIMEOUT')
    assert.ok(Date.now() - started < 1500 + 1000)
    assert.ok(await waitFor(() => !isAlive(before), 2000), 'timed-out process is killed')
    const next = await runYtDlpTask(task('/clip.mp4', { mode: 'warm' }))
    assert.equal(next.ok && next.mode, 'warm')
  })

  await t.test('warm falls back to spawn when the interpreter cannot import yt_dlp', async () => {
    // -S hides dist-packages from the warm interpreter; the script itself just runs the real yt-dlp
    const wrapper = join(dir, 'yt-dlp-no-site')
    writeFileSync(wrapper, `#!/usr/bin/python3 -S\nimport os, sys\nos.execv('${YTDLP}', ['${YTDLP}'] + sys.argv[1:])\n`)
    chmodSync(wrapper, 0o755)
    const result = await runYtDlpTask(task('/clip.mp4', { mode: 'warm', ytdlpPath: wrapper }))
    assert.equal(result.ok && result.mode, 'spawn')
    assert.equal(listWarmProcesses().some(p => p.ytdlpPath === wrapper), false)
    const again = await runYtDlpTask(task('/clip.mp4', { mode: 'warm', ytdlpPath: wrapper }))
    assert.equal(again.ok && again.mode, 'spawn')
  })
})
