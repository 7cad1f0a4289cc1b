// Test-only: a local origin for subtitle tracks and images, and platform-shaped
// fixtures (YouTube's, BiliBili's) whose subtitles, captions and thumbnails
// point at it while their media points at the media origin (fixtures.ts).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCountingServer } from './origin.ts'
import type { CountingServer } from './origin.ts'
import { writeLocalFixtures } from './fixtures.ts'

export const VTT_EN = 'WEBVTT\n\nNOTE upstream comment\n\n00:00:00.000 --> 00:00:03.000 align:start\nHello <b>world</b> <script>x</script>\n\n00:00:03.000 --> 00:00:04.000\nSecond & last\n'
export const SRT_DE = '1\n00:00:00,500 --> 00:00:02,000\nHallo <i>Welt</i>\n\n2\n00:00:02,000 --> 00:00:03,500\nZweite Zeile\n'
export const JSON3_EN_AUTO = JSON.stringify({ events: [{ tStartMs: 0, dDurationMs: 1500, segs: [{ utf8: 'auto' }, { utf8: ' words' }] }, { tStartMs: 1500, dDurationMs: 10, aAppend: 1, segs: [{ utf8: '\n' }] }] })

export interface Images { jpeg: Buffer, png: Buffer }

let images: Images | null = null
// A real JPEG and PNG (a browser shows them as a poster), made once per process.
export function makeImages (): Images {
  if (images !== null) return images
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-img-'))
  try {
    for (const name of ['t.jpg', 't.png']) execFileSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=red:s=64x36', '-frames:v', '1', join(dir, name)])
    images = { jpeg: readFileSync(join(dir, 't.jpg')), png: readFileSync(join(dir, 't.png')) }
    return images
  } finally { rmSync(dir, { recursive: true, force: true }) }
}

export interface CaptionOrigin extends CountingServer {
  // the Referer each request for /bili/ came with
  biliReferers: string[]
}

// 6 MB: over the 5 MB image bound; 11 MB: over the 10 MB subtitle bound
const BIG_IMAGE = 6 * 1024 * 1024
const BIG_TRACK = 11 * 1024 * 1024

export async function startCaptionOrigin (): Promise<CaptionOrigin> {
  const { jpeg, png } = makeImages()
  const biliReferers: string[] = []
  const send = (res: import('node:http').ServerResponse, type: string, body: Buffer | string, chunked = false): void => {
    res.setHeader('content-type', type)
    if (chunked) { res.write(body); res.end(); return }
    res.end(body)
  }
  const server = await startCountingServer((req, res, path) => {
    switch (path) {
      case '/subs/en.vtt': send(res, 'text/vtt', VTT_EN); return
      case '/subs/de.srt': send(res, 'application/x-subrip', SRT_DE); return
      case '/subs/en-auto.json3': send(res, 'application/json', JSON3_EN_AUTO); return
      case '/subs/huge.vtt': send(res, 'text/vtt', `WEBVTT\n\n${'x'.repeat(BIG_TRACK)}`, true); return
      case '/subs/page.vtt': send(res, 'text/html', '<!doctype html><p>not a track</p>'); return
      case '/img/thumb.jpg': send(res, 'image/jpeg', jpeg); return
      case '/img/thumb.png': send(res, 'application/octet-stream', png); return
      case '/img/big.jpg': send(res, 'image/jpeg', Buffer.concat([jpeg, Buffer.alloc(BIG_IMAGE)])); return
      case '/img/big-chunked.jpg': send(res, 'image/jpeg', Buffer.concat([jpeg, Buffer.alloc(BIG_IMAGE)]), true); return
      case '/img/page.jpg': send(res, 'image/jpeg', '<!doctype html><script>alert(1)</script>'); return
      case '/img/vector.svg': send(res, 'image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'); return
      case '/img/text.jpg': send(res, 'text/plain', jpeg); return
      case '/img/reset.jpg': {
        // the connection breaks after the first bytes of a longer answer
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(jpeg.length * 2) })
        res.write(jpeg.subarray(0, 16), () => res.destroy())
        return
      }
      case '/bili/thumb.jpg': {
        biliReferers.push(String(req.headers.referer ?? ''))
        if (req.headers.referer !== 'https://www.bilibili.com/') { res.statusCode = 403; res.end('referer required'); return }
        send(res, 'image/jpeg', jpeg)
        return
      }
    }
    res.statusCode = 404
    res.end('not found')
  })
  return { ...server, biliReferers }
}

// Writes YouTube- and BiliBili-shaped fixtures (fixtures.ts) and points their
// subtitles, captions and thumbnails at the caption origin; with a canary (a
// loopback server outside GENERIC_HOSTS), one more track (ca) and thumbnail on it.
export function writeCaptionFixtures (mediaUrl: string, captionsUrl: string, canaryUrl: string | null = null): string {
  const dir = writeLocalFixtures(mediaUrl)
  const edit = (name: string, change: (raw: Record<string, unknown>) => void): void => {
    const file = join(dir, `${name}.json`)
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
    change(raw)
    writeFileSync(file, JSON.stringify(raw))
  }
  const at = (path: string): string => `${captionsUrl}${path}`
  edit('youtube', (raw) => {
    raw.subtitles = {
      en: [{ ext: 'json3', url: at('/subs/en.json3'), name: 'English' }, { ext: 'vtt', url: at('/subs/en.vtt'), name: 'English' }],
      de: [{ ext: 'srt', url: at('/subs/de.srt'), name: 'Deutsch' }],
      fr: [{ ext: 'ttml', url: at('/subs/fr.ttml') }],
      xx: [{ ext: 'vtt', url: at('/subs/huge.vtt') }],
      zz: [{ ext: 'vtt', url: at('/subs/page.vtt') }],
      live_chat: [{ ext: 'json', url: at('/subs/chat') }]
    }
    raw.automatic_captions = { en: [{ ext: 'json3', url: at('/subs/en-auto.json3') }] }
    raw.thumbnail = at('/img/thumb.jpg')
    raw.thumbnails = ['/img/thumb.png', '/img/big.jpg', '/img/big-chunked.jpg', '/img/page.jpg', '/img/vector.svg', '/img/text.jpg', '/img/thumb.jpg', '/img/reset.jpg']
      .map((p, i) => ({ url: at(p), id: String(i), width: 64, height: 36 }))
    if (canaryUrl !== null) {
      (raw.subtitles as Record<string, unknown>).ca = [{ ext: 'vtt', url: `${canaryUrl}/ca.vtt` }];
      (raw.thumbnails as unknown[]).push({ url: `${canaryUrl}/thumb.jpg`, id: 'canary' })
    }
  })
  edit('bilibili', (raw) => {
    raw.thumbnail = at('/bili/thumb.jpg')
    raw.thumbnails = [{ url: at('/bili/thumb.jpg'), id: '0' }]
  })
  return dir
}
