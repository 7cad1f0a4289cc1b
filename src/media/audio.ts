// Audio on the fly: quality=audio&format=mp3|opus|m4a|wav&bitrate= transcodes
// the best audio format with ffmpeg and streams it as it is encoded. The job
// runs on the remuxer's machinery (remux.ts): ffmpeg reads our own signed link
// of the source through the egress's local route (http only), concurrent
// clients asking for the same (video, format, bitrate) share one ffmpeg, and
// it counts toward REMUX_MAX_CONCURRENT. Every format is one a pipe can carry:
// MP3 and Ogg Opus are streams by nature, M4A is fragmented MP4, WAV's header
// says "unknown length".
import { AppError } from '../errors.ts'
import { REMUX_INPUT_PROTOCOLS } from './remux.ts'
import type { FfmpegJob } from './remux.ts'
import type { TranscodeOut } from '../schemas/streams.ts'

export type AudioFormat = 'mp3' | 'opus' | 'm4a' | 'wav'
export const AUDIO_FORMATS: readonly AudioFormat[] = ['mp3', 'opus', 'm4a', 'wav']

// What is asked for: the format, and its bitrate in kbit/s (null for WAV, whose rate is fixed).
export interface AudioTranscode { format: AudioFormat, bitrate: number | null }

interface AudioSpec {
  encoder: string
  muxer: string
  contentType: string
  // kbit/s: the default and the accepted range; null: PCM at a fixed rate
  bitrate: { fallback: number, min: number, max: number } | null
  // the encoder's and muxer's own options
  options: readonly string[]
}

// WAV: 16-bit stereo at 48 kHz, the rate of most platforms' audio (Opus is always 48 kHz).
const WAV_KBPS = 48_000 * 2 * 16 / 1000

export const AUDIO_SPECS: Readonly<Record<AudioFormat, AudioSpec>> = Object.freeze({
  mp3: { encoder: 'libmp3lame', muxer: 'mp3', contentType: 'audio/mpeg', bitrate: { fallback: 192, min: 32, max: 320 }, options: [] },
  // Ogg Opus (.opus, RFC 7845): browsers, VLC, mpv and Android play it; constrained VBR keeps the size near the estimate
  opus: { encoder: 'libopus', muxer: 'opus', contentType: 'audio/ogg', bitrate: { fallback: 128, min: 16, max: 256 }, options: ['-vbr', 'constrained'] },
  // AAC in fragmented MP4 (a fragment a second): an empty moov first, so it plays while it is written
  m4a: {
    encoder: 'aac',
    muxer: 'ipod',
    contentType: 'audio/mp4',
    bitrate: { fallback: 160, min: 32, max: 320 },
    options: ['-movflags', '+empty_moov+default_base_moof', '-frag_duration', '1000000']
  },
  wav: { encoder: 'pcm_s16le', muxer: 'wav', contentType: 'audio/wav', bitrate: null, options: ['-ar', '48000', '-ac', '2'] }
})

const bad = (field: string, message: string): AppError => new AppError('INVALID_INPUT', message, { detail: field })

// The transcode a query asks for (format and bitrate as given; undefined: absent);
// null when format names no audio format. Bitrate in kbit/s, whole numbers only.
export function parseTranscode (format: AudioFormat | null, bitrate: string | undefined): AudioTranscode | null {
  if (format === null) {
    if (bitrate !== undefined) throw bad('bitrate', `bitrate applies to an audio transcode only: add format=${AUDIO_FORMATS.filter((f) => AUDIO_SPECS[f].bitrate !== null).join('|')}`)
    return null
  }
  const range = AUDIO_SPECS[format].bitrate
  if (range === null) {
    if (bitrate !== undefined) throw bad('bitrate', `bitrate does not apply to format=${format} (uncompressed PCM, ${WAV_KBPS} kbit/s)`)
    return { format, bitrate: null }
  }
  if (bitrate === undefined) return { format, bitrate: range.fallback }
  const kbps = /^\d{1,6}$/.test(bitrate) ? Number(bitrate) : NaN
  if (!(kbps >= range.min && kbps <= range.max)) throw bad('bitrate', `bitrate must be a whole number of kbit/s between ${range.min} and ${range.max} for format=${format}`)
  return { format, bitrate: kbps }
}

