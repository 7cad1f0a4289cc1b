// The original YouTuberBilBiliHelper's bodies on its compat paths, with its field
// names and types (epoch-second floats where it sent time.time()); see
// ../shared/reference/seed-system.md. The v2 bodies are in the other schema files.
import { compile, nullable, object } from './compile.ts'
import type { JsonSchema } from './compile.ts'
import { formatsSchema, platformsSchema, videoInfoSchema } from './videos.ts'
import type { FormatsOut, PlatformsOut, VideoInfoOut } from './videos.ts'
import { streamInfoSchema, vrchatInfoSchema } from './streams.ts'
import type { StreamInfoOut, VrchatInfoOut } from './streams.ts'

// the original's VideoInfo without formats (its /api/info and /api/vrchat/info "info")
export interface OriginalInfo {
  id: string
  title: string
  description: string | null
  duration: number | null
  uploader: string | null
  upload_date: string | null
  view_count: number | null
  like_count: number | null
  thumbnail: string | null
}

export const originalInfoSchema = object({
  id: { type: 'string' },
  title: { type: 'string' },
  description: nullable('string'),
  duration: nullable('number'),
  uploader: nullable('string'),
  upload_date: nullable('string'),
  view_count: nullable('integer'),
  like_count: nullable('integer'),
  thumbnail: nullable('string')
})

const propsOf = (schema: JsonSchema): Record<string, JsonSchema> => schema.properties as Record<string, JsonSchema>
// what a superset keeps optional: the fields its base schema does not require
const optionalOf = (schema: JsonSchema): string[] => Object.keys(propsOf(schema)).filter((k) => !(schema.required as string[]).includes(k))

// /api/info: the original's fields (platform, video_id, info, stream_available, success) beside ours
export type CompatInfoOut = VideoInfoOut & { video_id: string, info: OriginalInfo, stream_available: boolean, success: boolean }

export const compatInfoSchema = object({
  ...propsOf(videoInfoSchema),
  video_id: { type: 'string' },
  info: originalInfoSchema,
  stream_available: { type: 'boolean' },
  success: { type: 'boolean' }
}, optionalOf(videoInfoSchema))

// /api/formats: the original's video_id, available_qualities, recommended_quality, video_info, success beside ours
export type CompatFormatsOut = FormatsOut & { video_id: string, available_qualities: string[], recommended_quality: string, video_info: OriginalInfo, success: boolean }

export const compatFormatsSchema = object({
  ...propsOf(formatsSchema),
  video_id: { type: 'string' },
  available_qualities: { type: 'array', items: { type: 'string' }, description: 'the qualities this video has (the original listed a constant set)' },
  recommended_quality: { type: 'string' },
  video_info: originalInfoSchema,
  success: { type: 'boolean' }
}, optionalOf(formatsSchema))

// /api/platforms: the original's supported_platforms, total_platforms and endpoint lists beside ours
export interface OriginalPlatform { name: string, platform_id: string, domains: string[], example_urls: string[], features: string[], notes: string | null }
export type CompatPlatformsOut = PlatformsOut & {
  supported_platforms: OriginalPlatform[]
  total_platforms: number
  simple_endpoints: string[]
  vrchat_endpoints: string[]
  vrchat_features: string[]
}

export const compatPlatformsSchema = object({
  ...propsOf(platformsSchema),
  supported_platforms: {
    type: 'array',
    items: object({
      name: { type: 'string' },
      platform_id: { type: 'string' },
      domains: { type: 'array', items: { type: 'string' } },
      example_urls: { type: 'array', items: { type: 'string' } },
      features: { type: 'array', items: { type: 'string' } },
      notes: nullable('string')
    })
  },
  total_platforms: { type: 'integer' },
  simple_endpoints: { type: 'array', items: { type: 'string' } },
  vrchat_endpoints: { type: 'array', items: { type: 'string' } },
  vrchat_features: { type: 'array', items: { type: 'string' } }
}, optionalOf(platformsSchema))

// /api/stream?format=json: the original's video_id and success beside ours
export type CompatStreamInfoOut = StreamInfoOut & { video_id: string, success: boolean }

