import type { DetectedId, Platform } from './types.ts'
import { hostIn, hostIs, pathSegments } from './url.ts'

// VODs are `v{digits}`; anything else that fits is a clip slug (slugs start with a letter and are never v+digits).
const VOD_ID = /^v([1-9]\d{0,14})$/
const CLIP_SLUG = /^(?!v\d+$)[A-Za-z][A-Za-z0-9_-]{2,99}$/
const ID = /^(?:v[1-9]\d{0,14}|(?!v\d+$)[A-Za-z][A-Za-z0-9_-]{2,99})$/
const VOD_DIGITS = /^[1-9]\d{0,14}$/

function vod (raw: string | null | undefined): DetectedId | null {
  if (raw == null) return null
  const digits = raw.startsWith('v') ? raw.slice(1) : raw
  return VOD_DIGITS.test(digits) ? { id: `v${digits}`, kind: 'video' } : null
}

function clip (raw: string | null | undefined): DetectedId | null {
  return raw != null && CLIP_SLUG.test(raw) ? { id: raw, kind: 'video' } : null
}

function detect (url: URL): DetectedId | null {
  const s = pathSegments(url)
  if (hostIs(url, ['clips.twitch.tv'])) {
    if (s[0] === 'embed' && s.length === 1) return clip(url.searchParams.get('clip'))
    return s.length === 1 ? clip(s[0]) : null
  }
  if (hostIs(url, ['player.twitch.tv'])) return vod(url.searchParams.get('video'))
  if (!hostIn(url, ['twitch.tv'])) return null
  if (s[0] === 'videos' && s.length === 2) return vod(s[1])
  if ((s[1] === 'v' || s[1] === 'video') && s.length === 3) return vod(s[2])
  if (s[0] === 'clip' && s.length === 2) return clip(s[1])
  if (s[1] === 'clip' && s.length === 3) return clip(s[2])
  return null
}

function canonicalUrl (id: string): string {
  const m = VOD_ID.exec(id)
  return m !== null ? `https://www.twitch.tv/videos/${m[1] ?? ''}` : `https://clips.twitch.tv/${id}`
}

export const twitch: Platform = Object.freeze({
  name: 'twitch',
  aliases: [],
  displayName: 'Twitch',
  domains: ['twitch.tv'],
  exampleUrls: [
    'https://www.twitch.tv/videos/123456789',
    'https://clips.twitch.tv/AgreeableFancyBunnyPogChamp',
    'https://www.twitch.tv/channel/clip/AgreeableFancyBunnyPogChamp'
  ],
  features: ['streaming', 'download', 'info', 'embed', 'clips', 'vods'],
  notes: 'Clips and VODs; live channels are not supported',
  idPattern: ID,
  detect,
  canonicalUrl,
  mediaHeaders: Object.freeze({}),
  ipBound: false,
  cacheTtlEnv: 'TWITCH_CACHE_TTL'
})
