// Video metadata endpoints: info, formats, playlists, batch, and the compat
// forms by page URL. Thin: parse → extractor → serialize.
import type { Request } from 'hyper-express'
import { AppError, itemError } from '../../errors.ts'
import { jsonRoute, JSON_TYPE } from '../route.ts'
import { requester } from '../context.ts'
import type { Route, ParamDoc, PeekAnswer, PeekInput } from '../route.ts'
import { parse as parseQuery } from 'node:querystring'
import { randomBytes } from 'node:crypto'
import { remember } from '../../guard/memo.ts'
import { pathParam, queryString, queryInt, jsonBody, bodyArray, bodyString } from '../input.ts'
import { serializeVideoInfo, serializeFormats, serializePlaylist, serializeBatch } from '../../schemas/videos.ts'
import type { VideoInfoOut, FormatOut, FormatsOut, BatchItemOut, EntryOut } from '../../schemas/videos.ts'
import { availableQualities } from '../../media/quality.ts'
import { qualityServing } from '../../media/stream-plan.ts'
import type { Extractor } from '../../extract/engine.ts'
import type { CacheEntry } from '../../extract/cache.ts'
import type { PlatformRegistry, Target } from '../../platforms/index.ts'
import type { MediaInfo, MediaFormat, MediaEntry } from '../../../workers/protocol.ts'

// Thumbnails as this server's signed image links (absolute, on the request's public base)
export interface InfoImages {
  base: (req: Request) => string
  // the base for the uWS lane's peek; null: let the pipeline answer
  peekBase: (header: (name: string) => string) => string | null
  // the path of a signed link to an image of the target
  link: (target: Target, url: string) => string
}

export interface VideoRouteDeps {
  registry: PlatformRegistry
  extractor: Extractor
  batchMax: number
  images?: InfoImages
}

// a request as the info routes read it: path parameters and the raw query string
type RawTarget = Pick<PeekInput, 'params' | 'query'>

const URL_PARAM: ParamDoc = { name: 'url', in: 'query', required: true, description: 'the video page URL (platform detected from its host)' }
// The cache parts of an info's response body (cached: true), made once when the
// info is stored (infoParts): the body with its image URLs cut out (INFO_BODY:
// the pieces between them, joined by NUL bytes, which serialized JSON never
// holds) and those URLs (INFO_IMAGES, joined the same way). A hit puts this
// server's image links, for the request's public base, back in: once per
// cache entry and base (INFO_ANSWER), nothing parsed.
export const INFO_BODY = 'info-body'
export const INFO_IMAGES = 'info-images'
const INFO_ANSWER = 'info-answer'
// a kept answer's image links are signed again after this long (links expire; PROXY_LINK_TTL)
const ANSWER_KEPT_MS = 60_000

export function formatOut (f: MediaFormat): FormatOut {
  return {
    format_id: f.format_id,
    ext: f.ext,
    protocol: f.protocol,
    width: f.width,
    height: f.height,
    fps: f.fps,
    vcodec: f.vcodec,
    acodec: f.acodec,
    has_audio: f.has_audio,
    has_video: f.has_video,
    bitrate: f.bitrate,
    filesize: f.filesize === null ? null : Math.round(f.filesize),
    format_note: f.format_note,
    language: f.language,
    needs_headers: Object.keys(f.headers).some((h) => h.toLowerCase() !== 'user-agent')
  }
}

// image: turns an image URL of the info into this server's link (null: the URLs as extracted)
export function infoOut (target: Target, info: MediaInfo, cached: boolean, image: ((url: string) => string) | null = null): VideoInfoOut {
  const img = image ?? ((url: string) => url)
  return {
    id: target.id,
    platform: target.platform.name,
    url: target.url,
    title: info.title,
    description: info.description,
    duration: info.duration,
    uploader: info.uploader,
    uploader_id: info.uploader_id,
    upload_date: info.upload_date,
    view_count: info.view_count === null ? null : Math.round(info.view_count),
    like_count: info.like_count === null ? null : Math.round(info.like_count),
    thumbnail: info.thumbnail === null ? null : img(info.thumbnail),
    thumbnails: info.thumbnails.map((t) => ({ url: img(t.url), width: t.width === null ? null : Math.round(t.width), height: t.height === null ? null : Math.round(t.height) })),
    is_live: info.is_live,
    webpage_url: info.webpage_url,
    formats: info.formats.map(formatOut),
    subtitles: info.subtitles,
    automatic_captions: info.automatic_captions,
    expires_at: info.expires_at,
    ...(info.entries === undefined ? {} : { entries: info.entries.map((e) => entryOut(e, img)) }),
    cached
  }
}

