import { batchResults, compile, nullable, object } from './compile.ts'
import type { ItemError } from './compile.ts'
import { formatProps } from './videos.ts'
import type { FormatOut } from './videos.ts'

// A stream's track: the subset of a format's fields a player needs.
export const TRACK_FIELDS = ['format_id', 'ext', 'protocol', 'width', 'height', 'vcodec', 'acodec', 'has_audio', 'has_video'] as const
export type StreamTrackOut = Pick<FormatOut, typeof TRACK_FIELDS[number]>

export interface StreamInfoOut {
  platform: string
  id: string
  title: string
  duration: number | null
  is_live: boolean
  quality: string
  delivery: string
  reason: string
  // where to play it: our endpoint for this delivery (absolute)
  stream_url: string
  // the platform's own media URL (works only without extra headers, from an IP it is not bound to)
  direct_url: string | null
  proxy_url: string | null
  hls_url: string | null
  headers: Record<string, string>
  expires_at: string | null
  video: StreamTrackOut
  audio: StreamTrackOut | null
  // quality=audio&format=…: what the audio is transcoded to (null: served as it is)
  transcode: TranscodeOut | null
}

export interface TranscodeOut {
  format: string
  codec: string
  // kbit/s
  bitrate: number
  content_type: string
  // bytes, the Estimated-Content-Length header (null: duration unknown)
  estimated_content_length: number | null
}

const transcode = object({
  format: { type: 'string', enum: ['mp3', 'opus', 'm4a', 'wav'] },
  codec: { type: 'string' },
  bitrate: { type: 'number' },
  content_type: { type: 'string' },
  estimated_content_length: nullable('integer')
})

const track = object(Object.fromEntries(TRACK_FIELDS.map((k) => [k, formatProps[k]])))

export const streamInfoSchema = object({
  platform: { type: 'string' },
  id: { type: 'string' },
  title: { type: 'string' },
  duration: nullable('number'),
  is_live: { type: 'boolean' },
  quality: { type: 'string' },
  delivery: { type: 'string', enum: ['redirect', 'proxy', 'hls', 'remux', 'transcode'] },
  reason: { type: 'string' },
  stream_url: { type: 'string' },
  direct_url: nullable('string'),
  proxy_url: nullable('string'),
  hls_url: nullable('string'),
  headers: { type: 'object', additionalProperties: { type: 'string' } },
  expires_at: nullable('string'),
  video: track,
  audio: { anyOf: [track, { type: 'null' }] },
  transcode: { anyOf: [transcode, { type: 'null' }] }
})

export interface StreamBatchOut {
  count: number
  results: Array<{ index: number, ok: boolean, input: string, stream: StreamInfoOut | null, error: ItemError | null }>
}

export const streamBatchSchema = object({
  count: { type: 'integer' },
  results: batchResults('stream', streamInfoSchema)
})

export interface VrchatInfoOut {
  platform: string
  id: string
  title: string
  player: string
  max_height: number
  plays: string
  reason: string
  stream_url: string
  format: StreamTrackOut | null
  audio: StreamTrackOut | null
}

export const vrchatInfoSchema = object({
  platform: { type: 'string' },
  id: { type: 'string' },
  title: { type: 'string' },
  player: { type: 'string' },
  max_height: { type: 'integer' },
  plays: { type: 'string' },
  reason: { type: 'string' },
  stream_url: { type: 'string' },
  format: { anyOf: [track, { type: 'null' }] },
  audio: { anyOf: [track, { type: 'null' }] }
})

export const serializeStreamInfo = compile<StreamInfoOut>(streamInfoSchema)
export const serializeStreamBatch = compile<StreamBatchOut>(streamBatchSchema)
export const serializeVrchatInfo = compile<VrchatInfoOut>(vrchatInfoSchema)
