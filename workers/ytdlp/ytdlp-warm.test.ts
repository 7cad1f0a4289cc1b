// The warm protocol against a fake yt_dlp package shipped as a zipapp (the shape of the
// official yt-dlp release file): stdout noise, timeouts, crashes. Needs only /usr/bin/python3.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MediaInfo, TaskResult, YtDlpTask } from '../protocol.ts'
import { closeWarmProcesses, listWarmProcesses, runYtDlpTask } from './ytdlp-task.ts'

const PYTHON = '/usr/bin/python3'

const FAKE_MODULE = `
import json, os, sys, time
from . import version

class YoutubeDL:
    def __init__(self, params):
        self.params = params

    def extract_info(self, url, download=False):
        print('noise from print()')
        os.write(1, b'noise from fd 1\\n')
        if url.endswith('/hang'):
            time.sleep(3600)
        if url.endswith('/crash'):
            os._exit(70)
        if url.endswith('/geo'):
            raise Exception('ERROR: [fake] x: This video is not available from your location due to geo restriction')
        if url.endswith('/huge'):
            return {'id': 'huge', 'description': 'x' * (4 << 20)}
        opts = {k: v for k, v in self.params.items() if k != 'logger'}
        return {'id': 'fake', 'title': 'Fake', 'url': url, 'ext': 'mp4', 'description': json.dumps(opts, sort_keys=True)}

    @staticmethod
    def sanitize_info(info):
        return info
`

const FAKE_MAIN = `
import json, sys
print(json.dumps({'id': 'fake', 'title': 'Fake (spawned)', 'url': sys.argv[-1], 'ext': 'mp4'}))
`

function buildZipapp (dir: string): string {
  const src = join(dir, 'src')
  mkdirSync(join(src, 'yt_dlp'), { recursive: true })
  writeFileSync(join(src, 'yt_dlp', '__init__.py'), FAKE_MODULE)
  writeFileSync(join(src, 'yt_dlp', 'version.py'), "__version__ = '0.0.fake'\n")
  writeFileSync(join(src, '__main__.py'), FAKE_MAIN)
  const target = join(dir, 'yt-dlp')
  execFileSync(PYTHON, ['-m', 'zipapp', src, '-p', '/usr/bin/env python3', '-o', target])
  return target
}

function value (result: TaskResult<unknown>): MediaInfo {
  assert.ok(result.ok, JSON.stringify(result))
  assert.equal(result.mode, 'warm')
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

test('warm protocol with a fake yt_dlp zipapp', { skip: existsSync(PYTHON) ? false : 'needs /usr/bin/python3' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-warm-'))
  t.after(async () => {
    await closeWarmProcesses()
    rmSync(dir, { recursive: true, force: true })
  })
  // the zipapp's shebang is "env python3", which on some machines has no yt_dlp: the
  // warm script imports the package from the zip itself
  const ytdlpPath = buildZipapp(dir)
  const task = (path: string, overrides: Partial<YtDlpTask> = {}): YtDlpTask => ({
    kind: 'info', url: `https://video.test${path}`, ytdlpPath, mode: 'warm', timeoutMs: 10_000, maxOutputBytes: 1 << 20, cookiesFile: null, maxWarmJobs: 50, ...overrides
  })

  await t.test('stdout noise never reaches the protocol channel; options arrive', async () => {
    const info = value(await runYtDlpTask(task('/ok', { cookiesFile: '/run/cookies.txt' })))
    assert.equal(info.title, 'Fake')
    assert.equal(info.formats[0]?.url, 'https://video.test/ok')
    const opts: unknown = JSON.parse(info.description ?? '{}')
    assert.ok(opts !== null && typeof opts === 'object')
    assert.deepEqual(
      Object.fromEntries(Object.entries(opts).filter(([k]) => ['quiet', 'no_warnings', 'noplaylist', 'cookiefile', 'ignoreconfig'].includes(k))),
      { quiet: true, no_warnings: true, noplaylist: true, cookiefile: '/run/cookies.txt', ignoreconfig: true }
    )
    assert.equal(value(await runYtDlpTask(task('/again'))).title, 'Fake')
  })

  await t.test('yt-dlp errors are classified and the process survives', async () => {
    const pid = listWarmProcesses()[0]?.pid
    const geo = await runYtDlpTask(task('/geo'))
    assert.deepEqual(geo.ok ? 'ok' : [geo.code, geo.message], ['GEO_BLOCKED', '[fake] x: This video is not available from your location due to geo restriction'])
    value(await runYtDlpTask(task('/ok')))
    assert.equal(listWarmProcesses()[0]?.pid, pid)
  })

  await t.test('timeout → EXTRACTION_TIMEOUT and SIGKILL', async () => {
    const started = Date.now()
    const hang = runYtDlpTask(task('/hang', { timeoutMs: 600 }))
    await new Promise(resolve => setTimeout(resolve, 100))
    const pid = listWarmProcesses().find(p => p.busy)?.pid ?? 0
    const result = await hang
    assert.deepEqual(result.ok ? 'ok' : result.code, 'EXTRACTION_TIMEOUT')
    assert.ok(Date.now() - started < 600 + 500)
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.equal(isAlive(pid), false)
    assert.equal(listWarmProcesses().some(p => p.pid === pid), false)
  })

  await t.test('crash and oversized answers fail their job only', async () => {
    const crash = await runYtDlpTask(task('/crash'))
    assert.deepEqual(crash.ok ? 'ok' : [crash.code, crash.message], ['EXTRACTION_FAILED', 'warm yt-dlp process exited with code 70'])
    const huge = await runYtDlpTask(task('/huge'))
    assert.deepEqual(huge.ok ? 'ok' : [huge.code, huge.message], ['EXTRACTION_FAILED', 'yt-dlp output exceeded 1048576 bytes'])
    value(await runYtDlpTask(task('/ok')))
  })

  await t.test('concurrent jobs get their own processes, up to maxWarmProcesses', async () => {
    await closeWarmProcesses()
    const results = await Promise.all([1, 2, 3].map(i => runYtDlpTask(task(`/c${i}`, { maxWarmProcesses: 2 }))))
    assert.deepEqual(results.map(r => r.ok && r.mode), ['warm', 'warm', 'spawn'])
    assert.equal(listWarmProcesses().length, 2)
  })
})
