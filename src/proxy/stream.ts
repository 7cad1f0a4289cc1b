// proxyMedia: relays one media URL to the client. Until the status line is out,
// every failure is thrown as an AppError (the pipeline sends the JSON body);
// after that, a failure can only cut the connection. A body that breaks off is
// resumed at exactly the next byte with a new Range request (re-extracting once
// if the URL was refused), so the client never gets a duplicated or missing byte.
import type { Readable } from 'node:stream'
import { AppError } from '../errors.ts'
import type { BodySink, MediaExchange } from './exchange.ts'
import { buildUpstreamHeaders, contentDisposition, copiedResponseHeaders, isSafeHeaderValue } from './headers.ts'
import { isExpiredStatus, planLength, planResponse, resumeStart } from './plan.ts'
import type { Plan } from './plan.ts'
import { formatContentRange, parseRange, rangeHeader } from './range.ts'
import { toUpstreamError } from './upstream.ts'
import type { UpstreamClient, UpstreamResponse } from './upstream.ts'

export interface MediaTarget {
  url: string
  headers: Record<string, string>
}

export interface MediaSource extends MediaTarget {
  // epoch ms after which the URL is known to be dead: refresh() before the first request
  expiresAtMs?: number | null
  // re-extracts the media; called at most once per response
  refresh?: () => Promise<MediaTarget>
}

export interface ProxyOptions {
  upstream: UpstreamClient
  // hosts (host or host:port) exempt from the public-address check
  allow: readonly string[]
  // whose media: picks the outbound proxy (YTDLP_PROXY, <PLATFORM>_PROXY)
  platform?: string | null
  download?: boolean
  filename?: string | null
  extraHeaders?: Readonly<Record<string, string>>
  // reconnects in a row that bring no new byte before giving up (default 2)
  maxResumes?: number
  // told the length of every piece of the body handed to the client (metrics: bytes proxied)
  countBytes?: (bytes: number) => void
}

// Upper bound on reconnects per response, progress or not.
const MAX_RESUMES = 64
const noCount = (_bytes: number): void => {}
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const EXTENSIONS: Readonly<Record<string, string>> = {
  'video/mp4': 'mp4',
  'video/webm': 'webm',
  'video/x-matroska': 'mkv',
  'video/mp2t': 'ts',
  'video/x-flv': 'flv',
  'audio/mp4': 'm4a',
  'audio/mpeg': 'mp3',
  'audio/webm': 'weba',
  'audio/ogg': 'ogg',
  'audio/aac': 'aac',
  'application/vnd.apple.mpegurl': 'm3u8',
  'application/x-mpegurl': 'm3u8',
  'application/dash+xml': 'mpd'
}

function discard (body: Readable): void {
  if (!body.destroyed) body.destroy()
}

