import { resolveUrl } from '../manifest-error.ts'
import { attributeMap, isUriLine, parseKey, parseNonNegativeInt, parseNonNegativeNumber, parseResolution, splitTag } from './hls-syntax.ts'
import type { HlsLine } from './hls-syntax.ts'
import type { HlsIFrameStream, HlsMasterPlaylist, HlsRendition, HlsRenditionType, HlsVariant } from './hls-types.ts'

const RENDITION_TYPES: ReadonlySet<string> = new Set<HlsRenditionType>(['AUDIO', 'VIDEO', 'SUBTITLES', 'CLOSED-CAPTIONS'])

export const MASTER_TAGS: ReadonlySet<string> = new Set([
  '#EXT-X-STREAM-INF',
  '#EXT-X-I-FRAME-STREAM-INF',
  '#EXT-X-MEDIA',
  '#EXT-X-SESSION-KEY',
  '#EXT-X-SESSION-DATA'
])

export function parseMasterPlaylist (lines: readonly HlsLine[], baseUrl: string): HlsMasterPlaylist {
  const playlist: HlsMasterPlaylist = {
    kind: 'master',
    version: null,
    independentSegments: false,
    variants: [],
    renditions: [],
    iFrameStreams: [],
    sessionKeys: [],
    unknownTags: []
  }
  let pending: Map<string, string> | null = null
  for (let i = 1; i < lines.length; i++) {
    const text = (lines[i]?.text ?? '').trim()
    if (isUriLine(text)) {
      if (pending !== null) playlist.variants.push(buildVariant(pending, resolveUrl(text, baseUrl)))
      pending = null
      continue
    }
    if (!text.startsWith('#EXT')) continue
    const tag = splitTag(text)
    switch (tag.name) {
      case '#EXT-X-VERSION':
        playlist.version = parseNonNegativeInt(tag.value)
        break
      case '#EXT-X-INDEPENDENT-SEGMENTS':
        playlist.independentSegments = true
        break
      case '#EXT-X-STREAM-INF':
        pending = attributeMap(tag.value)
        break
      case '#EXT-X-I-FRAME-STREAM-INF': {
        const stream = buildIFrameStream(attributeMap(tag.value), baseUrl)
        if (stream !== null) playlist.iFrameStreams.push(stream)
        break
      }
      case '#EXT-X-MEDIA': {
        const rendition = buildRendition(attributeMap(tag.value), baseUrl)
        if (rendition !== null) playlist.renditions.push(rendition)
        break
      }
      case '#EXT-X-SESSION-KEY':
        playlist.sessionKeys.push(parseKey(attributeMap(tag.value), baseUrl, tag.name))
        break
      default:
        playlist.unknownTags.push(text)
    }
  }
  return playlist
}

function buildVariant (attrs: Map<string, string>, uri: string): HlsVariant {
  return {
    uri,
    bandwidth: parseNonNegativeInt(attrs.get('BANDWIDTH')) ?? 0,
    averageBandwidth: parseNonNegativeInt(attrs.get('AVERAGE-BANDWIDTH')),
    resolution: parseResolution(attrs.get('RESOLUTION')),
    codecs: attrs.get('CODECS') ?? null,
    frameRate: parseNonNegativeNumber(attrs.get('FRAME-RATE')),
    audioGroup: attrs.get('AUDIO') ?? null,
    videoGroup: attrs.get('VIDEO') ?? null,
    subtitlesGroup: attrs.get('SUBTITLES') ?? null,
    closedCaptionsGroup: closedCaptions(attrs.get('CLOSED-CAPTIONS'))
  }
}

function closedCaptions (value: string | undefined): string | null {
  return value === undefined || value === 'NONE' ? null : value
}

function buildIFrameStream (attrs: Map<string, string>, baseUrl: string): HlsIFrameStream | null {
  const uri = attrs.get('URI')
  if (uri === undefined || uri === '') return null
  return {
    uri: resolveUrl(uri, baseUrl),
    bandwidth: parseNonNegativeInt(attrs.get('BANDWIDTH')) ?? 0,
    averageBandwidth: parseNonNegativeInt(attrs.get('AVERAGE-BANDWIDTH')),
    resolution: parseResolution(attrs.get('RESOLUTION')),
    codecs: attrs.get('CODECS') ?? null
  }
}

function isRenditionType (value: string | undefined): value is HlsRenditionType {
  return value !== undefined && RENDITION_TYPES.has(value)
}

function buildRendition (attrs: Map<string, string>, baseUrl: string): HlsRendition | null {
  const type = attrs.get('TYPE')
  const groupId = attrs.get('GROUP-ID')
  const name = attrs.get('NAME')
  if (!isRenditionType(type) || groupId === undefined || name === undefined) return null
  const uri = attrs.get('URI')
  return {
    type,
    groupId,
    name,
    language: attrs.get('LANGUAGE') ?? null,
    default: attrs.get('DEFAULT') === 'YES',
    autoselect: attrs.get('AUTOSELECT') === 'YES',
    forced: attrs.get('FORCED') === 'YES',
    channels: attrs.get('CHANNELS') ?? null,
    uri: uri === undefined || uri === '' ? null : resolveUrl(uri, baseUrl)
  }
}
