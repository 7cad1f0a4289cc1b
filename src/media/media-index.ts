// Where the segments of one video-only or audio-only format are, for the
// generated split HLS: a DASH manifest's Representation (SegmentBase through
// its indexRange, or SegmentTemplate/SegmentList), yt-dlp's fragment list, or
// the sidx at the head of an indexed fMP4 (YouTube, BiliBili). Fetching stays
// on the event loop; parsing runs in the pool. Results are kept per format for
// a while, so the master's check and the playlist requests after it fetch once.
import { AppError } from '../errors.ts'
import { buildUpstreamHeaders } from '../proxy/headers.ts'
import { isExpiredStatus } from '../proxy/plan.ts'
import type { UpstreamClient, UpstreamResponse } from '../proxy/upstream.ts'
import { unwrapTask } from '../extract/pool.ts'
import type { ExtractionPool, TaskInput, TaskValue } from '../extract/pool.ts'
import { isHlsFormat } from './stream-plan.ts'
import type { MediaFormat, TaskResult } from '../../workers/protocol.ts'
import type { ByteRange } from '../../workers/hls/hls-types.ts'
import type { ByteRangeInclusive } from '../../workers/dash/dash-types.ts'

export interface IndexPart { url: string, range: ByteRange | null }
export interface IndexSegment extends IndexPart { duration: number }
export interface MediaIndex { source: 'dash' | 'fragments' | 'sidx', init: IndexPart | null, segments: IndexSegment[] }

export interface MediaIndexer {
  // fresh: the same format re-extracted, used once when the upstream says the URL expired
  index: (f: MediaFormat, fresh?: () => Promise<MediaFormat>, platform?: string | null) => Promise<MediaIndex>
}

export interface MediaIndexDeps {
  upstream: UpstreamClient
  allowHosts: readonly string[]
  pool: ExtractionPool
  ttlMs?: number
  maxEntries?: number
}

const HEAD_BYTES = 128 * 1024
const MAX_INDEX_BYTES = 8 * 1024 * 1024
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024
// A build is shared by every request that waits for it, so no one client's abort cancels it.
const BUILD_TIMEOUT_MS = 20_000

// platform: whose media (the upstream client picks the platform's outbound proxy)
type Target = Pick<MediaFormat, 'url' | 'headers'> & { platform?: string | null }
type Source = MediaFormat & { platform?: string | null }

const toRange = (r: ByteRangeInclusive | null): ByteRange | null => r === null ? null : { offset: r.start, length: r.end - r.start + 1 }

type IndexTask = 'fmp4Index' | 'dashRepresentation' | 'buildHls'

// A parsing task whose failure means the media's index could not be read.
export async function runTask<K extends IndexTask> (pool: ExtractionPool, name: K, input: TaskInput<K>): Promise<TaskValue<K>> {
  const r = await pool.run(name, input) as TaskResult<TaskValue<K>>
  return unwrapTask(r, 'UPSTREAM_ERROR', 'The media\'s segment index could not be read')
}

function isDashFormat (f: MediaFormat): boolean {
  return !isHlsFormat(f) && f.manifest_url !== null && (f.protocol.includes('dash') || f.manifest_url !== f.url)
}

