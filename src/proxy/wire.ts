// The byte proxy's HTTP/1.1 client for direct upstream connections. Sockets
// read into a few reused buffers (net/tls `onread`), and a body is handed on
// as views of them: relaying a response allocates no Buffer per read, so a
// stream of gigabytes makes no garbage for the collector (undici's sockets
// allocate a buffer per read, and V8 collects for that external memory every
// ~64 MB). A consumer that cannot take a piece keeps it: the socket pauses and
// the buffer stays out of the pool until resume().
//
// What it speaks: GET and HEAD, keep-alive (HEAD closes, as undici does),
// bodies framed by Content-Length, chunked or the end of the connection, 1xx
// interim answers skipped. Connections come from the caller's connector
// (upstream.ts: the address policy, TLS), one reuse retry when a kept-alive
// connection turns out closed before answering. Errors carry undici's codes
// (UND_ERR_HEADERS_TIMEOUT, UND_ERR_BODY_TIMEOUT, UND_ERR_SOCKET) so that they
// map to the same client errors either way.
import type { Socket } from 'node:net'
import type { buildConnector } from 'undici'
import { isSafeHeaderValue } from './headers.ts'

// A response body as the proxy consumes it.
export interface RelayBody {
  // Delivers the body. onData gets each piece, which is valid only until it
  // returns, unless it returns false: then the piece stays valid and delivery
  // pauses until resume(). done() is called once: null at the end, else the failure.
  start: (onData: (piece: Buffer) => boolean, done: (err: Error | null) => void) => void
  resume: () => void
  // stops early (the connection is not reused) and releases what the body held
  destroy: () => void
}

export interface WireResponse { status: number, headers: Record<string, string>, body: RelayBody }

export interface WireOptions {
  // a connector for the address policy (guarded or not) whose sockets read through onread
  connector: (guarded: boolean, onread: OnRead) => buildConnector.connector
  headersTimeoutMs: number
  bodyIdleTimeoutMs: number
  keepAliveMs: number
  maxIdlePerOrigin?: number
  maxOrigins?: number
}

export interface OnRead {
  buffer: () => Buffer
  callback: (this: Socket, nread: number, buf: Buffer) => boolean
}

export interface Wire {
  request: (url: URL, method: 'GET' | 'HEAD', headers: Readonly<Record<string, string>>, signal: AbortSignal, guarded: boolean) => Promise<WireResponse>
  origins: () => number
  close: () => void
}

export class WireError extends Error {
  constructor (message: string, readonly code: string, readonly beforeResponse = false) {
    super(message)
    this.name = 'WireError'
  }
}

// Read buffers come in size classes. A socket reading a body that fills its
// buffer gets a larger one for the next read, up to 1 MiB (a fast origin then
// costs fewer reads and writes), one whose reads stay small a smaller one;
// sockets between responses, and TLS (at most a 16 KiB record per read), read
// into the smallest. Each class keeps a few free buffers.
const SIZES = [16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024] as const
const KEEP = [32, 8, 4, 2] as const
const BODY_CLASS = 1
const TOP_CLASS = SIZES.length - 1
const MAX_HEAD = 64 * 1024
const MAX_CHUNK_LINE = 4096
const MAX_TRAILERS = 16 * 1024
const HEAD_END = Buffer.from('\r\n\r\n')
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const PATH = /^[\x21-\x7e]+$/
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\r\n]*)?$/

class ReadBuffers {
  private readonly free: Buffer[][] = SIZES.map(() => [])
  // the class of the buffer take() hands out next: what the read that just happened asked for
  next = 0
  readonly take = (): Buffer => {
    const c = this.next
    this.next = 0
    return this.free[c]?.pop() ?? Buffer.allocUnsafeSlow(SIZES[c] ?? SIZES[0])
  }

  readonly takeSmall = (): Buffer => {
    this.next = 0
    return this.free[0]?.pop() ?? Buffer.allocUnsafeSlow(SIZES[0])
  }

