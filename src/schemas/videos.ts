import { batchResults, compile, nullable, object } from './compile.ts'
import type { ItemError } from './compile.ts'
import type { JsonSchema } from './compile.ts'
import type { MediaEntry, MediaFormat } from '../../workers/protocol.ts'

// A format as clients see it: a view of the one format shape (workers/protocol.ts),
// without URLs and headers (those stay server-side), plus whether it needs our headers.
export type FormatOut = Pick<MediaFormat, 'format_id' | 'ext' | 'protocol' | 'width' | 'height' | 'fps' | 'vcodec' |
'acodec' | 'has_audio' | 'has_video' | 'bitrate' | 'filesize' | 'format_note' | 'language'> & {
  needs_headers: boolean
}

export const formatProps: Readonly<Record<keyof FormatOut, JsonSchema>> = {
  format_id: { type: 'string' },
  ext: { type: 'string' },
  protocol: { type: 'string' },
  width: nullable('integer'),
  height: nullable('integer'),
  fps: nullable('number'),
  vcodec: nullable('string'),
  acodec: nullable('string'),
  has_audio: { type: 'boolean' },
  has_video: { type: 'boolean' },
  bitrate: nullable('number'),
  filesize: nullable('integer'),
  format_note: nullable('string'),
  language: nullable('string'),
  needs_headers: { type: 'boolean' }
}

export const formatSchema = object(formatProps)

const thumbnailSchema = object({ url: { type: 'string' }, width: nullable('integer'), height: nullable('integer') })

// One item of a multi-item post (item=N on the stream, embed, VRChat and download routes):
// the extraction's entry, its formats as the info's are sent
export type EntryOut = Omit<MediaEntry, 'formats' | 'expires_at'> & { formats: FormatOut[] }

export const entrySchema = object({
  index: { type: 'integer', minimum: 1, description: 'the item number: item=N on the stream, embed, VRChat and download routes' },
  kind: { type: 'string', enum: ['video', 'photo'] },
  id: nullable('string'),
  title: nullable('string'),
  duration: nullable('number'),
  thumbnail: nullable('string'),
  image: { type: ['string', 'null'], description: 'a photo\'s image, through this server\'s signed image link (null for a video)' },
  width: nullable('integer'),
  height: nullable('integer'),
  formats: { type: 'array', items: formatSchema, description: 'the video\'s formats (empty for a photo)' }
})

export interface VideoInfoOut {
  id: string
  platform: string
  url: string
  title: string
  description: string | null
  duration: number | null
  uploader: string | null
  uploader_id: string | null
  upload_date: string | null
  view_count: number | null
  like_count: number | null
  thumbnail: string | null
  thumbnails: Array<{ url: string, width: number | null, height: number | null }>
  is_live: boolean
  webpage_url: string | null
  formats: FormatOut[]
  subtitles: string[]
  automatic_captions: string[]
  expires_at: string | null
  // only when the post has several items (absent for a single video)
  entries?: EntryOut[]
  cached: boolean
}

const videoInfoProps: Record<string, JsonSchema> = {
  id: { type: 'string' },
  platform: { type: 'string' },
  url: { type: 'string' },
  title: { type: 'string' },
  description: nullable('string'),
  duration: nullable('number'),
  uploader: nullable('string'),
  uploader_id: nullable('string'),
  upload_date: nullable('string'),
  view_count: nullable('integer'),
  like_count: nullable('integer'),
  thumbnail: nullable('string'),
  thumbnails: { type: 'array', items: thumbnailSchema },
  is_live: { type: 'boolean' },
  webpage_url: nullable('string'),
  formats: { type: 'array', items: formatSchema },
  subtitles: { type: 'array', items: { type: 'string' } },
  automatic_captions: { type: 'array', items: { type: 'string' } },
  expires_at: nullable('string'),
  entries: { type: 'array', items: entrySchema, description: 'only for a post or page of several items (X, Instagram, a page of videos): each video or photo, in order; the other fields are then those of its first video' },
  cached: { type: 'boolean' }
}
export const videoInfoSchema = object(videoInfoProps, ['entries'])

export interface QualityOut { quality: string, height: number | null, serving: string }

export interface FormatsOut {
  id: string
  platform: string
  title: string
  formats: FormatOut[]
  qualities: QualityOut[]
  default_quality: string
  expires_at: string | null
  cached: boolean
}

export const formatsSchema = object({
  id: { type: 'string' },
  platform: { type: 'string' },
  title: { type: 'string' },
  formats: { type: 'array', items: formatSchema },
  qualities: { type: 'array', items: object({ quality: { type: 'string' }, height: nullable('integer'), serving: { type: 'string', enum: ['direct', 'split', 'video_only', 'hls', 'remux'] } }) },
  default_quality: { type: 'string' },
  expires_at: nullable('string'),
  cached: { type: 'boolean' }
})

export interface PlaylistOut {
  id: string
  platform: string
  title: string
  uploader: string | null
  entry_count: number
  page: number
  page_size: number
  entries: Array<{ id: string, title: string | null, duration: number | null, url: string }>
  cached: boolean
}

export const playlistSchema = object({
  id: { type: 'string' },
  platform: { type: 'string' },
  title: { type: 'string' },
  uploader: nullable('string'),
  entry_count: { type: 'integer' },
  page: { type: 'integer' },
  page_size: { type: 'integer' },
  entries: { type: 'array', items: object({ id: { type: 'string' }, title: nullable('string'), duration: nullable('number'), url: { type: 'string' } }) },
  cached: { type: 'boolean' }
})

export interface BatchItemOut {
  index: number
  ok: boolean
  input: string
  info: VideoInfoOut | null
  error: ItemError | null
}

export interface BatchOut { count: number, succeeded: number, failed: number, results: BatchItemOut[] }

export const batchSchema = object({
  count: { type: 'integer' },
  succeeded: { type: 'integer' },
  failed: { type: 'integer' },
  results: batchResults('info', videoInfoSchema)
})

export interface PlatformOut {
  name: string
  aliases: string[]
  display_name: string
  domains: string[]
  example_urls: string[]
  features: string[]
  notes: string | null
  enabled: boolean
}

export interface PlatformsOut { platforms: PlatformOut[], count: number }

export const platformsSchema = object({
  count: { type: 'integer' },
  platforms: {
    type: 'array',
    items: object({
      name: { type: 'string' },
      aliases: { type: 'array', items: { type: 'string' } },
      display_name: { type: 'string' },
      domains: { type: 'array', items: { type: 'string' } },
      example_urls: { type: 'array', items: { type: 'string' } },
      features: { type: 'array', items: { type: 'string' } },
      notes: nullable('string'),
      enabled: { type: 'boolean' }
    })
  }
})

export const serializeVideoInfo = compile<VideoInfoOut>(videoInfoSchema)
export const serializeFormats = compile<FormatsOut>(formatsSchema)
export const serializePlaylist = compile<PlaylistOut>(playlistSchema)
export const serializeBatch = compile<BatchOut>(batchSchema)
export const serializePlatforms = compile<PlatformsOut>(platformsSchema)