const whole = (n: number | null): number | null => n === null ? null : Math.round(n)

// One item of a post: its pictures through the image links like the info's
export function entryOut (e: MediaEntry, img: (url: string) => string): EntryOut {
  return {
    index: e.index,
    kind: e.kind,
    id: e.id,
    title: e.title,
    duration: e.duration,
    thumbnail: e.thumbnail === null ? null : img(e.thumbnail),
    image: e.image === null ? null : img(e.image),
    width: whole(e.width),
    height: whole(e.height),
    formats: e.formats.map(formatOut)
  }
}

// What the cache keeps beside an info, as it is sent: an L2 hit is answered with these bytes, nothing parsed.
// What the cache keeps beside an info, as it is sent (INFO_BODY, INFO_IMAGES);
// none when an image URL holds a NUL (the peek then serializes the value).
export function infoParts (target: Target, info: MediaInfo): Array<readonly [string, Buffer]> {
  // each image URL becomes a marker no text of the info can hold, then the serialized body is cut there
  const marker = `vg-image-${randomBytes(12).toString('hex')}-`
  const urls: string[] = []
  const body = serializeVideoInfo(infoOut(target, info, true, (url) => `${marker}${urls.push(url) - 1}.`))
  const pieces: string[] = []
  const order: string[] = []
  const cut = new RegExp(`${marker}(\\d+)\\.`, 'g')
  let at = 0
  for (const m of body.matchAll(cut)) {
    pieces.push(body.slice(at, m.index))
    order.push(urls[Number(m[1])] ?? '')
    at = m.index + m[0].length
  }
  pieces.push(body.slice(at))
  if (order.length !== urls.length || urls.some((u) => u.includes('\0'))) return []
  return [[INFO_BODY, Buffer.from(pieces.join('\0'))], [INFO_IMAGES, Buffer.from(order.join('\0'))]]
}

// A kept body with the image links put back (raw URLs without an image service), JSON-escaped.
function fillImages (body: Buffer, urls: Buffer, link: ((url: string) => string) | null): Buffer | null {
  const pieces = body.toString().split('\0')
  const list = urls.length === 0 ? [] : urls.toString().split('\0')
  if (pieces.length !== list.length + 1) return null
  let out = pieces[0] ?? ''
  for (let i = 0; i < list.length; i++) {
    const url = list[i] ?? ''
    out += JSON.stringify(link === null ? url : link(url)).slice(1, -1) + (pieces[i + 1] ?? '')
  }
  return Buffer.from(out)
}

export function formatsOut (target: Target, info: MediaInfo, cached: boolean): FormatsOut {
  const qualities = availableQualities(info.formats).map((q) => ({ quality: q.quality, height: q.height, serving: qualityServing(info.formats, q) }))
  return {
    id: target.id,
    platform: target.platform.name,
    title: info.title,
    formats: info.formats.map(formatOut),
    qualities,
    default_quality: 'best',
    expires_at: info.expires_at,
    cached
  }
}

export function targetFrom (registry: PlatformRegistry, params: Readonly<Record<string, string>>, query: Readonly<Record<string, unknown>>, kind: 'video' | 'playlist', urlParam = 'url'): Target {
  if (params.platform !== undefined) {
    return registry.resolve({ platform: pathParam(params, 'platform'), id: pathParam(params, 'id'), kind })
  }
  return registry.resolve({ url: queryString(query, urlParam, { required: true, max: 8192 }), kind })
}

