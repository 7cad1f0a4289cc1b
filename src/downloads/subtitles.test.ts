// Downloads with subtitles: real yt-dlp (its generic extractor reads the <track>
// of an HTML5 page on a loopback origin) and real ffmpeg embed the track, and
// ffprobe sees it in the file; plus the request checks for `subtitles`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeClip, startCountingServer } from '../testing/origin.ts'
import { cleanupStack, postJson, startDownloadsServer, waitForTask } from '../testing/downloads.ts'
import { buildDownloadArgs } from './args.ts'
import { parseDownloadRequest } from './request.ts'

const VTT = 'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nfirst cue\n\n00:00:01.000 --> 00:00:02.000\nsecond cue\n'
const PAGE = '<!doctype html><html><head><title>Captioned Clip</title></head><body>' +
  '<video controls src="/clip.mp4"><track kind="subtitles" srclang="en" label="English" src="/en.vtt"></video></body></html>'

function subtitleStreams (path: string): string[] {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 's', '-show_entries', 'stream=codec_name:stream_tags=language', '-of', 'csv=p=0', path], { encoding: 'utf8' })
  return out.trim().split('\n').map((l) => l.trim()).filter((l) => l !== '')
}

test('a download with subtitles: ["en"] embeds the track (mp4: mov_text, mkv: WebVTT as is)', async (t) => {
  const later = cleanupStack(t)
  const clip = makeClip()
  const origin = await startCountingServer((req, res, path) => {
    const send = (type: string, body: Buffer | string): void => { res.setHeader('content-type', type); res.end(req.method === 'HEAD' ? undefined : body) }
    if (path === '/page.html') send('text/html; charset=utf-8', PAGE)
    else if (path === '/clip.mp4') send('video/mp4', clip)
    else if (path === '/en.vtt') send('text/vtt', VTT)
    else { res.statusCode = 404; res.end() }
  })
  later(async () => await origin.close())
  const dir = mkdtempSync(join(tmpdir(), 'vg-dl-subs-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  const srv = await startDownloadsServer({ dir, originHost: origin.host })
  later(async () => await srv.close())

  // an anonymous client is its owner token: the same one for every request here
  const as: Record<string, string> = {}
  for (const [format, codec] of [['mp4', 'mov_text'], ['mkv', 'webvtt']] as const) {
    await t.test(format, async () => {
      const { status, json } = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.url}/page.html`, format, subtitles: ['en'] }, as)
      assert.equal(status, 202, JSON.stringify(json))
      as['x-task-token'] = String(json.owner_token)
      const done = await waitForTask(srv.url, String(json.task_id), ['completed', 'failed'], 120_000)
      assert.equal(done.status, 'completed', JSON.stringify(done))
      const res = await fetch(`${srv.url}${(done.links as Record<string, string>).file ?? ''}`)
      assert.equal(res.status, 200)
      const file = join(dir, `got.${format}`)
      writeFileSync(file, Buffer.from(await res.arrayBuffer()))
      assert.deepEqual(subtitleStreams(file), [`${codec},eng`])
    })
  }
  assert.ok(origin.paths.includes('/en.vtt'), 'yt-dlp fetched the track')

  await t.test('the same download without subtitles is another task', async () => {
    const again = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.url}/page.html`, format: 'mp4', subtitles: ['en'] }, as)
    assert.equal(again.json.reused, true)
    const plain = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.url}/page.html`, format: 'mp4' }, as)
    assert.equal(plain.json.reused, false)
    await waitForTask(srv.url, String(plain.json.task_id), ['completed', 'failed'], 120_000)
  })

  await t.test('bad subtitles are a 400 naming the field', async () => {
    for (const subtitles of ['en', ['.*'], ['all'], ['en', 3], Array.from({ length: 11 }, (_, i) => `l${i}`)]) {
      const { status, json } = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.url}/page.html`, subtitles })
      assert.equal(status, 400, JSON.stringify(subtitles))
      assert.equal(json.code, 'INVALID_INPUT')
      assert.match(String(json.error), /^subtitles /)
    }
    const audio = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.url}/page.html`, format: 'mp3', subtitles: ['en'] })
    assert.equal(audio.status, 400)
    assert.match(String(audio.json.error), /^subtitles need a video format/)
  })
})

test('subtitle arguments: after the format options, before "--"; none for audio', () => {
  const base = { url: 'https://example.com/v', quality: 'best' as const, outputTemplate: '/tmp/x', cookiesFile: null, ffmpegPath: null, maxFileBytes: null, socketTimeoutSec: 20 }
  const args = buildDownloadArgs({ ...base, format: 'webm', audioOnly: false, subtitles: ['en', 'pt-BR'] })
  const at = args.indexOf('--sub-langs')
  assert.deepEqual(args.slice(at - 2, at + 7), ['--write-subs', '--write-auto-subs', '--sub-langs', 'en,pt-BR', '--sub-format', 'vtt/srt/ass/best', '--convert-subs', 'vtt', '--embed-subs'])
  assert.ok(args.indexOf('--embed-subs') < args.indexOf('--'))
  assert.equal(buildDownloadArgs({ ...base, format: 'mp3', audioOnly: true, subtitles: ['en'] }).includes('--write-subs'), false)
  assert.equal(buildDownloadArgs({ ...base, format: 'mp4', audioOnly: false }).includes('--write-subs'), false)
  assert.deepEqual(parseDownloadRequest({ url: 'https://example.com/v', subtitles: ['en', 'en', 'de'] }).subtitles, ['en', 'de'])
  assert.deepEqual(parseDownloadRequest({ url: 'https://example.com/v' }).subtitles, [])
})
