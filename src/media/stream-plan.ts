// Decides how a stream is delivered: which format(s) of the real format list,
// and whether the client is redirected, proxied, sent HLS or a remux. Pure.
import { AppError } from '../errors.ts'
import { selectFormat, explainVrchat, protocolRank, resolution } from './quality.ts'
import { redirectChoice } from './redirect-plan.ts'
import type { Quality, QualityOption, Selection } from './quality.ts'
import type { MediaFormat } from '../../workers/protocol.ts'
import type { AudioTranscode } from './audio.ts'

export type StreamMode = 'redirect' | 'proxy' | 'json' | 'auto'
export const STREAM_MODES: readonly StreamMode[] = ['redirect', 'proxy', 'json', 'auto']

export type Delivery = 'redirect' | 'proxy' | 'hls' | 'remux' | 'transcode'

export interface PlanInput {
  formats: readonly MediaFormat[]
  quality: Quality
  mode: StreamMode
  videoOnly: boolean
  ipBound: boolean
  isLive: boolean
  // the client plays HLS (AVPro, Safari, mpv, VLC, hls.js) — used when video and audio are separate
  prefersHls: boolean
  // format=mp4: the client wants one MP4 file, so an HLS source is remuxed too (never live, never under mode=redirect)
  mp4?: boolean
  auto?: { bandwidthKbps?: number | undefined, userAgent?: string | undefined, device?: string | undefined }
  // quality=audio&format=mp3|opus|m4a|wav: the best audio, transcoded on the fly
  transcode?: AudioTranscode | null
}

export interface StreamPlan {
  selection: Selection<MediaFormat>
  // the one format a single-file delivery serves (the video of a split pair)
  primary: MediaFormat
  audio: MediaFormat | null
  delivery: Delivery
  reason: string
}

// A media URL about to become a Location header: http(s) only, and re-serialized
// by the URL parser, which drops tabs and line breaks (no header injection).
export function safeLocation (url: string): string {
  let parsed: URL
  try { parsed = new URL(url) } catch { throw new AppError('UPSTREAM_ERROR', 'The extracted media URL is not a valid URL') }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new AppError('UPSTREAM_ERROR', 'The extracted media URL is not http(s)')
  return parsed.href
}

export function isHlsFormat (f: MediaFormat): boolean {
  return f.protocol.startsWith('m3u8') || f.ext === 'm3u8'
}

// Headers other than a User-Agent mean a plain redirect would fail at the client.
export function needsHeaders (f: MediaFormat): boolean {
  return Object.keys(f.headers).some((h) => h.toLowerCase() !== 'user-agent')
}

// mode=redirect sends the client to the media URL itself, as asked; the reason says when that may fail.
function redirectCaveat (f: MediaFormat, input: PlanInput): string {
  if (input.ipBound) return '; the media URL is bound to the server\'s IP, so a client elsewhere may be refused (mode=auto proxies it)'
  const names = Object.keys(f.headers).filter((h) => h.toLowerCase() !== 'user-agent').join(', ')
  return names === '' ? '' : `; the media needs ${names}, which a redirected client may not send (mode=auto proxies it)`
}

function singleDelivery (f: MediaFormat, input: PlanInput): { delivery: Delivery, reason: string } {
  const hls = isHlsFormat(f)
  if (hls && input.mp4 === true && !input.isLive) {
    return { delivery: 'remux', reason: `an HLS source (${f.height ?? '?'}p): remuxed into one MP4 stream (format=mp4)` }
  }
  if (input.mode === 'proxy') {
    return hls ? { delivery: 'hls', reason: 'an HLS format: its playlist is rewritten to signed proxy links' } : { delivery: 'proxy', reason: 'proxy requested' }
  }
  if (needsHeaders(f)) {
    const names = Object.keys(f.headers).filter((h) => h.toLowerCase() !== 'user-agent').join(', ')
    return hls ? { delivery: 'hls', reason: `the media needs ${names}: HLS rewritten through the proxy` } : { delivery: 'proxy', reason: `the media needs ${names}, which a redirected client would not send` }
  }
  if (input.ipBound) {
    return hls ? { delivery: 'hls', reason: 'the media URL is bound to the server\'s IP: HLS rewritten through the proxy' } : { delivery: 'proxy', reason: 'the media URL is bound to the server\'s IP' }
  }
  return { delivery: 'redirect', reason: 'the media URL works from any client' }
}

// fMP4 (or HLS) members can be HLS renditions, and copy into an MP4 that plays everywhere.
export function isMp4Member (f: MediaFormat): boolean {
  if (isHlsFormat(f)) return true
  return f.has_video ? f.ext === 'mp4' || f.ext === 'm4v' : f.ext === 'm4a' || f.ext === 'mp4'
}

const byBitrate = (a: MediaFormat, b: MediaFormat): number => (b.bitrate ?? 0) - (a.bitrate ?? 0) || a.format_id.localeCompare(b.format_id)

