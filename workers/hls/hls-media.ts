import { ManifestError, resolveUrl } from '../manifest-error.ts'
import {
  attributeMap,
  isUriLine,
  parseByteRangeSpec,
  parseKey,
  parseMapByteRange,
  parseNonNegativeInt,
  parseNonNegativeNumber,
  splitTag
} from './hls-syntax.ts'
import type { HlsLine } from './hls-syntax.ts'
import type { ByteRange, HlsKey, HlsMap, HlsMediaPlaylist } from './hls-types.ts'

interface PendingSegment {
  duration: number
  title: string
  byterange: { length: number, offset: number | null } | null
  discontinuity: boolean
  programDateTime: string | null
  gap: boolean
  tags: string[]
}

function emptyPending (): PendingSegment {
  return { duration: 0, title: '', byterange: null, discontinuity: false, programDateTime: null, gap: false, tags: [] }
}

export function parseMediaPlaylist (lines: readonly HlsLine[], baseUrl: string): HlsMediaPlaylist {
  const playlist: HlsMediaPlaylist = {
    kind: 'media',
    version: null,
    targetDuration: 0,
    mediaSequence: 0,
    discontinuitySequence: 0,
    playlistType: null,
    endList: false,
    isLive: true,
    iFramesOnly: false,
    independentSegments: false,
    totalDuration: 0,
    segments: [],
    unknownTags: []
  }
  let key: HlsKey | null = null
  let map: HlsMap | null = null
  let pending = emptyPending()
  let started = false
  let discontinuities = 0
  let lastRange: { uri: string, end: number } | null = null

  for (let i = 1; i < lines.length; i++) {
    const text = (lines[i]?.text ?? '').trim()
    if (isUriLine(text)) {
      const uri = resolveUrl(text, baseUrl)
      let byterange: ByteRange | null = null
      if (pending.byterange !== null) {
        const implicit: number = lastRange !== null && lastRange.uri === uri ? lastRange.end : 0
        byterange = { length: pending.byterange.length, offset: pending.byterange.offset ?? implicit }
        lastRange = { uri, end: byterange.offset + byterange.length }
      } else {
        lastRange = null
      }
      if (pending.discontinuity) discontinuities++
      playlist.segments.push({
        uri,
        duration: pending.duration,
        title: pending.title,
        byterange,
        key,
        map,
        mediaSequence: playlist.mediaSequence + playlist.segments.length,
        discontinuity: pending.discontinuity,
        discontinuitySequence: playlist.discontinuitySequence + discontinuities,
        programDateTime: pending.programDateTime,
        gap: pending.gap,
        tags: pending.tags
      })
      playlist.totalDuration += pending.duration
      pending = emptyPending()
      started = true
      continue
    }
    if (!text.startsWith('#EXT')) continue
    const tag = splitTag(text)
    switch (tag.name) {
      case '#EXTINF': {
        const comma = tag.value.indexOf(',')
        const duration = parseNonNegativeNumber(comma === -1 ? tag.value : tag.value.slice(0, comma))
        if (duration === null) throw new ManifestError('MANIFEST_INVALID', 'invalid #EXTINF duration')
        pending.duration = duration
        pending.title = comma === -1 ? '' : tag.value.slice(comma + 1)
        started = true
        break
      }
      case '#EXT-X-TARGETDURATION':
        playlist.targetDuration = parseNonNegativeNumber(tag.value) ?? 0
        break
      case '#EXT-X-MEDIA-SEQUENCE':
        playlist.mediaSequence = parseNonNegativeInt(tag.value) ?? 0
        break
      case '#EXT-X-DISCONTINUITY-SEQUENCE':
        playlist.discontinuitySequence = parseNonNegativeInt(tag.value) ?? 0
        break
      case '#EXT-X-PLAYLIST-TYPE': {
        const type = tag.value.trim()
        playlist.playlistType = type === 'VOD' || type === 'EVENT' ? type : null
        break
      }
      case '#EXT-X-ENDLIST':
        playlist.endList = true
        break
      case '#EXT-X-I-FRAMES-ONLY':
        playlist.iFramesOnly = true
        break
      case '#EXT-X-INDEPENDENT-SEGMENTS':
        playlist.independentSegments = true
        break
      case '#EXT-X-VERSION':
        playlist.version = parseNonNegativeInt(tag.value)
        break
      case '#EXT-X-KEY': {
        const parsed = parseKey(attributeMap(tag.value), baseUrl, tag.name)
        key = parsed.method === 'NONE' ? null : parsed
        break
      }
      case '#EXT-X-MAP':
        map = parseMap(attributeMap(tag.value), baseUrl)
        break
      case '#EXT-X-BYTERANGE':
        pending.byterange = parseByteRangeSpec(tag.value)
        if (pending.byterange === null) throw new ManifestError('MANIFEST_INVALID', 'invalid #EXT-X-BYTERANGE')
        break
      case '#EXT-X-DISCONTINUITY':
        pending.discontinuity = true
        started = true
        break
      case '#EXT-X-PROGRAM-DATE-TIME':
        pending.programDateTime = tag.value.trim()
        break
      case '#EXT-X-GAP':
        pending.gap = true
        break
      default:
        if (started) pending.tags.push(text)
        else playlist.unknownTags.push(text)
    }
  }
  playlist.unknownTags.push(...pending.tags)
  playlist.isLive = !playlist.endList
  return playlist
}

function parseMap (attrs: Map<string, string>, baseUrl: string): HlsMap {
  const uri = attrs.get('URI')
  if (uri === undefined || uri === '') throw new ManifestError('MANIFEST_INVALID', '#EXT-X-MAP without URI')
  return { uri: resolveUrl(uri, baseUrl), byterange: parseMapByteRange(attrs.get('BYTERANGE')) }
}
