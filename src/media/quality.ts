// Quality parsing and format selection over a normalized format list. Pure: no I/O.
// A format's "p" label is its shorter side (as yt-dlp's `res` and YouTube's
// labels): a 1080×1920 Short is 1080p. A height quality means "the best at or below".
import { AppError } from '../errors.ts'
import type { MediaFormat } from '../../workers/protocol.ts'

// What selection reads of a format: a view of the one format shape (workers/protocol.ts).
export type SelectableFormat = Pick<MediaFormat, 'format_id' | 'ext' | 'protocol' | 'width' | 'height' | 'fps' |
'vcodec' | 'acodec' | 'has_audio' | 'has_video' | 'bitrate' | 'filesize'>

export type Quality =
  | { kind: 'best' }
  | { kind: 'worst' }
  | { kind: 'height', height: number }
  | { kind: 'audio' }
  | { kind: 'auto' }

export type Selection<F extends SelectableFormat = SelectableFormat> =
  | { kind: 'progressive', format: F }
  | { kind: 'split', video: F, audio: F }
  | { kind: 'audio', format: F }
  | { kind: 'video_only', format: F }

export interface AutoInput {
  bandwidthKbps?: number | undefined
  userAgent?: string | undefined
  // the compat `device` parameter: mobile|phone → phone; tablet|desktop|tv → not; auto/absent → read the User-Agent
  device?: string | undefined
}

export interface SelectOptions {
  videoOnly?: boolean | undefined
  maxHeight?: number | undefined
  auto?: AutoInput | undefined
}

export const QUALITY_HEIGHTS: readonly number[] = Object.freeze([4320, 2160, 1440, 1080, 720, 480, 360, 240, 144])

// hd/sd/4k follow the original Go service (hd = 1080p, sd = 480p), so its clients keep their meaning.
const NAMED: Readonly<Record<string, Quality>> = Object.freeze({
  best: { kind: 'best' },
  highest: { kind: 'best' },
  worst: { kind: 'worst' },
  lowest: { kind: 'worst' },
  audio: { kind: 'audio' },
  bestaudio: { kind: 'audio' },
  // the original Python API's VideoQuality names: bestvideo is its "best video", which we give
  // with sound (a silent stream only with video_only=true); custom took its selector elsewhere
  bestvideo: { kind: 'best' },
  custom: { kind: 'best' },
  auto: { kind: 'auto' },
  '8k': { kind: 'height', height: 4320 },
  '4k': { kind: 'height', height: 2160 },
  hd: { kind: 'height', height: 1080 },
  sd: { kind: 'height', height: 480 }
})

export const QUALITY_VALUES: readonly string[] = Object.freeze([
  'best', 'highest', 'worst', 'lowest', ...QUALITY_HEIGHTS.map(h => `${h}p`), '8k', '4k', 'hd', 'sd', 'audio', 'bestaudio', 'bestvideo', 'custom', 'auto'
])

export function parseQuality (value: string | undefined, fallback: Quality = { kind: 'best' }): Quality {
  if (value === undefined || value.trim() === '') return fallback
  const v = value.trim().toLowerCase()
  const named = NAMED[v]
  if (named !== undefined && Object.hasOwn(NAMED, v)) return named
  const m = /^(\d{3,4})p?$/.exec(v)
  const height = m === null ? NaN : Number(m[1])
  if (QUALITY_HEIGHTS.includes(height)) return { kind: 'height', height }
  throw new AppError('INVALID_INPUT', 'quality is not a known quality', {
    detail: `quality must be one of: ${QUALITY_VALUES.join(', ')}`
  })
}

export function formatQuality (quality: Quality): string {
  return quality.kind === 'height' ? `${quality.height}p` : quality.kind
}

// Android phones say "Mobile", Android tablets don't; iPads say "Mobile/…" too, so "Mobile" alone is not a phone.
// Two plain tests instead of /Android.*Mobile/, whose backtracking is quadratic on a hostile header.
const PHONE_UA = /\b(?:iPhone|iPod|Windows Phone|IEMobile|BlackBerry|BB10|Opera Mini)\b/i
const ANDROID = /\bAndroid\b/i
const MOBILE = /\bMobile\b/i
export const AUTO_PHONE_MAX_HEIGHT = 480
export const AUTO_OTHER_MAX_HEIGHT = 1080

