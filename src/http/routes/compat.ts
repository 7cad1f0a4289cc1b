// The original YouTuberBilBiliHelper's remaining compat paths, answered in its
// shapes (../shared/reference/seed-system.md): /api/info with its fields beside
// ours, the two VRChat download redirects, /api/vrchat/health and
// /api/v2/stream/cache/stats, from our real state.
import type { Request } from 'hyper-express'
import { jsonRoute } from '../route.ts'
import type { Route, ParamDoc } from '../route.ts'
import { processTime, requester } from '../context.ts'
import { queryEnum, queryString } from '../input.ts'
import { formatsOut, infoOut, targetFrom } from './videos.ts'
import { ITEM_PARAM, queryItem } from './stream-options.ts'
import { formatQuality, parseQuality } from '../../media/quality.ts'
import { safeLocation } from '../../media/stream-plan.ts'
import type { StreamService } from '../../media/service.ts'
import type { Extractor } from '../../extract/engine.ts'
import { cacheKey } from '../../extract/cache.ts'
import type { PlatformRegistry, Target } from '../../platforms/index.ts'
import type { HealthReport } from '../../schemas/system.ts'
import { serializeCacheStats, serializeCompatFormats, serializeCompatInfo, serializeCompatPlatforms, serializeVrchatHealth } from '../../schemas/compat.ts'
import type { CacheStatsOut, CompatFormatsOut, CompatInfoOut, CompatPlatformsOut, OriginalInfo, VrchatHealthOut } from '../../schemas/compat.ts'
import type { VideoInfoOut } from '../../schemas/videos.ts'

export interface CompatRouteDeps {
  registry: PlatformRegistry
  extractor: Extractor
  streams: StreamService
  publicBase: (req: Request) => string
  // the path of a signed link to an image of the target
  image?: (target: Target, url: string) => string
  health: () => HealthReport
  version: string
  // every worker's { keys, hits, misses } of its info cache (the cluster link's 'cache' collect)
  cacheState: () => Promise<unknown[]>
}

const URL_PARAM: ParamDoc = { name: 'url', in: 'query', required: true, description: 'the video page URL' }
const PLAYERS = ['avpro', 'unity', 'auto'] as const