export const compatStreamInfoSchema = object({ ...propsOf(streamInfoSchema), video_id: { type: 'string' }, success: { type: 'boolean' } }, optionalOf(streamInfoSchema))

// POST /api/v2/stream/batch with a bare array: the original's stream_data per "platform:video_id"
export interface StreamData {
  stream_url: string
  quality: string
  platform: string
  video_id: string
  video_info: { title: string, duration: number | null, thumbnail: string | null, uploader: string | null }
  extracted_at: number | null
  expires_at: number | null
  cached_at: number | null
}

export interface CompatBatchOut {
  batch_results: {
    results: Record<string, { success: boolean, data?: StreamData, error?: string }>
    total: number
    successful: number
    failed: number
  }
  processed_at: number
  total_requests: number
  valid_requests: number
}

const streamDataSchema = object({
  stream_url: { type: 'string' },
  quality: { type: 'string' },
  platform: { type: 'string' },
  video_id: { type: 'string' },
  video_info: object({ title: { type: 'string' }, duration: nullable('number'), thumbnail: nullable('string'), uploader: nullable('string') }),
  extracted_at: { ...nullable('number'), description: 'epoch seconds: when this request extracted it; null when it came from the cache' },
  expires_at: { ...nullable('number'), description: 'epoch seconds: when the cached info (and so this URL) stops being served; null when unknown' },
  cached_at: { ...nullable('number'), description: 'epoch seconds: when this request cached it; null when it was cached before' }
})

// /api/v2/stream/info/{platform}/{id}: the original's fields (expires_at and cached_at in epoch
// seconds, video_id, video_info, timestamp) beside ours; quality is the one chosen, as ours
export type CompatStreamInfoV2Out = Omit<StreamInfoOut, 'expires_at'> & Omit<StreamData, 'quality'> & { timestamp: number }

export const compatStreamInfoV2Schema = object({
  ...propsOf(streamInfoSchema),
  ...propsOf(streamDataSchema),
  timestamp: { type: 'number', description: 'epoch seconds: when this answer was made' }
}, optionalOf(streamInfoSchema))

// POST /api/v2/videos/stream: ours, with the original's video_info and its expiry format
export type CompatVideoStreamOut = StreamInfoOut & { video_info: VideoInfoOut }

export const compatVideoStreamSchema = object({
  ...propsOf(streamInfoSchema),
  expires_at: { ...nullable('string'), description: 'when the stream URL expires, "YYYY-MM-DD HH:MM:SS" in UTC (the original\'s format); null when unknown' },
  video_info: videoInfoSchema
}, optionalOf(streamInfoSchema))

export const compatBatchSchema = object({
  batch_results: object({
    results: {
      type: 'object',
      description: 'by "<platform>:<video_id>" (a repeated pair answers once)',
      additionalProperties: object({ success: { type: 'boolean' }, data: streamDataSchema, error: { type: 'string' } }, ['data', 'error'])
    },
    total: { type: 'integer' },
    successful: { type: 'integer' },
    failed: { type: 'integer' }
  }),
  processed_at: { type: 'number' },
  total_requests: { type: 'integer' },
  valid_requests: { type: 'integer' }
})

// GET /api/v2/stream/cache/stats
export interface CacheStatsOut {
  cache_stats: { total_cached_streams: number, platform_breakdown: Record<string, number>, cache_hit_rate: string, timestamp: number }
  timestamp: number
}

export const cacheStatsSchema = object({
  cache_stats: object({
    total_cached_streams: { type: 'integer', description: 'videos whose info this host\'s workers hold (not expired)' },
    platform_breakdown: { type: 'object', additionalProperties: { type: 'integer' } },
    cache_hit_rate: { type: 'string', description: 'the info cache\'s hits over lookups since start, all workers, as "NN.N%"; "N/A" before any lookup' },
    timestamp: { type: 'number' }
  }),
  timestamp: { type: 'number' }
})

