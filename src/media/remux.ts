// Split video + audio → one fragmented MP4 streamed as ffmpeg produces it
// (`-c copy`, no transcoding). ffmpeg reads its inputs through our own signed
// proxy links, so the formats' headers, the SSRF guard and re-extraction apply;
// and nothing else: its inputs take http only (-protocol_whitelist) through the
// egress proxy's local route (-http_proxy), which passes this worker's own media
// links alone, whatever a playlist it reads points to.
// ffmpeg is started from a thread of its own (ffmpeg-launcher.ts) and writes to
// a Unix socket this process listens on for that one remux, in a private
// (0700) directory. Concurrent requests for the same pair share one ffmpeg.
// Bounded per worker; ffmpeg is killed when its last client leaves.
// With the remux cache (remux-cache.ts), the output of a whole remux is also
// written to a file, and requests with Range (and, once complete, every
// request) are served from it (remux-file.ts); the file's writer keeps ffmpeg
// going while clients come and go, until nobody has asked for IDLE_MS.
// t= (startSec) seeks ffmpeg's inputs (-ss, to the keyframe before) and is never cached.
import { mkdtemp } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppError } from '../errors.ts'
import type { MediaExchange } from '../proxy/exchange.ts'
import { contentDisposition } from '../proxy/headers.ts'
import { createThreadLauncher } from './ffmpeg-launcher.ts'
import type { Exit, FfmpegLauncher, Launched } from './ffmpeg-launcher.ts'
import { createBroadcast } from './remux-share.ts'
import type { Broadcast, Subscription } from './remux-share.ts'
import type { RemuxCache } from './remux-cache.ts'
import { sendCachedFile, sendWrittenRange, waitForRange, writeToCache } from './remux-file.ts'
import type { GrowingFile } from './remux-file.ts'
import { parseRange } from '../proxy/range.ts'
import type { RangeSpec } from '../proxy/range.ts'
import { remember } from '../guard/memo.ts'

export interface Remuxer {
  // key: what the output depends on (the pair of formats); requests with the same key
  // while the output is young share one ffmpeg (remux-share.ts)
  // audioCodec: the audio format's codec as extracted (mp4a.* for AAC), when known
  // startSec: where the output starts (t=; 0: the beginning); live: the output never completes (not cached)
  serve: (ex: MediaExchange, inputs: { video: string, audio: string, audioCodec?: string | null }, opts: { filename?: string | null, download?: boolean, key?: string, startSec?: number, live?: boolean }) => Promise<void>
  // any other ffmpeg output streamed the same way (shared by key, bounded, killed when its last client leaves)
  run: (ex: MediaExchange, job: FfmpegJob) => Promise<void>
  active: () => number
}

// One ffmpeg output streamed to its clients: a remux, an audio transcode (audio.ts).
export interface FfmpegJob {
  // what the output depends on: requests with the same key while it is young share one ffmpeg
  key: string | null
  // also keep the whole output in the remux cache under this key, and serve Range and HEAD from it (remux-file.ts)
  cacheKey?: string | null
  // ffmpeg's arguments: it writes to `output`, and reads its inputs through `httpProxy` (the egress's local route)
  args: (output: string, httpProxy: string | null) => string[]
  contentType: string
  // X-Stream-Mode
  mode: string
  // Content-Disposition (the file name with its extension), or none
  disposition: { filename: string, attachment: boolean } | null
  // more response headers (Estimated-Content-Length)
  headers?: ReadonlyArray<readonly [string, string]>
  // what ffmpeg does here, for FFMPEG_MISSING ("merging separate video and audio")
  purpose: string
  // the error message when ffmpeg produced nothing
  failure: string
}

export const REMUX_INPUT_PROTOCOLS = 'http,tcp,crypto'

