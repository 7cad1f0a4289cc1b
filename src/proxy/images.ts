// Thumbnails and posters through signed links (/api/v2/images/<token>), so a
// client never fetches the platform's CDN itself (privacy), and CDNs that want
// a Referer (BiliBili's) get the platform's media headers from us. A link
// carries only a URL an extraction produced. The answer must be a raster image
// by its first bytes (JPEG, PNG, GIF, WebP, AVIF; never SVG, which can hold
// script), at most MAX_IMAGE_BYTES, and is kept in a small per-worker cache.
import { createHmac } from 'node:crypto'
import { AppError } from '../errors.ts'
import { createByteBudget, createByteCache, createFlights, fetchSmall } from './small-fetch.ts'
import type { LinkSigner } from './signer.ts'
import type { UpstreamClient } from './upstream.ts'

export const IMAGE_PREFIX = '/api/v2/images/'
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024
// images being read by one worker at once, all together
const IMAGE_BUDGET_BYTES = 32 * 1024 * 1024
const IMAGE_CACHE_BYTES = 32 * 1024 * 1024
const IMAGE_CACHE_MS = 10 * 60 * 1000
const IMAGE_READ_MS = 20_000
// the longest a client may keep an image (never past its link's expiry)
const CLIENT_MAX_AGE_SEC = 86_400
// Signed links are kept and handed out again for half their life (a YouTube info
// lists dozens of thumbnails: signing each on every answer would cost more than
// the answer), which also keeps an image's link, and so the client's cache of it, stable.
const LINKS_KEPT = 20_000
// Content-Types an image may be sent with; the first bytes decide what it is
const IMAGE_OR_VAGUE = /^(?:image\/[a-z0-9.+-]+|application\/octet-stream|binary\/octet-stream|)$/

// Image links are signed with their own key, derived from the links' secret: a
// media link never verifies as an image link, nor an image link on a media route.
export function imageLinkKey (secret: string): string {
  return createHmac('sha256', secret).update('vidgate:image-link:v1').digest('hex')
}

export interface ImageOwner { platform: string, id: string, headers: Readonly<Record<string, string>> }

export interface ImageAnswer { type: string, body: Buffer, maxAgeSec: number }

export interface ImageService {
  // the path of a signed link to an image URL that an extraction produced
  link: (owner: ImageOwner, url: string) => string
  serve: (token: string) => Promise<ImageAnswer>
}

export interface ImageDeps {
  signer: LinkSigner
  upstream: UpstreamClient
  allowHosts: readonly string[]
  linkTtlSec: number
}

const startsWith = (b: Buffer, at: number, text: string): boolean => b.length >= at + text.length && b.toString('latin1', at, at + text.length) === text

// The image type from its first bytes, or null for anything else.
export function sniffImage (b: Buffer): string | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg'
  if (startsWith(b, 0, '\x89PNG\r\n\x1a\n')) return 'image/png'
  if (startsWith(b, 0, 'GIF87a') || startsWith(b, 0, 'GIF89a')) return 'image/gif'
  if (startsWith(b, 0, 'RIFF') && startsWith(b, 8, 'WEBP')) return 'image/webp'
  if (startsWith(b, 4, 'ftypavif') || startsWith(b, 4, 'ftypavis')) return 'image/avif'
  return null
}

interface Cached { type: string, body: Buffer, size: number }

export function createImageService (deps: ImageDeps): ImageService {
  const budget = createByteBudget(IMAGE_BUDGET_BYTES)
  const cache = createByteCache<Cached>({ maxBytes: IMAGE_CACHE_BYTES, ttlMs: IMAGE_CACHE_MS })
  const flights = createFlights<Cached>()
  const links = new Map<string, { path: string, until: number }>()

  async function load (url: string, headers: Record<string, string>, platform: string | null): Promise<Cached> {
    const answer = await fetchSmall(deps.upstream, budget, { url, headers, allow: deps.allowHosts, platform, maxBytes: MAX_IMAGE_BYTES, timeoutMs: IMAGE_READ_MS, what: 'image' })
    if (answer.status !== 200) throw new AppError('UPSTREAM_ERROR', `The image server answered ${answer.status}`)
    if (!IMAGE_OR_VAGUE.test(answer.type)) throw new AppError('UPSTREAM_ERROR', 'The upstream answer is not an image', { detail: 'its Content-Type is not an image type' })
    const type = sniffImage(answer.body)
    if (type === null) throw new AppError('UPSTREAM_ERROR', 'The upstream answer is not an image', { detail: 'its first bytes are not those of a JPEG, PNG, GIF, WebP or AVIF image' })
    return { type, body: answer.body, size: answer.body.length }
  }

  return {
    link (owner, url) {
      // the owner's headers follow from its platform
      const key = `${owner.platform}\n${owner.id}\n${url}`
      const now = Date.now()
      const kept = links.get(key)
      if (kept !== undefined && kept.until > now) return kept.path
      const path = IMAGE_PREFIX + deps.signer.sign({ route: 'image', url, headers: { ...owner.headers }, ref: { platform: owner.platform, id: owner.id, formatId: 'image' } }, deps.linkTtlSec)
      links.delete(key)
      links.set(key, { path, until: now + deps.linkTtlSec * 500 })
      if (links.size > LINKS_KEPT) {
        const oldest = links.keys().next()
        if (oldest.done !== true) links.delete(oldest.value)
      }
      return path
    },
    async serve (token) {
      const link = deps.signer.verify(token, 'image')
      const key = `${link.url}\n${JSON.stringify(link.headers)}`
      // one fetch for everyone asking at once; a client that leaves does not cancel it for the others
      const image = cache.get(key) ?? await flights(key, async () => {
        const loaded = await load(link.url, link.headers, link.ref?.platform ?? null)
        cache.set(key, loaded)
        return loaded
      })
      const maxAgeSec = Math.max(0, Math.min(CLIENT_MAX_AGE_SEC, link.expiresAt - Math.floor(Date.now() / 1000)))
      return { type: image.type, body: image.body, maxAgeSec }
    }
  }
}
