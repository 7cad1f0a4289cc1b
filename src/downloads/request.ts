// Hand-written parsers for the download endpoints' JSON bodies and queries.
// Each bad field is a 400 INVALID_INPUT naming it; unknown fields are ignored
// (the original's clients send extras such as `custom_filename`).
import { AppError } from '../errors.ts'
import { DOWNLOAD_FORMATS, DOWNLOAD_QUALITIES, TASK_STATES } from './types.ts'
import type { DownloadFormat, DownloadQuality, TaskState } from './types.ts'
import { MAX_ITEM } from '../media/items.ts'

export const MAX_URL_CHARS = 2048
export const MAX_FILENAME_CHARS = 200
export const DEFAULT_BATCH_MAX = 10
export const MAX_SUBTITLE_LANGS = 10
// a language key as yt-dlp lists it; yt-dlp reads --sub-langs as regular expressions (and "all"), so nothing else passes
const SUBTITLE_LANG = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

export interface DownloadRequest {
  url: string | undefined
  platform: string | undefined
  id: string | undefined
  quality: DownloadQuality
  format: DownloadFormat
  audio_only: boolean
  filename: string | null
  // subtitle languages to embed in the file
  subtitles: string[]
  // one item of a multi-item post (from 1, as yt-dlp's --playlist-items); null: the post's video
  item: number | null
}

export interface ListQuery {
  status: TaskState | null
  limit: number
  offset: number
}

const QUALITY_ALIASES: Readonly<Record<string, DownloadQuality>> = { highest: 'best', lowest: 'worst', bestaudio: 'audio', '4k': '2160p' }

function invalid (field: string, message: string, detail: string | null = null): AppError {
  return new AppError('INVALID_INPUT', `${field} ${message}`, { detail })
}

function optionalString (body: Record<string, unknown>, field: string, label: string, maxChars: number): string | undefined {
  const value = body[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw invalid(label, 'must be a string')
  if (value.length > maxChars) throw invalid(label, `must be at most ${maxChars} characters`)
  return value.trim()
}

function subtitleLangs (value: unknown, field: string): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw invalid(field, 'must be an array of language keys', 'e.g. ["en", "de"]')
  if (value.length > MAX_SUBTITLE_LANGS) throw invalid(field, `must have at most ${MAX_SUBTITLE_LANGS} entries`)
  const langs = value.map((v: unknown) => {
    if (typeof v !== 'string' || !SUBTITLE_LANG.test(v) || v.toLowerCase() === 'all') throw invalid(field, 'must hold language keys such as en or pt-BR', `got ${JSON.stringify(v).slice(0, 40)}`)
    return v
  })
  return [...new Set(langs)]
}

function pick<T extends string> (field: string, value: string | undefined, allowed: readonly T[], aliases: Readonly<Record<string, T>> = {}): T | undefined {
  if (value === undefined || value === '') return undefined
  const v = value.toLowerCase()
  const found = allowed.find((x) => x === v) ?? aliases[v]
  if (found === undefined) throw invalid(field, `must be one of ${allowed.join(', ')}`, `got "${value.slice(0, 40)}"`)
  return found
}

export function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function parseJsonBody (text: string): unknown {
  if (text.trim() === '') throw invalid('body', 'is required', 'send a JSON object')
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new AppError('INVALID_INPUT', 'body is not valid JSON', { cause: err })
  }
}

