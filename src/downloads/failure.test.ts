// A download that needs ffmpeg, on a server where ffmpeg is missing, fails through the
// API with the same code and remedy as any yt-dlp failure: FFMPEG_MISSING naming
// FFMPEG_PATH (it used to read VIDEO_NOT_FOUND, or INTERNAL for a merge).
// Real yt-dlp against a loopback origin; ffmpeg is "missing" because --ffmpeg-location
// points at a path that does not exist (what the old default FFMPEG_PATH=ffmpeg did).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cleanupStack, makeMedia, postJson, startDownloadsServer, startOrigin, waitForTask } from '../testing/downloads.ts'

test('downloads that need a missing ffmpeg fail with FFMPEG_MISSING and name the remedy', async (t) => {
  const later = cleanupStack(t)
  const media = mkdtempSync(join(tmpdir(), 'vg-origin-'))
  later(() => rmSync(media, { recursive: true, force: true }))
  makeMedia(media, 2)
  const origin = await startOrigin(media)
  later(async () => await origin.close())
  const dir = mkdtempSync(join(tmpdir(), 'vg-dl-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  const srv = await startDownloadsServer({ dir, originHost: origin.host, options: { ffmpegPath: join(dir, 'no-such-dir', 'ffmpeg') } })
  later(async () => await srv.close())

  const cases = [
    // audio conversion: yt-dlp's "Postprocessing: ffprobe and ffmpeg not found"
    { body: { url: `${origin.base}/clip.mp4`, format: 'mp3' }, said: /ffprobe and ffmpeg not found/ },
    // remux into another container: "Postprocessing: ffmpeg not found"
    { body: { url: `${origin.base}/clip.mp4`, format: 'mkv' }, said: /ffmpeg not found/ },
    // split video + audio: yt-dlp skips the merge, exits 0 and names a file it never wrote
    { body: { url: `${origin.base}/split/master.m3u8`, format: 'mkv' }, said: /did not merge the video and audio/ }
  ]
  for (const { body, said } of cases) {
    const { status, json } = await postJson(srv.url, '/api/v2/videos/download', body)
    assert.equal(status, 202, JSON.stringify(json))
    const done = await waitForTask(srv.url, String(json.task_id), ['completed', 'failed'])
    assert.equal(done.status, 'failed', JSON.stringify(done))
    const error = done.error as { code: string, message: string }
    assert.equal(error.code, 'FFMPEG_MISSING', JSON.stringify(body))
    assert.match(error.message, /^Install ffmpeg and ffprobe on the server or set FFMPEG_PATH/)
    assert.match(error.message, said)
  }
})

// yt-dlp exits 0 without writing a file when there is nothing to download (an empty
// feed here): a failed extraction that says what yt-dlp said, not a full storage.
test('a download that ends without a file is EXTRACTION_FAILED with yt-dlp\'s last output', async (t) => {
  const later = cleanupStack(t)
  const media = mkdtempSync(join(tmpdir(), 'vg-origin-'))
  later(() => rmSync(media, { recursive: true, force: true }))
  writeFileSync(join(media, 'feed.xml'), '<?xml version="1.0"?><rss version="2.0"><channel><title>Empty feed</title>' +
    '<link>http://127.0.0.1/</link><description>no items</description></channel></rss>\n')
  const origin = await startOrigin(media)
  later(async () => await origin.close())
  const dir = mkdtempSync(join(tmpdir(), 'vg-dl-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  const srv = await startDownloadsServer({ dir, originHost: origin.host })
  later(async () => await srv.close())

  const { status, json } = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.base}/feed.xml` })
  assert.equal(status, 202, JSON.stringify(json))
  const done = await waitForTask(srv.url, String(json.task_id), ['completed', 'failed'], 60_000, { 'x-task-token': String(json.owner_token) })
  assert.equal(done.status, 'failed', JSON.stringify(done))
  const error = done.error as { code: string, message: string }
  assert.equal(error.code, 'EXTRACTION_FAILED')
  assert.match(error.message, /^If this persists, the site has likely changed/)
  assert.match(error.message, /yt-dlp finished without writing a file; its last output: .*Downloading 0 items/)
  assert.ok(!error.message.includes(dir), 'no server paths')
})

// Debian 12's own yt-dlp predates --no-quiet: the first download finds that out and
// runs again without it; later ones go without it at once.
test('Debian\'s 2023.03 yt-dlp (no --no-quiet): downloads run without it', async (t) => {
  const later = cleanupStack(t)
  const media = mkdtempSync(join(tmpdir(), 'vg-origin-'))
  later(() => rmSync(media, { recursive: true, force: true }))
  makeMedia(media, 2)
  writeFileSync(join(media, 'feed.xml'), '<?xml version="1.0"?><rss version="2.0"><channel><title>Empty feed</title></channel></rss>\n')
  const origin = await startOrigin(media)
  later(async () => await origin.close())
  const dir = mkdtempSync(join(tmpdir(), 'vg-dl-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  const srv = await startDownloadsServer({ dir, originHost: origin.host, config: { YTDLP_PATH: '/usr/bin/yt-dlp' } })
  later(async () => await srv.close())

  for (const [url, state] of [[`${origin.base}/clip.mp4`, 'completed'], [`${origin.base}/feed.xml`, 'failed']]) {
    const { json } = await postJson(srv.url, '/api/v2/videos/download', { url })
    const done = await waitForTask(srv.url, String(json.task_id), ['completed', 'failed'], 60_000, { 'x-task-token': String(json.owner_token) })
    assert.equal(done.status, state, JSON.stringify(done))
    if (state === 'failed') assert.match(String((done.error as Record<string, unknown>).message), /yt-dlp finished without writing a file; it printed nothing$/)
  }
})