export const transcodeLabel = (t: AudioTranscode): string => t.bitrate === null ? t.format : `${t.format}@${t.bitrate}`
export const transcodeKbps = (t: AudioTranscode): number => t.bitrate ?? WAV_KBPS

// Estimated-Content-Length as cobalt sends it: the output's bitrate over the
// duration, 10 % over (container overhead; a progress bar better ends below
// 100 % than past it). null when the duration is unknown (live).
export function estimatedLength (t: AudioTranscode, durationSec: number | null): number | null {
  if (durationSec === null || !Number.isFinite(durationSec) || durationSec <= 0) return null
  return Math.floor(durationSec * transcodeKbps(t) * 1000 / 8 * 1.1)
}

// Tag values taken from platform metadata: no control characters, bounded.
const tag = (value: string): string => value.replace(/\p{Cc}/gu, ' ').trim().slice(0, 200)

// input: our own signed link of the source format; httpProxy: the egress's local route
export function transcodeArgs (input: string, t: AudioTranscode, output: string, httpProxy: string | null, meta: { title?: string | null, artist?: string | null } = {}): string[] {
  const spec = AUDIO_SPECS[t.format]
  const tags = ([['title', meta.title], ['artist', meta.artist]] as const).flatMap(([k, v]) => v === null || v === undefined || tag(v) === '' ? [] : ['-metadata', `${k}=${tag(v)}`])
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-protocol_whitelist', REMUX_INPUT_PROTOCOLS, ...(httpProxy === null ? [] : ['-http_proxy', httpProxy]), '-i', input,
    '-map', '0:a:0', '-vn', '-sn', '-dn', '-map_metadata', '-1', ...tags,
    '-c:a', spec.encoder, ...(t.bitrate === null ? [] : ['-b:a', `${t.bitrate}k`]), ...spec.options,
    '-f', spec.muxer,
    output
  ]
}

export interface TranscodeRequest {
  input: string
  transcode: AudioTranscode
  // what the output depends on besides the transcode (platform/id/format_id)
  source: string
  duration: number | null
  title: string | null
  artist: string | null
  // the Content-Disposition name without extension (null: none unless download)
  filename: string | null
  download: boolean
}

const EXTENSION: Readonly<Record<AudioFormat, string>> = { mp3: '.mp3', opus: '.opus', m4a: '.m4a', wav: '.wav' }

export function transcodeJob (r: TranscodeRequest): FfmpegJob {
  const t = r.transcode
  const ext = EXTENSION[t.format]
  const named = r.download || r.filename !== null
  const base = (r.filename ?? 'audio').replace(new RegExp(`\\${ext}$`, 'i'), '')
  const estimate = estimatedLength(t, r.duration)
  return {
    key: `${r.source}>${transcodeLabel(t)}`,
    args: (output, httpProxy) => transcodeArgs(r.input, t, output, httpProxy, { title: r.title, artist: r.artist }),
    contentType: AUDIO_SPECS[t.format].contentType,
    mode: 'transcode',
    disposition: named ? { filename: base + ext, attachment: r.download } : null,
    headers: estimate === null ? [] : [['estimated-content-length', String(estimate)]],
    purpose: 'transcoding audio',
    failure: `The audio could not be transcoded to ${t.format}`
  }
}

// What mode=json says of a transcode (schemas/streams.ts)
export function transcodeOut (t: AudioTranscode, durationSec: number | null): TranscodeOut {
  return { format: t.format, codec: AUDIO_SPECS[t.format].encoder, bitrate: transcodeKbps(t), content_type: AUDIO_SPECS[t.format].contentType, estimated_content_length: estimatedLength(t, durationSec) }
}
