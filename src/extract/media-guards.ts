// Shape checks for media data that comes back from Redis (written by another
// process, possibly an older version): anything odd is a cache miss.
import type { MediaInfo, PlaylistInfo } from '../../workers/protocol.ts'

export function isMediaInfo (x: unknown): x is MediaInfo {
  return typeof x === 'object' && x !== null &&
    'id' in x && typeof x.id === 'string' &&
    'title' in x && typeof x.title === 'string' &&
    'formats' in x && Array.isArray(x.formats) &&
    'thumbnails' in x && Array.isArray(x.thumbnails) &&
    'subtitles' in x && Array.isArray(x.subtitles) &&
    'subtitle_tracks' in x && Array.isArray(x.subtitle_tracks) &&
    (!('entries' in x) || x.entries === undefined || Array.isArray(x.entries))
}

export function isPlaylistInfo (x: unknown): x is PlaylistInfo {
  return typeof x === 'object' && x !== null &&
    'id' in x && typeof x.id === 'string' &&
    'entries' in x && Array.isArray(x.entries) &&
    'entry_count' in x && typeof x.entry_count === 'number'
}
