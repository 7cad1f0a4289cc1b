// Rewrites every URI in a playlist through mapUri and leaves every other byte
// alone. BYTERANGE attributes are kept: the proxy serves the same bytes.
import { assertAbsoluteBase, resolveUrl } from '../manifest-error.ts'
import { encodeUnsafeUriChars, isUriLine, parseAttributeList, splitPlaylist, splitTag } from './hls-syntax.ts'
import type { HlsUriKind } from './hls-types.ts'

export type MapUri = (absoluteUrl: string, kind: HlsUriKind) => string

interface UriAttributeRule {
  attribute: string
  kind: (attrs: ReadonlyMap<string, string>) => HlsUriKind
}

const URI_ATTRIBUTE_TAGS: ReadonlyMap<string, UriAttributeRule> = new Map<string, UriAttributeRule>([
  ['#EXT-X-KEY', { attribute: 'URI', kind: () => 'key' }],
  ['#EXT-X-SESSION-KEY', { attribute: 'URI', kind: () => 'session-key' }],
  ['#EXT-X-MAP', { attribute: 'URI', kind: () => 'map' }],
  ['#EXT-X-MEDIA', { attribute: 'URI', kind: () => 'media' }],
  ['#EXT-X-I-FRAME-STREAM-INF', { attribute: 'URI', kind: () => 'iframe' }],
  ['#EXT-X-RENDITION-REPORT', { attribute: 'URI', kind: () => 'media' }],
  ['#EXT-X-PART', { attribute: 'URI', kind: () => 'segment' }],
  ['#EXT-X-PRELOAD-HINT', { attribute: 'URI', kind: (attrs: ReadonlyMap<string, string>) => attrs.get('TYPE') === 'MAP' ? 'map' : 'segment' }],
  ['#EXT-X-SESSION-DATA', { attribute: 'URI', kind: () => 'session-data' }],
  ['#EXT-X-CONTENT-STEERING', { attribute: 'SERVER-URI', kind: () => 'steering' }]
])

export function rewriteHls (text: string, baseUrl: string, mapUri: MapUri): string {
  assertAbsoluteBase(baseUrl)
  const lines = splitPlaylist(text)
  let variantPending = false
  let out = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line === undefined) continue
    let rewritten = line.text
    if (i === 0) {
      // header line stays as is
    } else if (isUriLine(line.text)) {
      const kind = variantPending ? 'variant' : 'segment'
      variantPending = false
      rewritten = mapSafely(mapUri, resolveUrl(line.text.trim(), baseUrl), kind)
    } else {
      const lead = line.text.length - line.text.trimStart().length
      if (line.text.startsWith('#EXT', lead)) {
        const tag = splitTag(line.text.slice(lead))
        if (tag.name === '#EXT-X-STREAM-INF') variantPending = true
        const rule = URI_ATTRIBUTE_TAGS.get(tag.name)
        if (rule !== undefined) rewritten = rewriteAttributes(line.text, lead + tag.valueStart, rule, baseUrl, mapUri)
      }
    }
    out += rewritten + line.eol
  }
  return out
}

function rewriteAttributes (line: string, valueStart: number, rule: UriAttributeRule, baseUrl: string, mapUri: MapUri): string {
  const list = parseAttributeList(line.slice(valueStart))
  const attrs = new Map<string, string>()
  for (const attr of list) if (!attrs.has(attr.name)) attrs.set(attr.name, attr.value)
  const kind = rule.kind(attrs)
  let out = ''
  let cursor = 0
  for (const attr of list) {
    if (attr.name !== rule.attribute || attr.value === '') continue
    const mapped = mapSafely(mapUri, resolveUrl(attr.value, baseUrl), kind)
    out += line.slice(cursor, valueStart + attr.rawStart) + '"' + mapped + '"'
    cursor = valueStart + attr.rawEnd
  }
  return out + line.slice(cursor)
}

function mapSafely (mapUri: MapUri, absoluteUrl: string, kind: HlsUriKind): string {
  const mapped = encodeUnsafeUriChars(mapUri(absoluteUrl, kind))
  if (mapped.trim() === '' || mapped.trimStart().startsWith('#')) {
    throw new TypeError(`mapUri returned an unusable URI for a ${kind}`)
  }
  return mapped
}
