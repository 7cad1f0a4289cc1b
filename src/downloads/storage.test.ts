// The file endpoint's name checks, the quota (507) and storage housekeeping.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { downloadRoutes } from '../http/routes/downloads.ts'
import { cleanupStack, makeBigFile, postJson, rawRequest, startDownloadsServer, startOrigin, waitForTask } from '../testing/downloads.ts'

test('file names cannot reach anything outside the storage folder', async (t) => {
  const later = cleanupStack(t)
  const top = mkdtempSync(join(tmpdir(), 'vg-trav-'))
  later(() => rmSync(top, { recursive: true, force: true }))
  const dir = join(top, 'downloads')
  mkdirSync(dir)
  writeFileSync(join(top, 'secret.txt'), 'TOP SECRET')
  writeFileSync(join(dir, 'ok_AAAAAAAAAAAAAAAA.mp4'), 'fine')
  symlinkSync(join(top, 'secret.txt'), join(dir, 'link.mp4'))
  mkdirSync(join(dir, 'sub'))
  const srv = await startDownloadsServer({ dir, originHost: '127.0.0.1:9' })
  later(async () => await srv.close())
  mkdirSync(join(dir, '.vidgate', 'tmp', 'BBBBBBBBBBBBBBBB'), { recursive: true })
  writeFileSync(join(dir, '.vidgate', 'tmp', 'BBBBBBBBBBBBBBBB', 'media.mp4.part'), 'partial')

  const ok = await rawRequest(srv.url, '/api/v2/files/ok_AAAAAAAAAAAAAAAA.mp4')
  assert.equal(ok.status, 200)
  assert.equal(ok.body.toString(), 'fine')
  const attempts: Array<[string, number]> = [
    ['/api/v2/files/..', 400],
    ['/api/v2/files/%2e%2e', 400],
    ['/api/v2/files/..%2Fsecret.txt', 400],
    ['/api/v2/files/%2e%2e%2fsecret.txt', 400],
    ['/api/v2/files/%2E%2E%5Csecret.txt', 400],
    ['/api/v2/files/..%5Csecret.txt', 400],
    ['/api/v2/files/..\\secret.txt', 400],
    ['/api/v2/files/%2Fetc%2Fpasswd', 400],
    [`/api/v2/files/${encodeURIComponent(join(top, 'secret.txt'))}`, 400],
    ['/api/v2/files/ok_AAAAAAAAAAAAAAAA.mp4%00.txt', 400],
    ['/api/v2/files/%00', 400],
    ['/api/v2/files/.vidgate', 400],
    ['/api/v2/files/%2Evidgate%2Ftmp%2FBBBBBBBBBBBBBBBB%2Fmedia.mp4.part', 400],
    ['/api/v2/files/%E0%A4%A', 400],
    ['/api/v2/files/link.mp4', 404],
    ['/api/v2/files/sub', 404],
    ['/api/v2/files/missing.mp4', 404],
    ['/api/v2/files/../../secret.txt', 404],
    ['/api/v2/files/../secret.txt', 404]
  ]
  for (const [path, status] of attempts) {
    const r = await rawRequest(srv.url, path)
    assert.equal(r.status, status, path)
    assert.ok(!r.body.toString().includes('TOP SECRET'), path)
    assert.match(String(r.headers['content-type']), /application\/json/, path)
  }
})

test('quota: a full store refuses new tasks with 507; a download that outgrows it fails', async (t) => {
  const later = cleanupStack(t)
  const media = mkdtempSync(join(tmpdir(), 'vg-origin-'))
  later(() => rmSync(media, { recursive: true, force: true }))
  makeBigFile(media, 'big.mp4', 2 * 1024 * 1024)
  const origin = await startOrigin(media)
  later(async () => await origin.close())

  const full = mkdtempSync(join(tmpdir(), 'vg-full-'))
  later(() => rmSync(full, { recursive: true, force: true }))
  writeFileSync(join(full, 'old_AAAAAAAAAAAAAAAA.mp4'), Buffer.alloc(20_000))
  const a = await startDownloadsServer({ dir: full, originHost: origin.host, config: { MAX_STORAGE_GB: 10_000 / 1024 ** 3 } })
  later(async () => await a.close())
  const refused = await postJson(a.url, '/api/v2/videos/download', { url: `${origin.base}/big.mp4` })
  assert.equal(refused.status, 507)
  assert.equal(refused.json.code, 'STORAGE_FULL')
  const storage = await (await fetch(`${a.url}/api/v2/system/storage`)).json() as Record<string, unknown>
  assert.equal(storage.used_bytes, 20_000)
  assert.equal(storage.available_bytes, 0)

  const small = mkdtempSync(join(tmpdir(), 'vg-small-'))
  later(() => rmSync(small, { recursive: true, force: true }))
  const b = await startDownloadsServer({ dir: small, originHost: origin.host, config: { MAX_STORAGE_GB: 1024 * 1024 / 1024 ** 3 } })
  later(async () => await b.close())
  const { json } = await postJson(b.url, '/api/v2/videos/download', { url: `${origin.base}/big.mp4` })
  const done = await waitForTask(b.url, String(json.task_id), ['completed', 'failed'])
  assert.equal(done.status, 'failed')
  assert.equal((done.error as Record<string, unknown>).code, 'STORAGE_FULL')
  assert.deepEqual(readdirSync(small).filter((n) => !n.startsWith('.')), [])
})

