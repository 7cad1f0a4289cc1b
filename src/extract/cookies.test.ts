import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppError } from '../errors.ts'
import { MAX_COOKIE_FILE_BYTES, checkCookieText, createCookieStore } from './cookies.ts'

const VALID = [
  '# Netscape HTTP Cookie File',
  '# This is a generated file! Do not edit.',
  '',
  '.youtube.com\tTRUE\t/\tTRUE\t1893456000\tSID\tabc',
  '#HttpOnly_.youtube.com\tTRUE\t/\tTRUE\t0\tHSID\tdef',
  '.youtube.com\tTRUE\t/\tFALSE\t-1\tPREF\tf6=8'
].join('\n')

function tempDir (): string {
  return mkdtempSync(join(tmpdir(), 'vidgate-cookies-'))
}

test('valid Netscape files are counted, #HttpOnly_ lines included', () => {
  assert.deepEqual(checkCookieText(VALID), { valid: true, count: 3, problem: null })
  assert.deepEqual(checkCookieText(VALID.replaceAll('\n', '\r\n')), { valid: true, count: 3, problem: null })
})

test('invalid files name the problem and the line', () => {
  assert.deepEqual(checkCookieText(''), { valid: false, count: 0, problem: 'no cookies in the file' })
  assert.deepEqual(checkCookieText('# Netscape HTTP Cookie File\n# only comments\n'), { valid: false, count: 0, problem: 'no cookies in the file' })
  const spaces = checkCookieText('.youtube.com TRUE / TRUE 0 SID abc')
  assert.equal(spaces.valid, false)
  assert.match(spaces.problem ?? '', /line 1 .*7 tab-separated fields/)
  const expiry = checkCookieText('# Netscape HTTP Cookie File\n.a.com\tTRUE\t/\tTRUE\tsoon\tSID\tabc')
  assert.equal(expiry.valid, false)
  assert.match(expiry.problem ?? '', /line 2 has a non-numeric expiry/)
  assert.equal(checkCookieText('{"cookies": []}').valid, false, 'a JSON export is not a Netscape file')
})

test('save writes the file privately and atomically, status reflects it, remove deletes it', async (t) => {
  const dir = join(tempDir(), 'nested', 'cookies')
  const store = createCookieStore(dir, ['youtube', 'bilibili'], 60_000)
  t.after(() => { store.close(); rmSync(join(dir, '..', '..'), { recursive: true, force: true }) })

  await store.refresh()
  assert.deepEqual(store.status().map((s) => [s.platform, s.cookies_configured]), [['youtube', false], ['bilibili', false]])
  assert.equal(store.fileFor('youtube'), null)

  const state = await store.save('youtube', VALID)
  assert.equal(state.cookie_file_valid, true)
  assert.equal(state.authenticated, true)
  assert.equal(state.cookie_count, 3)
  assert.ok(state.last_updated !== null && !Number.isNaN(Date.parse(state.last_updated)))
  const file = store.pathFor('youtube')
  assert.equal(file, join(dir, 'youtube_cookies.txt'))
  assert.equal(readFileSync(file, 'utf8'), VALID)
  assert.equal(statSync(file).mode & 0o777, 0o600, 'cookie files are readable by us only')
  assert.deepEqual(readdirSync(dir), ['youtube_cookies.txt'], 'no temp files are left behind')
  assert.equal(store.fileFor('youtube'), file)
  const yt = store.status().find((s) => s.platform === 'youtube')
  assert.equal(yt?.cookie_count, 3)

  assert.equal(await store.remove('youtube'), true)
  assert.equal(await store.remove('youtube'), false)
  assert.deepEqual(readdirSync(dir), [])
  assert.equal(store.status().find((s) => s.platform === 'youtube')?.cookies_configured, false)
  assert.equal(store.fileFor('youtube'), null)
})

test('save rejects invalid and oversized files without touching the existing one', async (t) => {
  const dir = tempDir()
  const store = createCookieStore(dir, ['youtube'], 60_000)
  t.after(() => { store.close(); rmSync(dir, { recursive: true, force: true }) })
  await store.save('youtube', VALID)
  await assert.rejects(store.save('youtube', 'not a cookie file'), (err: unknown) => {
    assert.ok(err instanceof AppError)
    assert.equal(err.code, 'INVALID_INPUT')
    assert.match(err.detail ?? '', /line 1/)
    return true
  })
  const big = VALID + '\n' + '.a.com\tTRUE\t/\tTRUE\t0\tX\t'.padEnd(MAX_COOKIE_FILE_BYTES, 'x')
  await assert.rejects(store.save('youtube', big), (err: unknown) => err instanceof AppError && err.code === 'PAYLOAD_TOO_LARGE')
  assert.equal(readFileSync(store.pathFor('youtube'), 'utf8'), VALID)
})

test('refresh picks up files changed on disk, including broken ones', async (t) => {
  const dir = tempDir()
  mkdirSync(dir, { recursive: true })
  const store = createCookieStore(dir, ['twitch'], 60_000)
  t.after(() => { store.close(); rmSync(dir, { recursive: true, force: true }) })
  writeFileSync(join(dir, 'twitch_cookies.txt'), 'garbage')
  await store.refresh()
  const bad = store.status()[0]
  assert.equal(bad?.cookies_configured, true)
  assert.equal(bad?.cookie_file_valid, false)
  assert.equal(bad?.authenticated, false)
  assert.match(bad?.problem ?? '', /line 1/)
  assert.equal(store.fileFor('twitch'), null, 'a broken file is never handed to yt-dlp')

  // A different mtime makes the store read the file again.
  writeFileSync(join(dir, 'twitch_cookies.txt'), VALID)
  const later = new Date(Date.now() + 5000)
  utimesSync(join(dir, 'twitch_cookies.txt'), later, later)
  await store.refresh()
  assert.equal(store.status()[0]?.cookie_file_valid, true)
  assert.equal(store.status()[0]?.cookie_count, 3)

  rmSync(join(dir, 'twitch_cookies.txt'))
  await store.refresh()
  assert.equal(store.status()[0]?.cookies_configured, false)
})
