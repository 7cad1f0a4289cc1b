// yt-dlp info JSON (unknown) → MediaInfo / PlaylistInfo. Pure; runs in the thread so
// the multi-megabyte JSON never reaches the HTTP event loop.
import type { MediaEntry, MediaFormat, MediaFragment, MediaInfo, MediaThumbnail, PlaylistEntry, PlaylistInfo, SubtitleInput, SubtitleTrack } from '../protocol.ts'
import { idOrNull, isRecord, numberOrNull, recordsOf, stringOrNull } from './json-guards.ts'
import { parseUrlExpiry } from './url-expiry.ts'

export class YtDlpOutputError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'YtDlpOutputError'
  }
}

// Only what the media fetch needs; Cookie is never forwarded.
const FORWARDED_HEADERS = ['Referer', 'Origin', 'User-Agent'] as const
const AUDIO_ONLY_EXTS = new Set(['m4a', 'mp3', 'opus', 'aac', 'oga', 'ogg', 'flac', 'wav', 'weba'])
// comment streams yt-dlp lists beside subtitles (YouTube's live chat, BiliBili's danmaku, Twitch's chat replay)
const NOT_SUBTITLES = new Set(['live_chat', 'danmaku', 'rechat', 'comments'])
// a language key as the subtitle routes take it
const SUBTITLE_LANG = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
const MAX_TRACKS = 300
// what the subtitle task reads, best first
const READ_ORDER: readonly SubtitleInput[] = ['vtt', 'srt', 'json3']

function pickHeaders (value: unknown): Record<string, string> {
  const headers: Record<string, string> = {}
  if (!isRecord(value)) return headers
  for (const [name, raw] of Object.entries(value)) {
    const wanted = FORWARDED_HEADERS.find(h => h.toLowerCase() === name.toLowerCase())
    if (wanted !== undefined && typeof raw === 'string' && raw !== '') headers[wanted] = raw
  }
  return headers
}

// yt-dlp writes 'none' for an absent stream and leaves the field out when it does not know
function codecState (value: unknown): { known: boolean, codec: string | null } {
  const codec = stringOrNull(value)
  if (codec === null) return { known: false, codec: null }
  return codec === 'none' ? { known: true, codec: null } : { known: true, codec }
}

function streams (f: Record<string, unknown>): { vcodec: string | null, acodec: string | null, hasVideo: boolean, hasAudio: boolean } {
  const v = codecState(f.vcodec)
  const a = codecState(f.acodec)
  const ext = stringOrNull(f.ext) ?? ''
  const note = `${stringOrNull(f.resolution) ?? ''} ${stringOrNull(f.format_note) ?? ''}`.toLowerCase()
  const audioOnlyHint = AUDIO_ONLY_EXTS.has(ext) || note.includes('audio only')
  const hasVideo = v.known ? v.codec !== null : !audioOnlyHint || numberOrNull(f.height) !== null
  // unknown audio on a format that may have video: assume a progressive file unless marked video only
  const hasAudio = a.known ? a.codec !== null : !note.includes('video only')
  return { vcodec: v.codec, acodec: a.codec, hasVideo, hasAudio }
}

function parseFragments (value: unknown): MediaFragment[] | null {
  if (!Array.isArray(value)) return null
  return recordsOf(value).map(raw => {
    const fragment: MediaFragment = {}
    const url = stringOrNull(raw.url)
    const path = stringOrNull(raw.path)
    const duration = numberOrNull(raw.duration)
    if (url !== null) fragment.url = url
    if (path !== null) fragment.path = path
    if (duration !== null) fragment.duration = duration
    return fragment
  })
}

function isStoryboard (f: Record<string, unknown>): boolean {
  return f.ext === 'mhtml' || f.protocol === 'mhtml' || f.format_note === 'storyboard'
}

function guessProtocol (url: string, ext: string): string {
  if (ext === 'm3u8' || /\.m3u8(?:\?|$)/.test(url)) return 'm3u8_native'
  return url.startsWith('https:') ? 'https' : 'http'
}

export function normalizeFormat (f: Record<string, unknown>, index: number): MediaFormat | null {
  const url = stringOrNull(f.url)
  if (url === null || isStoryboard(f)) return null
  const ext = stringOrNull(f.ext) ?? 'unknown'
  const manifestUrl = stringOrNull(f.manifest_url)
  const { vcodec, acodec, hasVideo, hasAudio } = streams(f)
  const filesize = numberOrNull(f.filesize) ?? numberOrNull(f.filesize_approx)
  return {
    format_id: idOrNull(f.format_id) ?? String(index),
    url,
    manifest_url: manifestUrl,
    ext,
    protocol: stringOrNull(f.protocol) ?? guessProtocol(url, ext),
    width: numberOrNull(f.width),
    height: numberOrNull(f.height),
    fps: numberOrNull(f.fps),
    vcodec,
    acodec,
    has_audio: hasAudio,
    has_video: hasVideo,
    bitrate: numberOrNull(f.tbr),
    filesize: filesize === null ? null : Math.round(filesize),
    headers: pickHeaders(f.http_headers),
    expires_at: parseUrlExpiry(url) ?? (manifestUrl === null ? null : parseUrlExpiry(manifestUrl)),
    fragment_base_url: stringOrNull(f.fragment_base_url),
    fragments: parseFragments(f.fragments),
    language: stringOrNull(f.language),
    format_note: stringOrNull(f.format_note),
    dynamic_range: stringOrNull(f.dynamic_range)
  }
}

