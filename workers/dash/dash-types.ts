// Inclusive byte range, as in HTTP Range and the MPD's "start-end" strings.
export interface ByteRangeInclusive {
  start: number
  end: number
}

export interface DashInit {
  url: string
  range: ByteRangeInclusive | null
}

export interface DashSegment {
  url: string
  duration: number
  range: ByteRangeInclusive | null
}

export type DashKind = 'video' | 'audio' | 'text'

export interface DashRepresentation {
  kind: DashKind
  id: string
  bandwidth: number
  width: number | null
  height: number | null
  frameRate: number | null
  codecs: string | null
  mimeType: string | null
  lang: string | null
  audioSamplingRate: number | null
  baseUrl: string
  init: DashInit | null
  // null when the list comes from the sidx at indexRange (SegmentBase), or when
  // a dynamic SegmentTemplate without a SegmentTimeline cannot be enumerated.
  segments: DashSegment[] | null
  indexRange: ByteRangeInclusive | null
}

export interface DashPeriod {
  id: string | null
  start: number
  duration: number | null
  representations: DashRepresentation[]
}

export interface DashManifest {
  type: 'static' | 'dynamic'
  isLive: boolean
  // seconds, from MPD@mediaPresentationDuration
  duration: number | null
  minBufferTime: number | null
  availabilityStartTime: string | null
  periods: DashPeriod[]
}
