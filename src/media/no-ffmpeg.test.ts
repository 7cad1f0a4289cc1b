// A host without ffmpeg: what needs it answers 503 FFMPEG_MISSING with the remedy,
// health says so, and everything else keeps working.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { assertErrorBody, json, startApp } from '../testing/helpers.ts'
import { startMediaOrigin } from '../testing/origin.ts'
import { writeLocalFixtures } from '../testing/fixtures.ts'

const YT = '/api/v2/stream/youtube/dQw4w9WgXcQ'

test('without ffmpeg: remuxes and downloads answer 503 FFMPEG_MISSING, health is degraded, single-file streams still flow', async (t) => {
  const origin = await startMediaOrigin()
  const dir = writeLocalFixtures(origin.url)
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  // FFMPEG_PATH names an executable that does not exist: the host has no ffmpeg
  const app = await startApp({ GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false', FFMPEG_PATH: 'vidgate-no-such-ffmpeg' })
  t.after(async () => { await app.close(); await origin.close(); rmSync(dir, { recursive: true, force: true }) })

  const remux = await json(`${app.url}${YT}?quality=1080p&format=mp4`)
  assertErrorBody(remux.res, remux.body, 'FFMPEG_MISSING')
  assert.equal(remux.res.status, 503)
  assert.match(String(remux.body.detail), /FFMPEG_PATH/)

  const progressive = await fetch(`${app.url}${YT}?quality=360p&mode=proxy`)
  assert.equal(progressive.status, 200)
  assert.ok((await progressive.arrayBuffer()).byteLength > 0)

  const download = await json(`${app.url}/api/v2/videos/download`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ platform: 'youtube', id: 'dQw4w9WgXcQ', format: 'mp3' })
  })
  assertErrorBody(download.res, download.body, 'FFMPEG_MISSING')
  assert.equal(download.res.status, 503)

  const health = await json(`${app.url}/api/v2/system/health`)
  assert.equal(health.res.status, 200)
  assert.equal(health.body.status, 'degraded')
  const checks = health.body.checks as Record<string, Record<string, unknown>>
  assert.equal(checks.ffmpeg?.status, 'degraded')
  assert.match(String(checks.ffmpeg?.detail), /FFMPEG_PATH=vidgate-no-such-ffmpeg/)
})
