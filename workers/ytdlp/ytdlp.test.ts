import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import type { MediaInfo, TaskErrorCode, TaskResult, YtDlpTask } from '../protocol.ts'
import { buildWarmOptions, buildYtDlpArgs, classifyYtDlpError, cleanYtDlpMessage, parseHttpUrl } from './ytdlp.ts'
import { parseShebang } from './ytdlp-warm-process.ts'
import { closeWarmProcesses, listWarmProcesses, runYtDlpTask, ytDlpVersion } from './ytdlp-task.ts'

const FAKE = fileURLToPath(new URL('../../../workers/fixtures/fake-yt-dlp', import.meta.url))

function task (url: string, overrides: Partial<YtDlpTask> = {}): YtDlpTask {
  return {
    kind: 'info', url, ytdlpPath: FAKE, mode: 'spawn', timeoutMs: 10_000, maxOutputBytes: 8 << 20, cookiesFile: null, maxWarmJobs: 50, ...overrides
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function expectFailure (result: TaskResult<unknown>, code: TaskErrorCode): { message: string, stderrTail: string } {
  assert.equal(result.ok, false, `expected ${code}`)
  if (result.ok) throw new Error('unreachable')
  assert.equal(result.code, code, result.message)
  return result
}

test('error text → code table', () => {
  const cases: [string, TaskErrorCode][] = [
    ["ERROR: [youtube] x: Private video. Sign in if you've been granted access to this video", 'VIDEO_NOT_FOUND'],
    ['ERROR: [youtube] x: Video unavailable. This video has been removed by the uploader', 'VIDEO_NOT_FOUND'],
    ['ERROR: [generic] Unable to download webpage: HTTP Error 404: Not Found', 'VIDEO_NOT_FOUND'],
    ['ERROR: [twitter] 1: No video could be found in this tweet', 'VIDEO_NOT_FOUND'],
    ["ERROR: [youtube] x: Sign in to confirm you're not a bot. Use --cookies-from-browser or --cookies", 'BOT_CHECK'],
    ['ERROR: [youtube] x: Sign in to confirm your age. This video may be inappropriate for some users.', 'AGE_RESTRICTED'],
    ['ERROR: [youtube] x: Join this channel to get access to members-only content like this video', 'LOGIN_REQUIRED'],
    ['ERROR: [Instagram] x: Requested content is not available, rate-limit reached or login required', 'UPSTREAM_RATE_LIMITED'],
    ['ERROR: [youtube] x: Video unavailable. The uploader has not made this video available in your country', 'GEO_BLOCKED'],
    ['ERROR: [BiliBili] x: This video is not available from your location due to geo restriction', 'GEO_BLOCKED'],
    ['ERROR: [youtube] x: Unable to download API page: HTTP Error 429: Too Many Requests', 'UPSTREAM_RATE_LIMITED'],
    ["ERROR: [youtube] x: Video unavailable. This content isn't available, try again later.", 'UPSTREAM_RATE_LIMITED'],
    ['ERROR: Unsupported URL: https://example.com/404', 'UNSUPPORTED_URL'],
    ['ERROR: [youtube] x: Requested format is not available. Use --list-formats', 'FORMAT_NOT_AVAILABLE'],
    ['ERROR: [generic] Unable to download webpage: <urlopen error [Errno 111] Connection refused>', 'EXTRACTION_FAILED'],
    ['Traceback (most recent call last):\nKeyError: 0', 'EXTRACTION_FAILED']
  ]
  for (const [text, code] of cases) assert.equal(classifyYtDlpError(text), code, text)
  assert.equal(cleanYtDlpMessage('WARNING: x\nERROR: [generic] boom; please report this issue on  https://github.com/yt-dlp/yt-dlp/issues'), '[generic] boom')
})

test('argument building puts the URL after --', () => {
  const url = 'https://www.youtube.com/watch?v=dQw4w9WgXcQ'
  const info = buildYtDlpArgs(task(url, { cookiesFile: '/run/cookies.txt' }), url)
  assert.deepEqual(info.slice(-2), ['--', url])
  for (const flag of ['-J', '--no-playlist', '--ignore-config', '--no-warnings']) assert.ok(info.includes(flag), flag)
  assert.deepEqual(info.slice(info.indexOf('--cookies'), info.indexOf('--cookies') + 2), ['--cookies', '/run/cookies.txt'])
  assert.ok(Number(info[info.indexOf('--socket-timeout') + 1]) >= 1)
  const playlist = buildYtDlpArgs(task(url, { kind: 'playlist', playlistLimit: 20 }), url)
  assert.ok(playlist.includes('--flat-playlist') && !playlist.includes('--no-playlist'))
  assert.deepEqual(playlist.slice(playlist.indexOf('--playlist-end'), playlist.indexOf('--playlist-end') + 2), ['--playlist-end', '20'])
  assert.ok(!playlist.includes('--cookies'))

  const warm = buildWarmOptions(task(url, { kind: 'playlist', cookiesFile: '/run/cookies.txt', playlistLimit: 5 }))
  assert.equal(warm.extract_flat, 'in_playlist')
  assert.equal(warm.noplaylist, false)
  assert.equal(warm.cookiefile, '/run/cookies.txt')
  assert.equal(warm.playlistend, 5)
  assert.equal(buildWarmOptions(task(url)).noplaylist, true)
})

test('only absolute http(s) URLs pass; option-like input never does', () => {
  assert.equal(parseHttpUrl('https://x.com/a?b=1'), 'https://x.com/a?b=1')
  assert.equal(parseHttpUrl('HTTP://Example.COM'), 'http://example.com/')
  for (const bad of ['--exec=touch /tmp/pwned', '-o', '--', 'file:///etc/passwd', 'ytsearch:rick', 'javascript:alert(1)', '//x.com', '', 'ftp://x.com/a']) {
    assert.equal(parseHttpUrl(bad), null, bad)
  }
})

test('shebang parsing picks Python interpreters only', () => {
  assert.deepEqual(parseShebang('#!/usr/bin/python3'), ['/usr/bin/python3'])
  assert.deepEqual(parseShebang('#!/usr/bin/env python3'), ['/usr/bin/env', 'python3'])
  assert.deepEqual(parseShebang('#! /opt/venv/bin/python3.12 -s'), ['/opt/venv/bin/python3.12', '-s'])
  assert.equal(parseShebang('#!/usr/bin/env node'), null)
  assert.equal(parseShebang('\u007fELF'), null)
})

test('fake yt-dlp: success, and the URL reaches it after --', async () => {
  const ok = await runYtDlpTask(task('https://video.test/ok'))
  assert.ok(ok.ok, JSON.stringify(ok))
  assert.equal(ok.mode, 'spawn')
  assert.equal((ok.value as MediaInfo).id, 'dQw4w9WgXcQ')

  const echo = await runYtDlpTask(task('https://video.test/echo?x=--exec', { cookiesFile: '/tmp/c.txt' }))
  assert.ok(echo.ok)
  const argv: unknown = JSON.parse((echo.value as MediaInfo).description ?? '[]')
  assert.ok(Array.isArray(argv))
  assert.deepEqual(argv.slice(-2), ['--', 'https://video.test/echo?x=--exec'])
  assert.ok(argv.includes('--cookies'))

  const rejected = await runYtDlpTask(task('--exec=touch /tmp/pwned'))
  expectFailure(rejected, 'INVALID_INPUT')
})

test('fake yt-dlp: each error class', async () => {
  const cases: [string, TaskErrorCode][] = [
    ['private', 'VIDEO_NOT_FOUND'], ['notfound', 'VIDEO_NOT_FOUND'], ['unavailable', 'VIDEO_NOT_FOUND'],
    ['geo', 'GEO_BLOCKED'], ['login', 'LOGIN_REQUIRED'], ['members', 'LOGIN_REQUIRED'], ['age', 'AGE_RESTRICTED'],
    ['bot', 'BOT_CHECK'], ['captcha', 'CAPTCHA_REQUIRED'], ['drm', 'DRM_PROTECTED'], ['format', 'FORMAT_NOT_AVAILABLE'],
    ['live', 'LIVE_NOT_STARTED'], ['ratelimit', 'UPSTREAM_RATE_LIMITED'], ['ffmpeg', 'FFMPEG_MISSING'],
    ['429', 'UPSTREAM_RATE_LIMITED'], ['unsupported', 'UNSUPPORTED_URL'], ['garbage', 'EXTRACTION_FAILED']
  ]
  const results = await Promise.all(cases.map(([path]) => runYtDlpTask(task(`https://video.test/${path}`))))
  cases.forEach(([path, code], i) => {
    const failure = expectFailure(results[i] ?? { ok: false, code: 'INVALID_INPUT', message: '', stderrTail: '', ms: 0 }, code)
    if (path !== 'garbage') {
      assert.match(failure.stderrTail, /ERROR:/)
      assert.doesNotMatch(failure.message, /^ERROR:/)
    }
  })
})

test('fake yt-dlp: hang → EXTRACTION_TIMEOUT and the process is killed', async () => {
  const started = Date.now()
  const result = await runYtDlpTask(task('https://video.test/hang', { timeoutMs: 700 }))
  const elapsed = Date.now() - started
  const failure = expectFailure(result, 'EXTRACTION_TIMEOUT')
  assert.ok(elapsed < 700 + 1500, `took ${elapsed} ms`)
  const pid = Number(/pid=(\d+)/.exec(failure.stderrTail)?.[1])
  assert.ok(pid > 0, failure.stderrTail)
  assert.equal(isAlive(pid), false)
})

test('fake yt-dlp: crash and huge output', async () => {
  const crash = expectFailure(await runYtDlpTask(task('https://video.test/crash')), 'EXTRACTION_FAILED')
  assert.match(crash.message, /Segmentation fault|SIGKILL/)
  const huge = expectFailure(await runYtDlpTask(task('https://video.test/huge', { maxOutputBytes: 2 << 20 })), 'EXTRACTION_FAILED')
  assert.match(huge.message, /exceeded 2097152 bytes/)
  const spawnError = expectFailure(await runYtDlpTask(task('https://video.test/ok', { ytdlpPath: '/nonexistent/yt-dlp' })), 'EXTRACTION_FAILED')
  assert.match(spawnError.message, /ENOENT/)
})

test('fake yt-dlp: playlist, bad input, version', async () => {
  const list = await runYtDlpTask(task('https://video.test/playlist', { kind: 'playlist' }))
  assert.ok(list.ok)
  assert.equal('entry_count' in list.value ? list.value.entries.length : -1, 5)
  expectFailure(await runYtDlpTask(task('https://video.test/ok', { timeoutMs: 0 })), 'INVALID_INPUT')
  expectFailure(await runYtDlpTask(task('https://video.test/fixture/missing')), 'EXTRACTION_FAILED')
  const version = await ytDlpVersion(FAKE, 5000)
  assert.deepEqual(version.ok ? version.value : version, '2099.01.01-fake')
  expectFailure(await ytDlpVersion('/nonexistent/yt-dlp', 5000), 'EXTRACTION_FAILED')
})

test('warm mode falls back to spawn when yt-dlp is not a Python script', async (t) => {
  t.after(closeWarmProcesses)
  const result = await runYtDlpTask(task('https://video.test/ok', { mode: 'warm' }))
  assert.ok(result.ok)
  assert.equal(result.mode, 'spawn')
  assert.equal(listWarmProcesses().length, 0)
})