// Lowest bandwidth (kbps) that sustains each height: typical H.264 video bitrate
// at that height plus audio, with about 50% headroom.
export const AUTO_BANDWIDTH_TABLE: ReadonlyArray<{ minKbps: number, height: number }> = Object.freeze([
  { minKbps: 20000, height: 2160 },
  { minKbps: 10000, height: 1440 },
  { minKbps: 5000, height: 1080 },
  { minKbps: 2500, height: 720 },
  { minKbps: 1200, height: 480 },
  { minKbps: 700, height: 360 },
  { minKbps: 400, height: 240 },
  { minKbps: 0, height: 144 }
])

export function isPhone (input: Pick<AutoInput, 'userAgent' | 'device'>): boolean {
  const device = input.device?.trim().toLowerCase()
  if (device === 'mobile' || device === 'phone') return true
  if (device === 'tablet' || device === 'desktop' || device === 'tv') return false
  const ua = input.userAgent
  return ua !== undefined && (PHONE_UA.test(ua) || (ANDROID.test(ua) && MOBILE.test(ua)))
}

export function resolveAuto (input: AutoInput = {}): number {
  const deviceCap = isPhone(input) ? AUTO_PHONE_MAX_HEIGHT : AUTO_OTHER_MAX_HEIGHT
  const kbps = input.bandwidthKbps
  if (kbps === undefined || !Number.isFinite(kbps) || kbps <= 0) return deviceCap
  const row = AUTO_BANDWIDTH_TABLE.find(r => kbps >= r.minKbps)
  return Math.min(deviceCap, row?.height ?? 144)
}

export function resolution (f: SelectableFormat): number {
  if (f.width !== null && f.height !== null && f.width > 0 && f.height > 0) return Math.min(f.width, f.height)
  return f.height ?? f.width ?? 0
}

// 0 direct file, 1 HLS, 2 DASH; null: not something we can serve (storyboards, rtmp, f4m…).
export function protocolRank (protocol: string): number | null {
  let worst = 0
  for (const part of protocol.split('+')) {
    const p = part.trim().toLowerCase()
    const rank = p === 'https' || p === 'http'
      ? 0
      : p === 'm3u8' || p === 'm3u8_native' ? 1 : p === 'dash' || p.startsWith('http_dash_segments') ? 2 : null
    if (rank === null) return null
    worst = Math.max(worst, rank)
  }
  return worst
}

const isH264 = (codec: string | null): boolean => codec !== null && /^(?:avc[13]|h\.?264)/i.test(codec)
const isAac = (codec: string | null): boolean => codec !== null && /^(?:mp4a|aac)/i.test(codec)
const isMp4Audio = (f: SelectableFormat): boolean => f.ext === 'm4a' || f.ext === 'mp4' || isAac(f.acodec)
const rankOf = (f: SelectableFormat): number => protocolRank(f.protocol) ?? 9

function tieBreak (a: SelectableFormat, b: SelectableFormat): number {
  return rankOf(a) - rankOf(b) ||
    (b.bitrate ?? 0) - (a.bitrate ?? 0) ||
    Number(isH264(b.vcodec)) - Number(isH264(a.vcodec)) ||
    (b.fps ?? 0) - (a.fps ?? 0) ||
    a.format_id.localeCompare(b.format_id)
}

const byBest = (a: SelectableFormat, b: SelectableFormat): number => resolution(b) - resolution(a) || tieBreak(a, b)
const byLowest = (a: SelectableFormat, b: SelectableFormat): number => resolution(a) - resolution(b) || tieBreak(a, b)

const sortedFirst = <F extends SelectableFormat>(list: readonly F[], order: (a: F, b: F) => number, keep = (_f: F) => true): F | undefined =>
  list.filter(keep).sort(order)[0]
const atOrBelow = <F extends SelectableFormat>(list: readonly F[], cap: number): F | undefined =>
  sortedFirst(list, byBest, f => resolution(f) <= cap)
const smallestAbove = <F extends SelectableFormat>(list: readonly F[], cap: number): F | undefined =>
  sortedFirst(list, byLowest, f => resolution(f) > cap)
const capped = <F extends SelectableFormat>(list: readonly F[], cap: number): F | undefined =>
  atOrBelow(list, cap) ?? smallestAbove(list, cap)
const lowest = <F extends SelectableFormat>(list: readonly F[]): F | undefined => sortedFirst(list, byLowest)

