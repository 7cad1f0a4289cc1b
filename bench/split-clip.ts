// A 10 s 720p clip as separate video and audio files (shaped like YouTube's separate
// formats: fragmented, with a global sidx) on a local origin that serves Range, and the
// fake yt-dlp's info naming them: what the remux and seek benches remux.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'

export interface SplitClipOrigin { host: string, clip: { video: Buffer, audio: Buffer }, close: () => Promise<void> }

function makeClip (dir: string): { video: Buffer, audio: Buffer } {
  const ff = (...args: string[]): void => { execFileSync('ffmpeg', ['-loglevel', 'error', '-y', ...args], { cwd: dir, timeout: 120_000 }) }
  ff('-f', 'lavfi', '-i', 'testsrc2=duration=10:size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=duration=10:frequency=440',
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '2500k', '-g', '60', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-shortest', 'clip.mp4')
  ff('-i', 'clip.mp4', '-map', '0:v', '-c', 'copy', '-movflags', '+dash+global_sidx', 'video.mp4')
  ff('-i', 'clip.mp4', '-map', '0:a', '-c', 'copy', '-movflags', '+dash+global_sidx', 'audio.m4a')
  return { video: readFileSync(join(dir, 'video.mp4')), audio: readFileSync(join(dir, 'audio.m4a')) }
}

function serveRange (req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
  const start = m === null ? 0 : Number(m[1])
  const end = m === null || m[2] === '' ? body.length - 1 : Math.min(Number(m[2]), body.length - 1)
  if (start >= body.length) { res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end(); return }
  res.writeHead(m === null ? 200 : 206, {
    'content-type': 'video/mp4',
    'accept-ranges': 'bytes',
    'content-length': end - start + 1,
    ...(m === null ? {} : { 'content-range': `bytes ${start}-${end}/${body.length}` })
  })
  res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1))
}

// Makes the clip in `dir` and serves it on 127.0.0.1 (/video.mp4, /audio.m4a).
export async function startSplitClipOrigin (dir: string): Promise<SplitClipOrigin> {
  const clip = makeClip(dir)
  const origin: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]
    if (path === '/video.mp4') serveRange(req, res, clip.video)
    else if (path === '/audio.m4a') serveRange(req, res, clip.audio)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  return {
    host: `127.0.0.1:${(origin.address() as AddressInfo).port}`,
    clip,
    close: async () => {
      origin.closeAllConnections()
      await new Promise<void>((resolve) => origin.close(() => resolve()))
    }
  }
}

// The server's settings for the fake yt-dlp reading its fixtures from `dir`, with the clip's origin allowed.
export function fakeYtdlpEnv (root: string, dir: string, host: string): Record<string, string> {
  return {
    YTDLP_PATH: join(root, 'workers', 'fixtures', 'fake-yt-dlp'),
    YTDLP_MODE: 'spawn',
    FAKE_YTDLP_FIXTURE_DIR: dir,
    // yt-dlp's children see only allow-listed variables: the fake yt-dlp needs its fixture folder
    CHILD_ENV_ALLOW: 'FAKE_YTDLP_FIXTURE_DIR',
    GENERIC_HOSTS: host,
    RATE_LIMIT_ENABLED: 'false'
  }
}

// The fake yt-dlp's info for the clip on `host`, under its own id.
export function splitClipFixture (id: string, title: string, host: string): string {
  return JSON.stringify({
    id,
    title,
    extractor: 'generic',
    duration: 10,
    webpage_url: `http://${host}/fixture/${id}`,
    formats: [
      { format_id: 'v720', ext: 'mp4', protocol: 'https', vcodec: 'avc1.64001f', acodec: 'none', width: 1280, height: 720, tbr: 2500, url: `http://${host}/video.mp4` },
      { format_id: 'a128', ext: 'm4a', protocol: 'https', vcodec: 'none', acodec: 'mp4a.40.2', tbr: 128, url: `http://${host}/audio.m4a` }
    ]
  })
}
