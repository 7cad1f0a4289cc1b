// Separate video and audio as one HLS presentation: a generated master (the
// video variant with AUDIO="aud" and an audio rendition) and media playlists
// built from each format's segment index. Everything lives under one signed,
// expiring token per format, /api/v2/hls/split/<token>/<name>:
//   master.m3u8        token of the pair (ref.formatId "<video>+<audio>")
//   index.m3u8         token of one format (the same token /api/v2/proxy/ takes)
//   media.mp4|m4a      the format's file, for EXT-X-BYTERANGE segments (sidx)
//   init.mp4, <n>.m4s  other parts (DASH templates, yt-dlp fragments)
// Relative names keep the token out of every segment line and need no signing
// per segment (a signature costs ~0.1 ms); the extensions satisfy players that
// check segment URLs against the container they detect.
import { AppError } from '../errors.ts'
import { itemOf } from './items.ts'
import { proxyMedia } from '../proxy/stream.ts'
import type { MediaExchange } from '../proxy/exchange.ts'
import type { LinkSigner, ReextractRef } from '../proxy/signer.ts'
import type { UpstreamClient } from '../proxy/upstream.ts'
import type { ExtractionPool } from '../extract/pool.ts'
import { isHlsFormat } from './stream-plan.ts'
import { runTask } from './media-index.ts'
import type { IndexPart, MediaIndexer } from './media-index.ts'
import type { Target } from '../platforms/index.ts'
import type { Requester } from '../extract/fair-queue.ts'
import type { MediaFormat, MediaInfo } from '../../workers/protocol.ts'
import type { MasterVariantInput, MediaPlaylistInput } from '../../workers/hls/hls-build.ts'

export const SPLIT_PATH = '/api/v2/hls/split/'
export const AUDIO_GROUP = 'aud'
const MASTER = 'master.m3u8'
const INDEX = 'index.m3u8'
const HLS_TYPE = 'application/vnd.apple.mpegurl'
const CODEC = /^[A-Za-z0-9]{4}(?:\.[A-Za-z0-9.]+)?$/
const LANGUAGE = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$/

export interface SplitHlsDeps {
  signer: LinkSigner
  linkTtlSec: number
  indexer: MediaIndexer
  pool: ExtractionPool
  upstream: UpstreamClient
  allowHosts: readonly string[]
  // metrics: the byte counter of a platform
  proxyBytes?: (platform: string) => (bytes: number) => void
  playlistLink: (target: Target, f: MediaFormat) => string
  // the extraction a link's ref points at: cached, or fresh when a URL expired (client: who asks)
  lookup: (ref: ReextractRef, fresh: boolean, client?: Requester) => Promise<{ target: Target, info: MediaInfo }>
}

export interface SplitHls {
  masterLink: (target: Target, video: MediaFormat, audio: MediaFormat) => string
  // one format's media playlist (an HLS format's own, rewritten)
  mediaLink: (target: Target, f: MediaFormat) => string
  // the master text; first builds both segment indexes, so a failure surfaces while the caller can still remux
  master: (target: Target, video: MediaFormat, audio: MediaFormat, client?: Requester) => Promise<string>
  serve: (ex: MediaExchange, token: string, name: string, client?: Requester) => Promise<void>
}

const expirySec = (f: MediaFormat): number | null => f.expires_at === null ? null : Math.floor(Date.parse(f.expires_at) / 1000)
const fileName = (f: MediaFormat): string => f.has_video || f.ext !== 'm4a' ? 'media.mp4' : 'media.m4a'

function variant (video: MediaFormat, audio: MediaFormat, uri: string): MasterVariantInput {
  const kbps = (video.bitrate ?? 0) + (audio.bitrate ?? 0)
  const codecs = [video.vcodec, audio.acodec]
  const out: MasterVariantInput = { uri, bandwidth: kbps > 0 ? Math.round(kbps * 1000) : 2_000_000, audioGroup: AUDIO_GROUP }
  if (codecs.every((c): c is string => c !== null && CODEC.test(c))) out.codecs = codecs.join(',')
  if (video.width !== null && video.height !== null) out.resolution = { width: video.width, height: video.height }
  if (video.fps !== null && video.fps > 0) out.frameRate = video.fps
  return out
}

function findFormat (info: MediaInfo, id: string): MediaFormat {
  const f = info.formats.find((x) => x.format_id === id)
  if (f === undefined) throw new AppError('UPSTREAM_ERROR', 'The format is no longer offered by the platform', { detail: id.slice(0, 100) })
  return f
}

