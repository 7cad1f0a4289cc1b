// yt-dlp arguments for one download: the format selector and sort built from
// quality + format, the container/audio conversion, and the fixed safety options.
import { AUDIO_FORMATS } from './types.ts'
import type { DownloadFormat, DownloadQuality } from './types.ts'

export interface DownloadArgsInput {
  url: string
  quality: DownloadQuality
  format: DownloadFormat
  audioOnly: boolean
  // the template yt-dlp writes to, inside the task's own temp folder
  outputTemplate: string
  cookiesFile: string | null
  ffmpegPath: string | null
  maxFileBytes: number | null
  socketTimeoutSec: number
  // the operator's settings (proxy, JavaScript runtime, cache folder, extractor args) as options
  settingsArgs?: readonly string[]
  // --no-quiet: yt-dlp's messages on stdout (--print implies --quiet), so a run that ends
  // without a file can say why; yt-dlp before 2023.06 does not take the option
  messages?: boolean
  // subtitle languages to embed (validated language keys: yt-dlp reads them as regular expressions)
  subtitles?: readonly string[]
  // one item of a multi-item post: yt-dlp's --playlist-items (a whole number, checked by the request)
  item?: number
}

export const NO_QUIET = '--no-quiet'

// One progress line per update, fields separated by a tab; NA when unknown.
export const PROGRESS_PREFIX = 'vgp'
export const FORMATS_PREFIX = 'vgfmt'
export const DONE_PREFIX = 'vgdone'
const PROGRESS_FIELDS = ['status', 'downloaded_bytes', 'total_bytes', 'total_bytes_estimate', 'speed', 'eta', 'fragment_index', 'fragment_count']
export const PROGRESS_TEMPLATE = `download:${PROGRESS_PREFIX}\t${PROGRESS_FIELDS.map((f) => `%(progress.${f})s`).join('\t')}\t%(info.format_id)s`

export function isAudioRequest (quality: DownloadQuality, format: DownloadFormat, audioOnly: boolean): boolean {
  return audioOnly || quality === 'audio' || AUDIO_FORMATS.includes(format)
}

function heightOf (quality: DownloadQuality): number | null {
  const m = /^(\d+)p$/.exec(quality)
  return m === null ? null : Number(m[1])
}

// -f picks the shape (split video+audio, else one file); -S orders the candidates.
// `res:N` prefers the largest resolution at or below N and falls back to the
// smallest above it, which is what a height quality means in this API.
export function buildFormatSelection (quality: DownloadQuality, format: DownloadFormat, audioOnly: boolean): string[] {
  if (isAudioRequest(quality, format, audioOnly)) {
    const sort = format === 'mp3' ? [] : ['-S', 'aext:m4a']
    return ['-f', 'ba/b', ...sort]
  }
  const ext: string[] = format === 'mp4' ? ['ext:mp4:m4a'] : format === 'webm' ? ['ext:webm:webm'] : []
  if (quality === 'worst') return ['-f', 'wv*+wa/w', ...(ext.length > 0 ? ['-S', ext.join(',')] : [])]
  const height = heightOf(quality)
  const sort = [...(height === null ? [] : [`res:${height}`]), ...ext]
  return ['-f', 'bv*+ba/b', ...(sort.length > 0 ? ['-S', sort.join(',')] : [])]
}

// Uploaded subtitles, else automatic captions, of each language, embedded by ffmpeg:
// mov_text in mp4, as they are in mkv; webm takes WebVTT only.
export function subtitleArgs (langs: readonly string[], format: DownloadFormat): string[] {
  if (langs.length === 0) return []
  return ['--write-subs', '--write-auto-subs', '--sub-langs', langs.join(','), '--sub-format', 'vtt/srt/ass/best',
    ...(format === 'webm' ? ['--convert-subs', 'vtt'] : []), '--embed-subs']
}

function conversion (quality: DownloadQuality, format: DownloadFormat, audioOnly: boolean): string[] {
  if (isAudioRequest(quality, format, audioOnly)) return ['-x', '--audio-format', format === 'mp3' ? 'mp3' : 'm4a']
  return ['--merge-output-format', format, '--remux-video', format]
}

export function buildDownloadArgs (input: DownloadArgsInput): string[] {
  const args = [
    '--ignore-config',
    '--no-playlist',
    // the file's age is its download time: retention counts from there
    '--no-mtime',
    '--no-warnings',
    '--newline',
    '--progress',
    // yt-dlp otherwise grows its read block to several MB and reports progress once per block
    '--buffer-size', '256K',
    '--no-resize-buffer',
    '--progress-template', PROGRESS_TEMPLATE,
    '--print', `before_dl:${FORMATS_PREFIX}\t%(format_id)s\t%(requested_formats.:.format_id)j`,
    '--print', `after_move:${DONE_PREFIX}\t%(filepath)j\t%(title)j`,
    '--socket-timeout', String(input.socketTimeoutSec),
    '--retries', '3',
    '--fragment-retries', '3',
    '-o', input.outputTemplate,
    ...buildFormatSelection(input.quality, input.format, input.audioOnly),
    ...conversion(input.quality, input.format, input.audioOnly),
    ...(isAudioRequest(input.quality, input.format, input.audioOnly) ? [] : subtitleArgs(input.subtitles ?? [], input.format))
  ]
  if (input.item !== undefined) args.push('--playlist-items', String(Math.floor(input.item)))
  if (input.maxFileBytes !== null) args.push('--max-filesize', String(Math.max(1, Math.floor(input.maxFileBytes))))
  if (input.ffmpegPath !== null) args.push('--ffmpeg-location', input.ffmpegPath)
  if (input.cookiesFile !== null) args.push('--cookies', input.cookiesFile)
  if (input.settingsArgs !== undefined) args.push(...input.settingsArgs)
  if (input.messages === true) args.push(NO_QUIET)
  // Security: everything after `--` is the URL, never an option (yt-dlp has --exec).
  args.push('--', input.url)
  return args
}
