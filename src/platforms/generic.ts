// Generic platform: any http(s) URL on exactly the configured hosts (GENERIC_HOSTS).
// The id is the base64url of the normalized URL, so canonicalUrl re-checks the host:
// an id can never smuggle in a URL the operator did not allow.
import { AppError } from '../errors.ts'
import type { DetectedId, Platform } from './types.ts'
import { isHttpUrl } from './url.ts'

export const GENERIC_MAX_URL_LENGTH = 2048
const ID = /^[A-Za-z0-9_-]{1,2731}$/

export interface GenericHost {
  hostname: string
  // null: any port
  port: string | null
}

export function parseGenericHost (entry: string): GenericHost {
  const trimmed = entry.trim().toLowerCase()
  let parsed: URL | null = null
  try {
    parsed = new URL(`http://${trimmed}`)
  } catch {}
  if (parsed === null || trimmed === '' || parsed.host === '' || parsed.username !== '' || parsed.password !== '' ||
    parsed.pathname !== '/' || parsed.search !== '' || parsed.hash !== '' || /[/?#@\s]/.test(trimmed)) {
    throw new TypeError(`GENERIC_HOSTS entry "${entry}" must be a host or host:port`)
  }
  const explicitPort = /:(\d+)$/.exec(trimmed)
  return { hostname: parsed.hostname, port: explicitPort?.[1] === undefined ? null : String(Number(explicitPort[1])) }
}

function effectivePort (url: URL): string {
  if (url.port !== '') return url.port
  return url.protocol === 'https:' ? '443' : '80'
}

function isAllowed (url: URL, hosts: readonly GenericHost[]): boolean {
  if (!isHttpUrl(url) || url.username !== '' || url.password !== '') return false
  return hosts.some(h => h.hostname === url.hostname && (h.port === null || h.port === effectivePort(url)))
}

function normalizedHref (url: URL): string {
  const copy = new URL(url.href)
  copy.hash = ''
  return copy.href
}

function invalidId (): AppError {
  return new AppError('INVALID_INPUT', 'id is not a valid generic id', {
    detail: 'id must be the base64url of an http(s) URL on a configured GENERIC_HOSTS host'
  })
}

export function createGenericPlatform (hostEntries: readonly string[]): Platform {
  const hosts = hostEntries.map(parseGenericHost)
  const listed = hostEntries.map(h => h.trim().toLowerCase())

  function detect (url: URL): DetectedId | null {
    if (!isAllowed(url, hosts)) return null
    const href = normalizedHref(url)
    if (href.length > GENERIC_MAX_URL_LENGTH) return null
    return { id: Buffer.from(href, 'utf8').toString('base64url'), kind: 'video' }
  }

  function canonicalUrl (id: string): string {
    if (!ID.test(id)) throw invalidId()
    const decoded = Buffer.from(id, 'base64url').toString('utf8')
    let url: URL
    try {
      url = new URL(decoded)
    } catch (err) {
      throw new AppError('INVALID_INPUT', 'id is not a valid generic id', { detail: 'id does not decode to a URL', cause: err })
    }
    // Only the exact encoding detect() produces is accepted, so one URL has one id.
    if (detect(url)?.id !== id || normalizedHref(url) !== decoded) throw invalidId()
    return decoded
  }

  return Object.freeze({
    name: 'generic',
    aliases: [],
    displayName: 'Generic (configured hosts)',
    domains: listed,
    exampleUrls: listed.map(h => `http://${h}/video.mp4`),
    features: ['streaming', 'download', 'info'],
    notes: 'Only the hosts listed in GENERIC_HOSTS',
    idPattern: ID,
    detect,
    canonicalUrl,
    mediaHeaders: Object.freeze({}),
    ipBound: false,
    cacheTtlEnv: null
  })
}
