import type { DetectedId, Platform, TargetKind } from './types.ts'
import { hostIn, hostIs, matchWhole, pathSegments } from './url.ts'

const VIDEO_ID = /^[A-Za-z0-9_-]{11}$/
// PL user lists, UU/PU uploads, OL albums (OLAK5uy_…), RD mixes, FL/UL/EL legacy; at least 12 chars, so never an 11-char video id
const PLAYLIST_ID = /^(?:PL|UU|PU|OL|RD|FL|UL|EL)[A-Za-z0-9_-]{10,72}$/
const ID_IN_PATH = new Set(['shorts', 'live', 'embed', 'v', 'e'])

function pick (videoId: string | null, listId: string | null, prefer: TargetKind | undefined): DetectedId | null {
  if (listId !== null && (prefer === 'playlist' || videoId === null)) return { id: listId, kind: 'playlist' }
  if (videoId !== null) return { id: videoId, kind: 'video' }
  return null
}

function detect (url: URL, prefer?: TargetKind): DetectedId | null {
  const segments = pathSegments(url)
  const listId = matchWhole(PLAYLIST_ID, url.searchParams.get('list'))
  if (hostIs(url, ['youtu.be', 'www.youtu.be'])) {
    return pick(matchWhole(VIDEO_ID, segments[0]), listId, prefer)
  }
  if (!hostIn(url, ['youtube.com', 'youtube-nocookie.com'])) return null
  const [first, second] = segments
  if (first === 'watch' && segments.length === 1) {
    return pick(matchWhole(VIDEO_ID, url.searchParams.get('v')), listId, prefer)
  }
  if (first === 'playlist' && segments.length === 1) return pick(null, listId, prefer)
  if (first === 'embed' && (second === undefined || second === 'videoseries')) return pick(null, listId, prefer)
  if (first !== undefined && ID_IN_PATH.has(first) && segments.length === 2) {
    return pick(matchWhole(VIDEO_ID, second), listId, prefer)
  }
  return null
}

export const youtube: Platform = Object.freeze({
  name: 'youtube',
  aliases: ['yt'],
  displayName: 'YouTube',
  domains: ['youtube.com', 'youtu.be', 'youtube-nocookie.com'],
  exampleUrls: [
    'https://www.youtube.com/watch?v=dQw4w9WgXcQ',
    'https://youtu.be/dQw4w9WgXcQ',
    'https://www.youtube.com/shorts/dQw4w9WgXcQ',
    'https://www.youtube.com/playlist?list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI'
  ],
  features: ['streaming', 'download', 'info', 'embed', 'playlists', 'all_qualities', 'live'],
  notes: null,
  idPattern: VIDEO_ID,
  playlistIdPattern: PLAYLIST_ID,
  detect,
  canonicalUrl: (id: string) => `https://www.youtube.com/watch?v=${id}`,
  // A mix (RD + video id) only exists next to its seed video; /playlist?list=RD… is not a page.
  playlistUrl: (id: string) => id.startsWith('RD') && VIDEO_ID.test(id.slice(2))
    ? `https://www.youtube.com/watch?v=${id.slice(2)}&list=${id}`
    : `https://www.youtube.com/playlist?list=${id}`,
  mediaHeaders: Object.freeze({}),
  ipBound: true,
  cacheTtlEnv: 'YOUTUBE_CACHE_TTL'
})
