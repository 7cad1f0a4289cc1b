import type { DetectedId, Platform } from './types.ts'
import { hostIn, matchWhole, pathSegments } from './url.ts'

const STATUS_ID = /^[1-9]\d{0,19}$/

// /{user}/status/{id}, /{user}/statuses/{id}, /i/status/{id}, /i/web/status/{id}, /statuses/{id};
// trailing /video/N or /photo/N segments are ignored.
function detect (url: URL): DetectedId | null {
  if (!hostIn(url, ['twitter.com', 'x.com'])) return null
  const s = pathSegments(url)
  let raw: string | undefined
  if (s[0] === 'statuses') raw = s[1]
  else if (s[0] === 'i' && s[1] === 'web' && s[2] === 'status') raw = s[3]
  else if (s[1] === 'status' || s[1] === 'statuses') raw = s[2]
  const id = matchWhole(STATUS_ID, raw)
  return id === null ? null : { id, kind: 'video' }
}

export const twitter: Platform = Object.freeze({
  name: 'twitter',
  aliases: ['x'],
  displayName: 'Twitter/X',
  domains: ['twitter.com', 'x.com'],
  exampleUrls: [
    'https://x.com/user/status/1234567890123456789',
    'https://twitter.com/user/status/1234567890123456789'
  ],
  features: ['streaming', 'download', 'info'],
  notes: 'Some posts need cookies (login)',
  idPattern: STATUS_ID,
  detect,
  canonicalUrl: (id: string) => `https://x.com/i/status/${id}`,
  mediaHeaders: Object.freeze({}),
  ipBound: false,
  cacheTtlEnv: 'TWITTER_CACHE_TTL'
})