export function videoRoutes (deps: VideoRouteDeps): Route[] {
  const { registry, extractor, images } = deps
  const imagesAt = (base: string, target: Target): ((url: string) => string) | null =>
    images === undefined ? null : (url) => base + images.link(target, url)
  const imagesFor = (req: Request, target: Target): ((url: string) => string) | null =>
    images === undefined ? null : imagesAt(images.base(req), target)

  // Targets by raw request (path parameters or query string): parsing and
  // resolving a page URL costs more than the rest of a cached answer. The
  // pipeline resolves (node:querystring on the raw query, as hyper-express
  // parses it) and remembers; the fast lane's peek only looks up, so a burst of
  // new URLs is resolved in the pipeline's slices, not in uWS's callbacks.
  // Only valid requests are remembered; bounded.
  const targets = new Map<string, Target>()
  const TARGETS_MAX = 4096
  const targetKey = ({ params, query }: RawTarget): string => params.platform === undefined ? `?${query}` : `${params.platform}/${params.id ?? ''}`
  // throws the 4xx of an invalid request
  const resolveTarget = (input: RawTarget): Target => {
    const key = targetKey(input)
    return targets.get(key) ?? remember(targets, TARGETS_MAX, key, targetFrom(registry, input.params, parseQuery(input.query), 'video'))
  }

  const infoRoute = (path: string, params: readonly ParamDoc[]): Route => ({
    ...jsonRoute({
      method: 'get',
      path,
      limit: 'extract',
      doc: { summary: 'Normalized video info: metadata, formats, subtitles, media URL expiry', tags: ['videos'], params },
      serialize: serializeVideoInfo,
      handle: async ({ req, ctx, params: p }) => {
        const target = resolveTarget({ params: p, query: req.path_query })
        const { info, cached } = await extractor.info(target, { client: requester(ctx) })
        return infoOut(target, info, cached, imagesFor(req, target))
      }
    }),
    // A cached info for a request the pipeline has seen: its body as the cache
    // keeps it, from L1 at once or from L2 after one read, with the image links
    // for the request's public base; uWS sends a Buffer without converting it.
    peek (input) {
      const target = targets.get(targetKey(input))
      if (target === undefined) return null
      const base = images === undefined ? '' : images.peekBase(input.header)
      if (base === null) return null
      const found = extractor.find(target)
      if (found === null) return null
      if (found instanceof Promise) return found.then((entry) => entry === null ? null : answerOf(target, entry, base))
      return answerOf(target, found, base)
    }
  })

  // The answer to a cached info, made once per cache entry and public base (the last one asked for).
  const answerOf = (target: Target, entry: CacheEntry<MediaInfo>, base: string): PeekAnswer => {
    const kept = entry.memo.get(INFO_ANSWER) as { base: string, at: number, answer: PeekAnswer } | undefined
    const now = Date.now()
    if (kept !== undefined && kept.base === base && now - kept.at < ANSWER_KEPT_MS) return kept.answer
    const link = imagesAt(base, target)
    const body = entry.part(INFO_BODY)
    const urls = entry.part(INFO_IMAGES)
    const filled = body === null || urls === null ? null : fillImages(body, urls, link)
    const answer: PeekAnswer = { status: 200, lines: '', body: filled ?? Buffer.from(serializeVideoInfo(infoOut(target, entry.value, true, link))), type: JSON_TYPE }
    entry.memo.set(INFO_ANSWER, { base, at: now, answer })
    return answer
  }

  const formatsRoute = (path: string, params: readonly ParamDoc[]): Route => jsonRoute({
    method: 'get',
    path,
    limit: 'extract',
    doc: { summary: 'The formats and the qualities actually available, and how each is served', tags: ['videos'], params },
    serialize: serializeFormats,
    handle: async ({ req, ctx, params: p }) => {
      const target = targetFrom(registry, p, req.query_parameters, 'video')
      const { info, cached } = await extractor.info(target, { client: requester(ctx) })
      return formatsOut(target, info, cached)
    }
  })

  const playlistRoute = (path: string, params: readonly ParamDoc[]): Route => jsonRoute({
    method: 'get',
    path,
    limit: 'extract',
    doc: {
      summary: 'Playlist title, uploader, entry count and a page of entries',
      tags: ['videos'],
      params: [...params,
        { name: 'page', in: 'query', description: 'page number, from 1', schema: { type: 'integer', minimum: 1 } },
        { name: 'page_size', in: 'query', description: 'entries per page (1–200, default 50)', schema: { type: 'integer', minimum: 1, maximum: 200 } }]
    },
    serialize: serializePlaylist,
    handle: async ({ req, ctx, params: p }) => {
      const q = req.query_parameters
      const page = queryInt(q, 'page', { min: 1, max: 10000, fallback: 1 })
      const pageSize = queryInt(q, 'page_size', { min: 1, max: 200, fallback: 50 })
      const target = targetFrom(registry, p, q, 'playlist')
      const limit = Math.min(5000, page * pageSize)
      const { playlist, cached } = await extractor.playlist(target, limit, requester(ctx))
      const start = (page - 1) * pageSize
      return {
        id: target.id,
        platform: target.platform.name,
        title: playlist.title,
        uploader: playlist.uploader,
        entry_count: playlist.entry_count,
        page,
        page_size: pageSize,
        entries: playlist.entries.slice(start, start + pageSize),
        cached
      }
    }
  })

  const batch = jsonRoute({
    method: 'post',
    path: '/api/v2/videos/batch',
    limit: 'extract',
    doc: {
      summary: `Info for up to ${deps.batchMax} videos at once ({platform,id} or {url} items), resolved concurrently; a result or an error per item`,
      tags: ['videos'],
      body: { schema: { type: 'object', required: ['items'], properties: { items: { type: 'array', maxItems: deps.batchMax, items: { type: 'object', properties: { platform: { type: 'string' }, id: { type: 'string' }, url: { type: 'string' } } } } } } }
    },
    serialize: serializeBatch,
    handle: async ({ req, ctx }) => {
      const items = bodyArray(await jsonBody(req), 'items', deps.batchMax)
      // every item counts: against the rate limit, and against the client's extraction cap
      await ctx.charge(items.length - 1)
      const client = requester(ctx)
      extractor.admit(client, items.length)
      const results = await Promise.all(items.map(async (item, index): Promise<BatchItemOut> => {
        const fields = typeof item === 'object' && item !== null && !Array.isArray(item) ? item as Record<string, unknown> : {}
        const input = String(fields.url ?? `${String(fields.platform ?? '')}/${String(fields.id ?? '')}`).slice(0, 300)
        try {
          if (Object.keys(fields).length === 0) throw new AppError('INVALID_INPUT', `items[${index}] must be an object with url or platform and id`)
          const url = bodyString(fields, 'url', { max: 8192 })
          const target = url !== undefined
            ? registry.resolve({ url, kind: 'video' })
            : registry.resolve({ platform: bodyString(fields, 'platform', { required: true, max: 64 }), id: bodyString(fields, 'id', { required: true, max: 4096 }), kind: 'video' })
          const { info, cached } = await extractor.info(target, { client })
          return { index, ok: true, input, info: infoOut(target, info, cached, imagesFor(req, target)), error: null }
        } catch (err) {
          return { index, ok: false, input, info: null, error: itemError(err) }
        }
      }))
      const succeeded = results.filter((r) => r.ok).length
      return { count: results.length, succeeded, failed: results.length - succeeded, results }
    }
  })

  const postInfo = jsonRoute({
    method: 'post',
    path: '/api/v2/videos/info',
    limit: 'extract',
    doc: { summary: 'Info by page URL in a JSON body {url} (compat: upload_date as the original\'s YYYYMMDD)', tags: ['videos', 'compat'], body: { schema: { type: 'object', required: ['url'], properties: { url: { type: 'string' }, quality: { type: 'string' } } } } },
    serialize: serializeVideoInfo,
    handle: async ({ req, ctx }) => {
      const body = await jsonBody(req)
      const target = registry.resolve({ url: bodyString(body, 'url', { required: true, max: 8192 }), kind: 'video' })
      const { info, cached } = await extractor.info(target, { client: requester(ctx) })
      const out = infoOut(target, info, cached, imagesFor(req, target))
      // the original's VideoInfo type on this path: upload_date YYYYMMDD (ours: YYYY-MM-DD)
      return { ...out, upload_date: out.upload_date === null ? null : out.upload_date.replaceAll('-', '') }
    }
  })

  return [
    infoRoute('/api/v2/videos/:platform/:id', []),
    infoRoute('/api/v2/videos', [URL_PARAM]),
    formatsRoute('/api/v2/videos/:platform/:id/formats', []),
    formatsRoute('/api/v2/videos/formats', [URL_PARAM]),
    playlistRoute('/api/v2/playlists/:platform/:id', []),
    playlistRoute('/api/v2/playlists', [URL_PARAM]),
    batch,
    postInfo
  ]
}
