// Request bodies sent with Transfer-Encoding: chunked (no Content-Length), as
// fetch() with a stream body and many HTTP clients send them, are read whole on
// this hyper-express 6.8.2 / uWS 20.30 build, and held to MAX_REQUEST_BODY_SIZE.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { raw, startCluster } from '../../testing/helpers.ts'

const COOKIES = '# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t2147483647\tSID\tchunked\n'

// HTTP/1.1 chunked framing of the parts, in that many chunks
const chunked = (parts: readonly string[]): string =>
  parts.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n'

function post (method: string, path: string, type: string, body: string): string {
  return `${method} ${path} HTTP/1.1\r\nHost: t\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`
}

const codeOf = (answer: string): string => /"code":"([A-Z_]+)"/.exec(answer)?.[1] ?? ''
const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0)

test('chunked request bodies are read whole, and bounded like any other body', { timeout: 60_000 }, async (t) => {
  // a small bound, so that a body past it is quick to send
  const cluster = await startCluster({ workers: 1, env: { RATE_LIMIT_ENABLED: 'false', MAX_REQUEST_BODY_SIZE: '4096' } })
  t.after(async () => { await cluster.stop() })
  const json = JSON.stringify({ url: 'https://unsupported.example/watch?v=chunked' })

  // the baseline: the same body with a Content-Length
  const sized = await fetch(`${cluster.url}/api/v2/videos/info`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json })
  assert.equal(sized.status, 422)
  assert.equal((await sized.json() as Record<string, unknown>).code, 'UNSUPPORTED_URL')

  // one chunk, many chunks, one byte per chunk: the route sees the JSON (422 for its URL, not 400 for an empty body)
  for (const parts of [[json], [json.slice(0, 7), json.slice(7, 20), json.slice(20)], [...json]]) {
    const answer = await raw(cluster.port, post('POST', '/api/v2/videos/info', 'application/json', chunked(parts)), 15_000)
    assert.equal(statusOf(answer), 422, answer.slice(0, 400))
    assert.equal(codeOf(answer), 'UNSUPPORTED_URL')
  }

  // fetch() sends a stream body chunked
  const stream = new ReadableStream<Uint8Array>({
    start (controller) {
      for (const part of [json.slice(0, 10), json.slice(10)]) controller.enqueue(new TextEncoder().encode(part))
      controller.close()
    }
  })
  const streamed = await fetch(`${cluster.url}/api/v2/videos/info`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit)
  assert.equal(streamed.status, 422)
  assert.equal((await streamed.json() as Record<string, unknown>).code, 'UNSUPPORTED_URL')

  // a text body (an admin route, open to the host itself while no API key exists)
  const put = await raw(cluster.port, post('PUT', '/api/v2/auth/cookies/youtube', 'text/plain', chunked([COOKIES.slice(0, 30), COOKIES.slice(30)])), 15_000)
  assert.equal(statusOf(put), 200, put.slice(0, 400))
  assert.match(put, /"cookie_file_valid":true,"cookie_count":1,/)

  // an empty chunked body is an empty body
  const empty = await raw(cluster.port, post('POST', '/api/v2/videos/info', 'application/json', chunked([])), 15_000)
  assert.equal(statusOf(empty), 400)
  assert.equal(codeOf(empty), 'INVALID_INPUT')

  // past MAX_REQUEST_BODY_SIZE: 413, in chunks of 1 KB
  const big = JSON.stringify({ url: 'https://unsupported.example/watch', pad: 'x'.repeat(8192) })
  const parts = Array.from({ length: Math.ceil(big.length / 1024) }, (_, i) => big.slice(i * 1024, (i + 1) * 1024))
  const tooBig = await raw(cluster.port, post('POST', '/api/v2/videos/info', 'application/json', chunked(parts)), 15_000)
  assert.equal(statusOf(tooBig), 413, tooBig.slice(0, 400))
  assert.equal(codeOf(tooBig), 'PAYLOAD_TOO_LARGE')

  // and the server still serves
  assert.equal((await fetch(`${cluster.url}/health`)).status, 200)
})
