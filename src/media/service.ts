// Serves "play this video": extraction → plan → redirect, byte proxy, rewritten
// HLS or remux. Every link a client receives is signed; the proxy only ever
// fetches URLs an extraction produced.
import { AppError } from '../errors.ts'
import { proxyMedia } from '../proxy/stream.ts'
import type { MediaExchange } from '../proxy/exchange.ts'
import type { MediaTarget } from '../proxy/stream.ts'
import type { LinkRoute, LinkSigner, ReextractRef } from '../proxy/signer.ts'
import type { UpstreamClient, UpstreamResponse } from '../proxy/upstream.ts'
import { planStream, isHlsFormat, isMp4Member, safeLocation } from './stream-plan.ts'
import { createMediaIndexer, runTask } from './media-index.ts'
import { filterVariants, variantCap } from './hls-variants.ts'
import { createSplitHls } from './split-hls.ts'
import { itemInfo, itemOf, itemQuery, withItem } from './items.ts'
import type { StreamMode, StreamPlan } from './stream-plan.ts'
import type { Remuxer } from './remux.ts'
import { transcodeJob, transcodeLabel, transcodeOut } from './audio.ts'
import type { AudioTranscode } from './audio.ts'
import type { Quality, AutoInput } from './quality.ts'
import { formatQuality } from './quality.ts'
import { checkStart } from './start-time.ts'
import type { Extractor } from '../extract/engine.ts'
import type { CacheEntry } from '../extract/cache.ts'
import type { PlatformRegistry, Target } from '../platforms/index.ts'
import { unwrapTask } from '../extract/pool.ts'
import type { ExtractionPool } from '../extract/pool.ts'
import type { Requester } from '../extract/fair-queue.ts'
import type { MediaFormat, MediaInfo } from '../../workers/protocol.ts'
import type { HlsUriKind } from '../../workers/hls/hls-types.ts'
import type { StreamInfoOut, StreamTrackOut } from '../schemas/streams.ts'

export const PLAYLIST_PATH = '/api/v2/hls/'
export const PROXY_PREFIX = '/api/v2/proxy/'
const HLS_TYPE = 'application/vnd.apple.mpegurl'

// An upstream playlist is read only this far, and only while it still looks
// like one: the Content-Type is a playlist's (or says nothing), the first
// bytes are #EXTM3U, and the whole answer arrives within the time below.
export const MAX_PLAYLIST_BYTES = 2 * 1024 * 1024
// Bytes of upstream playlists this worker holds at once, all reads together:
// past it a read is refused (503 STREAM_BUSY) instead of buffered, so many
// clients at once cannot grow the worker either. 8 MB: at 16 MB a flood of
// endless playlists left a worker's RSS up to 58 MB above its baseline once
// settled (the allocator keeps what it held), at 8 MB 12-25 MB (bench/fair.ts).
export const PLAYLIST_BUFFER_BUDGET = 8 * 1024 * 1024
const PLAYLIST_READ_MS = 30_000
const PLAYLIST_TYPES: ReadonlySet<string> = new Set(['application/vnd.apple.mpegurl', 'application/x-mpegurl', 'application/mpegurl', 'audio/mpegurl', 'audio/x-mpegurl', 'video/mpegurl', 'video/x-mpegurl'])
// types that servers give to anything: the first bytes decide
const VAGUE_TYPES: ReadonlySet<string> = new Set(['', 'text/plain', 'application/octet-stream', 'binary/octet-stream'])
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf])
const HEADER = Buffer.from('#EXTM3U')

// ffmpeg's HLS reader (5.1 on Debian 12, and later) opens a segment only if its
// URL ends in an extension it expects for the format it finds there, so the
// links of segments and init sections end in a file name: .ts does for MPEG-TS
// and (f)MP4; raw audio and WebVTT keep their own. Keys need none.
const KEPT_EXTENSIONS: ReadonlySet<string> = new Set(['aac', 'ac3', 'eac3', 'ec3', 'mp3', 'mp2', 'flac', 'vtt', 'webvtt', 'm4s'])
function proxyPath (token: string, url: string, kind: HlsUriKind): string {
  if (kind !== 'segment' && kind !== 'map') return PROXY_PREFIX + token
  const ext = /\.([a-z0-9]{1,6})$/i.exec(new URL(url).pathname)?.[1]?.toLowerCase() ?? ''
  return `${PROXY_PREFIX}${token}/${kind === 'map' ? 'init' : 'seg'}.${KEPT_EXTENSIONS.has(ext) ? ext : 'ts'}`
}

