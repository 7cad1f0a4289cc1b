// Which headers cross the proxy, in each direction, and how values built from
// data (titles, upstream headers) are made safe: every value we emit is
// printable ASCII, so CR/LF can never split a header and a CJK title can never
// break one (the Python original answered 500 to non-Latin-1 titles).

// Upstream gets the format's own headers plus our Range; the client's headers
// (cookies, Authorization, X-API-Key, …) never go further than us.
const NEVER_UPSTREAM = new Set([
  'host', 'connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect',
  'content-length', 'range', 'if-range', 'accept-encoding', 'proxy-connection', 'proxy-authorization', 'http2-settings'
])

// Copied from the upstream response; everything else (Set-Cookie, CORS,
// Server, Alt-Svc, …) stays behind. Length and range headers are ours.
const COPIED = ['content-type', 'content-encoding', 'last-modified', 'etag', 'cache-control'] as const

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const PRINTABLE = /^[\t\x20-\x7e]*$/
const MAX_VALUE = 8192

export function isSafeHeaderValue (value: string): boolean {
  return value.length <= MAX_VALUE && PRINTABLE.test(value)
}

export function buildUpstreamHeaders (format: Readonly<Record<string, string>>, range: string | null, ifRange: string | null): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(format)) {
    const key = name.toLowerCase()
    if (!TOKEN.test(key) || NEVER_UPSTREAM.has(key) || !isSafeHeaderValue(value)) continue
    out[key] = value
  }
  // Byte offsets must refer to the identity encoding for Range and resume to be exact.
  out['accept-encoding'] = 'identity'
  if (range !== null) out.range = range
  if (range !== null && ifRange !== null && isSafeHeaderValue(ifRange)) out['if-range'] = ifRange
  return out
}

export function copiedResponseHeaders (upstream: Readonly<Record<string, string>>): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const name of COPIED) {
    const value = upstream[name]
    if (value !== undefined && isSafeHeaderValue(value)) out.push([name, value])
  }
  return out
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const UNSAFE_NAME = /[\u0000-\u001f\u007f-\u009f/\\\u2028\u2029]/g
const MAX_NAME = 180

export function cleanFilename (raw: string, fallback = 'video'): string {
  const name = raw.replace(LONE_SURROGATE, '\uFFFD').replace(UNSAFE_NAME, ' ').replace(/\s+/g, ' ').trim().replace(/^\.+/, '')
  return [...(name === '' ? fallback : name)].slice(0, MAX_NAME).join('')
}

function asciiFallback (name: string): string {
  const dot = name.lastIndexOf('.')
  const ext = dot > 0 && /^\.[A-Za-z0-9]{1,8}$/.test(name.slice(dot)) ? name.slice(dot) : ''
  const stem = (ext === '' ? name : name.slice(0, dot))
    .normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/g, '_').replace(/["\\%;]/g, '_')
    .replace(/_+/g, '_').replace(/^[_\s.]+|[_\s]+$/g, '')
  return (/[A-Za-z0-9]/.test(stem) ? stem : 'video') + ext
}

// RFC 6266 with an RFC 5987 filename* for the real (UTF-8) name.
export function contentDisposition (filename: string, type: 'attachment' | 'inline' = 'attachment'): string {
  const name = cleanFilename(filename)
  const encoded = encodeURIComponent(name).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `${type}; filename="${asciiFallback(name)}"; filename*=UTF-8''${encoded}`
}
