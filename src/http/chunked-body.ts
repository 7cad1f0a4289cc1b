// hyper-express 6.8 reads a request body by its Content-Length only: a chunked body
// (Transfer-Encoding: chunked, no Content-Length) reads as empty. uWS 20.30 takes the
// chunked framing off and hands the data to onData, which must be bound before the
// request callback returns. readChunked binds it for such requests and gives
// req.buffer() (so text() and json() too) the body, held to the policy's body bound:
// past maxBytes the rest is dropped unread and the read fails with 413.
import type { Request, Response } from 'hyper-express'
import { AppError } from '../errors.ts'

export function isChunked (req: Request): boolean {
  return req.headers['content-length'] === undefined && /\bchunked\b/i.test(req.headers['transfer-encoding'] ?? '')
}

// Call synchronously in the request callback, before any await.
export function readChunked (req: Request, res: Response, maxBytes: number): void {
  const parts: Buffer[] = []
  let bytes = 0
  let settled = false
  let done: (body: Buffer) => void = () => {}
  let refuse: (err: AppError) => void = () => {}
  const body = new Promise<Buffer>((resolve, reject) => { done = resolve; refuse = reject })
  // a handler that never reads the body must not leave a rejection unhandled
  body.catch(() => {})
  const fail = (err: AppError): void => {
    if (settled) return
    settled = true
    parts.length = 0
    refuse(err)
  }
  res.raw.onData((chunk, last) => {
    if (settled) return
    bytes += chunk.byteLength
    if (bytes > maxBytes) { fail(new AppError('PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBytes} bytes`)); return }
    // uWS reuses the chunk's memory once this callback returns: copy it
    if (chunk.byteLength > 0) parts.push(Buffer.from(chunk.slice(0)))
    if (last) { settled = true; done(Buffer.concat(parts, bytes)) }
  })
  res.once('abort', () => { fail(new AppError('INVALID_INPUT', 'The request body could not be read', { detail: 'the client went away' })) })
  Object.defineProperty(req, 'buffer', { value: async (): Promise<Buffer> => await body })
}
