// POST /api/v2/stream/batch with the original's bare JSON array of
// {platform, video_id, quality?}: items without both keys are skipped, the
// rest resolved concurrently, answered in the original's shape (results by
// "platform:video_id", epoch-second times). At most BATCH_MAX items (the
// original allowed 50; ours is the operator's batch bound).
import type { Request } from 'hyper-express'
import { AppError } from '../../errors.ts'
import type { RequestContext } from '../context.ts'
import { requester } from '../context.ts'
import { streamOptions } from './stream-options.ts'
import { parseQuality } from '../../media/quality.ts'
import type { StreamService } from '../../media/service.ts'
import type { Extractor } from '../../extract/engine.ts'
import type { PlatformRegistry, Target } from '../../platforms/index.ts'
import type { JsonSchema, Serializer } from '../../schemas/compile.ts'
import { serializeCompatBatch } from '../../schemas/compat.ts'
import type { CompatBatchOut, StreamData } from '../../schemas/compat.ts'
import type { StreamInfoOut } from '../../schemas/streams.ts'
import type { StreamOptions } from '../../media/service.ts'

export interface CompatBatchDeps {
  req: Request
  ctx: RequestContext
  streams: StreamService
  extractor: Extractor
  registry: PlatformRegistry
  batchMax: number
  base: string
  image?: (target: Target, url: string) => string
}

export const isCompatBatch = (v: unknown): v is CompatBatchOut => typeof v === 'object' && v !== null && 'batch_results' in v

const seconds = (ms: number): number => ms / 1000

// One video's stream as the original's stream data (epoch-second times), and our description of it
export async function originalStream (d: Pick<CompatBatchDeps, 'streams' | 'extractor' | 'base' | 'image'>, target: Target, opts: StreamOptions, quality: string): Promise<{ data: StreamData, described: StreamInfoOut }> {
  const startedMs = Date.now()
  const { info, cached, entry } = await d.extractor.info(target, { client: opts.client })
  const { plan } = await d.streams.plan(target, opts)
  const described = d.streams.describe(d.base, target, info, plan, opts)
  const mediaExpiry = described.expires_at === null ? NaN : Date.parse(described.expires_at)
  const thumb = info.thumbnail === null ? null : d.image === undefined ? info.thumbnail : d.base + d.image(target, info.thumbnail)
  const data: StreamData = {
    stream_url: described.stream_url,
    quality,
    platform: target.platform.name,
    video_id: target.id,
    video_info: { title: info.title, duration: info.duration, thumbnail: thumb, uploader: info.uploader },
    extracted_at: cached ? null : seconds(startedMs),
    expires_at: entry !== null ? seconds(entry.expiresAt) : Number.isNaN(mediaExpiry) ? null : seconds(mediaExpiry),
    cached_at: !cached && entry !== null ? seconds(Date.now()) : null
  }
  return { data, described }
}

// a v2 batch body or the original's, each by its own schema (both in /openapi.json)
function serializer<T> (v2: Serializer<T>): Serializer<T | CompatBatchOut> {
  return Object.assign((v: T | CompatBatchOut) => isCompatBatch(v) ? serializeCompatBatch(v) : v2(v), {
    schema: { oneOf: [v2.schema, serializeCompatBatch.schema] }
  })
}

function bodySchema (max: number): JsonSchema {
  return {
    type: 'array',
    maxItems: max,
    description: 'the original\'s form: items without platform and video_id are skipped',
    items: { type: 'object', properties: { platform: { type: 'string' }, video_id: { type: 'string' }, quality: { type: 'string' } } }
  }
}

const text = (v: unknown): string | null => typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null

async function handle (items: unknown[], d: CompatBatchDeps): Promise<CompatBatchOut> {
  if (items.length > d.batchMax) throw new AppError('INVALID_INPUT', `Too many requests (max ${d.batchMax})`, { detail: 'body' })
  const valid: Array<{ platform: string, videoId: string, quality: string }> = []
  for (const item of items) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) continue
    const f = item as Record<string, unknown>
    const platform = text(f.platform)
    const videoId = text(f.video_id)
    if (platform === null || videoId === null) continue
    valid.push({ platform: platform.slice(0, 64), videoId: videoId.slice(0, 4096), quality: (text(f.quality) ?? 'best').slice(0, 32) })
  }
  if (valid.length === 0) throw new AppError('INVALID_INPUT', 'No valid requests provided', { detail: 'each item needs platform and video_id' })
  // every item counts: against the rate limit, and against the client's extraction cap
  await d.ctx.charge(valid.length - 1)
  const client = requester(d.ctx)
  d.streams.admit(client, valid.length)
  const answers = await Promise.all(valid.map(async ({ platform, videoId, quality }) => {
    const key = `${platform}:${videoId}`
    try {
      const target = d.registry.resolve({ platform, id: videoId, kind: 'video' })
      const opts = { ...streamOptions(d.req), mode: 'json' as const, quality: parseQuality(quality), client }
      const { data } = await originalStream(d, target, opts, quality)
      return [key, { success: true, data }] as const
    } catch (err) {
      return [key, { success: false, error: err instanceof AppError ? `${err.message}${err.detail === null ? '' : `: ${err.detail}`}` : 'Internal error' }] as const
    }
  }))
  // as the original's dict: a repeated key keeps its last answer
  const results: CompatBatchOut['batch_results']['results'] = Object.create(null) as CompatBatchOut['batch_results']['results']
  for (const [key, value] of answers) results[key] = value
  const values = Object.values(results)
  const successful = values.filter((r) => r.success).length
  return {
    batch_results: { results, total: items.length, successful, failed: values.length - successful },
    processed_at: seconds(Date.now()),
    total_requests: items.length,
    valid_requests: valid.length
  }
}

export const compatBatch = { serializer, bodySchema, handle }