export function createSplitHls (deps: SplitHlsDeps): SplitHls {
  const token = (target: Target, f: MediaFormat, formatId: string): string => deps.signer.sign({
    route: 'split',
    url: f.url,
    headers: f.headers,
    urlExpiresAt: expirySec(f),
    ref: { platform: target.platform.name, id: target.id, formatId, ...itemOf(target) }
  }, deps.linkTtlSec)

  const mediaLink = (target: Target, f: MediaFormat): string =>
    isHlsFormat(f) ? deps.playlistLink(target, f) : `${SPLIT_PATH}${token(target, f, f.format_id)}/${INDEX}`

  const refresher = (target: Target, id: string, client?: Requester) => async (): Promise<MediaFormat> => {
    const { info } = await deps.lookup({ platform: target.platform.name, id: target.id, formatId: id, ...itemOf(target) }, true, client)
    return findFormat(info, id)
  }

  async function master (target: Target, video: MediaFormat, audio: MediaFormat, client?: Requester): Promise<string> {
    await Promise.all([video, audio].filter((f) => !isHlsFormat(f)).map(async (f) => await deps.indexer.index(f, refresher(target, f.format_id, client), target.platform.name)))
    const language = audio.language !== null && LANGUAGE.test(audio.language) ? audio.language : undefined
    return await runTask(deps.pool, 'buildHls', {
      master: {
        audio: [{ groupId: AUDIO_GROUP, name: language ?? 'Audio', ...(language === undefined ? {} : { language }), default: true, uri: mediaLink(target, audio) }],
        variants: [variant(video, audio, mediaLink(target, video))]
      }
    })
  }

  async function media (target: Target, f: MediaFormat, client?: Requester): Promise<string> {
    const idx = await deps.indexer.index(f, refresher(target, f.format_id, client), target.platform.name)
    const name = (p: IndexPart, other: string): string => p.url === f.url ? fileName(f) : other
    const input: MediaPlaylistInput = {
      endList: true,
      segments: idx.segments.map((s, i) => ({ uri: name(s, `${i}.m4s`), duration: s.duration, ...(s.range === null ? {} : { byterange: s.range }) }))
    }
    if (idx.init !== null) input.map = { uri: name(idx.init, 'init.mp4'), ...(idx.init.range === null ? {} : { byterange: idx.init.range }) }
    return await runTask(deps.pool, 'buildHls', { media: input })
  }

  async function partUrl (f: MediaFormat, name: string, platform: string): Promise<string> {
    if (name === fileName(f)) return f.url
    const idx = await deps.indexer.index(f, undefined, platform)
    const n = /^(\d{1,7})\.m4s$/.exec(name)
    const found = name === 'init.mp4' ? idx.init : n === null ? undefined : idx.segments[Number(n[1])]
    if (found === undefined || found === null) throw new AppError('NOT_FOUND', 'No such part of this stream', { detail: name.slice(0, 40) })
    return found.url
  }

  function sendPlaylist (ex: MediaExchange, text: string): void {
    ex.header('content-type', HLS_TYPE)
    ex.header('cache-control', 'no-cache')
    ex.header('x-stream-mode', 'hls')
    ex.send(200, text)
  }

  async function serve (ex: MediaExchange, tokenText: string, name: string, client?: Requester): Promise<void> {
    const ref = deps.signer.verify(tokenText, 'split').ref
    if (ref === null) throw new AppError('INVALID_SIGNATURE', undefined, { detail: 'the link is not a stream link' })
    const ids = ref.formatId.split('+')
    const { target, info } = await deps.lookup(ref, false, client)
    const [first, second] = ids
    if (name === MASTER && ids.length === 2 && first !== undefined && second !== undefined) {
      sendPlaylist(ex, await master(target, findFormat(info, first), findFormat(info, second), client))
      return
    }
    if (name === MASTER || ids.length !== 1 || first === undefined) throw new AppError('NOT_FOUND', 'No such part of this stream', { detail: name.slice(0, 40) })
    const f = findFormat(info, first)
    if (name === INDEX) { sendPlaylist(ex, await media(target, f, client)); return }
    const url = await partUrl(f, name, target.platform.name)
    const refresh = refresher(target, f.format_id, client)
    await proxyMedia(ex, {
      url,
      headers: f.headers,
      expiresAtMs: url === f.url && f.expires_at !== null ? Date.parse(f.expires_at) : null,
      ...(url === f.url ? { refresh: async () => { const g = await refresh(); return { url: g.url, headers: g.headers } } } : {})
    }, { upstream: deps.upstream, allow: deps.allowHosts, platform: target.platform.name, countBytes: deps.proxyBytes?.(target.platform.name) })
  }

  return {
    masterLink: (target, video, audio) => `${SPLIT_PATH}${token(target, video, `${video.format_id}+${audio.format_id}`)}/${MASTER}`,
    mediaLink,
    master,
    serve
  }
}
