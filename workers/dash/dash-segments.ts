// Turns the SegmentBase / SegmentList / SegmentTemplate that applies to one
// Representation (merged down from Period and AdaptationSet) into URLs.
import { ManifestError, resolveUrl } from '../manifest-error.ts'
import { childElements, firstChild } from './xml.ts'
import { parseRange, parseSigned, parseUnsigned } from './dash-values.ts'
import type { XmlElement } from './xml.ts'
import type { ByteRangeInclusive, DashInit, DashSegment } from './dash-types.ts'

export interface SegmentContext {
  representationId: string
  bandwidth: number
  baseUrl: string
  periodDuration: number | null
  // shared across the manifest; decremented per segment
  budget: { remaining: number }
}

export interface SegmentInfo {
  init: DashInit | null
  segments: DashSegment[] | null
  indexRange: ByteRangeInclusive | null
}

interface Merged {
  attrs: Map<string, string>
  initialization: XmlElement | null
  timeline: XmlElement | null
  segmentUrls: XmlElement[]
}

const KINDS = ['SegmentTemplate', 'SegmentList', 'SegmentBase'] as const
const TEMPLATE_IDENTIFIER = /\$(RepresentationID|Number|Bandwidth|Time|SubNumber|)(?:%0(\d{1,2})d)?\$/g

// levels: Period, AdaptationSet, Representation (outermost first).
export function buildSegmentInfo (levels: readonly XmlElement[], ctx: SegmentContext): SegmentInfo {
  let kind: typeof KINDS[number] | null = null
  for (const level of levels) {
    const found = KINDS.find(k => firstChild(level, k) !== null)
    if (found !== undefined) kind = found
  }
  if (kind === null) return { init: null, segments: [segment(ctx, ctx.baseUrl, ctx.periodDuration ?? 0, null)], indexRange: null }
  const merged = merge(levels.map(level => firstChild(level, kind)))
  if (kind === 'SegmentTemplate') return expandTemplate(merged, ctx)
  if (kind === 'SegmentList') return expandList(merged, ctx)
  return expandBase(merged, ctx)
}

function merge (elements: ReadonlyArray<XmlElement | null>): Merged {
  const merged: Merged = { attrs: new Map(), initialization: null, timeline: null, segmentUrls: [] }
  for (const element of elements) {
    if (element === null) continue
    for (const [name, value] of element.attributes) merged.attrs.set(name, value)
    merged.initialization = firstChild(element, 'Initialization') ?? merged.initialization
    merged.timeline = firstChild(element, 'SegmentTimeline') ?? merged.timeline
    const urls = childElements(element, 'SegmentURL')
    if (urls.length > 0) merged.segmentUrls = urls
  }
  return merged
}

function segment (ctx: SegmentContext, url: string, duration: number, range: ByteRangeInclusive | null): DashSegment {
  if (--ctx.budget.remaining < 0) throw new ManifestError('MANIFEST_TOO_LARGE', 'manifest lists too many segments')
  return { url, duration, range }
}

function initFromElement (element: XmlElement | null, ctx: SegmentContext): DashInit | null {
  if (element === null) return null
  const source = element.attributes.get('sourceURL')
  return {
    url: source === undefined ? ctx.baseUrl : resolveUrl(source, ctx.baseUrl),
    range: parseRange(element.attributes.get('range'), 'Initialization@range')
  }
}

function expandBase (merged: Merged, ctx: SegmentContext): SegmentInfo {
  const indexRange = parseRange(merged.attrs.get('indexRange'), 'SegmentBase@indexRange')
  let init = initFromElement(merged.initialization, ctx)
  // On-demand ISO BMFF files put the init segment (ftyp+moov) right before the sidx.
  if (init === null && indexRange !== null && indexRange.start > 0) {
    init = { url: ctx.baseUrl, range: { start: 0, end: indexRange.start - 1 } }
  }
  const segments = indexRange === null ? [segment(ctx, ctx.baseUrl, ctx.periodDuration ?? 0, null)] : null
  return { init, segments, indexRange }
}

function expandList (merged: Merged, ctx: SegmentContext): SegmentInfo {
  const timescale = parseUnsigned(merged.attrs.get('timescale')) || 1
  const duration = parseUnsigned(merged.attrs.get('duration'))
  const count = merged.segmentUrls.length
  const timeline = merged.timeline === null ? null : expandTimeline(ctx, merged.timeline, 0, null, count)
  const evenly = ctx.periodDuration !== null && count > 0 ? ctx.periodDuration / count : 0
  const segments = merged.segmentUrls.map((element, i) => {
    const media = element.attributes.get('media')
    const ticks = timeline?.[i]?.duration ?? duration
    return segment(
      ctx,
      media === undefined ? ctx.baseUrl : resolveUrl(media, ctx.baseUrl),
      ticks === null ? evenly : ticks / timescale,
      parseRange(element.attributes.get('mediaRange'), 'SegmentURL@mediaRange')
    )
  })
  return { init: initFromElement(merged.initialization, ctx), segments, indexRange: null }
}

