// Subtitle tracks of a video: the list (from the extracted info) and one track
// converted to WebVTT or SubRip. The track is fetched through the byte proxy's
// upstream client (the egress policy, the operator's proxy, the platform's
// media headers), bounded in size, converted in a pool thread from its parsed
// form (workers/subtitles/), and the result kept a while per worker. A track
// URL that has expired (403/404/410 on a cached info) is re-extracted once.
import { AppError } from '../errors.ts'
import { unwrapTask } from '../extract/pool.ts'
import type { ExtractionPool } from '../extract/pool.ts'
import type { Extractor } from '../extract/engine.ts'
import type { Target } from '../platforms/index.ts'
import { createByteBudget, createByteCache, createFlights, fetchSmall } from '../proxy/small-fetch.ts'
import type { UpstreamClient } from '../proxy/upstream.ts'
import type { MediaInfo, SubtitleTrack } from '../../workers/protocol.ts'

export const SUBTITLE_FORMATS = ['vtt', 'srt'] as const
export type SubtitleFormat = typeof SUBTITLE_FORMATS[number]
export const SUBTITLE_TYPES: Readonly<Record<SubtitleFormat, string>> = { vtt: 'text/vtt; charset=utf-8', srt: 'application/x-subrip; charset=utf-8' }

export const MAX_SUBTITLE_BYTES = 10 * 1024 * 1024
const SUBTITLE_BUDGET_BYTES = 32 * 1024 * 1024
const SUBTITLE_CACHE_BYTES = 16 * 1024 * 1024
const SUBTITLE_CACHE_MS = 10 * 60 * 1000
const SUBTITLE_READ_MS = 30_000
const EXPIRED = new Set([403, 404, 410])

export interface SubtitleRequest {
  lang: string
  // null: the manual track when there is one, else the automatic one
  automatic: boolean | null
  format: SubtitleFormat
}

export interface SubtitleService {
  // the extracted info and its tracks
  list: (target: Target) => Promise<{ info: MediaInfo, cached: boolean }>
  fetch: (target: Target, want: SubtitleRequest) => Promise<{ text: string, info: MediaInfo, track: SubtitleTrack }>
}

export interface SubtitleDeps {
  extractor: Extractor
  upstream: UpstreamClient
  pool: ExtractionPool
  allowHosts: readonly string[]
}

export function pickTrack (tracks: readonly SubtitleTrack[], lang: string, automatic: boolean | null): SubtitleTrack | undefined {
  const same = tracks.filter((t) => t.lang === lang && (automatic === null || t.automatic === automatic))
  return same.find((t) => !t.automatic) ?? same[0]
}

function missing (info: MediaInfo, want: SubtitleRequest): AppError {
  const langs = info.subtitle_tracks.filter((t) => want.automatic === null || t.automatic === want.automatic).map((t) => t.lang)
  const listed = [...new Set(langs)]
  const kind = want.automatic === true ? 'automatic captions' : want.automatic === false ? 'subtitles' : 'subtitles or automatic captions'
  return new AppError('SUBTITLE_NOT_FOUND', `The video has no ${kind} in "${want.lang.slice(0, 64)}"`, {
    detail: listed.length === 0 ? `the video has no ${kind}` : `available: ${listed.slice(0, 40).join(', ')}${listed.length > 40 ? ', …' : ''}`
  })
}

interface Converted { text: string, size: number }

export function createSubtitleService (deps: SubtitleDeps): SubtitleService {
  const budget = createByteBudget(SUBTITLE_BUDGET_BYTES)
  const cache = createByteCache<Converted>({ maxBytes: SUBTITLE_CACHE_BYTES, ttlMs: SUBTITLE_CACHE_MS })
  const flights = createFlights<Converted>()

  const trackOf = (info: MediaInfo, want: SubtitleRequest): SubtitleTrack => {
    const track = pickTrack(info.subtitle_tracks, want.lang, want.automatic)
    if (track === undefined) throw missing(info, want)
    if (track.source === null) {
      throw new AppError('SUBTITLE_UNSUPPORTED', undefined, { detail: `offered as ${track.formats.join(', ').slice(0, 200)}; this server reads vtt, srt and json3` })
    }
    return track
  }

  async function convert (target: Target, want: SubtitleRequest): Promise<Converted> {
    let { info, cached } = await deps.extractor.info(target)
    for (;;) {
      const track = trackOf(info, want)
      const source = track.source
      if (source === null) throw new AppError('INTERNAL')
      const answer = await fetchSmall(deps.upstream, budget, {
        url: source.url,
        headers: { ...target.platform.mediaHeaders, ...source.headers },
        allow: deps.allowHosts,
        platform: target.platform.name,
        maxBytes: MAX_SUBTITLE_BYTES,
        timeoutMs: SUBTITLE_READ_MS,
        what: 'subtitle track'
      })
      if (EXPIRED.has(answer.status) && cached) {
        ({ info, cached } = await deps.extractor.info(target, { fresh: true }))
        continue
      }
      if (answer.status !== 200) throw new AppError('UPSTREAM_ERROR', `The subtitle server answered ${answer.status}`)
      const result = await deps.pool.run('subtitles', { bytes: answer.body, from: source.ext, to: want.format })
      const text = unwrapTask(result, 'UPSTREAM_ERROR', 'The subtitle track could not be read')
      return { text, size: Buffer.byteLength(text) }
    }
  }

  return {
    async list (target) {
      return await deps.extractor.info(target)
    },
    async fetch (target, want) {
      const { info } = await deps.extractor.info(target)
      const track = trackOf(info, want)
      const key = `${target.platform.name}/${target.id}/${track.lang}/${track.automatic ? 'auto' : 'manual'}/${want.format}`
      const exact = { ...want, automatic: track.automatic }
      const converted = cache.get(key) ?? await flights(key, async () => {
        const out = await convert(target, exact)
        cache.set(key, out)
        return out
      })
      return { text: converted.text, info, track }
    }
  }
}
