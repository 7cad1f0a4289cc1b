import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHealthMonitor } from './health.ts'
import type { HealthDeps } from './health.ts'

function setup (t: { after: (fn: () => void) => void }, over: Partial<HealthDeps> = {}): { dir: string, deps: HealthDeps } {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-health-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const deps: HealthDeps = {
    version: '1.2.3',
    redis: null,
    cluster: () => ({ alive: 2, expected: 2, restarts: 0 }),
    ytdlpPath: join(dir, 'yt-dlp'),
    ytdlpMode: 'spawn',
    storagePath: join(dir, 'downloads'),
    minFreeBytes: 0,
    refreshMs: 60_000,
    ytdlpRetryMs: 0,
    ...over
  }
  return { dir, deps }
}

function installFakeYtDlp (path: string): void {
  writeFileSync(path, '#!/bin/sh\necho 2030.01.02\n')
  chmodSync(path, 0o755)
}

test('healthy when every check passes', async (t) => {
  const { deps } = setup(t)
  installFakeYtDlp(deps.ytdlpPath)
  const h = createHealthMonitor(deps)
  t.after(h.close)
  await h.refresh()
  const r = h.report()
  assert.equal(r.status, 'healthy')
  assert.equal(r.version, '1.2.3')
  assert.equal(r.checks.ytdlp.version, '2030.01.02')
  assert.equal(h.ytdlpVersion(), '2030.01.02')
  assert.equal(r.checks.storage.status, 'ok')
  assert.deepEqual(r.checks.workers, { status: 'ok', alive: 2, expected: 2 })
})

test('a missing yt-dlp is unhealthy, and a later install recovers without a restart', async (t) => {
  const { deps } = setup(t)
  const h = createHealthMonitor(deps)
  t.after(h.close)
  await h.refresh()
  assert.equal(h.report().status, 'unhealthy')
  assert.equal(h.report().checks.ytdlp.status, 'failed')
  installFakeYtDlp(deps.ytdlpPath)
  await h.refresh()
  assert.equal(h.report().status, 'healthy')
  assert.equal(h.report().checks.ytdlp.version, '2030.01.02')
})

test('overlapping refreshes share one probe', async (t) => {
  const { dir, deps } = setup(t)
  const counter = join(dir, 'calls')
  writeFileSync(deps.ytdlpPath, `#!/bin/sh\necho x >> ${counter}\nsleep 0.2\necho 2030.01.02\n`)
  chmodSync(deps.ytdlpPath, 0o755)
  const h = createHealthMonitor(deps)
  t.after(h.close)
  await Promise.all([h.refresh(), h.refresh(), h.refresh()])
  assert.equal(readFileSync(counter, 'utf8').trim().split('\n').length, 1)
})

test('storage, Redis-less cache and missing workers degrade but never make it unhealthy', async (t) => {
  const { dir, deps } = setup(t, { cluster: () => ({ alive: 1, expected: 2, restarts: 3 }) })
  // a regular file where a folder should be (ENOTDIR); note that Node 20's
  // recursive mkdir spins forever under /proc, so that is no place to try this
  writeFileSync(join(dir, 'file'), '')
  deps.storagePath = join(dir, 'file', 'downloads')
  installFakeYtDlp(deps.ytdlpPath)
  const h = createHealthMonitor(deps)
  t.after(h.close)
  await h.refresh()
  const r = h.report()
  assert.equal(r.checks.storage.status, 'failed')
  assert.equal(r.checks.storage.free_bytes, null)
  assert.deepEqual(r.checks.workers, { status: 'degraded', alive: 1, expected: 2 })
  assert.equal(r.status, 'degraded')
})

test('low disk space is degraded', async (t) => {
  const { deps } = setup(t, { minFreeBytes: Number.MAX_SAFE_INTEGER })
  installFakeYtDlp(deps.ytdlpPath)
  const h = createHealthMonitor(deps)
  t.after(h.close)
  await h.refresh()
  assert.equal(h.report().checks.storage.status, 'degraded')
  assert.equal(h.report().status, 'degraded')
})