function notPlaylist (body: { destroy: () => void }, why: string): AppError {
  body.destroy()
  return new AppError('UPSTREAM_ERROR', 'The upstream answer is not an HLS playlist', { detail: why })
}

interface Budget { left: number }

// Reads a playlist answer: refused by type and by its first bytes before
// anything else is kept, and never buffered past MAX_PLAYLIST_BYTES or the
// worker's budget.
async function readPlaylist (res: UpstreamResponse, budget: Budget): Promise<string> {
  const type = (res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (!PLAYLIST_TYPES.has(type) && !VAGUE_TYPES.has(type)) {
    throw notPlaylist(res.body, /^[a-z0-9.+-]{1,40}\/[a-z0-9.+-]{1,80}$/.test(type) ? `Content-Type ${type}` : 'its Content-Type')
  }
  const declared = Number(res.headers['content-length'] ?? '')
  if (Number.isFinite(declared) && declared > MAX_PLAYLIST_BYTES) throw notPlaylist(res.body, `larger than ${MAX_PLAYLIST_BYTES} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  let checked = false
  const checkHeader = (all: Buffer): void => {
    const text = all.subarray(0, UTF8_BOM.length).equals(UTF8_BOM) ? all.subarray(UTF8_BOM.length) : all
    if (!text.subarray(0, HEADER.length).equals(HEADER)) throw notPlaylist(res.body, 'it does not start with #EXTM3U')
    checked = true
  }
  try {
    for await (const chunk of res.body) {
      const buf = chunk as Buffer
      if (size + buf.length > MAX_PLAYLIST_BYTES) throw notPlaylist(res.body, `larger than ${MAX_PLAYLIST_BYTES} bytes`)
      if (buf.length > budget.left) {
        res.body.destroy()
        throw new AppError('STREAM_BUSY', 'Too many playlists are being read; try again shortly', { detail: `${PLAYLIST_BUFFER_BUDGET} bytes of playlists held by this worker`, headers: { 'retry-after': '2' } })
      }
      budget.left -= buf.length
      size += buf.length
      chunks.push(buf)
      if (!checked && size >= UTF8_BOM.length + HEADER.length) checkHeader(Buffer.concat(chunks))
    }
    const all = Buffer.concat(chunks, size)
    if (!checked) checkHeader(all)
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(all)
    } catch {
      throw new AppError('UPSTREAM_ERROR', 'The upstream playlist could not be read', { detail: 'not valid UTF-8' })
    }
  } finally {
    budget.left += size
  }
}

export interface StreamOptions {
  quality: Quality
  mode: StreamMode
  videoOnly: boolean
  prefersHls: boolean
  // format=mp4: one MP4 file wanted, so an HLS source (not live) is remuxed too
  mp4?: boolean
  // the HLS route: the answer is a playlist (or an error), never media bytes
  hlsOnly?: boolean
  download: boolean
  filename: string | null
  auto?: AutoInput
  // item=N: one item of a multi-item post (src/media/items.ts)
  item?: number
  // quality=audio&format=mp3|opus|m4a|wav: transcoded on the fly (null/absent: none)
  transcode?: AudioTranscode | null
  // who asks: extractions take turns per client and count against its cap (default: the server itself)
  client?: Requester
  // t=: a remuxed stream starts here (seconds; 0 or absent: the beginning)
  startSec?: number
}

export interface StreamDeps {
  extractor: Extractor
  registry: PlatformRegistry
  signer: LinkSigner
  upstream: UpstreamClient
  allowHosts: readonly string[]
  pool: ExtractionPool
  remuxer: Remuxer
  linkTtlSec: number
  cacheMaxAgeSec: number
  // where ffmpeg reaches this worker's own proxy (http://127.0.0.1:PORT)
  selfBase: () => string
  // metrics: the byte counter of a platform
  proxyBytes?: (platform: string) => (bytes: number) => void
}

// A 302 to the media, as both lanes send it: its header lines (X-Stream-*,
// Location) made once per cached info and plan, and the expiry the
// Cache-Control max-age counts down to (maxAge()).
export interface Redirect {
  readonly headers: ReadonlyArray<readonly [string, string]>
  // the same headers as "\r\nname: value" lines (the uWS lane's header block)
  readonly lines: string
  // the media URL's expiry (ms since the epoch), null when unknown
  readonly expiresAtMs: number | null
  // the video's title (the compat routes' X-Video-Title)
  readonly title: string
}

export interface StreamService {
  plan: (target: Target, opts: StreamOptions) => Promise<{ info: MediaInfo, plan: StreamPlan }>
  // The 302 for a cached video when its plan is a redirect, without extracting:
  // from L1 at once, from L2 as a promise; null when it is not cached (or L2
  // misses), or its plan is something else, which the route's handler serves.
  quickRedirect: (target: Target, opts: StreamOptions) => Redirect | null | Promise<Redirect | null>
  // the Cache-Control max-age of a redirect sent at nowMs (private, max-age=<this>)
  maxAge: (r: Redirect, nowMs: number) => number
  serve: (ex: MediaExchange, target: Target, opts: StreamOptions) => Promise<void>
  describe: (base: string, target: Target, info: MediaInfo, plan: StreamPlan, opts: StreamOptions) => StreamInfoOut
  servePlaylist: (ex: MediaExchange, token: string) => Promise<void>
  // /api/v2/hls/split/<token>/<name>: the generated HLS of separate video and audio
  serveSplit: (ex: MediaExchange, token: string, name: string, client?: Requester) => Promise<void>
  proxyLink: (target: Target, format: MediaFormat, filename?: string | null) => string
  playlistLink: (target: Target, format: MediaFormat) => string
  resolveRef: (ref: ReextractRef, client?: Requester) => Promise<MediaTarget>
  // 429 unless `count` more extractions of this client fit under its cap (a batch asks for all its items first)
  admit: (client: Requester, count: number) => void
}

export function trackOut (f: MediaFormat): StreamTrackOut {
  return { format_id: f.format_id, ext: f.ext, protocol: f.protocol, width: f.width, height: f.height, vcodec: f.vcodec, acodec: f.acodec, has_audio: f.has_audio, has_video: f.has_video }
}

const expirySec = (f: MediaFormat): number | null => f.expires_at === null ? null : Math.floor(Date.parse(f.expires_at) / 1000)

// What a plan depends on besides the info, as a memo key; null for quality=auto,
// which also reads the client's bandwidth and User-Agent (planned per request).
// (made once per options object: the uWS lane reuses one per request it has seen)
interface PlanKeys { plan: string, redirect: string }
const planKeys = new WeakMap<StreamOptions, PlanKeys | null>()
function planKey (opts: StreamOptions): PlanKeys | null {
  let keys = planKeys.get(opts)
  if (keys === undefined) {
    const t = opts.transcode ?? null
    const plan = `plan:${formatQuality(opts.quality)}:${opts.mode}:${opts.videoOnly ? 1 : 0}:${opts.prefersHls ? 1 : 0}:${opts.mp4 === true ? 1 : 0}${opts.item === undefined ? '' : `:item${opts.item}`}${t === null ? '' : `:${transcodeLabel(t)}`}`
    keys = opts.quality.kind === 'auto' ? null : { plan, redirect: `${plan}:302` }
    planKeys.set(opts, keys)
  }
  return keys
}

function redirectOf (p: StreamPlan, opts: StreamOptions, title: string): Redirect {
  const headers: Array<readonly [string, string]> = [
    ['x-stream-mode', p.delivery],
    ['x-stream-reason', p.reason],
    ['x-stream-quality', formatQuality(opts.quality)],
    ['location', safeLocation(p.primary.url)]
  ]
  const lines = headers.map(([k, v]) => `\r\n${k}: ${v}`).join('')
  // whatever the media metadata said, no header line of ours may break (Location is re-serialized; reasons are ours)
  if (/[\r\n]/.test(headers.map(([, v]) => v).join(''))) throw new AppError('UPSTREAM_ERROR', 'The extracted media cannot be redirected to')
  const expiresAtMs = p.primary.expires_at === null ? null : Date.parse(p.primary.expires_at)
  return { headers, lines, expiresAtMs: Number.isNaN(expiresAtMs) ? null : expiresAtMs, title }
}

export function createStreamService (deps: StreamDeps): StreamService {
  const sign = (route: LinkRoute, target: Target, f: MediaFormat, filename: string | null = null): string => deps.signer.sign({
    route,
    url: f.url,
    headers: f.headers,
    urlExpiresAt: expirySec(f),
    ref: { platform: target.platform.name, id: target.id, formatId: f.format_id, ...itemOf(target) },
    filename
  }, deps.linkTtlSec)
  const proxyLink = (target: Target, f: MediaFormat, filename: string | null = null): string => PROXY_PREFIX + sign('proxy', target, f, filename)
  const playlistLink = (target: Target, f: MediaFormat): string => PLAYLIST_PATH + sign('hls', target, f)
  const split = createSplitHls({
    signer: deps.signer,
    linkTtlSec: deps.linkTtlSec,
    indexer: createMediaIndexer({ upstream: deps.upstream, allowHosts: deps.allowHosts, pool: deps.pool }),
    pool: deps.pool,
    upstream: deps.upstream,
    allowHosts: deps.allowHosts,
    proxyBytes: deps.proxyBytes,
    playlistLink,
    lookup: async (ref, fresh, client) => {
      const target = deps.registry.resolve({ platform: ref.platform, id: ref.id, kind: 'video' })
      const { info } = await deps.extractor.info(target, { fresh, client })
      return { target: withItem(target, ref.item), info: itemInfo(info, ref.item) }
    }
  })
  // What ffmpeg reads for one side of a remux: segmented formats go through a playlist, files through the byte proxy.
  const remuxInput = (target: Target, f: MediaFormat): string =>
    isHlsFormat(f) ? playlistLink(target, f) : f.protocol.includes('dash') || (f.fragments?.length ?? 0) > 0 ? split.mediaLink(target, f) : proxyLink(target, f)

  async function resolveRef (ref: ReextractRef, client?: Requester): Promise<MediaTarget> {
    const target = deps.registry.resolve({ platform: ref.platform, id: ref.id, kind: 'video' })
    const { info: post } = await deps.extractor.info(target, { fresh: true, client })
    const info = itemInfo(post, ref.item)
    const f = info.formats.find((x) => x.format_id === ref.formatId)
    if (f === undefined) throw new AppError('UPSTREAM_ERROR', 'The format is no longer offered by the platform', { detail: ref.formatId })
    return { url: f.url, headers: f.headers }
  }

  const planOf = (target: Target, info: MediaInfo, opts: StreamOptions): StreamPlan => planStream({
    formats: info.formats,
    quality: opts.quality,
    mode: opts.mode,
    videoOnly: opts.videoOnly,
    ipBound: target.platform.ipBound,
    isLive: info.is_live,
    prefersHls: opts.prefersHls,
    mp4: opts.mp4 === true,
    auto: opts.auto,
    transcode: opts.transcode
  })

  // A plan, made once per cached info (entry) and options; a failed plan throws each time.
  function memoPlan (entry: CacheEntry<MediaInfo> | null, target: Target, info: MediaInfo, opts: StreamOptions): StreamPlan {
    const key = entry === null ? null : planKey(opts)?.plan
    if (entry === null || key === undefined || key === null) return planOf(target, info, opts)
    let p = entry.memo.get(key) as StreamPlan | undefined
    if (p === undefined) {
      p = planOf(target, info, opts)
      entry.memo.set(key, p)
    }
    return p
  }

  // The redirect of a plan, made once per cached info; null when the plan is no redirect or cannot be one.
  function memoRedirect (entry: CacheEntry<MediaInfo>, target: Target, opts: StreamOptions): Redirect | null {
    const key = planKey(opts)?.redirect
    if (key === undefined) return null
    let r = entry.memo.get(key) as Redirect | false | undefined
    if (r === undefined) {
      try {
        const info = itemInfo(entry.value, opts.item)
        const p = memoPlan(entry, target, info, opts)
        r = p.delivery === 'redirect' ? redirectOf(p, opts, info.title) : false
      } catch {
        r = false
      }
      entry.memo.set(key, r)
    }
    return r === false ? null : r
  }

  function quickRedirect (target: Target, opts: StreamOptions): Redirect | null | Promise<Redirect | null> {
    if (planKey(opts) === null || opts.mode === 'proxy' || opts.mode === 'json') return null
    const found = deps.extractor.find(target)
    if (found === null) return null
    if (found instanceof Promise) return found.then((entry) => entry === null ? null : memoRedirect(entry, target, opts))
    return memoRedirect(found, target, opts)
  }

  const maxAge = (r: Redirect, nowMs: number): number => {
    const left = r.expiresAtMs === null ? deps.cacheMaxAgeSec : Math.max(0, Math.floor((r.expiresAtMs - nowMs) / 1000) - 60)
    return Math.min(deps.cacheMaxAgeSec, left)
  }

  async function plan (target: Target, opts: StreamOptions): Promise<{ info: MediaInfo, plan: StreamPlan }> {
    const { info: post, entry } = await deps.extractor.info(target, { client: opts.client })
    const info = itemInfo(post, opts.item)
    return { info, plan: memoPlan(entry, target, info, opts) }
  }

  // Fetches an upstream playlist and rewrites every URI to a signed link:
  // nested playlists to /api/v2/hls/, everything else to the byte proxy. The
  // thread re-serializes it from its parsed form (workers/hls/hls-rewrite.ts),
  // so the answer holds no byte of upstream text that could be a URI.
  const budget: Budget = { left: PLAYLIST_BUFFER_BUDGET }
  async function rewritePlaylist (signal: AbortSignal, url: string, headers: Record<string, string>, ref: ReextractRef | null): Promise<string> {
    const deadline = AbortSignal.timeout(PLAYLIST_READ_MS)
    let text: string
    let base: string
    try {
      const upstream = await deps.upstream.request({ url, method: 'GET', headers, allow: deps.allowHosts, signal: AbortSignal.any([signal, deadline]), platform: ref?.platform ?? null })
      if (upstream.status !== 200) {
        upstream.body.destroy()
        throw new AppError('UPSTREAM_ERROR', `The playlist server answered ${upstream.status}`)
      }
      base = upstream.url
      text = await readPlaylist(upstream, budget)
    } catch (err) {
      if (deadline.aborted && !signal.aborted) throw new AppError('UPSTREAM_TIMEOUT', 'The playlist server took too long to answer', { detail: `more than ${PLAYLIST_READ_MS / 1000} s` })
      throw err
    }
    const tpl = unwrapTask(await deps.pool.run('hlsTemplate', { text, baseUrl: base }), 'UPSTREAM_ERROR', 'The upstream playlist could not be read')
    const links = tpl.uris.map(({ url: u, kind }) => {
      const playlist = kind === 'variant' || kind === 'media' || kind === 'iframe'
      const token = deps.signer.sign({ route: playlist ? 'hls' : 'proxy', url: u, headers, ref: playlist ? ref : null }, deps.linkTtlSec)
      return playlist ? PLAYLIST_PATH + token : proxyPath(token, u, kind)
    })
    let out = tpl.parts[0] ?? ''
    for (let i = 0; i < tpl.slots.length; i++) out += (links[tpl.slots[i] ?? -1] ?? '') + (tpl.parts[i + 1] ?? '')
    return out
  }

  function sendPlaylist (ex: MediaExchange, text: string, mode: string, reason: string): void {
    ex.header('content-type', HLS_TYPE)
    ex.header('cache-control', 'no-cache')
    ex.header('x-stream-mode', mode)
    ex.header('x-stream-reason', reason)
    ex.send(200, text)
  }

  // One file as a one-segment VOD playlist of its signed proxy link (the HLS route on a progressive format).
  async function filePlaylist (target: Target, info: MediaInfo, f: MediaFormat): Promise<string> {
    const duration = info.duration
    if (duration === null || !Number.isFinite(duration) || duration <= 0 || info.is_live) {
      throw new AppError('HLS_NOT_POSSIBLE', undefined, {
        detail: `the ${f.height === null ? '' : `${f.height}p `}format is one file of unknown duration, which a playlist cannot describe: ` +
          `ask /api/v2/stream/${target.platform.name}/${encodeURIComponent(target.id)}?mode=proxy${itemQuery(target.item)} for the file itself`
      })
    }
    const ext = /^[a-z0-9]{1,5}$/.test(f.ext) ? f.ext : 'mp4'
    return await runTask(deps.pool, 'buildHls', { media: { endList: true, segments: [{ uri: `${proxyLink(target, f)}/media.${ext}`, duration }] } })
  }

  async function serve (ex: MediaExchange, postTarget: Target, opts: StreamOptions): Promise<void> {
    const { info: post, entry } = await deps.extractor.info(postTarget)
    const info = itemInfo(post, opts.item)
    const target = withItem(postTarget, opts.item)
    const p = memoPlan(entry, target, info, opts)
    if (p.delivery === 'redirect') {
      // the very headers the uWS lane sends for a cached video (quickRedirect)
      const r = (entry === null ? null : memoRedirect(entry, target, opts)) ?? redirectOf(p, opts, info.title)
      for (const [k, v] of r.headers) ex.header(k, v)
      ex.header('cache-control', `private, max-age=${maxAge(r, Date.now())}`)
      ex.send(302)
      return
    }
    const filename = opts.filename ?? (opts.download ? info.title : null)
    ex.header('x-stream-mode', p.delivery)
    ex.header('x-stream-reason', p.reason)
    ex.header('x-stream-quality', formatQuality(opts.quality))
    switch (p.delivery) {
      case 'proxy': {
        if (opts.hlsOnly === true) {
          sendPlaylist(ex, await filePlaylist(target, info, p.primary), 'hls', `${p.reason}: one file, as a one-segment playlist of its proxy link`)
          return
        }
        const ref = { platform: target.platform.name, id: target.id, formatId: p.primary.format_id, ...itemOf(target) }
        await proxyMedia(ex, {
          url: p.primary.url,
          headers: p.primary.headers,
          expiresAtMs: p.primary.expires_at === null ? null : Date.parse(p.primary.expires_at),
          refresh: async () => await resolveRef(ref, opts.client)
        }, { upstream: deps.upstream, allow: deps.allowHosts, platform: target.platform.name, download: opts.download, filename, countBytes: deps.proxyBytes?.(target.platform.name) })
        return
      }
      case 'hls': {
        if (p.audio !== null) {
          const text = await split.master(target, p.primary, p.audio, opts.client).catch((err: unknown) => {
            if (!(err instanceof AppError) || err.statusCode < 500 || opts.hlsOnly === true) throw err
            ex.header('x-stream-reason', `${p.reason}, but ${err.message.toLowerCase().replace(/\.$/, '')}: remuxed instead`)
            return null
          })
          if (text === null) break
          sendPlaylist(ex, text, 'hls', p.reason)
          return
        }
        if (!isHlsFormat(p.primary)) break
        const text = await rewritePlaylist(ex.signal, p.primary.manifest_url ?? p.primary.url, p.primary.headers, { platform: target.platform.name, id: target.id, formatId: p.primary.format_id, ...itemOf(target) })
        const cap = variantCap(opts.quality, opts.auto)
        sendPlaylist(ex, cap === null ? text : filterVariants(text, cap), 'hls', p.reason)
        return
      }
      case 'transcode': {
        if (opts.transcode === undefined || opts.transcode === null) throw new AppError('INTERNAL', 'a transcode plan without a format')
        await deps.remuxer.run(ex, transcodeJob({
          input: deps.selfBase() + remuxInput(target, p.primary),
          transcode: opts.transcode,
          source: `${target.platform.name}/${target.id}/${target.item === undefined ? '' : `item${target.item}/`}${p.primary.format_id}`,
          duration: info.duration,
          title: info.title,
          artist: info.uploader,
          filename,
          download: opts.download
        }))
        return
      }
      case 'remux':
        break
    }
    if (opts.hlsOnly === true) {
      throw new AppError('HLS_NOT_POSSIBLE', undefined, {
        detail: `${p.reason}; no HLS form exists: ask /api/v2/stream/${target.platform.name}/${encodeURIComponent(target.id)}?format=mp4${itemQuery(target.item)} for one MP4`
      })
    }
    const startSec = checkStart(opts.startSec ?? 0, info.duration)
    const base = deps.selfBase()
    ex.header('x-stream-mode', 'remux')
    // one input: an HLS source remuxed whole (format=mp4); two: separate video and audio
    const video = base + remuxInput(target, p.primary)
    const audio = p.audio === null ? video : base + remuxInput(target, p.audio)
    await deps.remuxer.serve(ex, { video, audio, audioCodec: (p.audio ?? p.primary).acodec }, {
      filename,
      download: opts.download,
      key: `${target.platform.name}/${target.id}/${target.item === undefined ? '' : `item${target.item}/`}${p.primary.format_id}${p.audio === null ? '' : `+${p.audio.format_id}`}`,
      startSec,
      live: info.is_live === true
    })
  }

  async function servePlaylist (ex: MediaExchange, token: string): Promise<void> {
    const link = deps.signer.verify(token, 'hls')
    const text = await rewritePlaylist(ex.signal, link.url, link.headers, link.ref)
    sendPlaylist(ex, text, 'hls', 'a playlist rewritten to signed proxy links')
  }

  function describe (base: string, postTarget: Target, info: MediaInfo, p: StreamPlan, opts: StreamOptions): StreamInfoOut {
    const target = withItem(postTarget, opts.item)
    const single = p.audio === null
    const proxy = single && !isHlsFormat(p.primary) ? base + proxyLink(target, p.primary, opts.filename) : null
    const splitHls = p.audio !== null && isMp4Member(p.primary) && isMp4Member(p.audio) ? base + split.masterLink(target, p.primary, p.audio) : null
    const hls = single && isHlsFormat(p.primary) ? base + playlistLink(target, p.primary) : splitHls
    const t = p.delivery === 'transcode' ? opts.transcode ?? null : null
    const audioArgs = t === null ? '' : `&format=${t.format}${t.bitrate === null ? '' : `&bitrate=${t.bitrate}`}`
    const replay = `${base}/api/v2/stream/${target.platform.name}/${encodeURIComponent(target.id)}?quality=${encodeURIComponent(formatQuality(opts.quality))}&mode=proxy${opts.videoOnly ? '&video_only=true' : ''}${opts.mp4 === true ? '&format=mp4' : ''}${itemQuery(opts.item)}${audioArgs}`
    const streamUrl = p.delivery === 'redirect' ? p.primary.url : p.delivery === 'hls' && hls !== null ? hls : p.delivery === 'proxy' && proxy !== null ? proxy : replay
    return {
      platform: target.platform.name,
      id: target.id,
      title: info.title,
      duration: info.duration,
      is_live: info.is_live,
      quality: p.primary.height === null ? formatQuality(opts.quality) : `${p.primary.height}p`,
      delivery: p.delivery,
      reason: p.reason,
      stream_url: streamUrl,
      direct_url: single ? p.primary.url : null,
      proxy_url: proxy,
      hls_url: hls,
      headers: single ? p.primary.headers : {},
      expires_at: p.primary.expires_at ?? info.expires_at,
      video: trackOut(p.primary),
      audio: p.audio === null ? null : trackOut(p.audio),
      transcode: t === null ? null : transcodeOut(t, info.duration)
    }
  }

  return { plan, quickRedirect, maxAge, serve, describe, servePlaylist, serveSplit: split.serve, proxyLink, playlistLink, resolveRef, admit: deps.extractor.admit }
}