function byAudio (a: SelectableFormat, b: SelectableFormat): number {
  return (b.bitrate ?? 0) - (a.bitrate ?? 0) || Number(isMp4Audio(b)) - Number(isMp4Audio(a)) || rankOf(a) - rankOf(b) ||
    a.format_id.localeCompare(b.format_id)
}

// For a split pair, audio that muxes into the video's container (AAC with MP4, Opus/Vorbis with WebM) comes first.
function audioFor<F extends SelectableFormat> (video: F, audios: readonly F[], fallback: F, worst: boolean): F {
  const mp4Video = video.ext === 'mp4' || isH264(video.vcodec)
  const fits = (f: F): number => Number(isMp4Audio(f) === mp4Video)
  return sortedFirst(audios, (a, b) => fits(b) - fits(a) || (worst ? byAudio(b, a) : byAudio(a, b))) ?? fallback
}

interface Classified<F> { progressive: F[], videoOnly: F[], audioOnly: F[], bestAudio: F | undefined }

function classify<F extends SelectableFormat> (formats: readonly F[]): Classified<F> {
  const usable = formats.filter(f => (f.has_audio || f.has_video) && protocolRank(f.protocol) !== null)
  const audioOnly = usable.filter(f => f.has_audio && !f.has_video)
  return {
    progressive: usable.filter(f => f.has_audio && f.has_video),
    videoOnly: usable.filter(f => f.has_video && !f.has_audio),
    audioOnly,
    bestAudio: sortedFirst(audioOnly, byAudio)
  }
}

function capFor (quality: Quality, options: SelectOptions): number {
  const max = options.maxHeight ?? Infinity
  if (quality.kind === 'height') return Math.min(quality.height, max)
  if (quality.kind === 'auto') return Math.min(resolveAuto(options.auto), max)
  return max
}

// A source with no audio anywhere (a GIF-like post) is served as its video-only stream: nothing is muted by choosing it.
function leftovers<F extends SelectableFormat> (c: Classified<F>, pick: (list: readonly F[]) => F | undefined): Selection<F> {
  const video = c.bestAudio === undefined ? pick(c.videoOnly) : undefined
  if (video !== undefined) return { kind: 'video_only', format: video }
  if (c.bestAudio !== undefined) return { kind: 'audio', format: c.bestAudio }
  throw new AppError('EXTRACTION_FAILED', 'no playable formats')
}

// Among the best candidates at or below the cap (else the smallest above it), a
// progressive file wins unless a split pair is strictly better on height.
export function selectFormat<F extends SelectableFormat> (formats: readonly F[], quality: Quality, options: SelectOptions = {}): Selection<F> {
  const c = classify(formats)
  if (quality.kind === 'audio') {
    if (c.bestAudio !== undefined) return { kind: 'audio', format: c.bestAudio }
    const progressive = lowest(c.progressive)
    if (progressive !== undefined) return { kind: 'progressive', format: progressive }
    throw new AppError('EXTRACTION_FAILED', 'no audio formats')
  }
  const audio = c.bestAudio
  const cap = capFor(quality, options)
  const worst = quality.kind === 'worst'
  if (options.videoOnly === true) {
    const video = worst ? lowest(c.videoOnly) : capped(c.videoOnly, cap)
    if (video !== undefined) return { kind: 'video_only', format: video }
  }
  if (worst) {
    const progressive = lowest(c.progressive)
    if (progressive !== undefined) return { kind: 'progressive', format: progressive }
    const video = audio === undefined ? undefined : lowest(c.videoOnly)
    if (video !== undefined && audio !== undefined) return { kind: 'split', video, audio: audioFor(video, c.audioOnly, audio, true) }
    return leftovers(c, lowest)
  }
  for (const pick of [atOrBelow, smallestAbove]) {
    const progressive = pick(c.progressive, cap)
    const video = audio === undefined ? undefined : pick(c.videoOnly, cap)
    const splitWins = video !== undefined && (progressive === undefined ||
      (pick === atOrBelow ? resolution(video) > resolution(progressive) : resolution(video) < resolution(progressive)))
    if (splitWins && audio !== undefined) return { kind: 'split', video, audio: audioFor(video, c.audioOnly, audio, false) }
    if (progressive !== undefined) return { kind: 'progressive', format: progressive }
  }
  return leftovers(c, list => capped(list, cap))
}