// AAC from MPEG-TS (HLS audio) comes with ADTS headers, which an MP4 may not
// hold; ffmpeg 5.1 does not strip them by itself. The filter passes AAC that
// has none (from MP4) through untouched, and refuses every other codec.
const isAac = (codec: string | null | undefined): boolean => codec !== null && codec !== undefined && /^(mp4a|aac)\b/i.test(codec)

// httpProxy: the egress's local route (null: ffmpeg connects itself; tests only)
// video === audio: one input holding both (an HLS source remuxed whole), read once
export function remuxArgs (video: string, audio: string, output = 'pipe:1', httpProxy: string | null = null, audioCodec: string | null = null, startSec = 0): string[] {
  const seek = startSec > 0 ? ['-ss', String(startSec)] : []
  const input = (url: string): string[] => ['-protocol_whitelist', REMUX_INPUT_PROTOCOLS, ...(httpProxy === null ? [] : ['-http_proxy', httpProxy]), ...seek, '-i', url]
  const one = video === audio
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    ...input(video), ...(one ? [] : input(audio)),
    '-map', '0:v:0', '-map', one ? '0:a:0' : '1:a:0', '-c', 'copy',
    ...(isAac(audioCodec) ? ['-bsf:a', 'aac_adtstoasc'] : []),
    '-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof',
    output
  ]
}

interface Output { path: string, connection: Promise<Socket>, close: () => void }

