// Builds HLS playlists from separate video/audio formats (e.g. fMP4 byte ranges
// from a DASH manifest and its sidx). Values from upstream metadata are
// sanitised so they cannot break out of a quoted-string or a line.
import { encodeUnsafeUriChars } from './hls-syntax.ts'
import type { ByteRange, Resolution } from './hls-types.ts'

export interface MasterVariantInput {
  uri: string
  bandwidth: number
  averageBandwidth?: number
  resolution?: Resolution
  codecs?: string
  frameRate?: number
  audioGroup?: string
}

export interface MasterAudioInput {
  groupId: string
  name: string
  language?: string
  default: boolean
  uri: string
}

export interface MasterPlaylistInput {
  variants: readonly MasterVariantInput[]
  audio: readonly MasterAudioInput[]
}

export interface MediaSegmentInput {
  uri: string
  duration: number
  byterange?: ByteRange
}

export interface MediaPlaylistInput {
  targetDuration?: number
  segments: readonly MediaSegmentInput[]
  map?: { uri: string, byterange?: ByteRange }
  endList: boolean
  version?: number
}

export function buildMasterPlaylist (input: MasterPlaylistInput): string {
  const lines = ['#EXTM3U', '#EXT-X-INDEPENDENT-SEGMENTS']
  for (const audio of input.audio) {
    const attrs = [
      'TYPE=AUDIO',
      `GROUP-ID=${quoted(audio.groupId)}`,
      `NAME=${quoted(audio.name)}`,
      audio.language === undefined ? null : `LANGUAGE=${quoted(audio.language)}`,
      `DEFAULT=${audio.default ? 'YES' : 'NO'}`,
      'AUTOSELECT=YES',
      `URI=${quotedUri(audio.uri)}`
    ]
    lines.push(`#EXT-X-MEDIA:${joinAttributes(attrs)}`)
  }
  for (const variant of input.variants) {
    const attrs = [
      `BANDWIDTH=${integer(variant.bandwidth)}`,
      variant.averageBandwidth === undefined ? null : `AVERAGE-BANDWIDTH=${integer(variant.averageBandwidth)}`,
      variant.codecs === undefined ? null : `CODECS=${quoted(variant.codecs)}`,
      variant.resolution === undefined ? null : `RESOLUTION=${integer(variant.resolution.width)}x${integer(variant.resolution.height)}`,
      variant.frameRate === undefined ? null : `FRAME-RATE=${finite(variant.frameRate).toFixed(3)}`,
      variant.audioGroup === undefined ? null : `AUDIO=${quoted(variant.audioGroup)}`
    ]
    lines.push(`#EXT-X-STREAM-INF:${joinAttributes(attrs)}`, uriLine(variant.uri))
  }
  return lines.join('\n') + '\n'
}

export function buildMediaPlaylist (input: MediaPlaylistInput): string {
  const usesByteRanges = input.segments.some(s => s.byterange !== undefined) || input.map?.byterange !== undefined
  const required = input.map !== undefined ? (usesByteRanges ? 7 : 6) : (usesByteRanges ? 4 : 3)
  const version = Math.max(required, integer(input.version ?? required))
  const longest = input.segments.reduce((max, s) => Math.max(max, finite(s.duration)), 0)
  const targetDuration = Math.max(1, Math.ceil(finite(input.targetDuration ?? 0)), Math.ceil(longest))
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${version}`,
    `#EXT-X-TARGETDURATION:${targetDuration}`,
    '#EXT-X-MEDIA-SEQUENCE:0'
  ]
  if (input.endList) lines.push('#EXT-X-PLAYLIST-TYPE:VOD')
  lines.push('#EXT-X-INDEPENDENT-SEGMENTS')
  if (input.map !== undefined) {
    const range = input.map.byterange === undefined ? '' : `,BYTERANGE="${byteRange(input.map.byterange)}"`
    lines.push(`#EXT-X-MAP:URI=${quotedUri(input.map.uri)}${range}`)
  }
  for (const segment of input.segments) {
    lines.push(`#EXTINF:${finite(segment.duration).toFixed(6)},`)
    if (segment.byterange !== undefined) lines.push(`#EXT-X-BYTERANGE:${byteRange(segment.byterange)}`)
    lines.push(uriLine(segment.uri))
  }
  if (input.endList) lines.push('#EXT-X-ENDLIST')
  return lines.join('\n') + '\n'
}

function joinAttributes (attrs: ReadonlyArray<string | null>): string {
  return attrs.filter((attr): attr is string => attr !== null).join(',')
}

function quoted (value: string): string {
  return `"${value.replace(/"/g, '\'').replace(/[\u0000-\u001f\u007f]/g, ' ')}"`
}

function quotedUri (uri: string): string {
  return `"${encodeUnsafeUriChars(uri)}"`
}

function uriLine (uri: string): string {
  const encoded = encodeUnsafeUriChars(uri).trim()
  if (encoded === '' || encoded.startsWith('#')) throw new TypeError('playlist URI must be non-empty and must not start with #')
  return encoded
}

function byteRange (range: ByteRange): string {
  return `${integer(range.length)}@${integer(range.offset)}`
}

function finite (value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`expected a finite non-negative number, got ${value}`)
  return value
}

function integer (value: number): number {
  return Math.round(finite(value))
}
