// DASH MPD → representations with resolved URLs and segment lists. Pure; bad
// input throws ManifestError (see manifest-error.ts). XML safety lives in xml.ts.
import { ManifestError, assertAbsoluteBase, resolveUrl } from '../manifest-error.ts'
import { childElements, firstChild, parseXml } from './xml.ts'
import { buildSegmentInfo } from './dash-segments.ts'
import { parseFrameRate, parseIsoDuration, parseUnsigned } from './dash-values.ts'
import type { XmlElement } from './xml.ts'
import type { DashKind, DashManifest, DashPeriod, DashRepresentation } from './dash-types.ts'

export type * from './dash-types.ts'

export const DASH_MAX_SEGMENTS = 200_000

const VIDEO_CODECS = /^(avc|hev|hvc|vp0?8|vp09|av01|dvh|dva|mp4v)/i
const AUDIO_CODECS = /^(mp4a|opus|vorbis|ac-3|ec-3|ac-4|flac|mp3|dtsc|alac)/i
const TEXT_CODECS = /^(stpp|wvtt|tx3g)/i

export function parseDash (xml: string, baseUrl: string): DashManifest {
  assertAbsoluteBase(baseUrl)
  const mpd = parseXml(xml)
  if (mpd.name !== 'MPD') throw new ManifestError('MANIFEST_INVALID', `not a DASH manifest: root element is <${mpd.name}>`)
  const type = mpd.attributes.get('type') === 'dynamic' ? 'dynamic' : 'static'
  const duration = parseIsoDuration(mpd.attributes.get('mediaPresentationDuration'))
  const mpdBase = resolveBase(mpd, baseUrl)
  const budget = { remaining: DASH_MAX_SEGMENTS }
  const periodElements = childElements(mpd, 'Period')
  const periods: DashPeriod[] = []
  let previousEnd: number | null = 0
  for (const [i, element] of periodElements.entries()) {
    const start: number = parseIsoDuration(element.attributes.get('start')) ?? previousEnd ?? 0
    const nextStart = parseIsoDuration(periodElements[i + 1]?.attributes.get('start'))
    const periodDuration: number | null = parseIsoDuration(element.attributes.get('duration')) ??
      (nextStart !== null ? nextStart - start : null) ??
      (i === periodElements.length - 1 && duration !== null ? duration - start : null)
    previousEnd = periodDuration === null ? null : start + periodDuration
    const periodBase = resolveBase(element, mpdBase)
    const representations: DashRepresentation[] = []
    for (const set of childElements(element, 'AdaptationSet')) {
      const setBase = resolveBase(set, periodBase)
      for (const rep of childElements(set, 'Representation')) {
        const parsed = buildRepresentation([element, set, rep], resolveBase(rep, setBase), periodDuration, budget)
        if (parsed !== null) representations.push(parsed)
      }
    }
    periods.push({ id: element.attributes.get('id') ?? null, start, duration: periodDuration, representations })
  }
  return {
    type,
    isLive: type === 'dynamic',
    duration,
    minBufferTime: parseIsoDuration(mpd.attributes.get('minBufferTime')),
    availabilityStartTime: mpd.attributes.get('availabilityStartTime') ?? null,
    periods
  }
}

function resolveBase (element: XmlElement, parentBase: string): string {
  const text = firstChild(element, 'BaseURL')?.text.trim() ?? ''
  return text === '' ? parentBase : resolveUrl(text, parentBase)
}

function buildRepresentation (
  levels: readonly [XmlElement, XmlElement, XmlElement],
  baseUrl: string,
  periodDuration: number | null,
  budget: { remaining: number }
): DashRepresentation | null {
  const [, set, rep] = levels
  const attr = (name: string): string | undefined => rep.attributes.get(name) ?? set.attributes.get(name)
  const id = rep.attributes.get('id')
  const kind = detectKind(attr('contentType'), attr('mimeType'), attr('codecs'), attr('width'))
  if (id === undefined || kind === null) return null
  const bandwidth = parseUnsigned(rep.attributes.get('bandwidth')) ?? 0
  const info = buildSegmentInfo(levels, { representationId: id, bandwidth, baseUrl, periodDuration, budget })
  return {
    kind,
    id,
    bandwidth,
    width: parseUnsigned(attr('width')),
    height: parseUnsigned(attr('height')),
    frameRate: parseFrameRate(attr('frameRate')),
    codecs: attr('codecs') ?? null,
    mimeType: attr('mimeType') ?? null,
    lang: attr('lang') ?? null,
    audioSamplingRate: parseUnsigned(attr('audioSamplingRate')),
    baseUrl,
    ...info
  }
}

// Image (thumbnail) and unrecognised sets return null and are left out.
function detectKind (contentType?: string, mimeType?: string, codecs?: string, width?: string): DashKind | null {
  if (contentType === 'video' || contentType === 'audio' || contentType === 'text') return contentType
  if (contentType !== undefined && contentType !== '') return null
  const mime = mimeType?.toLowerCase() ?? ''
  if (mime.startsWith('video/')) return 'video'
  if (mime.startsWith('audio/')) return 'audio'
  if (mime.startsWith('text/') || mime === 'application/ttml+xml') return 'text'
  if (mime.startsWith('image/')) return null
  const codec = codecs?.trim() ?? ''
  if (VIDEO_CODECS.test(codec)) return 'video'
  if (AUDIO_CODECS.test(codec)) return 'audio'
  if (TEXT_CODECS.test(codec)) return 'text'
  return width === undefined ? null : 'video'
}
