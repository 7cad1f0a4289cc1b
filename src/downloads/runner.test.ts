// runDownload against a fake yt-dlp: outcome mapping, stall and timeout kills,
// a kill reaching yt-dlp's own children, and the post-processing grace.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runDownload } from './ytdlp-download.ts'
import type { DownloadOutcome } from './ytdlp-download.ts'
import { testClassify } from '../testing/downloads.ts'

const FAKE = fileURLToPath(new URL('../../../src/downloads/fixtures/fake-yt-dlp', import.meta.url))

// A killed process whose parent died too waits as a zombie until init reaps it (later
// on a loaded machine): it runs nothing any more, so it counts as gone.
function alive (pid: number): boolean {
  try { process.kill(pid, 0) } catch { return false }
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')) } catch { return false }
}

async function run (mode: string, dir: string, opts: { signal?: AbortSignal, timeoutMs?: number, stallTimeoutMs?: number } = {}): Promise<{ outcome: DownloadOutcome, percents: number[] }> {
  const percents: number[] = []
  const outcome = await runDownload({
    ytdlpPath: FAKE,
    args: ['-o', join(dir, 'media.%(ext)s'), '--', `http://fake/${mode}`],
    timeoutMs: opts.timeoutMs ?? 10_000,
    // generous: a fake yt-dlp (a Node process) may take seconds to start on a loaded machine
    stallTimeoutMs: opts.stallTimeoutMs ?? 10_000,
    signal: opts.signal ?? new AbortController().signal,
    onProgress: (p) => percents.push(p.percent),
    classify: testClassify
  })
  return { outcome, percents }
}

test('runDownload outcomes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vg-run-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))

  const ok = await run('progress', dir)
  assert.deepEqual(ok.percents, [39.6, 99])
  assert.ok(ok.outcome.ok)
  if (ok.outcome.ok) {
    assert.equal(ok.outcome.path, join(dir, 'media.mp4'))
    assert.equal(ok.outcome.title, 'Fake title')
  }

  const err = await run('error', dir)
  assert.deepEqual(err.outcome.ok === false && !err.outcome.aborted ? [err.outcome.code, err.outcome.message] : null,
    ['VIDEO_NOT_FOUND', '[generic] x: Unable to download webpage: HTTP Error 404: Not Found'])

  // exit 0 without a file: a failed extraction, unless yt-dlp said --max-filesize (the quota left) skipped it
  const skip = await run('skip', dir)
  assert.deepEqual(skip.outcome.ok === false && !skip.outcome.aborted ? [skip.outcome.code, skip.outcome.message] : null,
    ['EXTRACTION_FAILED', 'yt-dlp finished without writing a file; it printed nothing'])
  const tooBig = await run('toobig', dir)
  assert.equal(tooBig.outcome.ok === false && !tooBig.outcome.aborted ? tooBig.outcome.code : null, 'STORAGE_FULL')

  // the stall kill, not the overall timeout (10 s here)
  const stall = await run('stall', dir, { stallTimeoutMs: 300 })
  assert.deepEqual(stall.outcome.ok === false && !stall.outcome.aborted ? [stall.outcome.code, stall.outcome.message] : null,
    ['UPSTREAM_TIMEOUT', 'the download made no progress for 0 s'])

  const timeout = await run('stall', dir, { stallTimeoutMs: 10_000, timeoutMs: 400 })
  assert.match(timeout.outcome.ok === false && !timeout.outcome.aborted ? timeout.outcome.message : '', /did not finish within/)

  // a silent merge after the last part (4 s) is not a stall (2 s: above a fake's start on a loaded machine)
  const post = await run('post', dir, { stallTimeoutMs: 2000 })
  assert.ok(post.outcome.ok)

  const missing = await runDownload({ ytdlpPath: join(dir, 'nope'), args: [], timeoutMs: 1000, stallTimeoutMs: 1000, signal: new AbortController().signal, onProgress: () => {}, classify: testClassify })
  assert.equal(missing.ok === false && !missing.aborted ? missing.code : null, 'INTERNAL')
})

test('abort kills yt-dlp and the processes it started', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vg-run-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const controller = new AbortController()
  const pending = run('grandchild', dir, { signal: controller.signal, stallTimeoutMs: 10_000 })
  const pidFile = join(dir, 'media.mp4.pid')
  const until = Date.now() + 5000
  while (!existsSync(pidFile) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
  const grandchild = Number(readFileSync(pidFile, 'utf8'))
  assert.ok(alive(grandchild))
  controller.abort('cancel')
  const { outcome } = await pending
  assert.deepEqual(outcome, { ok: false, aborted: true })
  const gone = Date.now() + 10_000
  while (alive(grandchild) && Date.now() < gone) await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(alive(grandchild), false)
})