// `prefix` names nested fields in batch items ("items[3].format").
export function parseDownloadRequest (value: unknown, prefix = '', defaults: Partial<DownloadRequest> = {}): DownloadRequest {
  const name = (field: string): string => `${prefix}${field}`
  if (!isObject(value)) throw invalid(prefix === '' ? 'body' : prefix.replace(/\.$/, ''), 'must be a JSON object')
  const s = (field: string, max: number): string | undefined => optionalString(value, field, name(field), max)
  const url = s('url', MAX_URL_CHARS)
  const platform = s('platform', 64)
  const id = s('id', 4096) ?? s('video_id', 4096)
  if ((url === undefined || url === '') && (id === undefined || id === '')) throw invalid(name('url'), 'is required', 'send url, or platform and id')
  const quality = pick(name('quality'), s('quality', 32), DOWNLOAD_QUALITIES, QUALITY_ALIASES) ?? defaults.quality
  const audioRaw = value.audio_only
  if (audioRaw !== undefined && audioRaw !== null && typeof audioRaw !== 'boolean') throw invalid(name('audio_only'), 'must be true or false')
  const audioOnly = typeof audioRaw === 'boolean' ? audioRaw : (defaults.audio_only ?? false)
  const wantsAudio = audioOnly || quality === 'audio'
  const format = pick(name('format'), s('format', 16) ?? s('format_type', 16), DOWNLOAD_FORMATS) ?? defaults.format ?? (wantsAudio ? 'm4a' : 'mp4')
  if (wantsAudio && format !== 'mp3' && format !== 'm4a') {
    throw invalid(name('format'), `must be mp3 or m4a for an audio download, got ${format}`)
  }
  const filename = s('filename', MAX_FILENAME_CHARS) ?? s('custom_filename', MAX_FILENAME_CHARS) ?? defaults.filename ?? null
  const subtitles = subtitleLangs(value.subtitles, name('subtitles'))
  const item = value.item ?? null
  if (item !== null && (typeof item !== 'number' || !Number.isSafeInteger(item) || item < 1 || item > MAX_ITEM)) {
    throw invalid(name('item'), `must be a whole number from 1 to ${MAX_ITEM}`, 'the item of a multi-item post: entries[].index of the video info')
  }
  if (subtitles.length > 0 && (wantsAudio || format === 'mp3' || format === 'm4a')) throw invalid(name('subtitles'), 'need a video format (mp4, mkv or webm)')
  return {
    url,
    platform,
    id,
    quality: quality ?? (format === 'mp3' || format === 'm4a' ? 'audio' : 'best'),
    format,
    audio_only: wantsAudio || format === 'mp3' || format === 'm4a',
    filename: filename === '' ? null : filename,
    subtitles,
    item
  }
}

// { items: [request…] } or the original's { urls: [...], quality, format, audio_only }.
export function parseBatchRequest (value: unknown, maxItems = DEFAULT_BATCH_MAX): unknown[] {
  if (!isObject(value)) throw invalid('body', 'must be a JSON object')
  const list = value.items ?? value.videos ?? value.urls
  if (!Array.isArray(list)) throw invalid('items', 'is required', 'send { "items": [{ "url": … }, …] } or { "urls": [ … ] }')
  if (list.length === 0) throw invalid('items', 'must not be empty')
  if (list.length > maxItems) throw invalid('items', `must have at most ${maxItems} entries`, `got ${list.length}`)
  const shared: Record<string, unknown> = {}
  for (const key of ['quality', 'format', 'format_type', 'audio_only', 'subtitles']) if (value[key] !== undefined) shared[key] = value[key]
  return list.map((item: unknown) => typeof item === 'string' ? { ...shared, url: item } : isObject(item) ? { ...shared, ...item } : item)
}

function queryInt (query: Readonly<Record<string, unknown>>, field: string, def: number, min: number, max: number): number {
  const raw = query[field]
  if (raw === undefined || raw === '') return def
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw)) throw invalid(field, 'must be a whole number')
  const value = Number(raw)
  if (value < min || value > max) throw invalid(field, `must be between ${min} and ${max}`)
  return value
}

export function parseListQuery (query: Readonly<Record<string, unknown>>): ListQuery {
  const raw = query.status
  if (raw !== undefined && typeof raw !== 'string') throw invalid('status', 'must be a string')
  const status = pick('status', raw, TASK_STATES) ?? null
  return { status, limit: queryInt(query, 'limit', 50, 1, 500), offset: queryInt(query, 'offset', 0, 0, 1_000_000) }
}