// The original's VRChat file name rules: quotes and apostrophes removed, accents
// folded, only ASCII letters, digits, space, '-', '_' and '.', spaces to '_'.
export function vrchatFilename (name: string): string {
  const safe = name.replace(/['"\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f`\u00b4]/g, '')
    .normalize('NFD').replace(/\p{M}/gu, '')
    .replace(/[^A-Za-z0-9_ .-]/g, '')
    .replace(/ /g, '_').replace(/_+/g, '_').replace(/^_+|_+$/g, '')
  return safe === '' ? 'video' : safe
}

// the original's VideoInfo without formats, from our info (its upload_date is YYYYMMDD, ours YYYY-MM-DD)
export function originalInfo (out: VideoInfoOut): OriginalInfo {
  return {
    id: out.id,
    title: out.title,
    description: out.description,
    duration: out.duration,
    uploader: out.uploader,
    upload_date: out.upload_date === null ? null : out.upload_date.replaceAll('-', ''),
    view_count: out.view_count,
    like_count: out.like_count,
    thumbnail: out.thumbnail
  }
}

export function compatRoutes (deps: CompatRouteDeps): Route[] {
  const { registry, extractor, streams } = deps

  const info = jsonRoute({
    method: 'get',
    path: '/api/info',
    limit: 'extract',
    doc: {
      summary: 'Video info by page URL (compat): our fields plus the original\'s platform, video_id, info{…}, stream_available, success',
      tags: ['videos', 'compat'],
      params: [URL_PARAM]
    },
    serialize: serializeCompatInfo,
    handle: async ({ req, ctx }): Promise<CompatInfoOut> => {
      const target = targetFrom(registry, {}, req.query_parameters, 'video')
      const client = requester(ctx)
      const { info: media, cached } = await extractor.info(target, { client })
      const base = deps.publicBase(req)
      const image = deps.image
      const out = infoOut(target, media, cached, image === undefined ? null : (url) => base + image(target, url))
      // whether the default stream (best, auto) can be planned from these formats (the original asked yt-dlp again)
      const opts = { quality: { kind: 'best' as const }, mode: 'auto' as const, videoOnly: false, prefersHls: false, download: false, filename: null, client }
      const available = await streams.plan(target, opts).then(() => true, () => false)
      return {
        ...out,
        video_id: target.id,
        info: originalInfo(out),
        stream_available: available,
        success: true
      }
    }
  })

  const formats = jsonRoute({
    method: 'get',
    path: '/api/formats',
    limit: 'extract',
    doc: {
      summary: 'Formats by page URL (compat): ours plus the original\'s video_id, available_qualities, recommended_quality, video_info, success',
      tags: ['videos', 'compat'],
      params: [URL_PARAM]
    },
    serialize: serializeCompatFormats,
    handle: async ({ req, ctx }): Promise<CompatFormatsOut> => {
      const target = targetFrom(registry, {}, req.query_parameters, 'video')
      const { info: media, cached } = await extractor.info(target, { client: requester(ctx) })
      const base = deps.publicBase(req)
      const image = deps.image
      const out = formatsOut(target, media, cached)
      return {
        ...out,
        video_id: target.id,
        available_qualities: out.qualities.map((x) => x.quality),
        recommended_quality: out.default_quality,
        video_info: originalInfo(infoOut(target, media, cached, image === undefined ? null : (url) => base + image(target, url))),
        success: true
      }
    }
  })

  const platforms = jsonRoute({
    method: 'get',
    path: '/api/platforms',
    doc: { summary: 'Supported platforms with their domains, example URLs and features (compat: with the original\'s supported_platforms and endpoint lists)', tags: ['videos', 'compat'] },
    serialize: serializeCompatPlatforms,
    cacheMs: 60_000,
    handle: (): CompatPlatformsOut => {
      const list = registry.describe().map((p) => ({ ...p, enabled: true }))
      return {
        count: list.length,
        platforms: list,
        supported_platforms: list.map((p) => ({ name: p.display_name, platform_id: p.name, domains: p.domains, example_urls: p.example_urls, features: p.features, notes: p.notes })),
        total_platforms: list.length,
        simple_endpoints: ['/api/stream?url=', '/api/info?url=', '/api/download?url=', '/api/formats?url=', '/api/embed?url=', '/api/platforms'],
        vrchat_endpoints: ['/api/vrchat/stream?url=', '/api/vrchat/info?url=', '/api/vrchat/download?url=', '/api/vrchat/health'],
        vrchat_features: ['GET only', 'one progressive H.264/AAC MP4 at or below the quality (a remux when the platform has none)', 'HLS for live streams with AVPro', 'ASCII-safe download names with an RFC 5987 UTF-8 name']
      }
    }
  })

  // 302 to the proxy with download=true and the VRChat-safe file name, as the original did
  const download = (path: string, summary: string, quality: (q: Readonly<Record<string, unknown>>) => string): Route => ({
    method: 'get',
    path,
    limit: 'extract',
    admin: false,
    doc: {
      summary,
      tags: ['vrchat', 'compat'],
      params: [URL_PARAM,
        { name: 'quality', in: 'query', description: '720p (default), 480p, 360p, best' },
        { name: 'player', in: 'query', description: 'avpro | unity | auto (passed on)' },
        { name: 'filename', in: 'query', description: 'file name (sanitized to ASCII, .mp4 forced); default: the title\'s' },
        ITEM_PARAM],
      responses: { 302: { description: 'to /api/v2/stream/proxy/{platform}/{id}?quality=&format=mp4&download=true&filename=&player=' } }
    },
    async handle (req, res, ctx) {
      const q = req.query_parameters
      const target = targetFrom(registry, {}, q, 'video')
      const wanted = quality(q)
      const player = queryEnum(q, 'player', PLAYERS, 'auto')
      const item = queryItem(q)
      const asked = queryString(q, 'filename', { max: 200 })
      let name = asked
      if (name === undefined) {
        // the original fell back to a platform_id name when the info could not be read
        name = await extractor.info(target, { client: requester(ctx) }).then(({ info }) => info.title, () => `${target.platform.name}_${target.id}_vrchat`)
      }
      name = vrchatFilename(name)
      if (!name.endsWith('.mp4')) name += '.mp4'
      const location = `${deps.publicBase(req)}/api/v2/stream/proxy/${target.platform.name}/${encodeURIComponent(target.id)}` +
        `?quality=${encodeURIComponent(wanted)}&format=mp4&download=true&filename=${encodeURIComponent(name)}&player=${player}` +
        (item === undefined ? '' : `&item=${item}`)
      res.status(302).header('location', safeLocation(location)).header('cache-control', 'no-store').header('x-process-time', processTime(ctx)).send()
    }
  })

  // the original's mapping on /api/v2/videos/download/vrchat: best is highest; anything unknown 720p
  const V2_QUALITIES: Readonly<Record<string, string>> = { best: 'highest', '720p': '720p', '480p': '480p', '360p': '360p' }

  const vrchatHealth = jsonRoute({
    method: 'get',
    path: '/api/vrchat/health',
    doc: { summary: 'VRChat endpoints\' health (compat): the checks VRChat playback needs (yt-dlp, ffmpeg for remuxes)', tags: ['vrchat', 'compat'] },
    serialize: serializeVrchatHealth,
    handle: (): VrchatHealthOut => {
      const report = deps.health()
      const checks = { ytdlp: report.checks.ytdlp.status, ffmpeg: report.checks.ffmpeg.status, workers: report.checks.workers.status }
      const all = Object.values(checks)
      const status = checks.ytdlp === 'failed' || checks.workers === 'failed' ? 'unhealthy' : all.every((c) => c === 'ok') ? 'healthy' : 'degraded'
      return {
        status,
        service: 'VRChat Video API',
        version: deps.version,
        features: {
          get_only_endpoints: true,
          unicode_filename_support: true,
          unity_player_optimization: true,
          avpro_video_support: true,
          filename_sanitization: true,
          error_handling_enhanced: true
        },
        endpoints: {
          stream: '/api/vrchat/stream - VRChat-optimized streaming',
          download: '/api/vrchat/download - VRChat-optimized downloads',
          info: '/api/vrchat/info - Compatibility analysis',
          health: '/api/vrchat/health - This endpoint'
        },
        supported_players: [...PLAYERS],
        supported_qualities: ['720p', '480p', '360p', 'best', '1080p', '240p', '144p', 'worst'],
        notes: 'All endpoints use GET method for VRChat compatibility',
        checks
      }
    }
  })

  const INFO_PREFIX = cacheKey('info')
  const cacheStats = jsonRoute({
    method: 'get',
    path: '/api/v2/stream/cache/stats',
    doc: { summary: 'Cached videos by platform and the info cache\'s hit rate, over this host\'s workers (compat)', tags: ['streams', 'compat'] },
    serialize: serializeCacheStats,
    handle: async (): Promise<CacheStatsOut> => {
      const keys = new Set<string>()
      let hits = 0
      let lookups = 0
      for (const w of await deps.cacheState()) {
        if (typeof w !== 'object' || w === null) continue
        const { keys: k, hits: h, misses: m } = w as { keys?: unknown, hits?: unknown, misses?: unknown }
        if (Array.isArray(k)) for (const key of k) if (typeof key === 'string' && key.startsWith(INFO_PREFIX)) keys.add(key)
        if (typeof h === 'number' && typeof m === 'number') { hits += h; lookups += h + m }
      }
      const breakdown: Record<string, number> = {}
      for (const key of keys) {
        const platform = key.slice(INFO_PREFIX.length).split(':')[0] ?? 'unknown'
        breakdown[platform] = (breakdown[platform] ?? 0) + 1
      }
      const now = Date.now() / 1000
      return {
        cache_stats: {
          total_cached_streams: keys.size,
          platform_breakdown: breakdown,
          cache_hit_rate: lookups === 0 ? 'N/A' : `${(100 * hits / lookups).toFixed(1)}%`,
          timestamp: now
        },
        timestamp: now
      }
    }
  })

  return [
    info,
    formats,
    platforms,
    download('/api/vrchat/download', 'VRChat download (compat): 302 to the proxy with download=true and a VRChat-safe .mp4 name',
      (q) => formatQuality(parseQuality(queryString(q, 'quality', { max: 16 }), { kind: 'height', height: 720 }))),
    download('/api/v2/videos/download/vrchat', 'VRChat download (compat): as /api/vrchat/download; quality best means highest, unknown values 720p',
      (q) => {
        const asked = (queryString(q, 'quality', { max: 16 }) ?? 'best').toLowerCase()
        return Object.hasOwn(V2_QUALITIES, asked) ? V2_QUALITIES[asked] ?? '720p' : '720p'
      }),
    vrchatHealth,
    cacheStats
  ]
}
