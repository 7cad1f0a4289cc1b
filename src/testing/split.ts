// Test-only helpers for separate video/audio streams (never imported by
// production code): ffprobe over a URL or bytes, a small media-playlist reader,
// DASH fixtures (SegmentBase with the sidx's indexRange, and ffmpeg's own
// SegmentTemplate output) added to the local origin's media set, and the
// ffmpeg children of this process.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { findBox } from '../../workers/mp4/sidx.ts'
import type { MediaSet } from './origin.ts'

const run = promisify(execFile)

export interface Probe { types: string[], duration: number }

// Async on purpose: the app under test runs in this process and must keep answering ffprobe.
export async function probeUrl (url: string, userAgent?: string): Promise<Probe> {
  const ua = userAgent === undefined ? [] : ['-user_agent', userAgent]
  const { stdout } = await run('ffprobe', ['-v', 'error', ...ua, '-show_entries', 'stream=codec_type:format=duration', '-of', 'json', url], { timeout: 60_000 })
  return parseProbe(stdout)
}

export async function probeBytes (media: Buffer): Promise<Probe> {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-probe-'))
  try {
    writeFileSync(join(dir, 'x.mp4'), media)
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type:format=duration', '-of', 'json', join(dir, 'x.mp4')])
    return parseProbe(stdout)
  } finally { rmSync(dir, { recursive: true, force: true }) }
}

function parseProbe (stdout: string): Probe {
  const j = JSON.parse(stdout) as { streams?: Array<{ codec_type?: string }>, format?: { duration?: string } }
  return { types: (j.streams ?? []).map((s) => s.codec_type ?? '?').sort(), duration: Number(j.format?.duration ?? NaN) }
}

export interface PlaylistPart { url: string, range: { offset: number, length: number } | null, duration: number }

// URIs of a master (variants and renditions), resolved against its URL.
export function masterUris (text: string, base: string): { variants: string[], audio: string[] } {
  const lines = text.split('\n')
  const variants = lines.flatMap((l, i) => l.startsWith('#EXT-X-STREAM-INF') ? [new URL(lines[i + 1] ?? '', base).href] : [])
  const audio = lines.filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO')).map((l) => new URL(/URI="([^"]+)"/.exec(l)?.[1] ?? '', base).href)
  return { variants, audio }
}

export function mediaParts (text: string, base: string): { init: PlaylistPart | null, segments: PlaylistPart[] } {
  const range = (s: string | undefined): PlaylistPart['range'] => {
    const m = /^(\d+)@(\d+)$/.exec(s ?? '')
    return m === null ? null : { length: Number(m[1]), offset: Number(m[2]) }
  }
  let init: PlaylistPart | null = null
  const segments: PlaylistPart[] = []
  let duration = 0
  let pending: PlaylistPart['range'] = null
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-MAP:')) init = { url: new URL(/URI="([^"]+)"/.exec(line)?.[1] ?? '', base).href, range: range(/BYTERANGE="([^"]+)"/.exec(line)?.[1]), duration: 0 }
    else if (line.startsWith('#EXTINF:')) duration = Number(line.slice(8).split(',')[0])
    else if (line.startsWith('#EXT-X-BYTERANGE:')) pending = range(line.slice(17))
    else if (line !== '' && !line.startsWith('#')) { segments.push({ url: new URL(line, base).href, range: pending, duration }); pending = null }
  }
  return { init, segments }
}

// Fetches one playlist part (with its byte range) and checks it against the origin's bytes.
export async function assertPart (part: PlaylistPart, files: ReadonlyMap<string, Buffer>, expected: Buffer | null): Promise<void> {
  const headers: Record<string, string> = part.range === null ? {} : { range: `bytes=${part.range.offset}-${part.range.offset + part.range.length - 1}` }
  const res = await fetch(part.url, { headers })
  assert.equal(res.status, part.range === null ? 200 : 206, part.url)
  const body = Buffer.from(await res.arrayBuffer())
  if (expected !== null && part.range !== null) {
    assert.ok(body.equals(expected.subarray(part.range.offset, part.range.offset + part.range.length)), `${part.url} ${JSON.stringify(part.range)}`)
  } else {
    assert.ok([...files.values()].some((f) => f.equals(body)), `${part.url} is one of the origin's files`)
  }
}

