// The embed page in a real headless Chromium: the captions track it lists is
// fetched from this server as WebVTT and its cues load, and the poster comes
// through a signed image link (the page's CSP allows images from itself only).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { findChromium, startCluster } from '../testing/helpers.ts'
import { startMediaOrigin } from '../testing/origin.ts'
import { startCaptionOrigin, writeCaptionFixtures } from '../testing/captions.ts'
import { evaluateInPage } from '../testing/chromium.ts'

// Runs in the page once it has loaded: waits for the shown track's load or error event, then reports.
const REPORT = `(async () => {
  if (document.readyState !== 'complete') await new Promise((r) => addEventListener('load', r, { once: true }))
  const el = document.querySelector('track[default]')
  if (el === null) return { error: 'no default track' }
  if (el.readyState < 2) await new Promise((r) => { el.addEventListener('load', r, { once: true }); el.addEventListener('error', r, { once: true }) })
  const video = document.querySelector('video')
  const poster = new Image()
  poster.src = video.poster
  await poster.decode().catch(() => {})
  return {
    readyState: el.readyState,
    mode: el.track.mode,
    tracks: Array.from(video.textTracks, (t) => ({ language: t.language, label: t.label, mode: t.mode })),
    cues: Array.from(el.track.cues ?? [], (c) => ({ start: c.startTime, end: c.endTime, text: c.text })),
    posterWidth: poster.naturalWidth
  }
})()`

test('the embed page shows WebVTT captions from this server in headless Chromium', async (t) => {
  const chromium = findChromium()
  assert.ok(chromium !== null, 'Chromium is not installed (apt-get install chromium); CI installs it, so this test fails instead of skipping')
  const media = await startMediaOrigin()
  const captions = await startCaptionOrigin()
  const dir = writeCaptionFixtures(media.url, captions.url)
  // fake-yt-dlp (baseEnv's YTDLP_PATH) prints these fixtures; loopback origins must be GENERIC_HOSTS
  const srv = await startCluster({ workers: 1, timeoutMs: 60_000, env: { FAKE_YTDLP_FIXTURE_DIR: dir, GENERIC_HOSTS: `${media.host},${captions.host}`, RATE_LIMIT_ENABLED: 'false' } })
  t.after(async () => { await srv.stop(); await captions.close(); await media.close(); rmSync(dir, { recursive: true, force: true }) })

  const report = await evaluateInPage(chromium, `${srv.url}/api/v2/stream/embed/youtube/dQw4w9WgXcQ?captions=en`, REPORT) as Record<string, unknown>
  assert.equal(report.readyState, 2, `the track loaded: ${JSON.stringify(report)}`)
  assert.equal(report.mode, 'showing')
  assert.deepEqual(report.cues, [
    { start: 0, end: 3, text: 'Hello <b>world</b> x' },
    { start: 3, end: 4, text: 'Second &amp; last' }
  ])
  assert.deepEqual(report.tracks, [
    { language: 'en', label: 'English', mode: 'showing' },
    { language: 'de', label: 'Deutsch', mode: 'disabled' },
    { language: 'xx', label: 'xx', mode: 'disabled' },
    { language: 'zz', label: 'zz', mode: 'disabled' }
  ])
  assert.equal(report.posterWidth, 64, 'the poster image loaded through its signed link')
  assert.ok(captions.paths.includes('/subs/en.vtt'))
  assert.ok(captions.paths.includes('/img/thumb.jpg'))
})