function parseThumbnails (info: Record<string, unknown>): MediaThumbnail[] {
  return recordsOf(info.thumbnails).flatMap(t => {
    const url = stringOrNull(t.url)
    return url === null ? [] : [{ url, width: numberOrNull(t.width), height: numberOrNull(t.height) }]
  })
}

function subtitleTracks (value: unknown, automatic: boolean): SubtitleTrack[] {
  if (!isRecord(value)) return []
  const tracks: SubtitleTrack[] = []
  for (const [lang, list] of Object.entries(value)) {
    if (tracks.length >= MAX_TRACKS) break
    if (NOT_SUBTITLES.has(lang) || !SUBTITLE_LANG.test(lang)) continue
    const offered = recordsOf(list).flatMap((e) => {
      const url = stringOrNull(e.url)
      if (url === null || !/^https?:\/\//i.test(url)) return []
      const ext = (stringOrNull(e.ext) ?? /\.([a-z0-9]{2,5})(?:[?#]|$)/i.exec(url)?.[1] ?? 'unknown').toLowerCase()
      return [{ ext, url, headers: pickHeaders(e.http_headers), name: stringOrNull(e.name) }]
    })
    if (offered.length === 0) continue
    const source = READ_ORDER.flatMap((ext) => offered.find((o) => o.ext === ext) ?? [])[0]
    tracks.push({
      lang,
      name: offered.find((o) => o.name !== null)?.name ?? null,
      automatic,
      formats: [...new Set(offered.map((o) => o.ext))],
      source: source === undefined ? null : { ext: source.ext as SubtitleInput, url: source.url, headers: source.headers }
    })
  }
  return tracks
}

function uploadDate (info: Record<string, unknown>): string | null {
  const date = /^(\d{4})(\d{2})(\d{2})$/.exec(stringOrNull(info.upload_date) ?? '')
  if (date !== null) return `${date[1]}-${date[2]}-${date[3]}`
  const timestamp = numberOrNull(info.timestamp)
  return timestamp === null ? null : new Date(timestamp * 1000).toISOString().slice(0, 10)
}

function earliest (dates: (string | null)[]): string | null {
  let best: string | null = null
  for (const date of dates) {
    if (date !== null && (best === null || date < best)) best = date
  }
  return best
}

// Image files yt-dlp may list as an item's only "formats" (a photo of a post)
const IMAGE_EXTS = new Set(['jpg', 'jpeg', 'png', 'webp', 'avif', 'heic'])
const isPlaylist = (raw: Record<string, unknown>): boolean =>
  (raw._type === 'playlist' || raw._type === 'multi_video') && raw.formats === undefined && raw.url === undefined

// One item of a multi-item post: a video (its formats), a photo (an image format, or
// no formats but a picture, as yt-dlp lists an Instagram carousel's photos), else null.
function mediaEntry (raw: Record<string, unknown>, index: number): MediaEntry | null {
  const listed = Array.isArray(raw.formats) ? recordsOf(raw.formats) : raw.url !== undefined ? [raw] : []
  const formats = listed.flatMap((f, i) => normalizeFormat(f, i) ?? [])
  const media = formats.filter((f) => !IMAGE_EXTS.has(f.ext.toLowerCase()))
  const thumbnails = parseThumbnails(raw)
  const thumbnail = stringOrNull(raw.thumbnail) ?? thumbnails.at(-1)?.url ?? null
  const base = { index, id: idOrNull(raw.id), title: stringOrNull(raw.title), duration: numberOrNull(raw.duration), thumbnail }
  if (media.length > 0) {
    return { ...base, kind: 'video', image: null, width: numberOrNull(raw.width), height: numberOrNull(raw.height), formats: media, expires_at: earliest(media.map((f) => f.expires_at)) }
  }
  const area = (x: { width: number | null, height: number | null }): number => (x.width ?? 0) * (x.height ?? 0)
  const images = formats.filter((f) => IMAGE_EXTS.has(f.ext.toLowerCase()))
  const picture = images.length > 0
    ? images.reduce((a, b) => area(b) >= area(a) ? b : a)
    : thumbnails.length > 0 ? thumbnails.reduce((a, b) => area(b) >= area(a) ? b : a) : null
  const image = picture?.url ?? (listed.length === 0 ? thumbnail : null)
  if (image === null) return null
  return { ...base, kind: 'photo', image, width: picture?.width ?? null, height: picture?.height ?? null, formats: [], expires_at: parseUrlExpiry(image) }
}

// A page holding several items comes back as a playlist even with noplaylist: its first
// video is the info, and with two items or more they are all listed (entries).
function itemsOf (raw: unknown): { info: Record<string, unknown>, entries: MediaEntry[] | null } {
  if (!isRecord(raw)) throw new YtDlpOutputError('yt-dlp output is not a JSON object')
  if (!isPlaylist(raw)) return { info: raw, entries: null }
  const listed = recordsOf(raw.entries)
  const playable = listed.filter(e => e.formats !== undefined || e.url !== undefined)
  const entries = listed.flatMap((e, i) => mediaEntry(e, i + 1) ?? [])
  const firstVideo = entries.find((e) => e.kind === 'video')
  const first = firstVideo === undefined ? playable[0] : listed[firstVideo.index - 1]
  if (first === undefined) throw new YtDlpOutputError('yt-dlp returned a playlist without playable entries')
  return { info: first, entries: entries.length >= 2 ? entries : null }
}

export function normalizeMediaInfo (raw: unknown): MediaInfo {
  const { info, entries } = itemsOf(raw)
  const id = idOrNull(info.id)
  if (id === null) throw new YtDlpOutputError('yt-dlp output has no id')
  // Extractors that find one URL may leave formats out; yt-dlp then treats the info itself as the format.
  const rawFormats = Array.isArray(info.formats) ? recordsOf(info.formats) : [info]
  const formats = rawFormats.flatMap((f, i) => normalizeFormat(f, i) ?? [])
  const thumbnails = parseThumbnails(info)
  const manual = subtitleTracks(info.subtitles, false)
  const automatic = subtitleTracks(info.automatic_captions, true)
  const out: MediaInfo = {
    id,
    title: stringOrNull(info.title) ?? id,
    description: stringOrNull(info.description),
    duration: numberOrNull(info.duration),
    uploader: stringOrNull(info.uploader) ?? stringOrNull(info.channel),
    uploader_id: idOrNull(info.uploader_id) ?? idOrNull(info.channel_id),
    upload_date: uploadDate(info),
    view_count: numberOrNull(info.view_count),
    like_count: numberOrNull(info.like_count),
    thumbnail: stringOrNull(info.thumbnail) ?? thumbnails.at(-1)?.url ?? null,
    thumbnails,
    is_live: info.is_live === true || info.live_status === 'is_live',
    webpage_url: stringOrNull(info.webpage_url),
    extractor: stringOrNull(info.extractor) ?? stringOrNull(info.extractor_key) ?? 'unknown',
    formats,
    subtitles: manual.map((t) => t.lang),
    automatic_captions: automatic.map((t) => t.lang),
    subtitle_tracks: [...manual, ...automatic],
    expires_at: earliest(formats.map(f => f.expires_at))
  }
  if (entries === null) return out
  // the cache keeps the info no longer than its first URL to expire, any item's
  out.expires_at = earliest([out.expires_at, ...entries.map((e) => e.expires_at)])
  out.entries = entries
  return out
}

function playlistEntry (e: Record<string, unknown>): PlaylistEntry | null {
  const id = idOrNull(e.id)
  const url = stringOrNull(e.url) ?? stringOrNull(e.webpage_url)
  if (id === null || url === null) return null
  return { id, title: stringOrNull(e.title), duration: numberOrNull(e.duration), url }
}

export function normalizePlaylist (raw: unknown): PlaylistInfo {
  if (!isRecord(raw)) throw new YtDlpOutputError('yt-dlp output is not a JSON object')
  const id = idOrNull(raw.id)
  if (id === null) throw new YtDlpOutputError('yt-dlp output has no id')
  if (raw._type !== 'playlist') {
    // a single video asked for as a playlist: a playlist of one
    const url = stringOrNull(raw.webpage_url) ?? stringOrNull(raw.original_url)
    const entries = url === null ? [] : [{ id, title: stringOrNull(raw.title), duration: numberOrNull(raw.duration), url }]
    return { id, title: stringOrNull(raw.title) ?? id, uploader: stringOrNull(raw.uploader), entry_count: entries.length, entries }
  }
  const entries = recordsOf(raw.entries).flatMap(e => playlistEntry(e) ?? [])
  return {
    id,
    title: stringOrNull(raw.title) ?? id,
    uploader: stringOrNull(raw.uploader) ?? stringOrNull(raw.channel),
    entry_count: numberOrNull(raw.playlist_count) ?? entries.length,
    entries
  }
}