test('storage report and cleanup: expired files and abandoned temp folders go', async (t) => {
  const later = cleanupStack(t)
  const dir = mkdtempSync(join(tmpdir(), 'vg-clean-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  const srv = await startDownloadsServer({ dir, originHost: '127.0.0.1:9', options: { tempGraceMs: 60_000 } })
  later(async () => await srv.close())
  const old = Date.now() / 1000 - 48 * 3600
  writeFileSync(join(dir, 'old_AAAAAAAAAAAAAAAA.mp4'), Buffer.alloc(1000))
  utimesSync(join(dir, 'old_AAAAAAAAAAAAAAAA.mp4'), old, old)
  writeFileSync(join(dir, 'new_CCCCCCCCCCCCCCCC.mp4'), Buffer.alloc(500))
  const stale = join(dir, '.vidgate', 'tmp', 'DDDDDDDDDDDDDDDD')
  mkdirSync(stale)
  writeFileSync(join(stale, 'media.mp4.part'), Buffer.alloc(300))
  utimesSync(join(stale, 'media.mp4.part'), old, old)
  utimesSync(stale, old, old)
  const fresh = join(dir, '.vidgate', 'tmp', 'EEEEEEEEEEEEEEEE')
  mkdirSync(fresh)
  writeFileSync(join(fresh, 'media.mp4.part'), Buffer.alloc(200))

  const before = await (await fetch(`${srv.url}/api/v2/system/storage`)).json() as Record<string, unknown>
  assert.equal(before.used_bytes, 2000)
  assert.equal(before.file_count, 2)
  assert.equal(before.temp_bytes, 500)
  assert.equal(before.temp_dirs, 2)
  assert.equal(before.oldest_file, 'old_AAAAAAAAAAAAAAAA.mp4')
  assert.ok(Number(before.oldest_file_age_seconds) >= 48 * 3600 - 5)
  assert.equal(typeof before.free_disk_bytes, 'number')

  const res = await fetch(`${srv.url}/api/v2/system/storage/cleanup`, { method: 'POST' })
  assert.equal(res.status, 200)
  const body = await res.json() as Record<string, unknown>
  assert.equal(body.removed_files, 1)
  assert.equal(body.removed_bytes, 1000)
  assert.equal(body.removed_temp_dirs, 1)
  assert.equal((body.storage as Record<string, unknown>).used_bytes, 700)
  assert.equal(existsSync(join(dir, 'new_CCCCCCCCCCCCCCCC.mp4')), true)
  assert.equal(existsSync(fresh), true)
  assert.equal(existsSync(stale), false)
})

test('cleanup is an admin endpoint: refused from a non-loopback client without a key', async (t) => {
  const later = cleanupStack(t)
  const dir = mkdtempSync(join(tmpdir(), 'vg-admin-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  const srv = await startDownloadsServer({ dir, originHost: '127.0.0.1:9', trustedProxies: ['127.0.0.1'] })
  later(async () => await srv.close())
  assert.deepEqual(downloadRoutes(srv.downloads).filter((r) => r.admin).map((r) => r.path), ['/api/v2/system/storage/cleanup'])
  const res = await fetch(`${srv.url}/api/v2/system/storage/cleanup`, { method: 'POST', headers: { 'x-forwarded-for': '203.0.113.9' } })
  assert.equal(res.status, 403)
  assert.equal((await res.json() as Record<string, unknown>).code, 'FORBIDDEN')
  assert.equal((await fetch(`${srv.url}/api/v2/system/storage`)).status, 200)
})
