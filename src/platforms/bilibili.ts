import type { DetectedId, Platform } from './types.ts'
import { hostIn, hostIs, pathSegments } from './url.ts'

// Ids: BV…/av… with an optional `_pN` part (N ≥ 2; part 1 is the bare id, which
// yt-dlp with --no-playlist resolves to part 1 as well), `ep…` bangumi
// episodes, and `b23_CODE` for b23.tv short links that yt-dlp follows.
const VIDEO_ID = /^(?:(?:BV[A-Za-z0-9]{10}|av[1-9]\d{0,11})(?:_p(?:[2-9]|[1-9]\d{1,3}))?|ep[1-9]\d{0,11}|b23_[A-Za-z0-9]{4,16})$/
const PLAYLIST_ID = /^ss[1-9]\d{0,11}$/
const BV_OR_AV = /^(?:[bB][vV]([A-Za-z0-9]{10})|[aA][vV]([1-9]\d{0,11}))$/
const SHORT_CODE = /^[A-Za-z0-9]{4,16}$/
const PART_SUFFIX = /^(.*)_p(\d+)$/

function normalizeBvAv (raw: string | undefined): string | null {
  const m = raw === undefined ? null : BV_OR_AV.exec(raw)
  if (m === null) return null
  return m[1] !== undefined ? `BV${m[1]}` : `av${m[2] ?? ''}`
}

// Part 1, a missing or a malformed `p` all play the first part.
function withPart (id: string, url: URL): string {
  const p = url.searchParams.get('p')
  return p !== null && /^(?:[2-9]|[1-9]\d{1,3})$/.test(p) ? `${id}_p${p}` : id
}

function detect (url: URL): DetectedId | null {
  const segments = pathSegments(url)
  if (hostIs(url, ['b23.tv', 'www.b23.tv'])) {
    if (segments.length !== 1) return null
    const direct = normalizeBvAv(segments[0])
    if (direct !== null) return { id: direct, kind: 'video' }
    return segments[0] !== undefined && SHORT_CODE.test(segments[0]) ? { id: `b23_${segments[0]}`, kind: 'video' } : null
  }
  if (!hostIn(url, ['bilibili.com'])) return null
  const [first, second, third] = segments
  if (first === 'video' || (first === 's' && second === 'video')) {
    const id = normalizeBvAv(first === 's' ? third : second)
    return id === null ? null : { id: withPart(id, url), kind: 'video' }
  }
  if (first === 'festival') {
    const id = normalizeBvAv(url.searchParams.get('bvid') ?? undefined)
    return id === null ? null : { id, kind: 'video' }
  }
  if (first === 'bangumi' && second === 'play' && third !== undefined) {
    if (/^ep[1-9]\d{0,11}$/.test(third)) return { id: third, kind: 'video' }
    if (PLAYLIST_ID.test(third)) return { id: third, kind: 'playlist' }
  }
  return null
}

function canonicalUrl (id: string): string {
  if (id.startsWith('b23_')) return `https://b23.tv/${id.slice(4)}`
  if (id.startsWith('ep')) return `https://www.bilibili.com/bangumi/play/${id}`
  const part = PART_SUFFIX.exec(id)
  return part === null
    ? `https://www.bilibili.com/video/${id}/`
    : `https://www.bilibili.com/video/${part[1] ?? ''}/?p=${part[2] ?? ''}`
}

export const bilibili: Platform = Object.freeze({
  name: 'bilibili',
  aliases: ['bili'],
  displayName: 'BiliBili',
  domains: ['bilibili.com', 'b23.tv'],
  exampleUrls: [
    'https://www.bilibili.com/video/BV1xx411c7mu',
    'https://www.bilibili.com/video/BV1xx411c7mu/?p=2',
    'https://b23.tv/BV1xx411c7mu'
  ],
  features: ['streaming', 'download', 'info', 'embed', 'multi_part'],
  notes: 'Some videos need cookies (login) or a mainland China IP',
  idPattern: VIDEO_ID,
  playlistIdPattern: PLAYLIST_ID,
  detect,
  canonicalUrl,
  playlistUrl: (id: string) => `https://www.bilibili.com/bangumi/play/${id}`,
  mediaHeaders: Object.freeze({ Referer: 'https://www.bilibili.com/' }),
  ipBound: false,
  cacheTtlEnv: 'BILIBILI_CACHE_TTL'
})