export type VrchatMatch = 'exact' | 'above_cap' | 'fallback' | 'none'

export interface VrchatChoice<F extends SelectableFormat = SelectableFormat> {
  format: F | null
  match: VrchatMatch
  reason: string
}

// 2: known H.264 + AAC; 1: codecs not reported; 0: a known codec VRChat's players may not decode.
function vrchatCodecScore (f: SelectableFormat): number {
  const videoOk = f.vcodec === null || isH264(f.vcodec)
  const audioOk = f.acodec === null || isAac(f.acodec)
  if (!videoOk || !audioOk) return 0
  return isH264(f.vcodec) && isAac(f.acodec) ? 2 : 1
}

const codecs = (f: SelectableFormat): string => `${f.vcodec ?? 'unknown'}/${f.acodec ?? 'unknown'}`

export function explainVrchat<F extends SelectableFormat> (formats: readonly F[], maxHeight = 720): VrchatChoice<F> {
  const c = classify(formats)
  const mp4 = c.progressive.filter(f => f.ext === 'mp4' && rankOf(f) === 0)
  const splitBetter = atOrBelow(c.audioOnly.length > 0 ? c.videoOnly : [], maxHeight)
  for (const score of [2, 1, 0]) {
    const tier = mp4.filter(f => vrchatCodecScore(f) === score)
    const below = atOrBelow(tier, maxHeight)
    const format = below ?? smallestAbove(tier, maxHeight)
    if (format === undefined) continue
    const res = resolution(format)
    if (score === 2 && below !== undefined) {
      const more = splitBetter !== undefined && resolution(splitBetter) > res
        ? `; ${resolution(splitBetter)}p exists only as separate video and audio`
        : ''
      return { format, match: 'exact', reason: `H.264/AAC MP4 at ${res}p, the best single file at or below ${maxHeight}p${more}` }
    }
    if (score === 2) {
      return { format, match: 'above_cap', reason: `no H.264/AAC MP4 at or below ${maxHeight}p; using the smallest above it (${res}p)` }
    }
    const why = score === 1 ? 'its codecs are not reported' : `its codecs (${codecs(format)}) may not play in VRChat`
    return { format, match: 'fallback', reason: `no MP4 known to be H.264/AAC; using a ${res}p MP4 with audio, but ${why}` }
  }
  return { format: null, match: 'none', reason: 'no single MP4 file with audio; video and audio must be combined first' }
}

export function selectVrchat<F extends SelectableFormat> (formats: readonly F[], maxHeight = 720): F | null {
  return explainVrchat(formats, maxHeight).format
}

// direct: a progressive file is the pick at that quality; split: separate video + audio beat it;
// video_only: only a silent stream has that height (served with video_only=true, or when the source has no audio).
export type Serving = 'direct' | 'split' | 'video_only'

export interface QualityOption {
  quality: string
  // the largest real height in this bucket; null for audio
  height: number | null
  serving: Serving
}

// Each height is listed under the quality value that selects it: 406 → 480p, 718 → 720p.
export function qualityLabel (res: number): string {
  const label = [...QUALITY_HEIGHTS].reverse().find(h => res <= h)
  return `${label ?? res}p`
}

export function availableQualities (formats: readonly SelectableFormat[]): QualityOption[] {
  const c = classify(formats)
  const hasAudio = c.bestAudio !== undefined
  const buckets = new Map<string, { progressive: number, video: number }>()
  const add = (f: SelectableFormat, key: 'progressive' | 'video'): void => {
    const res = resolution(f)
    if (res <= 0) return
    const bucket = buckets.get(qualityLabel(res)) ?? { progressive: 0, video: 0 }
    bucket[key] = Math.max(bucket[key], res)
    buckets.set(qualityLabel(res), bucket)
  }
  for (const f of c.progressive) add(f, 'progressive')
  for (const f of c.videoOnly) add(f, 'video')
  const list: QualityOption[] = [...buckets].map(([quality, b]) => ({
    quality,
    height: Math.max(b.progressive, b.video),
    serving: b.progressive > 0 && (b.progressive >= b.video || !hasAudio) ? 'direct' : hasAudio ? 'split' : 'video_only'
  }))
  list.sort((a, b) => (b.height ?? 0) - (a.height ?? 0))
  if (hasAudio) list.push({ quality: 'audio', height: null, serving: 'direct' })
  return list
}
