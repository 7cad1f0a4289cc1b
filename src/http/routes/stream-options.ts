// What a stream request asks for (quality, mode, how split video and audio are
// combined, download name), read from its query and User-Agent: shared by the
// stream and embed routes.
import type { Request } from 'hyper-express'
import { queryString, queryEnum, queryBool, queryInt } from '../input.ts'
import { parseQuality } from '../../media/quality.ts'
import type { Quality } from '../../media/quality.ts'
import { STREAM_MODES } from '../../media/stream-plan.ts'
import type { StreamMode } from '../../media/stream-plan.ts'
import type { StreamOptions } from '../../media/service.ts'

const HLS_PLAYERS = /AppleCoreMedia|VLC|mpv|Lavf|AVProVideo|NSPlayer|ExoPlayer|(?:Version\/[\d.]+.*Safari)/i

export function streamOptions (req: Request, defaults: { mode?: StreamMode, quality?: Quality, download?: boolean } = {}): StreamOptions {
  const q = req.query_parameters
  const quality = parseQuality(queryString(q, 'quality', { max: 32 }), defaults.quality ?? { kind: 'best' })
  // The simple API's `format` was redirect|proxy|json (a mode); ours is hls|mp4.
  const format = queryEnum(q, 'format', ['hls', 'mp4', 'auto', 'redirect', 'proxy', 'json'] as const, 'auto')
  const legacyMode = format === 'redirect' || format === 'proxy' || format === 'json' ? format : undefined
  const mode = queryEnum(q, 'mode', STREAM_MODES, legacyMode ?? defaults.mode ?? 'auto')
  const ua = req.headers['user-agent'] ?? ''
  const bandwidth = queryInt(q, 'bandwidth', { min: 1, max: 10_000_000, fallback: 0 })
  return {
    quality,
    mode,
    videoOnly: queryBool(q, 'video_only'),
    prefersHls: format === 'hls' || (format === 'auto' && HLS_PLAYERS.test(ua)),
    download: queryBool(q, 'download', defaults.download ?? false),
    filename: queryString(q, 'filename', { max: 200 }) ?? null,
    auto: { bandwidthKbps: bandwidth === 0 ? undefined : bandwidth, userAgent: ua, device: queryString(q, 'device', { max: 16 }) }
  }
}