export function createMediaIndexer (deps: MediaIndexDeps): MediaIndexer {
  const ttlMs = deps.ttlMs ?? 10 * 60_000
  const maxEntries = deps.maxEntries ?? 64
  const cache = new Map<string, { at: number, value: Promise<MediaIndex> }>()
  const expired = new WeakSet<object>()

  // null: 416, the range starts past the end of the file
  async function open (t: Target, range: string | null, signal: AbortSignal): Promise<UpstreamResponse | null> {
    const res = await deps.upstream.request({ url: t.url, method: 'GET', headers: buildUpstreamHeaders(t.headers, range, null), allow: deps.allowHosts, signal, platform: t.platform ?? null })
    if (res.status === 200 || res.status === 206) return res
    res.body.destroy()
    if (res.status === 416 && range !== null) return null
    const err = new AppError('UPSTREAM_ERROR', `The media server answered ${res.status} for the segment index`)
    if (isExpiredStatus(res.status)) expired.add(err)
    throw err
  }

  // Bytes [start, end] (inclusive); shorter at the end of the file. A server
  // that ignores Range sends the whole file: skip to start, stop at end.
  async function fetchBytes (t: Target, start: number, end: number, signal: AbortSignal): Promise<Buffer> {
    const res = await open(t, `bytes=${start}-${end}`, signal)
    if (res === null) return Buffer.alloc(0)
    let skip = res.status === 200 ? start : 0
    const want = end - start + 1
    const chunks: Buffer[] = []
    let have = 0
    for await (const chunk of res.body) {
      let b = chunk as Buffer
      if (skip > 0) { const n = Math.min(skip, b.length); b = b.subarray(n); skip -= n }
      chunks.push(b)
      have += b.length
      if (have >= want) break
    }
    res.body.destroy()
    return Buffer.concat(chunks).subarray(0, want)
  }

  async function fetchText (t: Target, signal: AbortSignal): Promise<{ text: string, url: string }> {
    const res = await open(t, null, signal)
    if (res === null) throw new AppError('UPSTREAM_ERROR', 'The DASH manifest could not be fetched')
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length
      if (size > MAX_MANIFEST_BYTES) { res.body.destroy(); throw new AppError('UPSTREAM_ERROR', 'The DASH manifest is too large') }
      chunks.push(chunk as Buffer)
    }
    return { text: Buffer.concat(chunks).toString('utf8'), url: res.url }
  }

  async function fromSidx (t: Target, base: { offset: number, end: number } | null, signal: AbortSignal): Promise<{ init: ByteRange | null, segments: IndexSegment[] }> {
    const offset = base?.offset ?? 0
    let bytes = await fetchBytes(t, offset, base?.end ?? HEAD_BYTES - 1, signal)
    for (;;) {
      const idx = await runTask(deps.pool, 'fmp4Index', { bytes, offset })
      if (idx.kind === 'index') return { init: idx.init, segments: idx.segments.map((s) => ({ url: t.url, duration: s.duration, range: s.byterange })) }
      const have = offset + bytes.length
      if (idx.end - offset > MAX_INDEX_BYTES) throw new AppError('UPSTREAM_ERROR', 'The media has no segment index near its start', { detail: `the index would end past byte ${MAX_INDEX_BYTES}` })
      const more = await fetchBytes(t, have, idx.end - 1, signal)
      if (more.length === 0) throw new AppError('UPSTREAM_ERROR', 'The media ended before its segment index')
      bytes = Buffer.concat([bytes, more])
    }
  }

  async function fromDash (f: Source, signal: AbortSignal): Promise<MediaIndex> {
    const manifest = await fetchText({ url: f.manifest_url ?? f.url, headers: f.headers, platform: f.platform ?? null }, signal)
    const rep = await runTask(deps.pool, 'dashRepresentation', { text: manifest.text, baseUrl: manifest.url, formatId: f.format_id, url: f.url })
    const init = rep.init === null ? null : { url: rep.init.url, range: toRange(rep.init.range) }
    if (rep.segments !== null) {
      return { source: 'dash', init, segments: rep.segments.map((s) => ({ url: s.url, duration: s.duration, range: toRange(s.range) })) }
    }
    const ir = rep.indexRange ?? { start: 0, end: HEAD_BYTES - 1 }
    const found = await fromSidx({ url: rep.baseUrl, headers: f.headers, platform: f.platform ?? null }, { offset: ir.start, end: ir.end }, signal)
    return { source: 'dash', init: init ?? (found.init === null ? null : { url: rep.baseUrl, range: found.init }), segments: found.segments }
  }

  function fromFragments (f: MediaFormat): MediaIndex {
    const parts = (f.fragments ?? []).map((fr) => ({
      url: fr.url ?? (fr.path !== undefined && f.fragment_base_url !== null ? new URL(fr.path, f.fragment_base_url).href : ''),
      duration: fr.duration ?? null
    }))
    if (parts.some((p) => p.url === '')) throw new AppError('UPSTREAM_ERROR', 'A fragment of the format has no URL')
    // yt-dlp lists a DASH initialization segment first, without a duration.
    const first = parts[0]
    const init = first !== undefined && first.duration === null && parts.length > 1 ? { url: first.url, range: null } : null
    const segments = parts.slice(init === null ? 0 : 1).map((p) => ({ url: p.url, duration: p.duration ?? 0, range: null }))
    return { source: 'fragments', init, segments }
  }

  async function build (f: Source, signal: AbortSignal): Promise<MediaIndex> {
    const hasFragments = f.fragments !== null && f.fragments.length > 0
    if (isDashFormat(f)) {
      try {
        return await fromDash(f, signal)
      } catch (err) {
        if (expired.has(err as object) || signal.aborted || (!hasFragments && f.protocol.includes('dash'))) throw err
      }
    }
    if (hasFragments) return fromFragments(f)
    const found = await fromSidx(f, null, signal)
    if (found.init === null) throw new AppError('UPSTREAM_ERROR', 'The media has a segment index but no initialization segment')
    return { source: 'sidx', init: { url: f.url, range: found.init }, segments: found.segments }
  }

  function remember (key: string, value: Promise<MediaIndex>): Promise<MediaIndex> {
    if (cache.size >= maxEntries) {
      const oldest = cache.keys().next().value
      if (oldest !== undefined) cache.delete(oldest)
    }
    cache.set(key, { at: Date.now(), value })
    value.catch(() => { if (cache.get(key)?.value === value) cache.delete(key) })
    return value
  }

  return {
    async index (f, fresh, platform = null) {
      const key = `${f.manifest_url ?? ''} ${f.format_id} ${f.url}`
      const hit = cache.get(key)
      if (hit !== undefined && Date.now() - hit.at < ttlMs) return await hit.value
      try {
        return await remember(key, build({ ...f, platform }, AbortSignal.timeout(BUILD_TIMEOUT_MS)))
      } catch (err) {
        if (!expired.has(err as object) || fresh === undefined) throw err
        const g = await fresh()
        return await remember(`${g.manifest_url ?? ''} ${g.format_id} ${g.url}`, build({ ...g, platform }, AbortSignal.timeout(BUILD_TIMEOUT_MS)))
      }
    }
  }
}
