// HLS playlists: parse (master or media), rewrite every URI, and build new
// playlists. Pure functions; bad input throws ManifestError (see manifest-error.ts).
import { assertAbsoluteBase } from '../manifest-error.ts'
import { MASTER_TAGS, parseMasterPlaylist } from './hls-master.ts'
import { parseMediaPlaylist } from './hls-media.ts'
import { splitPlaylist, splitTag } from './hls-syntax.ts'
import type { HlsLine } from './hls-syntax.ts'
import type { HlsPlaylist } from './hls-types.ts'

export { rewriteHls, rewriteHlsParts, HLS_MAX_URIS } from './hls-rewrite.ts'
export type { HlsRewrite, MapUri } from './hls-rewrite.ts'
export { buildMasterPlaylist, buildMediaPlaylist } from './hls-build.ts'
export type { MasterAudioInput, MasterPlaylistInput, MasterVariantInput, MediaPlaylistInput, MediaSegmentInput } from './hls-build.ts'
export type * from './hls-types.ts'

export function parseHls (text: string, baseUrl: string): HlsPlaylist {
  assertAbsoluteBase(baseUrl)
  const lines = splitPlaylist(text)
  return isMasterPlaylist(lines) ? parseMasterPlaylist(lines, baseUrl) : parseMediaPlaylist(lines, baseUrl)
}

function isMasterPlaylist (lines: readonly HlsLine[]): boolean {
  return lines.some(line => line.text.startsWith('#EXT') && MASTER_TAGS.has(splitTag(line.text.trim()).name))
}