// Where the init segment and the sidx of an indexed fMP4 are: [start, end) offsets.
export function layout (file: Buffer): { moovEnd: number, sidx: { start: number, end: number } } {
  const moov = findBox(file, 'moov')
  const sidx = findBox(file, 'sidx')
  assert.ok(moov !== null && sidx !== null, 'an indexed fMP4')
  return { moovEnd: moov.end, sidx: { start: sidx.start, end: sidx.end } }
}

// A BiliBili-shaped MPD: one file per stream, SegmentBase with the sidx at indexRange.
export function segmentBaseMpd (set: MediaSet, base: string, ids: { video: string, audio: string }): string {
  const rep = (id: string, file: string, attrs: string): string => {
    const l = layout(set.files.get(file) ?? Buffer.alloc(0))
    return `<Representation id="${id}" ${attrs}><BaseURL>${base}/${file}</BaseURL>` +
      `<SegmentBase indexRange="${l.sidx.start}-${l.sidx.end - 1}"><Initialization range="0-${l.moovEnd - 1}"/></SegmentBase></Representation>`
  }
  return '<?xml version="1.0" encoding="UTF-8"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT4S" minBufferTime="PT1.5S"><Period id="0" start="PT0S">' +
    `<AdaptationSet contentType="video" mimeType="video/mp4">${rep(ids.video, 'video.mp4', 'bandwidth="1036411" width="1280" height="720" codecs="avc1.640028"')}</AdaptationSet>` +
    `<AdaptationSet contentType="audio" mimeType="audio/mp4">${rep(ids.audio, 'audio.m4a', 'bandwidth="191899" codecs="mp4a.40.2"')}</AdaptationSet>` +
    '</Period></MPD>\n'
}

// ffmpeg's DASH muxer over the set's video and audio: SegmentTemplate + SegmentTimeline,
// representation ids 0 (video) and 1 (audio); every file is added to the set as tpl*.
export function addTemplateDash (set: MediaSet): { mpd: string, chunks: { video: string[], audio: string[] } } {
  if (!set.files.has('tpl.mpd')) {
    const dir = mkdtempSync(join(tmpdir(), 'vidgate-dash-'))
    try {
      execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', join(set.dir, 'video.mp4'), '-i', join(set.dir, 'audio.m4a'), '-map', '0:v', '-map', '1:a', '-c', 'copy',
        '-f', 'dash', '-seg_duration', '1', '-use_template', '1', '-use_timeline', '1',
        '-init_seg_name', 'tpl-init-$RepresentationID$.m4s', '-media_seg_name', 'tpl-chunk-$RepresentationID$-$Number%05d$.m4s', 'tpl.mpd'], { cwd: dir })
      for (const name of readdirSync(dir)) set.files.set(name, readFileSync(join(dir, name)))
    } finally { rmSync(dir, { recursive: true, force: true }) }
  }
  const names = [...set.files.keys()].sort()
  return { mpd: 'tpl.mpd', chunks: { video: names.filter((n) => n.startsWith('tpl-chunk-0-')), audio: names.filter((n) => n.startsWith('tpl-chunk-1-')) } }
}

// Children of this process whose command is ffmpeg (zombies have an empty cmdline and do not count).
export function ffmpegChildren (): number[] {
  const found: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const argv0 = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0')[0] ?? ''
      if (ppid === process.pid && /(?:^|\/)ffmpeg$/.test(argv0)) found.push(Number(name))
    } catch {}
  }
  return found
}