// GET /api/vrchat/health
export interface VrchatHealthOut {
  status: string
  service: string
  version: string
  features: Record<'get_only_endpoints' | 'unicode_filename_support' | 'unity_player_optimization' | 'avpro_video_support' | 'filename_sanitization' | 'error_handling_enhanced', boolean>
  endpoints: { stream: string, download: string, info: string, health: string }
  supported_players: string[]
  supported_qualities: string[]
  notes: string
  checks: Record<string, string>
}

const FEATURES = ['get_only_endpoints', 'unicode_filename_support', 'unity_player_optimization', 'avpro_video_support', 'filename_sanitization', 'error_handling_enhanced']

export const vrchatHealthSchema = object({
  status: { type: 'string', enum: ['healthy', 'degraded', 'unhealthy'] },
  service: { type: 'string' },
  version: { type: 'string' },
  features: object(Object.fromEntries(FEATURES.map((f) => [f, { type: 'boolean' }]))),
  endpoints: object({ stream: { type: 'string' }, download: { type: 'string' }, info: { type: 'string' }, health: { type: 'string' } }),
  supported_players: { type: 'array', items: { type: 'string' } },
  supported_qualities: { type: 'array', items: { type: 'string' } },
  notes: { type: 'string' },
  checks: { type: 'object', description: 'the health checks VRChat playback depends on (ytdlp, ffmpeg) and their status', additionalProperties: { type: 'string' } }
})

export const serializeCompatInfo = compile<CompatInfoOut>(compatInfoSchema)
export const serializeCompatBatch = compile<CompatBatchOut>(compatBatchSchema)
export const serializeCacheStats = compile<CacheStatsOut>(cacheStatsSchema)
export const serializeVrchatHealth = compile<VrchatHealthOut>(vrchatHealthSchema)
export const serializeCompatFormats = compile<CompatFormatsOut>(compatFormatsSchema)
export const serializeCompatPlatforms = compile<CompatPlatformsOut>(compatPlatformsSchema)
export const serializeCompatStreamInfo = compile<CompatStreamInfoOut>(compatStreamInfoSchema)
export const serializeCompatStreamInfoV2 = compile<CompatStreamInfoV2Out>(compatStreamInfoV2Schema)
export const serializeCompatVideoStream = compile<CompatVideoStreamOut>(compatVideoStreamSchema)

// /api/vrchat/stream?format=json and /api/vrchat/info: ours plus the original's fields of both
export interface VrchatOriginal {
  video_id: string
  quality: string
  player_type: string
  vrchat_optimized: boolean
  unity_optimized: boolean
  notes: string
  codec_info: { avpro_compatible: boolean, unity_compatible: boolean, recommended_codecs: string }
  info: OriginalInfo
  vrchat_compatible: boolean
  unity_compatible: boolean
  compatibility_notes: string[]
  performance_notes: string[]
  recommended_quality: string
  codec_recommendations: { avpro_best: string, unity_best: string, current_selection: string }
  success: boolean
}
export type CompatVrchatOut = VrchatInfoOut & VrchatOriginal

export const compatVrchatSchema = object({
  ...propsOf(vrchatInfoSchema),
  video_id: { type: 'string' },
  quality: { type: 'string' },
  player_type: { type: 'string', description: 'the player asked for (auto, avpro, unity); `player` is the one we planned for' },
  vrchat_optimized: { type: 'boolean' },
  unity_optimized: { type: 'boolean', description: 'the answer is an MP4, which the Unity player plays' },
  notes: { type: 'string' },
  codec_info: object({ avpro_compatible: { type: 'boolean' }, unity_compatible: { type: 'boolean' }, recommended_codecs: { type: 'string' } }),
  info: originalInfoSchema,
  vrchat_compatible: { type: 'boolean' },
  unity_compatible: { type: 'boolean' },
  compatibility_notes: { type: 'array', items: { type: 'string' } },
  performance_notes: { type: 'array', items: { type: 'string' } },
  recommended_quality: { type: 'string' },
  codec_recommendations: object({ avpro_best: { type: 'string' }, unity_best: { type: 'string' }, current_selection: { type: 'string' } }),
  success: { type: 'boolean' }
}, optionalOf(vrchatInfoSchema))

export const serializeCompatVrchat = compile<CompatVrchatOut>(compatVrchatSchema)