  give (b: Buffer): void {
    const c = SIZES.indexOf(b.length as typeof SIZES[number])
    const list = this.free[c]
    if (list !== undefined && list.length < (KEEP[c] ?? 0)) list.push(b)
  }
}

interface Head { status: number, headers: Record<string, string>, keepAlive: boolean, keepAliveMs: number | null }

function parseHead (text: string): Head {
  const lines = text.split('\r\n')
  const m = STATUS_LINE.exec(lines[0] ?? '')
  if (m === null) throw new WireError('the media server sent an invalid status line', 'HPE_INVALID_STATUS')
  const headers: Record<string, string> = {}
  let last: string | null = null
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (line.includes('\n') || line.includes('\r') || line.includes('\0')) throw new WireError('the media server sent an invalid header', 'HPE_INVALID_HEADER_TOKEN')
    // obsolete line folding: one space instead (RFC 9112 §5.2)
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== null) { headers[last] += ` ${line.trim()}`; continue }
    const colon = line.indexOf(':')
    const name = colon > 0 ? line.slice(0, colon).toLowerCase() : ''
    if (!TOKEN.test(name)) throw new WireError('the media server sent an invalid header', 'HPE_INVALID_HEADER_TOKEN')
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
    last = name
  }
  const tokens = (headers.connection ?? '').toLowerCase().split(',').map((t) => t.trim())
  const keepAlive = m[1] === '1' ? !tokens.includes('close') : tokens.includes('keep-alive')
  const hint = /(?:^|[,\s])timeout=(\d+)/i.exec(headers['keep-alive'] ?? '')
  return { status: Number(m[2]), headers, keepAlive, keepAliveMs: hint === null ? null : Number(hint[1]) * 1000 }
}

type Framing = 'none' | 'length' | 'chunked' | 'close'

// RFC 9112 §6.3, for a response to our GET or HEAD.
function framing (method: string, head: Head): { kind: Framing, length: number } {
  if (method === 'HEAD' || head.status === 204 || head.status === 304) return { kind: 'none', length: 0 }
  const te = head.headers['transfer-encoding']
  if (te !== undefined) {
    // with a Content-Length as well, the message may be an attack on some intermediary: not reused
    if (head.headers['content-length'] !== undefined) head.keepAlive = false
    return { kind: te.toLowerCase().split(',').at(-1)?.trim() === 'chunked' ? 'chunked' : 'close', length: 0 }
  }
  const cl = head.headers['content-length']
  if (cl === undefined) return { kind: 'close', length: 0 }
  const values = new Set(cl.split(',').map((v) => v.trim()))
  const [only] = values
  if (values.size !== 1 || only === undefined || !/^\d{1,15}$/.test(only)) throw new WireError('the media server sent an invalid Content-Length', 'HPE_INVALID_CONTENT_LENGTH')
  // the same length sent twice is one length
  head.headers['content-length'] = only
  const length = Number(only)
  return { kind: length === 0 ? 'none' : 'length', length }
}

// Chunked decoding states (RFC 9112 §7.1)
const SIZE = 0
const EXT = 1
const SIZE_LF = 2
const DATA = 3
const DATA_CR = 4
const DATA_LF = 5
const TRAILER_START = 6
const TRAILER = 7
const TRAILER_LF = 8
const END_LF = 9