// A Unix socket that accepts exactly one connection (ffmpeg's output).
async function listenOnce (path: string): Promise<Output> {
  const server = createServer()
  server.maxConnections = 1
  let closed = false
  let accepted: Socket | null = null
  const connection = new Promise<Socket>((resolve) => {
    server.once('connection', (socket) => {
      server.close()
      accepted = socket
      if (closed) socket.destroy()
      else resolve(socket)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    // exclusive: not accepted by the cluster primary and handed over (see proxy/egress.ts)
    server.listen({ path, exclusive: true }, () => { server.off('error', reject); resolve() })
  })
  return {
    path,
    connection,
    close: () => {
      if (closed) return
      closed = true
      server.close()
      const socket: Socket | null = accepted
      if (socket !== null) socket.destroy()
    }
  }
}

// file: the output being written to the cache; clients: requests reading this job (either way)
interface Job { broadcast: Broadcast, finished: Promise<Exit>, file: GrowingFile | null, clients: number }

// a cached remux nobody asks for is stopped (and not kept) after this long
export const IDLE_MS = 30_000
const NO_RANGE: RangeSpec = { kind: 'none' }

// ffmpeg runs below the HTTP worker's priority: on a busy machine the event loop
// keeps its CPU and the remuxes share what is left.
const FFMPEG_NICE = 10

// ffmpegPath null: no ffmpeg on this host; every remux answers 503 FFMPEG_MISSING.
// cache: where whole remuxes are kept for Range and exact lengths (none: every remux is streamed only)
export function createRemuxer (opts: { ffmpegPath: string | null, maxConcurrent: number, launcher?: FfmpegLauncher, httpProxy?: () => string | null, env?: Record<string, string>, cache?: RemuxCache }): Remuxer {
  const ffmpegPath = opts.ffmpegPath
  const launcher = opts.launcher ?? (ffmpegPath === null ? null : createThreadLauncher(ffmpegPath, opts.env))
  const jobs = new Map<string, Job>()
  let dir: Promise<string> | null = null
  let seq = 0
  let active = 0
  const cache = opts.cache ?? null
  // pairs whose remux did not fit in the cache: their Range requests are answered whole (200)
  const tooBig = new Map<string, true>()

  // Registers the job and joins the caller before the first await, so requests
  // arriving meanwhile share it; then starts ffmpeg.
  // cacheKey: also write the output to the cache under this key
  function start (spec: FfmpegJob, key: string | null, cacheKey: string | null = null): { job: Job, sub: Subscription } {
    if (launcher === null) {
      throw new AppError('FFMPEG_MISSING', undefined, { detail: `no ffmpeg on this server (FFMPEG_PATH): ${spec.purpose} needs it. Install ffmpeg or set FFMPEG_PATH, then restart.` })
    }
    if (active >= opts.maxConcurrent) {
      throw new AppError('STREAM_BUSY', 'Too many remuxes and transcodes are running; try again shortly', { detail: `${active} of ${opts.maxConcurrent}`, headers: { 'retry-after': '5' } })
    }
    const broadcast = createBroadcast()
    const sub = broadcast.join()
    if (sub === null) throw new AppError('INTERNAL', 'a new remux took no subscriber')
    active++
    let stop = (): void => {}
    let abandoned = false
    broadcast.onEmpty(() => { abandoned = true; stop() })
    const finished = (async (): Promise<Exit> => {
      let output: Output | null = null
      let proc: Launched | null = null
      try {
        dir ??= mkdtemp(join(tmpdir(), 'vidgate-remux-'))
        output = await listenOnce(join(await dir, `${++seq}.sock`))
        if (abandoned) return { code: null, stderr: 'every client left' }
        const o = output
        const p = launcher.start(spec.args(`unix:${o.path}`, opts.httpProxy?.() ?? null), FFMPEG_NICE)
        proc = p
        stop = () => { p.kill(); o.close() }
        await broadcast.pump(await Promise.race([o.connection, p.exited.then(() => null)]))
        return await p.exited
      } catch (err) {
        return { code: null, stderr: err instanceof Error ? err.message : String(err) }
      } finally {
        stop()
        output?.close()
        broadcast.end()
        if (proc !== null) await proc.exited
        active--
      }
    })()
    const writer = cacheKey === null || cache === null ? null : broadcast.join()
    const file = writer === null || cache === null || cacheKey === null
      ? null
      : writeToCache(writer, cache.create(cacheKey), finished, () => { remember(tooBig, 1024, cacheKey, true) })
    const job: Job = { broadcast, finished, file, clients: 0 }
    if (key !== null) jobs.set(key, job)
    // a job is found by its key until its file, if any, is complete (or failed)
    void finished.then(async () => { await file?.settled() }).then(() => { if (key !== null && jobs.get(key) === job) jobs.delete(key) })
    return { job, sub }
  }

  // A job's readers: once the last one has gone, a job that only fills the cache is stopped after IDLE_MS.
  function enter (job: Job): () => void {
    job.clients++
    let left = false
    return () => {
      if (left) return
      left = true
      if (--job.clients > 0 || job.file === null) return
      const file = job.file
      setTimeout(() => { if (job.clients === 0) file.abandon() }, IDLE_MS).unref()
    }
  }

  function busy (key: string | null): void {
    if (active >= opts.maxConcurrent && !(key !== null && jobs.get(key)?.broadcast.joinable() === true)) {
      throw new AppError('STREAM_BUSY', 'Too many remuxes and transcodes are running; try again shortly', { detail: `${active} of ${opts.maxConcurrent}`, headers: { 'retry-after': '5' } })
    }
  }

  // A request served from the cache: a finished file (any request), or a range
  // of one being written (a closed range once its bytes are on disk, any other
  // once it is complete), starting the remux if none runs. false: not answered
  // (no file, HEAD, no range, bytes=0-, or the file failed): stream it.
  async function fromCache (ex: MediaExchange, spec: FfmpegJob, key: string): Promise<boolean> {
    if (cache === null) return false
    // without validators of ours, an If-Range never matches: the whole stream
    const range = ex.ifRange === null ? parseRange(ex.range) : NO_RANGE
    const found = await cache.find(key)
    if (found !== null && await sendCachedFile(ex, found, range)) return true
    if (ex.head || tooBig.has(key) || (range.kind !== 'from' && range.kind !== 'suffix')) return false
    // bytes=0- asks for the whole stream, which need not wait for the file
    if (range.kind === 'from' && range.start === 0 && range.end === null) return false
    let job = jobs.get(key)
    if (job?.file?.state() !== 'writing') {
      const started = start(spec, key, key)
      // the caller's subscription is not needed: the file is read instead (the writer keeps the job going)
      started.sub.leave()
      job = started.job
    }
    const leave = enter(job)
    try {
      const g = job.file
      if (g === null) return false
      const got = await waitForRange(g, range, ex.signal)
      if (got === 'gone') return true
      if (got === 'failed') return false
      if (got === 'ready' && range.kind === 'from' && range.end !== null) return await sendWrittenRange(ex, g, range.start, range.end)
      const file = await cache.find(key)
      return file !== null && await sendCachedFile(ex, file, range)
    } finally {
      leave()
    }
  }

  async function run (ex: MediaExchange, spec: FfmpegJob): Promise<void> {
    const key = spec.key
    const cacheKey = cache === null ? null : spec.cacheKey ?? null
    ex.header('content-type', spec.contentType)
    ex.header('x-stream-mode', spec.mode)
    ex.header('cache-control', 'no-store')
    if (spec.disposition !== null) ex.header('content-disposition', contentDisposition(spec.disposition.filename, spec.disposition.attachment ? 'attachment' : 'inline'))
    for (const [name, value] of spec.headers ?? []) ex.header(name, value)
    if (cacheKey !== null || spec.mode === 'remux') ex.header('accept-ranges', cacheKey === null ? 'none' : 'bytes')
    if (cacheKey !== null && await fromCache(ex, spec, cacheKey)) return
    // the length is not known before ffmpeg ends: none rather than a false one
    if (ex.head) { ex.sink().headOnly(200, null); return }
    busy(key)
    const signal = ex.signal
    const shared = key === null ? undefined : jobs.get(key)
    const joined = shared?.broadcast.join() ?? null
    // a new remux fills the cache unless one already does (or the output does not fit)
    const fills = cacheKey !== null && !tooBig.has(cacheKey) && shared?.file?.state() !== 'writing'
    const { job, sub: subscription } = shared !== undefined && joined !== null ? { job: shared, sub: joined } : start(spec, key, fills ? cacheKey : null)
    const left = enter(job)
    const leave = (): void => { subscription.leave(); left() }
    signal.addEventListener('abort', leave, { once: true })
    try {
      const sink = ex.sink()
      let started = false
      for (let chunk = await subscription.next(); chunk !== null && !signal.aborted; chunk = await subscription.next()) {
        if (!started) { sink.start(200, null); started = true }
        if (!sink.write(chunk)) await sink.drained()
      }
      const { code, stderr } = await job.finished
      if (signal.aborted) return
      if (!started) {
        throw new AppError('UPSTREAM_ERROR', spec.failure, { detail: stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300) || `ffmpeg exited with ${String(code)}` })
      }
      if (code === 0) sink.end()
      else sink.close()
    } finally {
      signal.removeEventListener('abort', leave)
      leave()
    }
  }

  return {
    active: () => active,
    run,
    async serve (ex, inputs, o) {
      const startSec = o.startSec ?? 0
      const named = o.download === true || (o.filename ?? null) !== null
      // a seek is another output: shared only with the same start, never cached
      const key = o.key === undefined ? null : startSec > 0 ? `${o.key}@t=${startSec}` : o.key
      await run(ex, {
        key,
        cacheKey: cache === null || startSec > 0 || o.live === true ? null : key,
        args: (output, httpProxy) => remuxArgs(inputs.video, inputs.audio, output, httpProxy, inputs.audioCodec ?? null, startSec),
        contentType: 'video/mp4',
        mode: 'remux',
        disposition: named ? { filename: `${o.filename ?? 'video'}.mp4`, attachment: o.download === true } : null,
        purpose: 'merging separate video and audio',
        failure: 'The video and audio could not be combined'
      })
    }
  }
}
