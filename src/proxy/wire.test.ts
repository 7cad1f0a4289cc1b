// The byte proxy's HTTP/1.1 client against scripted servers on 127.0.0.1: every
// framing, bytes split at awkward places, a consumer that holds pieces (the
// reused buffers must not change under it), keep-alive and its races, TLS.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createTlsServer } from 'node:tls'
import { buildConnector } from 'undici'
import { createWire, WireError } from './wire.ts'
import type { RelayBody, Wire, WireOptions } from './wire.ts'
import { mediaBytes } from '../testing/proxy.ts'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

interface Scripted { port: number, connections: () => number, requests: string[], close: () => Promise<void> }

// A server that answers each request head with what `answer` writes on the raw socket.
async function scripted (answer: (socket: Socket, request: string, n: number) => void | Promise<void>, make: (cb: (s: Socket) => void) => Server = (cb) => createServer(cb)): Promise<Scripted> {
  let connections = 0
  const requests: string[] = []
  const sockets = new Set<Socket>()
  const server = make((socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let acc = ''
    socket.on('data', (d: Buffer) => {
      acc += d.toString('latin1')
      for (let end = acc.indexOf('\r\n\r\n'); end >= 0; end = acc.indexOf('\r\n\r\n')) {
        const head = acc.slice(0, end)
        acc = acc.slice(end + 4)
        requests.push(head)
        void answer(socket, head, requests.length)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    connections: () => connections,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

function wireFor (extra: Partial<WireOptions> = {}, tls: Record<string, unknown> = {}): Wire {
  return createWire({
    connector: (_guarded, onread) => buildConnector({ timeout: 5000, onread, ...tls }),
    headersTimeoutMs: 5000,
    bodyIdleTimeoutMs: 5000,
    keepAliveMs: 10_000,
    ...extra
  })
}

interface Read { bytes: Buffer, error: Error | null, pieces: number }

// Reads a body; hold: keep every piece (return false) and let go of it a tick later,
// checking that it did not change meanwhile.
async function read (body: RelayBody, hold = false): Promise<Read> {
  const parts: Buffer[] = []
  let pieces = 0
  let changed = false
  return await new Promise((resolve) => {
    body.start((piece) => {
      pieces++
      const copy = Buffer.from(piece)
      parts.push(copy)
      if (!hold) return true
      setTimeout(() => {
        if (!piece.equals(copy)) changed = true
        body.resume()
      }, 1)
      return false
    }, (error) => {
      assert.equal(changed, false, 'a held piece changed before it was let go')
      resolve({ bytes: Buffer.concat(parts), error, pieces })
    })
  })
}

const URL_OF = (port: number, path = '/m', scheme = 'http'): URL => new URL(`${scheme}://127.0.0.1:${port}${path}`)
const signal = (): AbortSignal => new AbortController().signal
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

// Writes buf in pieces of the given sizes (cycled), each on its own turn of the loop.
async function dribble (socket: Socket, buf: Buffer, sizes: readonly number[]): Promise<void> {
  socket.setNoDelay(true)
  for (let at = 0, i = 0; at < buf.length; i++) {
    const n = sizes[i % sizes.length] ?? 1
    socket.write(buf.subarray(at, at + n))
    at += n
    await sleep(1)
  }
}

function chunked (data: Buffer, sizes: readonly number[], trailer = ''): Buffer {
  const parts: Buffer[] = []
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length] ?? 1, data.length - at)
    parts.push(Buffer.from(`${n.toString(16)}${i % 3 === 1 ? ';ext=1' : ''}\r\n`), data.subarray(at, at + n), Buffer.from('\r\n'))
    at += n
  }
  parts.push(Buffer.from(`0\r\n${trailer}\r\n`))
  return Buffer.concat(parts)
}

test('Content-Length bodies: exact bytes, one kept-alive connection, 1xx skipped, headers flattened', async (t) => {
  // large enough for the reads to move up through the buffer sizes
  const data = mediaBytes(6 * 1024 * 1024)
  const server = await scripted((s, _req, n) => {
    const interim = n === 2 ? 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n' : ''
    // the first answer sends its length twice (the same value: one length)
    const again = n === 1 ? `content-length: ${data.length}\r\n` : ''
    s.write(`${interim}HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n${again}X-Two: a\r\nx-two: b\r\nX-Folded: one\r\n  two\r\n\r\n`)
    s.write(data)
  })
  const wire = wireFor()
  t.after(async () => { wire.close(); await server.close() })
  for (const hold of [false, true]) {
    const r = await wire.request(URL_OF(server.port), 'GET', { referer: 'https://ref.example/', 'x-bad': 'a\r\nb' }, signal(), false)
    assert.equal(r.status, 200)
    assert.equal(r.headers['x-two'], 'a, b')
    assert.equal(r.headers['x-folded'], 'one two')
    assert.equal(r.headers['content-length'], String(data.length))
    const got = await read(r.body, hold)
    assert.equal(got.error, null)
    assert.equal(sha(got.bytes), sha(data))
  }
  assert.equal(server.connections(), 1)
  assert.match(server.requests[0] ?? '', /^GET \/m HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\nconnection: keep-alive\r\nreferer: https:\/\/ref\.example\/$/)
  assert.equal(wire.origins(), 1)
})

test('chunked bodies split at every awkward place, with extensions and trailers', async (t) => {
  const data = mediaBytes(70_000)
  const wire = wireFor()
  const splits = [[1], [2, 3, 5], [7, 1, 4096], [65536]]
  let i = 0
  const server = await scripted(async (s) => {
    const sizes = splits[i++ % splits.length] ?? [1]
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')
    await dribble(s, chunked(data, [1, 3000, 65536, 17], 'x-trailer: 1\r\n'), sizes.length === 1 && sizes[0] === 1 ? [977, 1, 2, 5] : sizes)
  })
  t.after(async () => { wire.close(); await server.close() })
  for (let n = 0; n < splits.length; n++) {
    const r = await wire.request(URL_OF(server.port), 'GET', {}, signal(), false)
    const got = await read(r.body, n % 2 === 1)
    assert.equal(got.error, null)
    assert.equal(sha(got.bytes), sha(data), `split ${n}`)
  }
  assert.equal(server.connections(), 1, 'a chunked body read to its end leaves the connection reusable')
})

test('a body up to the end of the connection; HEAD and 204 have none', async (t) => {
  const data = mediaBytes(100_000)
  const server = await scripted((s, req) => {
    if (req.startsWith('HEAD')) { s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n\r\n`); return }
    if (req.startsWith('GET /none')) { s.write('HTTP/1.1 204 No Content\r\n\r\n'); return }
    s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n'), data]))
  })
  const wire = wireFor()
  t.after(async () => { wire.close(); await server.close() })
  const r = await wire.request(URL_OF(server.port), 'GET', {}, signal(), false)
  const got = await read(r.body, true)
  assert.equal(got.error, null)
  assert.equal(sha(got.bytes), sha(data))
  const head = await wire.request(URL_OF(server.port), 'HEAD', {}, signal(), false)
  assert.equal(head.headers['content-length'], String(data.length))
  assert.deepEqual(await read(head.body), { bytes: Buffer.alloc(0), error: null, pieces: 0 })
  assert.match(server.requests.at(-1) ?? '', /connection: close/)
  const none = await wire.request(URL_OF(server.port, '/none'), 'GET', {}, signal(), false)
  assert.equal(none.status, 204)
  assert.equal((await read(none.body)).error, null)
})

test('a body cut short fails with UND_ERR_SOCKET after the bytes that came', async (t) => {
  const data = mediaBytes(50_000)
  const server = await scripted((s) => { s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length * 2}\r\n\r\n`), data])) })
  const wire = wireFor()
  t.after(async () => { wire.close(); await server.close() })
  for (const hold of [false, true]) {
    const r = await wire.request(URL_OF(server.port), 'GET', {}, signal(), false)
    const got = await read(r.body, hold)
    assert.equal(got.bytes.length, data.length)
    assert.ok(got.error instanceof WireError)
    assert.equal(got.error.code, 'UND_ERR_SOCKET')
  }
})

