// Serving merged streams from the remux cache (remux-cache.ts): a finished
// file with Range, HEAD and an exact length; a file still being written for the
// ranges that are already on disk; and the writer that copies a remux's output
// into the cache as ffmpeg produces it.
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { AppError } from '../errors.ts'
import type { MediaExchange } from '../proxy/exchange.ts'
import { formatContentRange, resolveRange } from '../proxy/range.ts'
import type { RangeSpec } from '../proxy/range.ts'
import type { CachedFile, CacheWriter } from './remux-cache.ts'
import type { Exit } from './ffmpeg-launcher.ts'
import type { Subscription } from './remux-share.ts'

const READ_CHUNK = 256 * 1024

// A remux being written to the cache, as its readers see it.
export interface GrowingFile {
  // bytes on disk so far
  written: () => number
  state: () => 'writing' | 'done' | 'failed'
  // resolves at the next write or change of state
  changed: () => Promise<void>
  // resolves once it is done or failed
  settled: () => Promise<void>
  // the file as it is now (null once it failed or is gone)
  open: () => Promise<FileHandle | null>
  // stops writing (nobody reads it): the file is deleted
  abandon: () => void
}

function signal (): { promise: Promise<void>, fire: () => void } {
  let fire = (): void => {}
  const promise = new Promise<void>((resolve) => { fire = resolve })
  return { promise, fire }
}

// Copies the subscription's output (a remux's bytes) into the cache; the file
// is kept only when ffmpeg exits 0 and every byte fit.
// onTooBig: called when the output outgrew the cache
export function writeToCache (sub: Subscription, writer: Promise<CacheWriter | null>, finished: Promise<Exit>, onTooBig: () => void): GrowingFile {
  let written = 0
  let state: 'writing' | 'done' | 'failed' = 'writing'
  let path: string | null = null
  let abandoned = false
  let changed = signal()
  const over = signal()
  const notify = (): void => { const c = changed; changed = signal(); c.fire() }
  const fail = (): void => { state = 'failed'; path = null; sub.leave(); notify(); over.fire() }

  void (async () => {
    const w = await writer.catch(() => null)
    if (w === null) { fail(); return }
    path = w.path
    try {
      for (let chunk = await sub.next(); chunk !== null; chunk = await sub.next()) {
        if (!(await w.append(chunk))) { onTooBig(); fail(); return }
        written += chunk.length
        notify()
      }
      const { code } = await finished
      if (code !== 0 || abandoned) { await w.abort(); fail(); return }
      const file = await w.commit()
      if (file === null) { fail(); return }
      path = file.path
      state = 'done'
      notify()
      over.fire()
    } catch {
      await w.abort()
      fail()
    }
  })()

  return {
    written: () => written,
    state: () => state,
    changed: async () => await changed.promise,
    settled: async () => await over.promise,
    abandon () { if (state === 'writing') { abandoned = true; sub.leave() } },
    async open () {
      // the part file is renamed when it completes: a second try takes the new name
      for (let i = 0; i < 2; i++) {
        const p = path
        if (p === null || state === 'failed') return null
        try { return await open(p, 'r') } catch {}
      }
      return null
    }
  }
}

// Waits until the range's bytes are on disk (a closed range) or the file is
// complete (any other range): 'ready' when they can be sent from the growing
// file, 'done' once it is complete, 'failed' when it will not be, 'gone' when
// the client left.
export async function waitForRange (g: GrowingFile, spec: RangeSpec, abort: AbortSignal): Promise<'ready' | 'done' | 'failed' | 'gone'> {
  const left = new Promise<void>((resolve) => { abort.addEventListener('abort', () => resolve(), { once: true }) })
  for (;;) {
    if (abort.aborted) return 'gone'
    const state = g.state()
    if (state !== 'writing') return state
    if (spec.kind === 'from' && spec.end !== null && g.written() > spec.end) return 'ready'
    await Promise.race([g.changed(), left])
  }
}

async function pump (ex: MediaExchange, fh: FileHandle, status: number, start: number, end: number): Promise<void> {
  const sink = ex.sink()
  const length = end - start + 1
  if (ex.head) { sink.headOnly(status, length); return }
  sink.start(status, length)
  const stream = fh.createReadStream({ start, end, highWaterMark: READ_CHUNK, autoClose: false })
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (!sink.write(chunk)) await sink.drained()
      if (sink.gone() || ex.signal.aborted) break
    }
    // a file shorter than its length cannot fill the Content-Length: the sink cuts the connection
    sink.end()
  } catch {
    sink.close()
  } finally {
    stream.destroy()
  }
}

// A finished file: 200 with its exact length, 206 for a range, 416 past its
// end, HEAD with the same headers. false: the file is gone (evicted), nothing sent.
export async function sendCachedFile (ex: MediaExchange, file: CachedFile, spec: RangeSpec): Promise<boolean> {
  let fh: FileHandle
  try { fh = await open(file.path, 'r') } catch { return false }
  try {
    const size = (await fh.stat()).size
    if (spec.kind === 'from' || spec.kind === 'suffix') {
      const r = resolveRange(spec, size)
      if (r === null) throw new AppError('RANGE_NOT_SATISFIABLE', `The range is outside the stream (${size} bytes)`, { headers: { 'content-range': `bytes */${size}` } })
      ex.header('content-range', formatContentRange(r, size))
      await pump(ex, fh, 206, r.start, r.end)
    } else {
      await pump(ex, fh, 200, 0, size - 1)
    }
    return true
  } finally {
    await fh.close()
  }
}

// A closed range whose bytes are already written, while the rest is still
// being produced: 206 with an unknown complete length (bytes a-b/*).
export async function sendWrittenRange (ex: MediaExchange, g: GrowingFile, start: number, end: number): Promise<boolean> {
  const fh = await g.open()
  if (fh === null) return false
  try {
    ex.header('content-range', formatContentRange({ start, end }, null))
    await pump(ex, fh, 206, start, end)
    return true
  } finally {
    await fh.close()
  }
}
