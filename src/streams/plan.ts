// Decides how a stream is delivered: which format(s) of the real format list,
// and whether the client is redirected, proxied, sent HLS or a remux. Pure.
import { AppError } from '../errors.ts'
import { selectFormat, explainVrchat } from '../quality.ts'
import type { Quality, Selection } from '../quality.ts'
import type { MediaFormat } from '../../workers/protocol.ts'

export type StreamMode = 'redirect' | 'proxy' | 'json' | 'auto'
export const STREAM_MODES: readonly StreamMode[] = ['redirect', 'proxy', 'json', 'auto']

export type Delivery = 'redirect' | 'proxy' | 'hls' | 'remux'

export interface PlanInput {
  formats: readonly MediaFormat[]
  quality: Quality
  mode: StreamMode
  videoOnly: boolean
  ipBound: boolean
  isLive: boolean
  // the client plays HLS (AVPro, Safari, mpv, VLC, hls.js) — used when video and audio are separate
  prefersHls: boolean
  auto?: { bandwidthKbps?: number | undefined, userAgent?: string | undefined, device?: string | undefined }
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

function singleDelivery (f: MediaFormat, input: PlanInput): { delivery: Delivery, reason: string } {
  const hls = isHlsFormat(f)
  if (input.mode === 'redirect') return { delivery: 'redirect', reason: 'redirect requested' }
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

export function planStream (input: PlanInput): StreamPlan {
  const selection = selectFormat(input.formats, input.quality, { videoOnly: input.videoOnly, auto: input.auto })
  if (selection.kind !== 'split') {
    const { delivery, reason } = singleDelivery(selection.format, input)
    return { selection, primary: selection.format, audio: null, delivery, reason }
  }
  const { video, audio } = selection
  const hlsOk = video.ext === 'mp4' || video.ext === 'm4v' || isHlsFormat(video)
  const delivery: Delivery = input.prefersHls && hlsOk ? 'hls' : 'remux'
  const reason = delivery === 'hls'
    ? `${video.height ?? '?'}p exists only as separate video and audio: an HLS master with an audio rendition`
    : `${video.height ?? '?'}p exists only as separate video and audio: remuxed into one MP4 stream with sound`
  return { selection, primary: video, audio, delivery, reason }
}

// VRChat/Unity: one progressive H.264/AAC MP4 at or below the quality; HLS for
// live streams with AVPro; the Unity player gets MP4 only.
export interface VrchatPlan { format: MediaFormat | null, split: { video: MediaFormat, audio: MediaFormat } | null, reason: string, hls: boolean }

export function planVrchat (formats: readonly MediaFormat[], maxHeight: number, player: 'avpro' | 'unity', isLive: boolean): VrchatPlan {
  if (isLive) {
    const hls = formats.filter(isHlsFormat).filter((f) => f.has_video && f.has_audio)
    const pick = hls.filter((f) => (f.height ?? 0) <= maxHeight).sort((a, b) => (b.height ?? 0) - (a.height ?? 0))[0] ?? hls[0]
    if (pick !== undefined && player === 'avpro') return { format: pick, split: null, reason: 'a live stream: HLS, which AVPro plays', hls: true }
  }
  const choice = explainVrchat(formats, maxHeight)
  if (choice.format !== null) return { format: choice.format, split: null, reason: choice.reason, hls: false }
  const selection = selectFormat(formats, { kind: 'height', height: maxHeight })
  if (selection.kind === 'split') return { format: null, split: { video: selection.video, audio: selection.audio }, reason: `${choice.reason}: remuxed into one MP4`, hls: false }
  return { format: selection.format, split: null, reason: choice.reason, hls: false }
}