test('malformed answers are errors, never bytes', async (t) => {
  const answers = [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde',
    'HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n',
    'HTTP/2 200\r\n\r\n',
    `HTTP/1.1 200 OK\r\nx: ${'a'.repeat(70_000)}\r\n\r\n`
  ]
  const server = await scripted((s, _req, n) => { s.write(answers[n - 1] ?? '') })
  const wire = wireFor()
  t.after(async () => { wire.close(); await server.close() })
  const codes: string[] = []
  for (let i = 0; i < answers.length; i++) {
    try {
      const r = await wire.request(URL_OF(server.port), 'GET', {}, signal(), false)
      const got = await read(r.body)
      codes.push(got.error instanceof WireError ? got.error.code : `no error (${got.bytes.length} bytes)`)
    } catch (err) {
      codes.push(err instanceof WireError ? err.code : String(err))
    }
  }
  assert.deepEqual(codes, ['HPE_INVALID_CHUNK_SIZE', 'HPE_INVALID_CHUNK_SIZE', 'HPE_INVALID_CONTENT_LENGTH', 'HPE_INVALID_HEADER_TOKEN', 'HPE_INVALID_STATUS', 'UND_ERR_HEADERS_OVERFLOW'])
})

test('extra bytes end a connection; a kept-alive one closed before answering is replaced at once', async (t) => {
  const server = await scripted((s, _req, n) => {
    // the first answer has a byte too many; the third request meets a connection closing
    if (n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabX')
    else if (n === 3) s.destroy()
    else s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab')
  })
  const wire = wireFor()
  t.after(async () => { wire.close(); await server.close() })
  for (let i = 0; i < 3; i++) {
    const r = await wire.request(URL_OF(server.port), 'GET', {}, signal(), false)
    assert.equal((await read(r.body)).bytes.toString(), 'ab')
  }
  assert.equal(server.requests.length, 4)
  assert.equal(server.connections(), 3)
})

test('headers and body idle timeouts; an abort ends the request', async (t) => {
  const server = await scripted((s, req) => {
    if (req.startsWith('GET /stall')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')
  })
  const wire = wireFor({ headersTimeoutMs: 200, bodyIdleTimeoutMs: 200 })
  t.after(async () => { wire.close(); await server.close() })
  await assert.rejects(wire.request(URL_OF(server.port, '/hang'), 'GET', {}, signal(), false), { code: 'UND_ERR_HEADERS_TIMEOUT' })
  const r = await wire.request(URL_OF(server.port, '/stall'), 'GET', {}, signal(), false)
  const got = await read(r.body)
  assert.equal(got.bytes.toString(), 'abc')
  assert.equal(got.error instanceof WireError ? got.error.code : null, 'UND_ERR_BODY_TIMEOUT')
  const ac = new AbortController()
  const pending = wire.request(URL_OF(server.port, '/hang'), 'GET', {}, ac.signal, false)
  ac.abort()
  await assert.rejects(pending, { name: 'AbortError' })
})

test('TLS: a held piece stays intact while more records arrive', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-wire-tls-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })
  const data = mediaBytes(4 * 1024 * 1024)
  const options = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }
  const server = await scripted((s) => {
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n\r\n`)
    s.write(data)
  }, (cb) => createTlsServer(options, cb))
  const wire = wireFor({}, { ca: options.cert, servername: 'localhost' })
  t.after(async () => { wire.close(); await server.close() })
  for (const hold of [true, false]) {
    const r = await wire.request(URL_OF(server.port, '/m', 'https'), 'GET', {}, signal(), false)
    const got = await read(r.body, hold)
    assert.equal(got.error, null)
    assert.equal(sha(got.bytes), sha(data))
  }
  assert.equal(server.connections(), 1)
})
