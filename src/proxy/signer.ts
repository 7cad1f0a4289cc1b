// Signed, expiring proxy links: JSON → deflateRaw → base64url, then "." and a
// truncated HMAC-SHA256. The payload is readable by whoever holds the link
// (signed, not encrypted), so credentials are never embedded: sign() drops
// Cookie/Authorization headers; formats that need them must carry a ref, and
// the server supplies them again through re-extraction. Each link names the
// route class it was made for, and verifies on that route only.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { AppError } from '../errors.ts'

export interface ReextractRef {
  platform: string
  id: string
  formatId: string
  // the item of a multi-item post the format belongs to (src/media/items.ts)
  item?: number
}

// proxy: /api/v2/proxy/<token>; hls: /api/v2/hls/<token>; split: /api/v2/hls/split/<token>/<name>
export type LinkRoute = 'proxy' | 'hls' | 'split' | 'image'
const ROUTES: ReadonlySet<string> = new Set<LinkRoute>(['proxy', 'hls', 'split', 'image'])

export interface LinkPayload {
  route: LinkRoute
  url: string
  headers: Record<string, string>
  // unix seconds after which the link itself is refused
  expiresAt: number
  // unix seconds after which the upstream URL is known to be dead (refresh before use)
  urlExpiresAt: number | null
  ref: ReextractRef | null
  filename: string | null
}

export type LinkInput = Pick<LinkPayload, 'route' | 'url'> & Partial<Omit<LinkPayload, 'route' | 'url' | 'expiresAt'>>

export interface LinkSigner {
  sign: (payload: LinkInput, ttlSec: number) => string
  // route: the class of the route the token arrived on
  verify: (token: string, route: LinkRoute, nowMs?: number) => LinkPayload
}

const SIG_BYTES = 16
const SIG_CHARS = 22
const MAX_TOKEN_CHARS = 16384
const MAX_JSON_BYTES = 65536
// Domain separation: a MAC made for another purpose with the same secret never verifies here.
// v2: the payload names its route class (v1 links, which did not, never verify).
const CONTEXT = 'vidgate:proxy-link:v2:'
const SECRET_HEADERS = new Set(['cookie', 'authorization', 'proxy-authorization'])
const TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/

interface Wire { k: LinkRoute, u: string, h?: Record<string, string>, e: number, x?: number, r?: [string, string, string], i?: number, f?: string }

function invalid (detail: string): AppError {
  return new AppError('INVALID_SIGNATURE', undefined, { detail })
}

function isStringRecord (value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
}

function isWire (value: unknown): value is Wire {
  if (typeof value !== 'object' || value === null) return false
  const w = value as Record<string, unknown>
  return typeof w.k === 'string' && ROUTES.has(w.k) && typeof w.u === 'string' && Number.isSafeInteger(w.e) &&
    (w.h === undefined || isStringRecord(w.h)) &&
    (w.x === undefined || Number.isSafeInteger(w.x)) &&
    (w.f === undefined || typeof w.f === 'string') &&
    (w.i === undefined || (Number.isSafeInteger(w.i) && (w.i as number) >= 1)) &&
    (w.r === undefined || (Array.isArray(w.r) && w.r.length === 3 && w.r.every((s) => typeof s === 'string')))
}

export function createLinkSigner (secret: string): LinkSigner {
  if (secret.length === 0) throw new TypeError('createLinkSigner: secret must not be empty')
  const mac = (body: string): Buffer => createHmac('sha256', secret).update(CONTEXT).update(body).digest().subarray(0, SIG_BYTES)

  return {
    sign (payload, ttlSec) {
      if (!Number.isFinite(ttlSec) || ttlSec <= 0) throw new TypeError('sign: ttlSec must be a positive number')
      if (!ROUTES.has(payload.route)) throw new TypeError('sign: route must be proxy, hls or split')
      const wire: Wire = { k: payload.route, u: payload.url, e: Math.floor(Date.now() / 1000 + ttlSec) }
      const headers = Object.entries(payload.headers ?? {}).filter(([k]) => !SECRET_HEADERS.has(k.toLowerCase()))
      if (headers.length > 0) wire.h = Object.fromEntries(headers)
      if (payload.urlExpiresAt != null) wire.x = Math.floor(payload.urlExpiresAt)
      if (payload.ref != null) wire.r = [payload.ref.platform, payload.ref.id, payload.ref.formatId]
      if (payload.ref?.item !== undefined) wire.i = payload.ref.item
      if (payload.filename != null) wire.f = payload.filename
      const body = deflateRawSync(JSON.stringify(wire), { level: 9 }).toString('base64url')
      return `${body}.${mac(body).toString('base64url')}`
    },

    verify (token, route, nowMs = Date.now()) {
      if (token.length > MAX_TOKEN_CHARS || !TOKEN.test(token)) throw invalid('the link is malformed')
      const body = token.slice(0, -SIG_CHARS - 1)
      // The signature's text is compared, not its decoded bytes: 22 base64url characters
      // carry 132 bits for 128, and the 4 unused bits would give each link 16 spellings.
      const given = Buffer.from(token.slice(-SIG_CHARS), 'latin1')
      if (!timingSafeEqual(given, Buffer.from(mac(body).toString('base64url'), 'latin1'))) throw invalid('the link signature does not match')
      let wire: unknown
      try {
        wire = JSON.parse(inflateRawSync(Buffer.from(body, 'base64url'), { maxOutputLength: MAX_JSON_BYTES }).toString('utf8'))
      } catch (err) {
        throw new AppError('INVALID_SIGNATURE', undefined, { detail: 'the link payload is malformed', cause: err })
      }
      if (!isWire(wire)) throw invalid('the link payload is malformed')
      if (wire.k !== route) throw invalid(`the link was made for the ${wire.k} route, not this one`)
      if (wire.e * 1000 <= nowMs) throw invalid('the link has expired')
      return {
        route: wire.k,
        url: wire.u,
        headers: wire.h ?? {},
        expiresAt: wire.e,
        urlExpiresAt: wire.x ?? null,
        ref: wire.r === undefined ? null : { platform: wire.r[0], id: wire.r[1], formatId: wire.r[2], ...(wire.i === undefined ? {} : { item: wire.i }) },
        filename: wire.f ?? null
      }
    }
  }
}
