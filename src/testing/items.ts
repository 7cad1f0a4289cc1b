// Test-only: multi-item posts. An X-shaped post of two videos and a photo for the
// fake yt-dlp (yt-dlp's playlist result, as its Twitter extractor gives one for a
// post of several videos; the photo as yt-dlp lists an Instagram carousel's photos:
// no formats, a picture), its media for a local origin, and a page of two videos
// that real yt-dlp's generic extractor reads as a playlist.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const POST_ID = '1866000000000000001'
export const POST_URL = `https://x.com/vidgate/status/${POST_ID}`

export interface ItemMedia { second: Buffer, photo: Buffer }

let cached: ItemMedia | null = null

// A second clip that differs from the origin's progressive.mp4, and a JPEG.
export function makeItemMedia (): ItemMedia {
  if (cached !== null) return cached
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-items-'))
  try {
    const ff = (...args: string[]): void => { execFileSync('ffmpeg', ['-loglevel', 'error', '-y', ...args], { cwd: dir }) }
    ff('-f', 'lavfi', '-i', 'testsrc2=duration=2:size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=duration=2:frequency=660',
      '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', '-movflags', '+faststart', 'second.mp4')
    ff('-f', 'lavfi', '-i', 'testsrc=size=320x240', '-frames:v', '1', 'photo.jpg')
    cached = { second: readFileSync(join(dir, 'second.mp4')), photo: readFileSync(join(dir, 'photo.jpg')) }
    return cached
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const video = (n: number, id: string, url: string): Record<string, unknown> => ({
  id,
  display_id: POST_ID,
  title: `Vidgate - two clips and a photo #${n}`,
  duration: 2,
  thumbnails: [],
  formats: [{ format_id: 'http-832', url, ext: 'mp4', protocol: 'http', vcodec: 'avc1.64000d', acodec: 'mp4a.40.2', width: 320, height: 240, tbr: 832 }],
  webpage_url: POST_URL,
  extractor: 'twitter',
  extractor_key: 'Twitter'
})

// The post as yt-dlp -J prints it, media on the origin (/m/progressive.mp4, /m/second.mp4,
// /m/photo.jpg); written as twitter.json into `dir` (FAKE_YTDLP_FIXTURE_DIR).
export function writeMultiItemPost (dir: string, originUrl: string): void {
  const expire = Math.floor(Date.now() / 1000) + 6 * 3600
  const at = (file: string): string => `${originUrl}/m/${file}?expire=${expire}`
  const post = {
    _type: 'playlist',
    id: POST_ID,
    title: 'Vidgate - two clips and a photo',
    uploader: 'Vidgate',
    uploader_id: 'vidgate',
    timestamp: 1764720000,
    webpage_url: POST_URL,
    extractor: 'twitter',
    extractor_key: 'Twitter',
    entries: [
      video(1, '1866000000000000011', at('progressive.mp4')),
      video(2, '1866000000000000012', at('second.mp4')),
      {
        id: '1866000000000000013',
        display_id: POST_ID,
        title: 'Vidgate - two clips and a photo #3',
        formats: [],
        thumbnails: [{ url: at('photo.jpg'), width: 320, height: 240 }],
        webpage_url: POST_URL,
        extractor: 'twitter'
      }
    ]
  }
  writeFileSync(join(dir, 'twitter.json'), JSON.stringify(post))
}

// An HTML page with two <video> elements (and a picture, which yt-dlp ignores).
export const twoVideoPage = (title: string): string => `<!doctype html><html><head><title>${title}</title></head><body>` +
  '<video src="/a.mp4" controls></video><img src="/photo.jpg" alt=""><video src="/b.mp4" controls></video></body></html>'

export const CAROUSEL_ID = 'DItems12345'
export const CAROUSEL_URL = `https://www.instagram.com/p/${CAROUSEL_ID}/`

// An Instagram-shaped carousel: two videos of separate video and audio (the same format ids,
// as yt-dlp gives Instagram's DASH formats) and a photo; written as instagram.json into `dir`.
export function writeCarousel (dir: string, originUrl: string): void {
  const at = (file: string): string => `${originUrl}/m/${file}`
  const split = (n: number, videoFile: string): Record<string, unknown> => ({
    id: `3500000000000000${n}`,
    title: `Post by vidgate #${n}`,
    duration: 4,
    http_headers: { Referer: 'https://www.instagram.com/' },
    formats: [
      { format_id: 'dash-v', url: at(videoFile), ext: 'mp4', protocol: 'https', vcodec: 'avc1.64000d', acodec: 'none', width: 320, height: 240, tbr: 500 },
      { format_id: 'dash-a', url: at('audio.m4a'), ext: 'm4a', protocol: 'https', vcodec: 'none', acodec: 'mp4a.40.2', tbr: 128 }
    ]
  })
  const post = {
    _type: 'playlist',
    id: CAROUSEL_ID,
    title: 'Post by vidgate',
    channel: 'vidgate',
    extractor: 'Instagram',
    entries: [split(1, 'video.mp4'), split(2, 'second.mp4'), { id: '35000000000000003', title: 'Post by vidgate #3', formats: [], thumbnails: [{ url: at('photo.jpg'), width: 320, height: 240 }] }]
  }
  writeFileSync(join(dir, 'instagram.json'), JSON.stringify(post))
}
