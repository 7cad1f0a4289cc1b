// The quality of a stream request applied to an HLS master: only the variants
// at or below it remain, best first (when none is, the lowest one alone).
// Variants without a RESOLUTION (audio only) stay, after the video ones; an
// I-frame playlist stays when its variant's resolution does. Pure; reads a
// master as the rewriter serializes it (each #EXT-X-STREAM-INF line followed
// by its URI line, one attribute list per tag).
import { resolveAuto } from './quality.ts'
import type { AutoInput, Quality } from './quality.ts'

// The largest "p" a quality lets through; null: the quality says nothing about video (audio).
export function variantCap (quality: Quality, auto?: AutoInput): number | null {
  switch (quality.kind) {
    case 'height': return quality.height
    case 'auto': return resolveAuto(auto)
    case 'worst': return 0
    case 'best': return Infinity
    case 'audio': return null
  }
}

interface Variant { res: number | null, bandwidth: number, lines: string[] }

const STREAM_INF = '#EXT-X-STREAM-INF:'
const IFRAME_INF = '#EXT-X-I-FRAME-STREAM-INF:'

function read (lines: string[]): Variant {
  const tag = lines[0] ?? ''
  const size = /(?:^|[:,])RESOLUTION=(\d{1,6})x(\d{1,6})(?:,|$)/.exec(tag)
  const bandwidth = Number(/(?:^|[:,])BANDWIDTH=(\d{1,15})(?:,|$)/.exec(tag)?.[1] ?? 0)
  // a "p" is the shorter side, as quality.ts's resolution()
  return { res: size === null ? null : Math.min(Number(size[1]), Number(size[2])), bandwidth, lines }
}

const bestFirst = (a: Variant, b: Variant): number => (b.res ?? 0) - (a.res ?? 0) || b.bandwidth - a.bandwidth

export function filterVariants (text: string, cap: number): string {
  const lines = text.split('\n').filter((l) => l !== '')
  if (!lines.some((l) => l.startsWith(STREAM_INF))) return text
  const rest: string[] = []
  const variants: Variant[] = []
  const iframes: Variant[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (line.startsWith(STREAM_INF)) variants.push(read([line, lines[++i] ?? '']))
    else if (line.startsWith(IFRAME_INF)) iframes.push(read([line]))
    else rest.push(line)
  }
  const video = variants.filter((v) => v.res !== null)
  if (video.length === 0) return text
  const within = video.filter((v) => (v.res ?? 0) <= cap)
  const kept = within.length > 0 ? within.sort(bestFirst) : [[...video].sort(bestFirst).at(-1) as Variant]
  const top = kept[0]?.res ?? 0
  const out = [
    ...rest,
    ...kept.flatMap((v) => v.lines),
    ...variants.filter((v) => v.res === null).sort(bestFirst).flatMap((v) => v.lines),
    ...iframes.filter((v) => v.res === null || v.res <= top).flatMap((v) => v.lines)
  ]
  return out.join('\n') + '\n'
}