// The split pair to serve: the selected one when both are MP4 members, else an
// MP4-member video of the same resolution and MP4-member audio; null when none exists.
export function mp4Pair (formats: readonly MediaFormat[], video: MediaFormat, audio: MediaFormat): { video: MediaFormat, audio: MediaFormat } | null {
  const usable = formats.filter((f) => protocolRank(f.protocol) !== null && isMp4Member(f))
  const v = isMp4Member(video) ? video : usable.filter((f) => f.has_video && !f.has_audio && resolution(f) === resolution(video)).sort(byBitrate)[0]
  const a = isMp4Member(audio) ? audio : usable.filter((f) => f.has_audio && !f.has_video).sort(byBitrate)[0]
  return v === undefined || a === undefined ? null : { video: v, audio: a }
}

// How the formats endpoint says a quality is served: a single file, HLS for
// HLS players (and a remux for the rest), a remux only, or a silent stream.
export type QualityServing = 'direct' | 'hls' | 'remux' | 'video_only'

export function qualityServing (formats: readonly MediaFormat[], q: QualityOption): QualityServing {
  if (q.serving !== 'split' || q.height === null) return q.serving === 'split' ? 'remux' : q.serving
  const selection = selectFormat(formats, { kind: 'height', height: q.height })
  if (selection.kind !== 'split') return 'direct'
  return mp4Pair(formats, selection.video, selection.audio) === null ? 'remux' : 'hls'
}

export function planStream (input: PlanInput): StreamPlan {
  // (only with quality=audio, which the stream routes' query parser holds it to)
  const transcode = input.quality.kind === 'audio' ? input.transcode ?? null : null
  if (transcode !== null && input.mode === 'redirect') {
    throw new AppError('INVALID_INPUT', `A redirect cannot transcode: format=${transcode.format} needs mode=auto or mode=proxy (or no format, to be redirected to the original audio)`, { detail: 'mode' })
  }
  if (input.mode === 'redirect') {
    const { selection, format, lowered } = redirectChoice(input.formats, input.quality, { videoOnly: input.videoOnly, auto: input.auto })
    return { selection, primary: format, audio: null, delivery: 'redirect', reason: (lowered ?? 'redirect requested') + redirectCaveat(format, input) }
  }
  const selected = selectFormat(input.formats, input.quality, { videoOnly: input.videoOnly, auto: input.auto })
  if (transcode !== null && selected.kind !== 'split') {
    const f = selected.format
    const from = `${f.acodec ?? f.ext}${f.bitrate === null ? '' : ` ${Math.round(f.bitrate)} kbit/s`}`
    const to = transcode.bitrate === null ? transcode.format : `${transcode.format} at ${transcode.bitrate} kbit/s`
    return { selection: selected, primary: f, audio: null, delivery: 'transcode', reason: `the best audio (${from}) transcoded to ${to}` }
  }
  if (selected.kind !== 'split') {
    const { delivery, reason } = singleDelivery(selected.format, input)
    return { selection: selected, primary: selected.format, audio: null, delivery, reason }
  }
  const pair = mp4Pair(input.formats, selected.video, selected.audio)
  const selection = pair === null ? selected : { kind: 'split' as const, ...pair }
  const { video, audio } = selection
  const delivery: Delivery = input.prefersHls && pair !== null ? 'hls' : 'remux'
  const reason = delivery === 'hls'
    ? `${video.height ?? '?'}p exists only as separate video and audio: an HLS master with an audio rendition`
    : `${video.height ?? '?'}p exists only as separate video and audio: remuxed into one MP4 stream with sound`
  return { selection, primary: video, audio, delivery, reason }
}

// VRChat/Unity: one progressive H.264/AAC MP4 at or below the quality; HLS for
// live streams with AVPro; the Unity player gets MP4 only. A source that is
// HLS only (not live) is remuxed into one MP4 (hlsRemux).
export interface VrchatPlan {
  format: MediaFormat | null
  split: { video: MediaFormat, audio: MediaFormat } | null
  hlsRemux?: MediaFormat
  reason: string
  hls: boolean
}

export function planVrchat (formats: readonly MediaFormat[], maxHeight: number, player: 'avpro' | 'unity', isLive: boolean): VrchatPlan {
  if (isLive) {
    const hls = formats.filter(isHlsFormat).filter((f) => f.has_video && f.has_audio)
    const pick = hls.filter((f) => (f.height ?? 0) <= maxHeight).sort((a, b) => (b.height ?? 0) - (a.height ?? 0))[0] ?? hls[0]
    if (pick !== undefined && player === 'avpro') return { format: pick, split: null, reason: 'a live stream: HLS, which AVPro plays', hls: true }
  }
  const choice = explainVrchat(formats, maxHeight)
  if (choice.format !== null) return { format: choice.format, split: null, reason: choice.reason, hls: false }
  const selection = selectFormat(formats, { kind: 'height', height: maxHeight })
  if (selection.kind === 'split') {
    const split = mp4Pair(formats, selection.video, selection.audio) ?? { video: selection.video, audio: selection.audio }
    return { format: null, split, reason: `${choice.reason}: remuxed into one MP4`, hls: false }
  }
  if (!isLive && isHlsFormat(selection.format) && selection.format.has_video && selection.format.has_audio) {
    const res = resolution(selection.format)
    return { format: null, split: null, hlsRemux: selection.format, reason: `no single MP4 file with audio: the ${res}p HLS stream is remuxed into one MP4`, hls: false }
  }
  return { format: selection.format, split: null, reason: choice.reason, hls: false }
}
