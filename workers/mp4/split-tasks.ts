// Thread side of split-stream HLS: where the segments of one video-only or
// audio-only format are. fmp4Index reads the first bytes of an indexed fMP4
// (ftyp/moov/sidx, or the bytes of a DASH indexRange) into an init range and
// byte-range segments; dashRepresentation picks one Representation of an MPD
// and returns its init and segment list; buildHls writes the playlists. Pure;
// errors are returned as data.
import { parseDash } from '../dash/dash.ts'
import { buildMasterPlaylist, buildMediaPlaylist } from '../hls/hls-build.ts'
import type { MasterPlaylistInput, MediaPlaylistInput } from '../hls/hls-build.ts'
import { isManifestError } from '../manifest-error.ts'
import { parseSidx, segmentsFromSidx } from './sidx.ts'
import type { ByteRange } from '../hls/hls-types.ts'
import type { DashRepresentation } from '../dash/dash-types.ts'
import type { TaskResult } from '../protocol.ts'

export interface Fmp4IndexTask {
  bytes: Uint8Array
  // absolute file offset of bytes[0]
  offset: number
}

export interface IndexedSegment { duration: number, byterange: ByteRange }

export type Fmp4Index =
  // the index is not complete yet: fetch the file up to this absolute offset (exclusive)
  | { kind: 'need', end: number }
  // init: ftyp+moov (null when the bytes started past them, as for a DASH indexRange)
  | { kind: 'index', init: ByteRange | null, segments: IndexedSegment[], duration: number }

export interface DashRepresentationTask {
  text: string
  baseUrl: string
  formatId: string
  // the format's own URL: a SegmentBase Representation's BaseURL equals it
  url: string
}

export type DashRepresentationResult = Pick<DashRepresentation, 'id' | 'kind' | 'baseUrl' | 'init' | 'segments' | 'indexRange' | 'bandwidth' | 'codecs'>

// Boxes that only ever come after the index: meeting one first means there is no sidx.
const MEDIA_BOXES = new Set(['moof', 'mdat', 'mfra'])

function boxType (buf: Uint8Array, at: number): string {
  return String.fromCharCode(buf[at] ?? 0, buf[at + 1] ?? 0, buf[at + 2] ?? 0, buf[at + 3] ?? 0)
}

export function findFmp4Index (input: Fmp4IndexTask): Fmp4Index {
  const { bytes, offset } = input
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let init: ByteRange | null = null
  let at = 0
  while (true) {
    if (at + 16 > bytes.length) return { kind: 'need', end: offset + at + 4096 }
    let size = view.getUint32(at)
    if (size === 1) size = Number(view.getBigUint64(at + 8))
    const type = boxType(bytes, at + 4)
    if (size < 8 || !Number.isSafeInteger(size)) throw new RangeError(`bad ${JSON.stringify(type)} box size at byte ${offset + at}`)
    if (MEDIA_BOXES.has(type)) throw new RangeError(`no segment index (sidx) before the media at byte ${offset + at}: not an indexed fMP4`)
    if (type === 'moov') init = { offset: 0, length: offset + at + size }
    if (type === 'sidx') {
      if (at + size > bytes.length) return { kind: 'need', end: offset + at + size }
      const sidx = parseSidx(bytes, at, offset)
      const segments = segmentsFromSidx(sidx, sidx.boxEnd - 1)
      if (segments.length === 0) throw new RangeError('the segment index lists no segments')
      return { kind: 'index', init, segments, duration: segments.reduce((sum, s) => sum + s.duration, 0) }
    }
    at += size
  }
}

export function pickRepresentation (input: DashRepresentationTask): DashRepresentationResult {
  const manifest = parseDash(input.text, input.baseUrl)
  if (manifest.isLive) throw new RangeError('live DASH manifests are not supported')
  const reps = manifest.periods.flatMap((p) => p.representations).filter((r) => r.kind !== 'text')
  const rep = reps.find((r) => r.id === input.formatId) ??
    reps.find((r) => input.formatId.endsWith(`-${r.id}`)) ??
    reps.find((r) => r.baseUrl === input.url)
  if (rep === undefined) throw new RangeError(`no Representation matches format ${JSON.stringify(input.formatId)}`)
  if (rep.segments === null && rep.indexRange === null) throw new RangeError(`Representation ${JSON.stringify(rep.id)} lists no segments`)
  const { id, kind, baseUrl, init, segments, indexRange, bandwidth, codecs } = rep
  return { id, kind, baseUrl, init, segments, indexRange, bandwidth, codecs }
}

export type BuildHlsTask = { master: MasterPlaylistInput } | { media: MediaPlaylistInput }

export function buildHlsTask (input: BuildHlsTask): TaskResult<string> {
  return envelope('playlist input', () => 'master' in input ? buildMasterPlaylist(input.master) : buildMediaPlaylist(input.media))
}

export function fmp4IndexTask (input: Fmp4IndexTask): TaskResult<Fmp4Index> {
  return envelope('fMP4 index', () => findFmp4Index(input))
}

export function dashRepresentationTask (input: DashRepresentationTask): TaskResult<DashRepresentationResult> {
  return envelope('DASH manifest', () => pickRepresentation(input))
}

function envelope<T> (what: string, run: () => T): TaskResult<T> {
  const started = performance.now()
  try {
    return { ok: true, value: run(), ms: Math.round(performance.now() - started) }
  } catch (err) {
    const message = isManifestError(err) || err instanceof Error ? err.message : String(err)
    return { ok: false, code: 'EXTRACTION_FAILED', message: `bad ${what}: ${message}`, stderrTail: '', ms: Math.round(performance.now() - started) }
  }
}
