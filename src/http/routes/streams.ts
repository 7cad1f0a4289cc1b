// "Play this video": the stream endpoints by mode, their compat forms, the
// signed-link relays, HLS, the embed page and the VRChat/Unity endpoints.
import type { Request } from 'hyper-express'
import { AppError, itemError } from '../../errors.ts'
import { jsonRoute, sendJson } from '../route.ts'
import { requester } from '../context.ts'
import type { Route, ParamDoc, PeekAnswer } from '../route.ts'
import { mediaExchange } from '../hyper-exchange.ts'
import { jsonBody, jsonValue, bodyString, bodyArray, queryBool } from '../input.ts'
import { infoOut, targetFrom } from './videos.ts'
import { streamOptions, parseStreamQuery, prefersHls, withAgent, ITEM_PARAM } from './stream-options.ts'
import type { StreamQuery } from './stream-options.ts'
import { remember } from '../../guard/memo.ts'
import { parseQuality, QUALITY_VALUES } from '../../media/quality.ts'
import type { Quality } from '../../media/quality.ts'
import type { StreamMode } from '../../media/stream-plan.ts'
import type { Redirect, StreamOptions, StreamService } from '../../media/service.ts'
import type { MediaExchange } from '../../proxy/exchange.ts'
import { serializeStreamInfo, serializeStreamBatch } from '../../schemas/streams.ts'
import { serializeCompatStreamInfo, serializeCompatStreamInfoV2, serializeCompatVideoStream } from '../../schemas/compat.ts'
import type { StreamBatchOut } from '../../schemas/streams.ts'
import type { PlatformRegistry, Target } from '../../platforms/index.ts'
import { PROXY_MAX_URL_LENGTH } from './proxy.ts'
import { embedRoutes } from './embed.ts'
import { vrchatRoutes } from './vrchat.ts'
import { autoHeaders, directHeaders, headerLines } from './compat-headers.ts'
import type { CompatHeaders } from './compat-headers.ts'
import { compatBatch, originalStream } from './compat-batch.ts'
import type { Extractor } from '../../extract/engine.ts'

export interface StreamRouteDeps {
  registry: PlatformRegistry
  streams: StreamService
  publicBase: (req: Request) => string
  batchMax: number
  // the original's bare-array batch reads whether an info came from the cache
  extractor: Extractor
  // the embed page's poster: the path of a signed image link
  image?: (target: Target, url: string) => string
}

const STREAM_PARAMS: readonly ParamDoc[] = [
  { name: 'quality', in: 'query', description: 'best|worst|2160p…144p|audio|auto (default best)', schema: { type: 'string', enum: [...QUALITY_VALUES] } },
  { name: 'mode', in: 'query', description: 'redirect | proxy | json | auto (default): redirect when the media needs no headers and is not bound to our IP, else proxy; X-Stream-Mode says which and X-Stream-Reason why. redirect always answers 302 (or an error): the best single file with video and audio at or below the quality, X-Stream-Reason saying so when a better quality exists only as separate video and audio (which only auto remuxes); 409 NO_SINGLE_FILE when no single file exists', schema: { type: 'string', enum: ['redirect', 'proxy', 'json', 'auto'] } },
  { name: 'video_only', in: 'query', description: 'true: a silent video-only stream is acceptable' },
  { name: 'format', in: 'query', description: 'hls | mp4: how separate video and audio are combined (default: hls for HLS players, else an MP4 remux); mp4 also remuxes an HLS-only source (not live) into one MP4; mp3 | opus | m4a | wav (with quality=audio, implied when quality is absent): the best audio transcoded on the fly (X-Stream-Mode: transcode; Estimated-Content-Length; not with mode=redirect)' },
  { name: 'bitrate', in: 'query', description: 'kbit/s of an audio transcode: mp3 32-320 (default 192), opus 16-256 (128), m4a 32-320 (160); wav takes none', schema: { type: 'integer' } },
  { name: 'download', in: 'query', description: 'true: Content-Disposition attachment' },
  { name: 'filename', in: 'query', description: 'file name for Content-Disposition (UTF-8 allowed)' },
  { name: 'bandwidth', in: 'query', description: 'kbps, for quality=auto' },
  { name: 'device', in: 'query', description: 'mobile|tablet|desktop|auto, for quality=auto' },
  ITEM_PARAM,
  { name: 't', in: 'query', description: 'a merged (remuxed) stream starts here: seconds (90.5) or 1h2m3s, from the keyframe at or before it; for players that cannot send Range (400 INVALID_INPUT when invalid or past the end)' }
]
const URL_PARAM: ParamDoc = { name: 'url', in: 'query', required: true, description: 'the video page URL' }

