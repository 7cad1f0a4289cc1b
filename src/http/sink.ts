// Writes a streamed body (proxy, remux) to the uWS response with backpressure. hyper-express
// 6.8.2 + uWS 20.30 quirks this works around (checked on this build):
// - res.write() always uses chunked encoding, even with a Content-Length
//   header set (the client then sees both), so sized bodies go through
//   uWS tryEnd(chunk, total), which writes Content-Length itself;
// - tryEnd does not buffer what the socket refused: the rest of the chunk
//   is re-sent from getWriteOffset() in onWritable;
// - a sized body that ends through tryEnd leaves hyper-express's `completed`
//   false, so it is set here (nothing may touch the uWS response afterwards);
// - uWS drops a connection whose client has not read anything for ~10 s
//   while we have data queued (HTTP idle timeout, not configurable in 20.30).
import type { Response } from 'hyper-express'
import type { BodySink } from '../proxy/exchange.ts'

// hyper-express keeps the status/header writer private; it also writes the
// headers the pipeline set (request id, security, CORS).
function initiate (res: Response): void {
  const fn: unknown = Reflect.get(res, '_initiate_response')
  if (typeof fn !== 'function') throw new Error('hyper-express Response._initiate_response is missing (version change?)')
  Reflect.apply(fn, res, [])
}

export function createSink (res: Response, signal: AbortSignal): BodySink {
  const raw = res.raw
  let length: number | null = null
  // a sized body's chunk the socket did not take all of, and the write offset it started at
  let pending: Buffer | null = null
  let pendingBase = 0
  let blocked = false
  let ended = false
  let wake: (() => void) | null = null
  // the chunk write() hands to the corked writer (no closure per write)
  let chunk: Buffer | null = null
  let wrote = true

  const wakeUp = (): void => {
    const w = wake
    wake = null
    if (w !== null) w()
  }
  signal.addEventListener('abort', wakeUp, { once: true })

  const markEnded = (): void => {
    ended = true
    res.completed = true
  }

  function onWritable (offset: number): boolean {
    if (res.completed) { wakeUp(); return true }
    if (pending !== null && length !== null) {
      const [sent, done] = raw.tryEnd(pending.subarray(offset - pendingBase), length)
      if (done) markEnded()
      if (!sent && !done) return false
      pending = null
    }
    blocked = false
    wakeUp()
    return true
  }

  function corkedWrite (): void {
    const c = chunk as Buffer
    chunk = null
    if (length === null) {
      wrote = raw.write(c)
      blocked = !wrote
      return
    }
    const base = raw.getWriteOffset()
    const [sent, done] = raw.tryEnd(c, length)
    if (done) markEnded()
    else if (!sent) {
      pending = c
      pendingBase = base
      blocked = true
      wrote = false
      return
    }
    wrote = true
  }

  const whenDrained = (cb: () => void): void => {
    if (!blocked || res.completed || signal.aborted) { cb(); return }
    wake = cb
  }

  return {
    start (status, len) {
      length = len
      res.status(status)
      raw.cork(() => {
        initiate(res)
        raw.onWritable(onWritable)
      })
      if (len === 0) {
        res.send()
        ended = true
      }
    },

    headOnly (status, len) {
      res.status(status)
      // send() ends with endWithoutBody() when a Content-Length > 0 is set and
      // writes "Content-Length: 0" itself otherwise; with no length known, end raw.
      if (len !== null) {
        if (len > 0) res.header('content-length', String(len))
        res.send()
        ended = true
        return
      }
      raw.cork(() => {
        initiate(res)
        raw.endWithoutBody()
      })
      markEnded()
    },

    write (c) {
      if (res.completed || ended || c.length === 0) return true
      chunk = c
      wrote = true
      raw.cork(corkedWrite)
      return wrote
    },

    whenDrained,

    async drained () {
      await new Promise<void>((resolve) => { whenDrained(resolve) })
    },

    end () {
      if (res.completed || ended) return
      if (length === null) {
        res.send()
        ended = true
        return
      }
      res.close()
      ended = true
    },

    close () {
      if (!res.completed) res.close()
      ended = true
    },

    gone: () => res.completed && !ended,
    finished: () => ended
  }
}