function expandTemplate (merged: Merged, ctx: SegmentContext): SegmentInfo {
  const timescale = parseUnsigned(merged.attrs.get('timescale')) || 1
  const startNumber = parseUnsigned(merged.attrs.get('startNumber')) ?? 1
  const endNumber = parseUnsigned(merged.attrs.get('endNumber'))
  const offset = parseUnsigned(merged.attrs.get('presentationTimeOffset')) ?? 0
  const media = merged.attrs.get('media')
  if (media === undefined) throw new ManifestError('MANIFEST_INVALID', 'SegmentTemplate without @media')
  const initTemplate = merged.attrs.get('initialization')
  const init = initTemplate === undefined
    ? initFromElement(merged.initialization, ctx)
    : { url: resolveUrl(fillTemplate(initTemplate, ctx, null, null), ctx.baseUrl), range: null }

  const periodEnd = ctx.periodDuration === null ? null : offset + ctx.periodDuration * timescale
  const maxCount = endNumber === null ? Infinity : endNumber - startNumber + 1
  let entries: Array<{ time: number, duration: number }>
  if (merged.timeline !== null) {
    entries = expandTimeline(ctx, merged.timeline, offset, periodEnd, maxCount)
  } else {
    const duration = parseUnsigned(merged.attrs.get('duration'))
    if (duration === null || duration === 0) throw new ManifestError('MANIFEST_INVALID', 'SegmentTemplate without @duration or SegmentTimeline')
    if (periodEnd === null) return { init, segments: null, indexRange: null }
    entries = []
    for (let time = offset; time < periodEnd - 1e-6 && entries.length < maxCount; time += duration) {
      checkBudget(ctx, entries.length)
      entries.push({ time, duration: Math.min(duration, periodEnd - time) })
    }
  }
  const segments = entries.map((entry, i) => segment(
    ctx,
    resolveUrl(fillTemplate(media, ctx, startNumber + i, entry.time), ctx.baseUrl),
    entry.duration / timescale,
    null
  ))
  return { init, segments, indexRange: null }
}

function checkBudget (ctx: SegmentContext, pending: number): void {
  if (pending >= ctx.budget.remaining) throw new ManifestError('MANIFEST_TOO_LARGE', 'manifest lists too many segments')
}

// Times in timescale units. S@r = -1 repeats until the next S@t or the period end.
function expandTimeline (ctx: SegmentContext, timeline: XmlElement, firstTime: number, periodEnd: number | null, maxCount: number): Array<{ time: number, duration: number }> {
  const entries: Array<{ time: number, duration: number }> = []
  const items = childElements(timeline, 'S')
  let time = firstTime
  for (const [i, item] of items.entries()) {
    time = parseUnsigned(item.attributes.get('t')) ?? time
    const duration = parseUnsigned(item.attributes.get('d'))
    if (duration === null || duration === 0) throw new ManifestError('MANIFEST_INVALID', 'SegmentTimeline S without @d')
    const repeat = parseSigned(item.attributes.get('r')) ?? 0
    let count = repeat + 1
    if (repeat < 0) {
      const nextTime = parseUnsigned(items[i + 1]?.attributes.get('t'))
      const end = nextTime ?? periodEnd
      count = end === null ? 1 : Math.max(0, Math.ceil((end - time) / duration))
    }
    for (let k = 0; k < count && entries.length < maxCount; k++) {
      checkBudget(ctx, entries.length)
      entries.push({ time, duration })
      time += duration
    }
  }
  return entries
}

function fillTemplate (template: string, ctx: SegmentContext, number: number | null, time: number | null): string {
  return template.replace(TEMPLATE_IDENTIFIER, (whole, name: string, width: string | undefined) => {
    let value: string | null
    if (name === '') return '$'
    else if (name === 'RepresentationID') value = ctx.representationId
    else if (name === 'Bandwidth') value = String(ctx.bandwidth)
    else if (name === 'Number') value = number === null ? null : String(number)
    else if (name === 'Time') value = time === null ? null : String(time)
    else value = null
    if (value === null) return whole
    return width === undefined ? value : value.padStart(Number(width), '0')
  })
}