function dispositionFor (opts: ProxyOptions, contentType: string | undefined): string | null {
  if (opts.download !== true && (opts.filename ?? null) === null) return null
  const ext = EXTENSIONS[(contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''] ?? 'mp4'
  const base = opts.filename ?? 'video'
  const name = /\.[A-Za-z0-9]{1,8}$/.test(base) ? base : `${base}.${ext}`
  return contentDisposition(name, opts.download === true ? 'attachment' : 'inline')
}

export async function proxyMedia (ex: MediaExchange, source: MediaSource, opts: ProxyOptions): Promise<void> {
  const signal = ex.signal
  try {
    await relay(ex, signal, source, opts)
  } catch (err) {
    // The client left: the abort that followed is not an error worth a log line.
    if (!signal.aborted) throw err
  }
}

async function relay (ex: MediaExchange, signal: AbortSignal, source: MediaSource, opts: ProxyOptions): Promise<void> {
  if (signal.aborted) return
  const head = ex.head
  const spec = parseRange(ex.range)
  const ifRange = ex.ifRange
  let target: MediaTarget = { url: source.url, headers: source.headers }
  let canRefresh = source.refresh !== undefined

  const refresh = async (): Promise<void> => {
    canRefresh = false
    if (source.refresh !== undefined) target = await source.refresh()
  }
  const open = async (range: string | null, method: 'GET' | 'HEAD', withIfRange: boolean): Promise<UpstreamResponse> =>
    await opts.upstream.request({
      url: target.url,
      method,
      headers: buildUpstreamHeaders(target.headers, range, withIfRange ? ifRange : null),
      allow: opts.allow,
      signal,
      platform: opts.platform ?? null
    })

  if (canRefresh && source.expiresAtMs != null && source.expiresAtMs <= Date.now()) await refresh()
  let up: UpstreamResponse
  for (;;) {
    up = await open(rangeHeader(spec), head ? 'HEAD' : 'GET', true)
    if (head && (up.status === 405 || up.status === 501)) {
      discard(up.body)
      up = await open(rangeHeader(spec), 'GET', true)
    }
    if (!isExpiredStatus(up.status) || !canRefresh) break
    discard(up.body)
    await refresh()
  }

  let plan: Plan
  try {
    plan = planResponse(up.status, up.headers, spec, ifRange !== null)
  } catch (err) {
    discard(up.body)
    throw err
  }
  for (const [k, v] of copiedResponseHeaders(up.headers)) ex.header(k, v)
  ex.header('accept-ranges', 'bytes')
  if (plan.status === 206 && plan.end !== null) ex.header('content-range', formatContentRange({ start: plan.start, end: plan.end }, plan.size))
  const disposition = dispositionFor(opts, up.headers['content-type'])
  if (disposition !== null) ex.header('content-disposition', disposition)
  for (const [k, v] of Object.entries(opts.extraHeaders ?? {})) if (HEADER_NAME.test(k) && isSafeHeaderValue(v)) ex.header(k, v)

  const sink = ex.sink()
  if (head) {
    discard(up.body)
    sink.headOnly(plan.status, planLength(plan))
    return
  }
  sink.start(plan.status, planLength(plan))

  let body = up.body
  // absolute offsets: the upstream body's next byte, and the next byte the client needs
  const cursor: Cursor = { at: plan.upstreamStart, pos: plan.start }
  const count = opts.countBytes ?? noCount
  const maxStalls = opts.maxResumes ?? 2
  let stalls = 0
  let resumes = 0
  for (;;) {
    const from = cursor.pos
    let failure: unknown = null
    await copy(body, sink, cursor, plan.end, count).catch((err: unknown) => { failure = err })
    discard(body)
    if (sink.gone() || signal.aborted) return
    if (plan.end !== null ? cursor.pos > plan.end : failure === null) {
      sink.end()
      return
    }
    // A body that keeps breaking off is followed as long as it makes progress.
    stalls = cursor.pos > from ? 0 : stalls + 1
    if (stalls > maxStalls || ++resumes > MAX_RESUMES) {
      throw failure === null ? new AppError('UPSTREAM_ERROR', undefined, { detail: 'the media body ended early' }) : toUpstreamError(failure)
    }
    for (;;) {
      const next = await open(`bytes=${cursor.pos}-${plan.end ?? ''}`, 'GET', false)
      if (isExpiredStatus(next.status) && canRefresh) {
        discard(next.body)
        await refresh()
        continue
      }
      try {
        cursor.at = resumeStart(next.status, next.headers, cursor.pos, plan.size)
      } catch (err) {
        discard(next.body)
        throw err
      }
      body = next.body
      break
    }
  }
}

interface Cursor { at: number, pos: number }

// Copies the body's bytes that fall in [cursor.pos, end] to the sink, advancing
// the cursor as it goes (so a failure leaves it at the exact resume offset);
// count is told each piece's length once the sink took it.
async function copy (body: Readable, sink: BodySink, cursor: Cursor, end: number | null, count: (bytes: number) => void): Promise<void> {
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const next = cursor.at + chunk.length
    const skip = cursor.pos - cursor.at
    cursor.at = next
    if (skip >= chunk.length) continue
    let piece = skip > 0 ? chunk.subarray(skip) : chunk
    if (end !== null && cursor.pos + piece.length > end + 1) piece = piece.subarray(0, end + 1 - cursor.pos)
    cursor.pos += piece.length
    if (sink.gone()) return
    const more = sink.write(piece)
    count(piece.length)
    if (!more) await sink.drained()
    if (sink.gone() || (end !== null && cursor.pos > end)) return
  }
}
