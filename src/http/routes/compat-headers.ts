// The original's informational response headers on its compat stream paths:
// X-Platform (direct, proxy, auto), X-Quality and X-Video-Title (direct),
// X-Selected-Quality and X-Device-Type (auto). A title can hold any Unicode
// and control characters (the original answered 500 for CJK titles), so it is
// sent twice, both safe on any HTTP stack: X-Video-Title ASCII-folded (NFKD,
// accents dropped, every other non-ASCII character '?', controls a space) and
// X-Video-Title-Encoded as an RFC 8187 ext-value (UTF-8''percent-encoded) of
// the same first 100 characters, exact.
import { formatQuality, isPhone } from '../../media/quality.ts'
import type { StreamOptions } from '../../media/service.ts'
import type { StreamPlan } from '../../media/stream-plan.ts'

export type CompatHeaders = 'direct' | 'proxy' | 'auto'

const TITLE_CHARS = 100

// the first 100 characters (code points, as Python's str slice), lone surrogates replaced
function head (title: string): string {
  return Array.from(title.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')).slice(0, TITLE_CHARS).join('')
}

export function asciiTitle (title: string): string {
  return head(title).normalize('NFKD').replace(/\p{M}/gu, '')
    .replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, ' ').replace(/[^\x20-\x7e]/gu, '?').trim()
}

export function encodedTitle (title: string): string {
  // encodeURIComponent leaves ' ( ) * as they are; RFC 8187's attr-char does not allow them
  return "UTF-8''" + encodeURIComponent(head(title)).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

export function titleHeaders (title: string): Array<[string, string]> {
  return [['x-video-title', asciiTitle(title)], ['x-video-title-encoded', encodedTitle(title)]]
}

export function directHeaders (platform: string, title: string, opts: StreamOptions): Array<[string, string]> {
  return [['x-platform', platform], ['x-quality', formatQuality(opts.quality)], ...titleHeaders(title)]
}

export function autoHeaders (platform: string, plan: StreamPlan, opts: StreamOptions): Array<[string, string]> {
  const asked = opts.auto?.device?.toLowerCase()
  const device = asked === 'mobile' || asked === 'tablet' || asked === 'desktop' ? asked : isPhone(opts.auto ?? {}) ? 'mobile' : 'desktop'
  const selected = plan.primary.height === null ? formatQuality(opts.quality) : `${plan.primary.height}p`
  return [['x-platform', platform], ['x-selected-quality', selected], ['x-device-type', device]]
}

export const headerLines = (headers: ReadonlyArray<readonly [string, string]>): string => headers.map(([k, v]) => `\r\n${k}: ${v}`).join('')
