// A small non-validating XML reader for DASH. It refuses DOCTYPE (so no entity
// can be defined), expands only the 5 predefined and numeric references, bounds
// size, depth, element and attribute counts, and drops element name prefixes.
import { ManifestError } from '../manifest-error.ts'

export interface XmlElement {
  name: string
  attributes: ReadonlyMap<string, string>
  children: XmlElement[]
  text: string
}

export interface XmlLimits {
  maxChars: number
  maxDepth: number
  maxElements: number
  maxAttributes: number
}

export const XML_DEFAULT_LIMITS: XmlLimits = Object.freeze({
  maxChars: 8 * 1024 * 1024,
  maxDepth: 32,
  maxElements: 250_000,
  maxAttributes: 128
})

interface OpenElement {
  qname: string
  element: XmlElement
}

const PREDEFINED_ENTITIES: ReadonlyMap<string, string> = new Map([
  ['lt', '<'], ['gt', '>'], ['amp', '&'], ['quot', '"'], ['apos', '\'']
])
const NAME = /^[A-Za-z_][\w.:-]*$/

function fail (message: string): never {
  throw new ManifestError('MANIFEST_INVALID', `invalid XML: ${message}`)
}

function isSpace (ch: string | undefined): boolean {
  return ch === ' ' || ch === '\n' || ch === '\r' || ch === '\t'
}

export function parseXml (xml: string, limits: XmlLimits = XML_DEFAULT_LIMITS): XmlElement {
  if (xml.length > limits.maxChars) {
    throw new ManifestError('MANIFEST_TOO_LARGE', `XML exceeds ${limits.maxChars} characters`)
  }
  const stack: OpenElement[] = []
  let root: XmlElement | null = null
  let elements = 0
  let i = xml.charCodeAt(0) === 0xfeff ? 1 : 0
  while (i < xml.length) {
    const lt = xml.indexOf('<', i)
    const textEnd = lt === -1 ? xml.length : lt
    if (textEnd > i) {
      const text = xml.slice(i, textEnd)
      const top = stack.at(-1)
      if (top !== undefined) top.element.text += decodeEntities(text)
      else if (text.trim() !== '') fail('text outside the root element')
    }
    if (lt === -1) break
    if (xml.startsWith('<!--', lt)) {
      i = endOf(xml, '-->', lt + 4, 'comment')
    } else if (xml.startsWith('<![CDATA[', lt)) {
      const end = endOf(xml, ']]>', lt + 9, 'CDATA section')
      const top = stack.at(-1)
      if (top === undefined) fail('CDATA outside the root element')
      top.element.text += xml.slice(lt + 9, end - 3)
      i = end
    } else if (xml.startsWith('<!', lt)) {
      fail('DOCTYPE and other declarations are not allowed')
    } else if (xml.startsWith('<?', lt)) {
      i = endOf(xml, '?>', lt + 2, 'processing instruction')
    } else if (xml.startsWith('</', lt)) {
      const end = endOf(xml, '>', lt + 2, 'end tag')
      const qname = xml.slice(lt + 2, end - 1).trim()
      const open = stack.pop()
      if (open === undefined || open.qname !== qname) fail(`unexpected </${qname.slice(0, 64)}>`)
      i = end
    } else {
      if (root !== null && stack.length === 0) fail('more than one root element')
      if (stack.length >= limits.maxDepth) {
        throw new ManifestError('MANIFEST_TOO_LARGE', `XML nesting exceeds ${limits.maxDepth} levels`)
      }
      if (++elements > limits.maxElements) {
        throw new ManifestError('MANIFEST_TOO_LARGE', `XML has more than ${limits.maxElements} elements`)
      }
      const tag = readStartTag(xml, lt + 1, limits.maxAttributes)
      const colon = tag.qname.lastIndexOf(':')
      const element: XmlElement = { name: tag.qname.slice(colon + 1), attributes: tag.attributes, children: [], text: '' }
      const parent = stack.at(-1)
      if (parent !== undefined) parent.element.children.push(element)
      else root = element
      if (!tag.selfClosing) stack.push({ qname: tag.qname, element })
      i = tag.end
    }
  }
  if (stack.length > 0) fail(`unclosed <${stack.at(-1)?.qname.slice(0, 64) ?? ''}>`)
  if (root === null) fail('no root element')
  return root
}

