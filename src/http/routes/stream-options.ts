// What a stream request asks for (quality, mode, how split video and audio are
// combined, download name), read from its query and User-Agent: shared by the
// stream and embed routes.
import type { Request } from 'hyper-express'
import { AppError } from '../../errors.ts'
import { queryString, queryEnum, queryBool, queryInt } from '../input.ts'
import { parseStartTime } from '../../media/start-time.ts'
import { parseQuality } from '../../media/quality.ts'
import type { Quality } from '../../media/quality.ts'
import { STREAM_MODES } from '../../media/stream-plan.ts'
import type { StreamMode } from '../../media/stream-plan.ts'
import type { StreamOptions } from '../../media/service.ts'
import { MAX_ITEM } from '../../media/items.ts'
import { AUDIO_FORMATS, parseTranscode } from '../../media/audio.ts'
import type { AudioFormat, AudioTranscode } from '../../media/audio.ts'

const HLS_PLAYERS = /AppleCoreMedia|VLC|mpv|Lavf|AVProVideo|NSPlayer|ExoPlayer|(?:Version\/[\d.]+.*Safari)/i

// What the query alone says (every field checked, as streamOptions does): the
// stream routes' fast lane remembers it per raw query string.
export interface StreamQuery {
  quality: Quality
  mode: StreamMode
  videoOnly: boolean
  format: 'hls' | 'mp4' | 'auto' | 'redirect' | 'proxy' | 'json' | AudioFormat
  // format=mp3|opus|m4a|wav (with quality=audio): the audio transcoded on the fly
  transcode: AudioTranscode | null
  download: boolean
  filename: string | null
  bandwidth: number
  device: string | undefined
  // item=N of a multi-item post
  item: number | undefined
  // t=: where a remuxed stream starts, in seconds (0: the beginning)
  start: number
}

// item=N (from 1): one item of a multi-item post; undefined when not asked
export function queryItem (q: Readonly<Record<string, unknown>>): number | undefined {
  const n = queryInt(q, 'item', { min: 1, max: MAX_ITEM, fallback: 0 })
  return n === 0 ? undefined : n
}

export const ITEM_PARAM = {
  name: 'item',
  in: 'query' as const,
  description: `one item of a multi-item post (an X or Instagram post, a page of several videos): its number, from 1, as entries[].index of the video info and yt-dlp's --playlist-items count (1 to ${MAX_ITEM}); a single video is item 1. Past the post's items: 404 ITEM_NOT_FOUND; a photo: 422 ITEM_IS_PHOTO (its image is entries[].image)`,
  schema: { type: 'integer', minimum: 1, maximum: MAX_ITEM }
}

export function parseStreamQuery (q: Readonly<Record<string, unknown>>, defaults: { mode?: StreamMode, quality?: Quality, download?: boolean } = {}): StreamQuery {
  // The simple API's `format` was redirect|proxy|json (a mode); ours is hls|mp4, or an audio format.
  const format = queryEnum(q, 'format', ['hls', 'mp4', 'auto', 'redirect', 'proxy', 'json', ...AUDIO_FORMATS] as const, 'auto')
  const transcode = parseTranscode(AUDIO_FORMATS.find((f) => f === format) ?? null, queryString(q, 'bitrate', { max: 16 }))
  // an audio format alone means quality=audio
  const quality = parseQuality(queryString(q, 'quality', { max: 32 }), defaults.quality ?? (transcode === null ? { kind: 'best' } : { kind: 'audio' }))
  if (transcode !== null && quality.kind !== 'audio') {
    throw new AppError('INVALID_INPUT', `format=${format} transcodes the audio alone: it takes quality=audio`, { detail: 'quality' })
  }
  const legacyMode = format === 'redirect' || format === 'proxy' || format === 'json' ? format : undefined
  const mode = queryEnum(q, 'mode', STREAM_MODES, legacyMode ?? defaults.mode ?? 'auto')
  const bandwidth = queryInt(q, 'bandwidth', { min: 1, max: 10_000_000, fallback: 0 })
  return {
    quality,
    mode,
    videoOnly: queryBool(q, 'video_only'),
    format,
    transcode,
    download: queryBool(q, 'download', defaults.download ?? false),
    filename: queryString(q, 'filename', { max: 200 }) ?? null,
    bandwidth,
    device: queryString(q, 'device', { max: 16 }),
    item: queryItem(q),
    start: parseStartTime(queryString(q, 't', { max: 32 }))
  }
}

// Whether the client wants HLS where video and audio are separate: it asks, or its User-Agent is an HLS player.
export const prefersHls = (s: StreamQuery, ua: string): boolean => s.format === 'hls' || (s.format === 'auto' && HLS_PLAYERS.test(ua))

// The options of a request: its query, and the User-Agent (HLS players, quality=auto).
export function withAgent (s: StreamQuery, ua: string): StreamOptions {
  return {
    quality: s.quality,
    mode: s.mode,
    videoOnly: s.videoOnly,
    prefersHls: prefersHls(s, ua),
    mp4: s.format === 'mp4',
    download: s.download,
    filename: s.filename,
    transcode: s.transcode,
    startSec: s.start,
    auto: { bandwidthKbps: s.bandwidth === 0 ? undefined : s.bandwidth, userAgent: ua, device: s.device },
    ...(s.item === undefined ? {} : { item: s.item })
  }
}

export function streamOptions (req: Request, defaults: { mode?: StreamMode, quality?: Quality, download?: boolean } = {}): StreamOptions {
  return withAgent(parseStreamQuery(req.query_parameters, defaults), req.headers['user-agent'] ?? '')
}
