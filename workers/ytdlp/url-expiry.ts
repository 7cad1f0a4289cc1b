// Reads when a signed media URL stops working, from the query parameters CDNs use.

// Unix seconds between 2001 and 2286: anything else is not a timestamp.
function plausible (sec: number): number | null {
  return Number.isInteger(sec) && sec > 1e9 && sec < 1e10 ? sec : null
}

function decimal (value: string): number | null {
  return /^\d+$/.test(value) ? plausible(Number(value)) : null
}

function hex (value: string): number | null {
  return /^[0-9a-f]+$/i.test(value) ? plausible(Number.parseInt(value, 16)) : null
}

// X-Amz-Date is 20231124T061200Z; X-Amz-Expires is a lifetime in seconds
function amazon (value: string, params: URLSearchParams): number | null {
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(params.get('X-Amz-Date') ?? '')
  if (date === null || !/^\d+$/.test(value)) return null
  const [, y, mo, d, h, mi, s] = date.map(Number)
  const startMs = Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s)
  return plausible(Math.floor(startMs / 1000) + Number(value))
}

// Akamai tokens: hdnts=exp=1700000000~acl=/*~hmac=…
function akamai (value: string): number | null {
  const exp = /(?:^|~)exp=(\d+)/.exec(value)
  return exp?.[1] === undefined ? null : decimal(exp[1])
}

const EXPIRY_PARAMS: readonly { name: string, parse: (value: string, params: URLSearchParams) => number | null }[] = [
  { name: 'expire', parse: decimal }, // YouTube googlevideo
  { name: 'deadline', parse: decimal }, // BiliBili upos
  { name: 'oe', parse: hex }, // Meta: Instagram, Facebook
  { name: 'Expires', parse: decimal }, // CloudFront signed URLs
  { name: 'X-Amz-Expires', parse: amazon },
  { name: 'hdnts', parse: akamai },
  { name: 'hdnea', parse: akamai }
]

// googlevideo manifest URLs carry their parameters as path segments: /expire/1700000000/
const PATH_EXPIRE = /\/expire\/(\d+)(?:\/|$)/

export function parseUrlExpirySec (url: string): number | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return null
  }
  for (const { name, parse } of EXPIRY_PARAMS) {
    const value = parsed.searchParams.get(name)
    const sec = value === null ? null : parse(value, parsed.searchParams)
    if (sec !== null) return sec
  }
  const inPath = PATH_EXPIRE.exec(parsed.pathname)
  return inPath?.[1] === undefined ? null : decimal(inPath[1])
}

export function parseUrlExpiry (url: string): string | null {
  const sec = parseUrlExpirySec(url)
  return sec === null ? null : new Date(sec * 1000).toISOString()
}