function endOf (xml: string, terminator: string, from: number, what: string): number {
  const at = xml.indexOf(terminator, from)
  if (at === -1) fail(`unterminated ${what}`)
  return at + terminator.length
}

function readStartTag (xml: string, from: number, maxAttributes: number): { qname: string, attributes: Map<string, string>, selfClosing: boolean, end: number } {
  let p = from
  while (p < xml.length && !isSpace(xml[p]) && xml[p] !== '/' && xml[p] !== '>') p++
  const qname = xml.slice(from, p)
  if (!NAME.test(qname)) fail(`bad element name ${JSON.stringify(qname.slice(0, 64))}`)
  const attributes = new Map<string, string>()
  for (;;) {
    while (isSpace(xml[p])) p++
    const ch = xml[p]
    if (ch === undefined) fail(`unterminated <${qname}>`)
    if (ch === '>') return { qname, attributes, selfClosing: false, end: p + 1 }
    if (ch === '/') {
      if (xml[p + 1] !== '>') fail(`stray / in <${qname}>`)
      return { qname, attributes, selfClosing: true, end: p + 2 }
    }
    const nameStart = p
    while (p < xml.length && !isSpace(xml[p]) && xml[p] !== '=' && xml[p] !== '>' && xml[p] !== '/') p++
    const name = xml.slice(nameStart, p)
    if (!NAME.test(name)) fail(`bad attribute name in <${qname}>`)
    while (isSpace(xml[p])) p++
    if (xml[p] !== '=') fail(`attribute ${name} without a value`)
    p++
    while (isSpace(xml[p])) p++
    const quote = xml[p]
    if (quote !== '"' && quote !== '\'') fail(`unquoted attribute ${name}`)
    const close = xml.indexOf(quote, p + 1)
    if (close === -1) fail(`unterminated attribute ${name}`)
    const raw = xml.slice(p + 1, close)
    if (raw.includes('<')) fail(`< in attribute ${name}`)
    if (attributes.has(name)) fail(`duplicate attribute ${name}`)
    if (attributes.size >= maxAttributes) {
      throw new ManifestError('MANIFEST_TOO_LARGE', `more than ${maxAttributes} attributes on <${qname}>`)
    }
    attributes.set(name, decodeEntities(raw))
    p = close + 1
  }
}

export function decodeEntities (text: string): string {
  let amp = text.indexOf('&')
  if (amp === -1) return text
  let out = ''
  let cursor = 0
  while (amp !== -1) {
    const semi = text.indexOf(';', amp + 1)
    if (semi === -1 || semi - amp > 12) fail('bare & or unterminated character reference')
    out += text.slice(cursor, amp) + decodeReference(text.slice(amp + 1, semi))
    cursor = semi + 1
    amp = text.indexOf('&', cursor)
  }
  return out + text.slice(cursor)
}

function decodeReference (ref: string): string {
  const named = PREDEFINED_ENTITIES.get(ref)
  if (named !== undefined) return named
  const match = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(ref)
  if (match === null) fail(`unknown entity &${ref.slice(0, 16)};`)
  const code = match[1] !== undefined ? parseInt(match[1], 16) : Number(match[2])
  const allowed = code === 0x9 || code === 0xa || code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff)
  if (!allowed) fail(`invalid character reference &${ref};`)
  return String.fromCodePoint(code)
}

export function childElements (parent: XmlElement, name: string): XmlElement[] {
  return parent.children.filter(child => child.name === name)
}

export function firstChild (parent: XmlElement | null | undefined, name: string): XmlElement | null {
  return parent?.children.find(child => child.name === name) ?? null
}
