// proxyMedia: relays one media URL to the client. Until the status line is out,
// every failure is thrown as an AppError (the pipeline sends the JSON body);
// after that, a failure can only cut the connection. A body that breaks off is
// resumed at exactly the next byte with a new Range request (re-extracting once
// if the URL was refused), so the client never gets a duplicated or missing byte.
import { AppError } from '../errors.ts'
import type { BodySink, MediaExchange } from './exchange.ts'
import { buildUpstreamHeaders, contentDisposition, copiedResponseHeaders, isSafeHeaderValue } from './headers.ts'
import { isExpiredStatus, planLength, planResponse, resumeStart } from './plan.ts'
import type { Plan } from './plan.ts'
import { formatContentRange, parseRange, rangeHeader } from './range.ts'
import { toUpstreamError } from './upstream.ts'
import type { RelayBody, RelayResponse, UpstreamClient } from './upstream.ts'

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

function discard (body: RelayBody): void {
  body.destroy()
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
  const open = async (range: string | null, method: 'GET' | 'HEAD', withIfRange: boolean): Promise<RelayResponse> =>
    await opts.upstream.relay({
      url: target.url,
      method,
      headers: buildUpstreamHeaders(target.headers, range, withIfRange ? ifRange : null),
      allow: opts.allow,
      signal,
      platform: opts.platform ?? null
    })

  if (canRefresh && source.expiresAtMs != null && source.expiresAtMs <= Date.now()) await refresh()
  let up: RelayResponse
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
    const failure = await pump(body, sink, signal, cursor, plan.end, count)
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

// Relays the body's bytes that fall in [cursor.pos, end] to the sink, advancing
// the cursor as it goes (so a failure leaves it at the exact resume offset);
// count is told each piece's length once the sink took it. A piece the sink
// could not send at once stays with it (the body pauses, its buffer kept)
// until the client drained it. Resolves with the body's failure, or null when
// the body ended, the window is complete or the client left; never while the
// sink still holds a piece.
async function pump (body: RelayBody, sink: BodySink, signal: AbortSignal, cursor: Cursor, end: number | null, count: (bytes: number) => void): Promise<Error | null> {
  return await new Promise((resolve) => {
    let settled = false
    let draining = false
    // the body is over (or the window complete), but the sink still holds a piece
    let over: Error | null | undefined
    const settle = (failure: Error | null): void => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      resolve(failure)
    }
    const onAbort = (): void => { body.destroy(); settle(null) }
    const onDrained = (): void => {
      draining = false
      if (settled) return
      if (sink.gone() || signal.aborted) { onAbort(); return }
      if (over !== undefined) { settle(over); return }
      body.resume()
    }
    const finish = (failure: Error | null): void => {
      if (draining) over = failure
      else settle(failure)
    }
    const onData = (chunk: Buffer): boolean => {
      if (settled || over !== undefined) return true
      const next = cursor.at + chunk.length
      const skip = cursor.pos - cursor.at
      cursor.at = next
      if (skip >= chunk.length) return true
      let piece = skip > 0 ? chunk.subarray(skip) : chunk
      if (end !== null && cursor.pos + piece.length > end + 1) piece = piece.subarray(0, end + 1 - cursor.pos)
      if (sink.gone()) { onAbort(); return true }
      cursor.pos += piece.length
      const more = sink.write(piece)
      count(piece.length)
      // the window is complete: what the body has after it is not needed
      if (end !== null && cursor.pos > end) over = null
      if (more) {
        if (over !== undefined) settle(over)
        return true
      }
      draining = true
      sink.whenDrained(onDrained)
      return false
    }
    signal.addEventListener('abort', onAbort, { once: true })
    if (signal.aborted) { onAbort(); return }
    body.start(onData, finish)
  })
}
