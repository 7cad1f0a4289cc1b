export interface ByteRange {
  length: number
  offset: number
}

export interface Resolution {
  width: number
  height: number
}

export interface HlsKey {
  method: string
  uri: string | null
  iv: string | null
  keyFormat: string | null
  keyFormatVersions: string | null
}

export interface HlsMap {
  uri: string
  byterange: ByteRange | null
}

export interface HlsSegment {
  uri: string
  duration: number
  title: string
  byterange: ByteRange | null
  key: HlsKey | null
  map: HlsMap | null
  mediaSequence: number
  discontinuity: boolean
  discontinuitySequence: number
  programDateTime: string | null
  gap: boolean
  // Tags this parser does not model that precede the segment, verbatim.
  tags: string[]
}

export interface HlsMediaPlaylist {
  kind: 'media'
  version: number | null
  targetDuration: number
  mediaSequence: number
  discontinuitySequence: number
  playlistType: 'VOD' | 'EVENT' | null
  endList: boolean
  isLive: boolean
  iFramesOnly: boolean
  independentSegments: boolean
  totalDuration: number
  segments: HlsSegment[]
  unknownTags: string[]
}

export interface HlsVariant {
  uri: string
  bandwidth: number
  averageBandwidth: number | null
  resolution: Resolution | null
  codecs: string | null
  frameRate: number | null
  audioGroup: string | null
  videoGroup: string | null
  subtitlesGroup: string | null
  closedCaptionsGroup: string | null
}

export type HlsRenditionType = 'AUDIO' | 'VIDEO' | 'SUBTITLES' | 'CLOSED-CAPTIONS'

export interface HlsRendition {
  type: HlsRenditionType
  groupId: string
  name: string
  language: string | null
  default: boolean
  autoselect: boolean
  forced: boolean
  channels: string | null
  uri: string | null
}

export interface HlsIFrameStream {
  uri: string
  bandwidth: number
  averageBandwidth: number | null
  resolution: Resolution | null
  codecs: string | null
}

export interface HlsMasterPlaylist {
  kind: 'master'
  version: number | null
  independentSegments: boolean
  variants: HlsVariant[]
  renditions: HlsRendition[]
  iFrameStreams: HlsIFrameStream[]
  sessionKeys: HlsKey[]
  unknownTags: string[]
}

export type HlsPlaylist = HlsMasterPlaylist | HlsMediaPlaylist

export type HlsUriKind =
  | 'variant'
  | 'media'
  | 'segment'
  | 'key'
  | 'map'
  | 'iframe'
  | 'session-key'
  | 'session-data'