const HLS_SUMMARY = 'An HLS playlist whose every URI goes through this server, never media bytes: an HLS format\'s own playlist ' +
  '(a master keeps the variants at or below the quality, best first; the lowest when none is), separate video and audio as a ' +
  'generated master with an audio rendition, a single file as a one-segment VOD playlist of its proxy link (409 HLS_NOT_POSSIBLE ' +
  'when its duration is unknown, or for separate non-MP4 streams)'

// what a route fixes whatever the query says
// headers: the original's X-Platform etc. on its compat paths (compat-headers.ts)
// original: the mode=json answer carries the original's video_id and success beside ours
// proxyParam: the original's proxy=true (on /url) means mode=proxy unless a mode is given
interface Fixed { mode?: StreamMode, quality?: Quality, download?: boolean, urlParam?: string, hls?: boolean, headers?: CompatHeaders, original?: boolean, originalInfo?: boolean, proxyParam?: boolean }

export function streamRoutes (deps: StreamRouteDeps): Route[] {
  const { registry, streams } = deps

  // hls: the route itself asks for HLS, so separate video and audio come as an HLS master where they can
  const streamRoute = (path: string, params: readonly ParamDoc[], summary: string, fixed?: Fixed): Route => {
    const route = handledRoute(path, params, summary, fixed)
    return fixed?.mode === 'proxy' || fixed?.mode === 'json' ? route : withRedirectPeek(route, fixed)
  }

  // The requests a stream route has seen, by their raw path parameters and
  // query: the target and what the query asks for, resolved and checked by the
  // handler. The peek only looks up (a burst of new URLs is resolved in the
  // pipeline's slices, as for video info). Only valid requests; bounded.
  // byHls: the options once made, by whether the User-Agent is an HLS player
  // (all the User-Agent changes but for quality=auto, which the lane leaves alone)
  type Seen = Map<string, { target: Target, query: StreamQuery, byHls: [StreamOptions | null, StreamOptions | null] }>
  const SEEN_MAX = 4096
  const seenKey = (params: Readonly<Record<string, string>>, query: string): string => params.platform === undefined ? query : `${params.platform}/${params.id ?? ''}?${query}`

  const optionsOf = (query: StreamQuery, ua: string, fixed: Fixed | undefined): StreamOptions => {
    const opts = withAgent(query, ua)
    if (fixed?.mode !== undefined) opts.mode = fixed.mode
    if (fixed?.quality !== undefined) opts.quality = fixed.quality
    // the HLS route answers a playlist or an error, never media bytes
    if (fixed?.hls === true) { opts.prefersHls = true; opts.hlsOnly = true; opts.mp4 = false }
    return opts
  }

  // The answer to a redirect, made again only when its Cache-Control changes (at most once a second);
  // one map per route, since a route's own headers (extra) join those of the redirect.
  type Answers = WeakMap<Redirect, { age: number, answer: PeekAnswer }>
  const redirectAnswer = (answers: Answers, r: Redirect, extra: string): PeekAnswer => {
    const age = streams.maxAge(r, Date.now())
    const kept = answers.get(r)
    if (kept !== undefined && kept.age === age) return kept.answer
    const answer: PeekAnswer = { status: 302, lines: `${r.lines}\r\ncache-control: private, max-age=${age}${extra}`, body: '', type: null }
    answers.set(r, { age, answer })
    return answer
  }

  // A 302 for a cached video whose plan is a redirect (mode=redirect, or auto
  // for media any client can fetch), answered by the uWS lane: the plan and its
  // headers are made once per cached info (StreamService.quickRedirect).
  const seenBy = new Map<string, Seen>()
  function withRedirectPeek (route: Route, fixed: Fixed | undefined): Route {
    const seen: Seen = new Map()
    seenBy.set(route.path, seen)
    const answers: Answers = new WeakMap()
    // the original's headers on /direct (the title is the cached info's)
    const extra = (r: Redirect, target: Target, opts: StreamOptions): string =>
      fixed?.headers === 'direct' ? headerLines(directHeaders(target.platform.name, r.title, opts)) : ''
    return {
      ...route,
      peek (input) {
        const known = seen.get(seenKey(input.params, input.query))
        if (known === undefined) return null
        const ua = input.header('user-agent')
        const hls = prefersHls(known.query, ua) ? 1 : 0
        const opts = known.byHls[hls] ?? (known.byHls[hls] = optionsOf(known.query, ua, fixed))
        const r = streams.quickRedirect(known.target, opts)
        if (r === null) return null
        if (r instanceof Promise) return r.then((x) => x === null ? null : redirectAnswer(answers, x, extra(x, known.target, opts)))
        return redirectAnswer(answers, r, extra(r, known.target, opts))
      }
    }
  }

  const handledRoute = (path: string, params: readonly ParamDoc[], summary: string, fixed?: Fixed): Route => ({
    method: 'get',
    path,
    limit: 'extract',
    admin: false,
    stream: true,
    doc: {
      summary,
      tags: ['streams'],
      params: [...params, ...STREAM_PARAMS],
      responses: {
        200: { description: 'the media (proxy, remux, audio transcode: audio/mpeg, audio/ogg, audio/mp4, audio/wav) or an HLS playlist', contentType: 'video/mp4' },
        206: { description: 'a byte range of the media', contentType: 'video/mp4' },
        302: { description: 'redirect to the media (X-Stream-Mode: redirect)' },
        409: { description: 'NO_SINGLE_FILE: mode=redirect and the video exists only as separate video and audio; HLS_NOT_POSSIBLE: the HLS route and no playlist can describe the format (a file of unknown duration, separate non-MP4 streams)' },
        416: { description: 'RANGE_NOT_SATISFIABLE' }
      }
    },
    async handle (req, res, ctx) {
      const raw = req.path_parameters ?? {}
      const target = targetFrom(registry, raw, req.query_parameters, 'video', fixed?.urlParam)
      const query = parseStreamQuery(req.query_parameters, fixed)
      if (fixed?.proxyParam === true && req.query_parameters.mode === undefined && queryBool(req.query_parameters, 'proxy')) query.mode = 'proxy'
      if (fixed?.hls === true && query.transcode !== null) {
        throw new AppError('INVALID_INPUT', `The HLS route serves playlists: format=${query.format} is a transcode of the stream routes`, { detail: 'format' })
      }
      const opts = optionsOf(query, req.headers['user-agent'] ?? '', fixed)
      const seen = seenBy.get(path)
      // (hyper-express's path_query is undefined without a query string, as uWS's getQuery() is)
      if (seen !== undefined) remember(seen, SEEN_MAX, seenKey(raw, (req.path_query as string | undefined) ?? ''), { target, query, byHls: [null, null] })
      opts.client = requester(ctx)
      if (opts.mode === 'json' && fixed?.originalInfo === true) {
        const { data, described } = await originalStream({ streams, extractor: deps.extractor, base: deps.publicBase(req), image: deps.image }, target, opts, '')
        sendJson(req, res, ctx, 200, serializeCompatStreamInfoV2({ ...described, ...data, quality: described.quality, timestamp: Date.now() / 1000 }))
        return
      }
      if (opts.mode === 'json') {
        const { info, plan } = await streams.plan(target, opts)
        const described = streams.describe(deps.publicBase(req), target, info, plan, opts)
        sendJson(req, res, ctx, 200, fixed?.original === true ? serializeCompatStreamInfo({ ...described, video_id: target.id, success: true }) : serializeStreamInfo(described))
        return
      }
      if (fixed?.headers !== undefined) {
        // what the original sent beside the media (a cached info: planned once more from memory)
        const headers = fixed.headers === 'proxy'
          ? [['x-platform', target.platform.name] as [string, string]]
          : await streams.plan(target, opts).then(({ info, plan }) => fixed.headers === 'auto'
            ? autoHeaders(target.platform.name, plan, opts)
            : directHeaders(target.platform.name, info.title, opts))
        for (const [k, v] of headers) res.header(k, v)
      }
      await streams.serve(mediaExchange(req, res, ctx), target, opts)
    }
  })

  const jsonStream = jsonRoute({
    method: 'post',
    path: '/api/v2/videos/stream',
    limit: 'extract',
    doc: { summary: 'The stream URL and its expiry for a page URL in a JSON body {url, quality} (compat: the original\'s video_info, expires_at as "YYYY-MM-DD HH:MM:SS" UTC)', tags: ['streams', 'compat'], body: { schema: { type: 'object', required: ['url'], properties: { url: { type: 'string' }, quality: { type: 'string' } } } } },
    serialize: serializeCompatVideoStream,
    handle: async ({ req, ctx }) => {
      const body = await jsonBody(req)
      const target = registry.resolve({ url: bodyString(body, 'url', { required: true, max: 8192 }), kind: 'video' })
      const opts = { ...streamOptions(req), mode: 'json' as const, quality: parseQuality(bodyString(body, 'quality', { max: 32 })), client: requester(ctx) }
      const { cached } = await deps.extractor.info(target, { client: opts.client })
      const { info, plan } = await streams.plan(target, opts)
      const base = deps.publicBase(req)
      const described = streams.describe(base, target, info, plan, opts)
      const image = deps.image
      const videoInfo = infoOut(target, info, cached, image === undefined ? null : (url) => base + image(target, url))
      // the original's types on this path: its expiry "YYYY-MM-DD HH:MM:SS" (UTC), and the video's info
      const expires = described.expires_at === null ? null : new Date(described.expires_at).toISOString().slice(0, 19).replace('T', ' ')
      return { ...described, expires_at: expires, video_info: videoInfo }
    }
  })

  const batch = jsonRoute({
    method: 'post',
    path: '/api/v2/stream/batch',
    limit: 'extract',
    doc: {
      summary: `Stream URLs for up to ${deps.batchMax} items ({platform,id} or {url}, optional quality); ` +
        'a bare JSON array of {platform, video_id, quality} (the original\'s form) answers in the original\'s shape',
      tags: ['streams', 'compat'],
      body: { schema: { oneOf: [{ type: 'object', required: ['items'], properties: { items: { type: 'array', maxItems: deps.batchMax } } }, compatBatch.bodySchema(deps.batchMax)] } }
    },
    serialize: compatBatch.serializer(serializeStreamBatch),
    handle: async ({ req, ctx }) => {
      const body = await jsonValue(req)
      if (Array.isArray(body)) {
        return await compatBatch.handle(body, { req, ctx, streams, extractor: deps.extractor, registry, batchMax: deps.batchMax, base: deps.publicBase(req), image: deps.image })
      }
      const items = bodyArray(body, 'items', deps.batchMax)
      // every item counts: against the rate limit, and against the client's extraction cap
      await ctx.charge(items.length - 1)
      const client = requester(ctx)
      streams.admit(client, items.length)
      const base = deps.publicBase(req)
      const results = await Promise.all(items.map(async (item, index) => {
        const fields = typeof item === 'object' && item !== null && !Array.isArray(item) ? item as Record<string, unknown> : {}
        const input = String(fields.url ?? `${String(fields.platform ?? '')}/${String(fields.id ?? fields.video_id ?? '')}`).slice(0, 300)
        try {
          const url = bodyString(fields, 'url', { max: 8192 })
          const target = url !== undefined
            ? registry.resolve({ url, kind: 'video' })
            : registry.resolve({ platform: bodyString(fields, 'platform', { required: true, max: 64 }), id: bodyString(fields, 'id', { max: 4096 }) ?? bodyString(fields, 'video_id', { required: true, max: 4096 }), kind: 'video' })
          const opts = { ...streamOptions(req), mode: 'json' as const, quality: parseQuality(bodyString(fields, 'quality', { max: 32 })), client }
          const { info, plan } = await streams.plan(target, opts)
          return { index, ok: true, input, stream: streams.describe(base, target, info, plan, opts), error: null }
        } catch (err) {
          return { index, ok: false, input, stream: null, error: itemError(err) }
        }
      }))
      return { count: results.length, results } satisfies StreamBatchOut
    }
  })

  // a playlist read from upstream holds buffered bytes while it runs: it takes a stream slot (STREAM_MAX_PER_CLIENT)
  const relay = (path: string, summary: string, serve: (ex: MediaExchange, token: string) => Promise<void>): Route => ({
    method: 'get',
    path,
    limit: 'default',
    admin: false,
    stream: true,
    maxUrlLength: PROXY_MAX_URL_LENGTH,
    doc: { summary, tags: ['streams'], responses: { 200: { description: 'HLS playlist', contentType: 'application/vnd.apple.mpegurl' } } },
    handle: async (req, res, ctx) => { await serve(mediaExchange(req, res, ctx), req.path_parameters?.token ?? '') }
  })

  // playlists, and media relayed like the byte proxy's: a stream slot each (STREAM_MAX_PER_CLIENT)
  const splitRelay: Route = {
    method: 'get',
    path: '/api/v2/hls/split/:token/:name',
    limit: 'default',
    admin: false,
    stream: true,
    maxUrlLength: PROXY_MAX_URL_LENGTH,
    doc: {
      summary: 'Separate video and audio as HLS behind a signed link: master.m3u8 (video variant + audio rendition), index.m3u8 (one format\'s segments), and the media they point at',
      tags: ['streams'],
      params: [
        { name: 'token', in: 'path', required: true, description: 'signed, expiring link handed out by the stream endpoints' },
        { name: 'name', in: 'path', required: true, description: 'master.m3u8 | index.m3u8 | media.mp4 | media.m4a | init.mp4 | <n>.m4s' }
      ],
      responses: {
        200: { description: 'an HLS playlist, or media', contentType: 'application/vnd.apple.mpegurl' },
        206: { description: 'a byte range of the media (EXT-X-BYTERANGE)', contentType: 'video/mp4' },
        403: { description: 'INVALID_SIGNATURE' }
      }
    },
    handle: async (req, res, ctx) => { await streams.serveSplit(mediaExchange(req, res, ctx), req.path_parameters?.token ?? '', req.path_parameters?.name ?? '', requester(ctx)) }
  }

  return [
    streamRoute('/api/v2/stream/:platform/:id', [], 'The stream of a video, by mode'),
    streamRoute('/api/v2/stream', [URL_PARAM], 'The stream of a video page URL, by mode'),
    streamRoute('/api/v2/stream/url', [URL_PARAM, { name: 'proxy', in: 'query', description: 'true: mode=proxy (the original\'s form)' }], 'The stream of a video page URL (compat)', { proxyParam: true }),
    streamRoute('/api/v2/stream/direct/:platform/:id', [], 'Redirect to the media (compat: mode=redirect; X-Platform, X-Quality, X-Video-Title)', { mode: 'redirect', headers: 'direct' }),
    streamRoute('/api/v2/stream/proxy/:platform/:id', [], 'The media through this server (compat: mode=proxy; X-Platform)', { mode: 'proxy', headers: 'proxy' }),
    streamRoute('/api/v2/stream/info/:platform/:id', [], 'The stream URL and its expiry as JSON (compat: mode=json; the original\'s fields: expires_at and cached_at in epoch seconds, video_id, video_info, timestamp)', { mode: 'json', originalInfo: true }),
    streamRoute('/api/v2/stream/auto/:platform/:id', [], 'quality=auto from bandwidth and device (compat; X-Platform, X-Selected-Quality, X-Device-Type)', { quality: { kind: 'auto' }, headers: 'auto' }),
    streamRoute('/api/v2/stream/hls/:platform/:id', [], HLS_SUMMARY, { mode: 'proxy', hls: true }),
    streamRoute('/api/v2/stream/hls', [URL_PARAM], `For a page URL: ${HLS_SUMMARY}`, { mode: 'proxy', hls: true }),
    streamRoute('/api/stream', [URL_PARAM], 'The simple API: stream of a page URL (compat; format=redirect|proxy|json maps to mode; json adds the original\'s video_id and success)', { original: true }),
    streamRoute('/api/download', [URL_PARAM], 'The simple API: download a page URL\'s video through this server (compat)', { mode: 'proxy', download: true }),
    streamRoute('/api/v1/', [{ name: 'yt', in: 'query', required: true, description: 'a video page URL (the original v1 API)' }], 'Redirect to the media of a page URL given as ?yt= (compat: mode=redirect, as the original)', { urlParam: 'yt', mode: 'redirect' }),
    streamRoute('/api/v1', [{ name: 'yt', in: 'query', required: true, description: 'a video page URL (the original v1 API)' }], 'The same as /api/v1/ without the trailing slash (compat)', { urlParam: 'yt', mode: 'redirect' }),
    relay('/api/v2/hls/:token', 'A nested HLS playlist behind a signed link, rewritten to signed links', streams.servePlaylist),
    splitRelay,
    jsonStream,
    batch,
    ...embedRoutes({ registry, streams, image: deps.image }),
    ...vrchatRoutes({ registry, streams, publicBase: deps.publicBase, image: deps.image })
  ]
}
