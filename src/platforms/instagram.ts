import type { DetectedId, Platform } from './types.ts'
import { hostIn, matchWhole, pathSegments } from './url.ts'

const SHORTCODE = /^[A-Za-z0-9_-]{5,64}$/
const POST_KINDS = new Set(['p', 'reel', 'reels', 'tv'])

// /p|reel|reels|tv/{code}, also with a leading /{username}/ as newer share links have.
function detect (url: URL): DetectedId | null {
  if (!hostIn(url, ['instagram.com', 'instagr.am'])) return null
  const s = pathSegments(url)
  const at = s[0] !== undefined && POST_KINDS.has(s[0]) ? 0 : (s[1] !== undefined && POST_KINDS.has(s[1]) ? 1 : -1)
  if (at === -1) return null
  const code = s[at + 1]
  // /reels/audio/{id} is a sound page, not a post
  if (code === 'audio') return null
  const id = matchWhole(SHORTCODE, code)
  return id === null ? null : { id, kind: 'video' }
}

export const instagram: Platform = Object.freeze({
  name: 'instagram',
  aliases: ['ig'],
  displayName: 'Instagram',
  domains: ['instagram.com', 'instagr.am'],
  exampleUrls: [
    'https://www.instagram.com/p/ABC123def45/',
    'https://www.instagram.com/reel/ABC123def45/'
  ],
  features: ['streaming', 'download', 'info'],
  notes: 'Most posts need cookies (login)',
  idPattern: SHORTCODE,
  detect,
  canonicalUrl: (id: string) => `https://www.instagram.com/p/${id}/`,
  mediaHeaders: Object.freeze({}),
  ipBound: false,
  cacheTtlEnv: 'INSTAGRAM_CACHE_TTL'
})
