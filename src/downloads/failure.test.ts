// A download that needs ffmpeg, on a server where ffmpeg is missing, fails through the
// API with the same code and remedy as any yt-dlp failure: FFMPEG_MISSING naming
// FFMPEG_PATH (it used to read VIDEO_NOT_FOUND, or INTERNAL for a merge).
// Real yt-dlp against a loopback origin; ffmpeg is "missing" because --ffmpeg-location
// points at a path that does not exist (what the old default FFMPEG_PATH=ffmpeg did).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
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