function hexValue (c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

interface Segment { buf: Buffer, start: number, end: number }

// queued after the bytes that came before the end of the connection
const EOF: Segment = { buf: Buffer.alloc(0), start: 0, end: 0 }

// One response's body: framing state, the consumer, and the buffers it holds.
class WireBody implements RelayBody {
  private onData: ((piece: Buffer) => boolean) | null = null
  private onDone: ((err: Error | null) => void) | null = null
  private started = false
  // the consumer kept the last piece: paused until resume()
  holding = false
  private held: Buffer | null = null
  private readonly queue: Segment[] = []
  finished = false
  private failure: Error | null = null
  private remaining: number
  private chunk = SIZE
  private digits = 0
  private lineBytes = 0
  private trailerBytes = 0

  constructor (private readonly conn: Conn, private readonly kind: Framing, length: number) {
    this.remaining = length
  }

  get waiting (): boolean { return !this.started || this.holding }

  start (onData: (piece: Buffer) => boolean, done: (err: Error | null) => void): void {
    if (this.started) throw new Error('the body was started twice')
    this.started = true
    this.onData = onData
    this.onDone = done
    if (this.finished) { this.settle(); return }
    this.drain()
  }

  resume (): void {
    if (!this.holding) return
    this.holding = false
    const held = this.held
    this.held = null
    if (held !== null && this.queue[0]?.buf !== held) this.conn.wire.release(held)
    if (!this.finished) this.drain()
  }

  destroy (): void {
    const held = this.held
    this.held = null
    this.holding = false
    const queued = this.queue.some((seg) => seg.buf === held)
    this.releaseQueue()
    if (held !== null && !queued) this.conn.wire.release(held)
    if (this.finished) return
    this.finished = true
    this.onData = null
    this.onDone = null
    this.conn.bodyGone(this, false)
  }

  // From the socket: bytes [start, end) of buf. Returns false when the socket should pause.
  push (buf: Buffer, start: number, end: number): boolean {
    if (this.waiting || this.queue.length > 0) {
      this.queue.push({ buf, start, end })
      return false
    }
    const stop = this.feed(buf, start, end)
    if (this.holding) {
      if (stop < end && !this.finished) this.queue.push({ buf, start: stop, end })
      return false
    }
    this.conn.wire.release(buf)
    // a finished body left the connection idle (reading, to see the server close it) or dead
    return this.conn.alive
  }

  // A response without a body (HEAD, 204, 304, Content-Length: 0).
  empty (): void {
    this.complete(false)
  }

  // The end of the connection: the end of the body, or a premature one, once
  // what came before it has been delivered.
  eof (): void {
    if (this.finished) return
    if (this.queue.length > 0 || this.waiting) this.queue.push(EOF)
    else this.atEof()
  }

  // invalid chunked encoding: the connection is of no further use
  private broken (): void {
    this.conn.kill(new WireError('the media server sent invalid chunked encoding', 'HPE_INVALID_CHUNK_SIZE'))
  }

  private atEof (): void {
    if (this.kind === 'close') this.complete(false)
    else this.fail(new WireError('the media server closed the connection mid-body', 'UND_ERR_SOCKET'))
  }

  fail (err: Error): void {
    if (this.finished) return
    this.finished = true
    this.failure = err
    this.releaseQueue()
    if (this.started) this.settle()
  }

  private releaseQueue (): void {
    for (const seg of this.queue.splice(0)) if (seg !== EOF && seg.buf !== this.held) this.conn.wire.release(seg.buf)
  }

  private drain (): void {
    while (this.queue.length > 0 && !this.holding && !this.finished) {
      const seg = this.queue.shift() as Segment
      if (seg === EOF) { this.atEof(); return }
      seg.start = this.feed(seg.buf, seg.start, seg.end)
      // held, with bytes after the piece: they wait at the head of the queue
      if (this.holding && seg.start < seg.end && !this.finished) { this.queue.unshift(seg); return }
      if (seg.buf !== this.held) this.conn.wire.release(seg.buf)
    }
    if (!this.finished && !this.holding) this.conn.readOn()
  }

  private settle (): void {
    const done = this.onDone
    this.onDone = null
    this.onData = null
    done?.(this.failure)
  }

  private complete (extra: boolean): void {
    this.finished = true
    const exact = !extra && this.queue.length === 0
    this.releaseQueue()
    this.conn.bodyGone(this, exact)
    if (this.started) this.settle()
  }

  private give (buf: Buffer, start: number, end: number): void {
    const onData = this.onData
    if (onData === null || start === end) return
    if (!onData(buf.subarray(start, end))) {
      this.holding = true
      this.held = buf
    }
  }

  // Decodes bytes [pos, end) of buf, handing the body's pieces on; returns where
  // it stopped (the consumer kept a piece, or the body ended).
  private feed (buf: Buffer, pos: number, end: number): number {
    this.conn.activity()
    if (this.kind === 'close') {
      this.give(buf, pos, end)
      return end
    }
    if (this.kind === 'length') {
      const take = Math.min(this.remaining, end - pos)
      this.remaining -= take
      this.give(buf, pos, pos + take)
      pos += take
      if (this.remaining === 0 && !this.finished) this.complete(pos < end)
      return pos
    }
    while (pos < end && !this.finished) {
      if (this.chunk === DATA) {
        const take = Math.min(this.remaining, end - pos)
        this.remaining -= take
        if (this.remaining === 0) this.chunk = DATA_CR
        this.give(buf, pos, pos + take)
        pos += take
        if (this.holding) return pos
        continue
      }
      const c = buf[pos++] as number
      switch (this.chunk) {
        case SIZE: {
          const v = hexValue(c)
          if (v >= 0 && this.digits < 12) { this.remaining = this.remaining * 16 + v; this.digits++; break }
          if (this.digits === 0) { this.broken(); return pos }
          if (c === 13) this.chunk = SIZE_LF
          else if (c === 59 || c === 32 || c === 9) { this.chunk = EXT; this.lineBytes = 0 } else { this.broken(); return pos }
          break
        }
        case EXT:
          if (c === 13) this.chunk = SIZE_LF
          else if (c === 10 || ++this.lineBytes > MAX_CHUNK_LINE) { this.broken(); return pos }
          break
        case SIZE_LF:
          if (c !== 10) { this.broken(); return pos }
          this.digits = 0
          this.chunk = this.remaining === 0 ? TRAILER_START : DATA
          break
        case DATA_CR:
          if (c !== 13) { this.broken(); return pos }
          this.chunk = DATA_LF
          break
        case DATA_LF:
          if (c !== 10) { this.broken(); return pos }
          this.chunk = SIZE
          this.remaining = 0
          break
        case TRAILER_START:
          if (c === 13) { this.chunk = END_LF; break }
          this.chunk = TRAILER
          if (++this.trailerBytes > MAX_TRAILERS) { this.broken(); return pos }
          break
        case TRAILER:
          if (c === 13) this.chunk = TRAILER_LF
          else if (++this.trailerBytes > MAX_TRAILERS) { this.broken(); return pos }
          break
        case TRAILER_LF:
          if (c !== 10) { this.broken(); return pos }
          this.chunk = TRAILER_START
          break
        case END_LF:
          if (c !== 10) { this.broken(); return pos }
          this.complete(pos < end)
          return pos
      }
    }
    return pos
  }
}

interface Pending {
  method: string
  resolve: (r: WireResponse) => void
  reject: (err: Error) => void
}

// One connection: writes a request, parses the head, hands the body to a WireBody.
class Conn {
  private phase: 'idle' | 'head' | 'body' | 'dead' = 'idle'
  private pending: Pending | null = null
  private acc: Buffer | null = null
  private body: WireBody | null = null
  private signal: AbortSignal | null = null
  private timer: NodeJS.Timeout | null = null
  private timerKind: 'headers' | 'body' | 'idle' = 'idle'
  private keepAliveMs: number
  private keepOpen = false
  // served a response before (a reuse may meet a connection the server closed)
  private reused = false
  // bytes of the current response arrived
  private answered = false
  // the socket stopped reading (the read callback returned false)
  paused = false
  // the size class of a body read's buffer
  private readClass = BODY_CLASS
  private readonly onAbort = (): void => { this.kill(this.signal?.reason instanceof Error ? this.signal.reason : new Error('aborted')) }
  private readonly onTimer = (): void => { this.timedOut() }

  constructor (readonly wire: WireImpl, readonly socket: Socket, readonly key: string, private readonly tls: boolean) {
    this.keepAliveMs = wire.keepAliveMs
    socket.on('error', (err) => { this.kill(err) })
    socket.on('end', () => { this.ended() })
    socket.on('close', () => { this.kill(null) })
  }

  get alive (): boolean { return this.phase !== 'dead' && !this.socket.destroyed }

  async send (url: URL, method: 'GET' | 'HEAD', headers: Readonly<Record<string, string>>, signal: AbortSignal): Promise<WireResponse> {
    let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: ${method === 'HEAD' ? 'close' : 'keep-alive'}\r\n`
    for (const name in headers) {
      const value = headers[name] as string
      const key = name.toLowerCase()
      if (key === 'host' || key === 'connection' || !TOKEN.test(key) || !isSafeHeaderValue(value)) continue
      head += `${key}: ${value}\r\n`
    }
    return await new Promise((resolve, reject) => {
      this.pending = { method, resolve, reject }
      this.phase = 'head'
      this.answered = false
      this.signal = signal
      signal.addEventListener('abort', this.onAbort, { once: true })
      this.arm('headers', this.wire.headersTimeoutMs)
      this.socket.write(`${head}\r\n`, 'latin1')
      if (signal.aborted) this.onAbort()
      else this.readOn()
    })
  }

  onRead (n: number, buf: Buffer): boolean {
    if (this.phase === 'body' && this.body !== null) return this.body.push(buf, 0, n)
    if (this.phase === 'head') return this.readHead(n, buf)
    // nothing may arrive unasked
    this.wire.release(buf)
    this.kill(new WireError('the media server sent bytes nobody asked for', 'UND_ERR_SOCKET'))
    return false
  }

  // The size class of the buffer for the socket's next read, after a read of n
  // bytes into a buffer of size bytes.
  nextClass (n: number, size: number): number {
    if (this.tls || this.phase !== 'body') return 0
    if (size === SIZES[this.readClass]) {
      if (n === size && this.readClass < TOP_CLASS) this.readClass++
      else if (n <= size / 4 && this.readClass > BODY_CLASS) this.readClass--
    }
    return this.readClass
  }

  readOn (): void {
    if (!this.paused || !this.alive) return
    this.paused = false
    this.socket.resume()
  }

  activity (): void {
    if (this.timerKind === 'body' && this.phase === 'body') this.timer?.refresh()
  }

  private readHead (n: number, buf: Buffer): boolean {
    this.answered = true
    let acc = this.acc === null ? Buffer.from(buf.subarray(0, n)) : Buffer.concat([this.acc, buf.subarray(0, n)])
    for (;;) {
      const end = acc.indexOf(HEAD_END)
      if (end < 0 ? acc.length > MAX_HEAD : end > MAX_HEAD) {
        this.wire.release(buf)
        this.kill(new WireError('the media server sent too large a response head', 'UND_ERR_HEADERS_OVERFLOW'))
        return false
      }
      if (end < 0) {
        this.wire.release(buf)
        this.acc = acc
        return true
      }
      let head: Head
      try { head = parseHead(acc.toString('latin1', 0, end)) } catch (err) {
        this.wire.release(buf)
        this.kill(err as Error)
        return false
      }
      const rest = acc.length - end - 4
      if (head.status >= 100 && head.status < 200 && head.status !== 101) { acc = acc.subarray(end + 4); continue }
      this.acc = null
      return this.begin(head, buf, n - rest, n)
    }
  }

  private begin (head: Head, buf: Buffer, start: number, n: number): boolean {
    const pending = this.pending
    if (pending === null) { this.wire.release(buf); return false }
    let frame: { kind: Framing, length: number }
    try {
      if (head.status === 101) throw new WireError('the media server switched protocols', 'UND_ERR_SOCKET')
      frame = framing(pending.method, head)
    } catch (err) {
      this.wire.release(buf)
      this.kill(err as Error)
      return false
    }
    this.pending = null
    if (head.keepAliveMs !== null) this.keepAliveMs = Math.min(this.keepAliveMs, head.keepAliveMs - 1000)
    this.keepOpen = head.keepAlive && pending.method !== 'HEAD' && frame.kind !== 'close'
    const body = new WireBody(this, frame.kind, frame.length)
    this.body = body
    this.phase = 'body'
    this.arm('body', this.wire.bodyIdleTimeoutMs)
    pending.resolve({ status: head.status, headers: head.headers, body })
    if (frame.kind === 'none') {
      this.wire.release(buf)
      if (start < n) this.keepOpen = false
      body.empty()
      return this.alive
    }
    if (start < n) return body.push(buf, start, n)
    this.wire.release(buf)
    return true
  }

  // The body ended (exact: at its last byte, nothing after it) or was destroyed.
  bodyGone (body: WireBody, exact: boolean): void {
    if (this.body !== body) return
    this.body = null
    this.signal?.removeEventListener('abort', this.onAbort)
    this.signal = null
    if (!exact || !this.keepOpen || this.keepAliveMs < 1000 || !this.alive) { this.kill(null); return }
    this.phase = 'idle'
    this.reused = true
    this.arm('idle', this.keepAliveMs)
    this.wire.park(this)
    this.readOn()
  }

  // The server ended the connection: a body being read decides what that means
  // once it has delivered what came before.
  private ended (): void {
    const body = this.body
    this.body = null
    body?.eof()
    this.kill(null)
  }

  private arm (kind: 'headers' | 'body' | 'idle', ms: number): void {
    this.timerKind = kind
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = setTimeout(this.onTimer, ms)
    this.timer.unref()
  }

  private timedOut (): void {
    if (this.timerKind === 'idle' || this.phase === 'dead') { this.kill(null); return }
    // a body the consumer holds, or has not started, is not idle on the server's side
    if (this.timerKind === 'body' && this.body !== null && this.body.waiting) { this.timer?.refresh(); return }
    const headers = this.timerKind === 'headers'
    this.kill(new WireError(headers ? 'Headers Timeout Error' : 'Body Timeout Error', headers ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_BODY_TIMEOUT'))
  }

  // Ends the connection; a request or body in flight fails with err (null: the server closed it).
  kill (err: Error | null): void {
    if (this.phase === 'dead') return
    const wasIdle = this.phase === 'idle'
    this.phase = 'dead'
    if (this.timer !== null) clearTimeout(this.timer)
    this.signal?.removeEventListener('abort', this.onAbort)
    this.signal = null
    this.acc = null
    if (!this.socket.destroyed) this.socket.destroy()
    if (wasIdle) this.wire.unpark(this)
    const pending = this.pending
    this.pending = null
    if (pending !== null) {
      // a kept-alive connection that closed before answering may be retried on a new one
      const retry = this.reused && !this.answered
      if (err === null) pending.reject(new WireError('the media server closed the connection', 'UND_ERR_SOCKET', retry))
      else if (err instanceof WireError || err.name === 'AbortError') pending.reject(err)
      else pending.reject(new WireError(err.message, socketCode(err), retry))
    }
    const body = this.body
    this.body = null
    body?.fail(err ?? new WireError('the media server closed the connection mid-body', 'UND_ERR_SOCKET'))
  }
}

function socketCode (err: Error): string {
  return 'code' in err && typeof err.code === 'string' ? err.code : 'UND_ERR_SOCKET'
}

class WireImpl implements Wire {
  private readonly idle = new Map<string, Conn[]>()
  private readonly conns = new WeakMap<Socket, Conn>()
  private readonly buffers = new ReadBuffers()
  private readonly connectors = new Map<string, buildConnector.connector>()
  private closed = false
  readonly headersTimeoutMs: number
  readonly bodyIdleTimeoutMs: number
  readonly keepAliveMs: number
  private readonly maxIdle: number
  private readonly maxOrigins: number

  constructor (private readonly opts: WireOptions) {
    this.headersTimeoutMs = opts.headersTimeoutMs
    this.bodyIdleTimeoutMs = opts.bodyIdleTimeoutMs
    this.keepAliveMs = opts.keepAliveMs
    this.maxIdle = opts.maxIdlePerOrigin ?? 8
    this.maxOrigins = opts.maxOrigins ?? 64
  }

  // Every socket's reads land here (`this` is the socket); then node asks for the next buffer.
  private readonly dispatch: OnRead['callback'] = (() => {
    const conns = this.conns
    const buffers = this.buffers
    return function (this: Socket, nread: number, buf: Buffer): boolean {
      const conn = conns.get(this)
      if (conn === undefined) { buffers.give(buf); this.destroy(); return false }
      const more = conn.onRead(nread, buf)
      if (!more) conn.paused = true
      buffers.next = conn.nextClass(nread, buf.length)
      return more
    }
  })()

  release (buf: Buffer): void {
    this.buffers.give(buf)
  }

  private connector (guarded: boolean, https: boolean): buildConnector.connector {
    const key = `${guarded ? 'g' : 'a'}${https ? 's' : ''}`
    let c = this.connectors.get(key)
    if (c === undefined) {
      c = this.opts.connector(guarded, { buffer: https ? this.buffers.takeSmall : this.buffers.take, callback: this.dispatch })
      this.connectors.set(key, c)
    }
    return c
  }

  private async open (url: URL, guarded: boolean, key: string, signal: AbortSignal): Promise<Conn> {
    const connect = this.connector(guarded, url.protocol === 'https:')
    const hostname = url.hostname.replace(/^\[|\]$/g, '')
    const socket = await new Promise<Socket>((resolve, reject) => {
      connect({ hostname, host: url.host, protocol: url.protocol, port: url.port, servername: undefined, localAddress: null, httpSocket: undefined }, (err, s) => {
        if (err !== null) reject(err)
        else resolve(s as Socket)
      })
    })
    const conn = new Conn(this, socket, key, url.protocol === 'https:')
    this.conns.set(socket, conn)
    if (signal.aborted || this.closed) { conn.kill(null); throw signal.reason instanceof Error ? signal.reason : new Error('closed') }
    return conn
  }

  async request (url: URL, method: 'GET' | 'HEAD', headers: Readonly<Record<string, string>>, signal: AbortSignal, guarded: boolean): Promise<WireResponse> {
    if (!PATH.test(url.pathname + url.search)) throw new WireError('the media URL has characters a request line cannot carry', 'UND_ERR_INVALID_ARG')
    const key = `${guarded ? 'g' : 'a'} ${url.origin}`
    for (let attempt = 0; ; attempt++) {
      const idle = this.take(key)
      const conn = idle ?? await this.open(url, guarded, key, signal)
      try {
        return await conn.send(url, method, headers, signal)
      } catch (err) {
        // a kept-alive connection the server closed before it answered: once more on a new one
        if (idle !== null && attempt === 0 && err instanceof WireError && err.beforeResponse && !signal.aborted) continue
        throw err
      }
    }
  }

  private take (key: string): Conn | null {
    const list = this.idle.get(key)
    if (list === undefined) return null
    for (let conn = list.pop(); conn !== undefined; conn = list.pop()) {
      if (conn.alive) {
        if (list.length === 0) this.idle.delete(key)
        return conn
      }
    }
    this.idle.delete(key)
    return null
  }

  park (conn: Conn): void {
    if (this.closed) { conn.kill(null); return }
    let list = this.idle.get(conn.key)
    if (list === undefined) {
      if (this.idle.size >= this.maxOrigins) {
        const oldest = this.idle.keys().next().value
        if (oldest !== undefined) for (const c of [...this.idle.get(oldest) ?? []]) c.kill(null)
      }
      list = []
    } else {
      // most recently used last
      this.idle.delete(conn.key)
    }
    this.idle.set(conn.key, list)
    list.push(conn)
    if (list.length > this.maxIdle) list.shift()?.kill(null)
  }

  unpark (conn: Conn): void {
    const list = this.idle.get(conn.key)
    if (list === undefined) return
    const i = list.indexOf(conn)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.idle.delete(conn.key)
  }

  origins (): number { return this.idle.size }

  close (): void {
    this.closed = true
    for (const list of [...this.idle.values()]) for (const c of [...list]) c.kill(null)
    this.idle.clear()
  }
}

export function createWire (opts: WireOptions): Wire {
  return new WireImpl(opts)
}
