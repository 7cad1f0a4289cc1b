import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { get, sha256, startProxyFixture, waitFor } from '../testing/proxy.ts'
import type { ProxyFixture } from '../testing/proxy.ts'

const SIZE = 32 * 1024 * 1024
let fx: ProxyFixture

// Bytes the kernel holds in the send and receive queues of the TCP connections
// to or from these ports (/proc/net/tcp: one line per socket, so both ends of
// each connection count).
function kernelQueued (ports: readonly number[]): number {
  let total = 0
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try { text = readFileSync(file, 'utf8') } catch { continue }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      const local = parseInt(f[1]?.split(':').at(-1) ?? '', 16)
      const remote = parseInt(f[2]?.split(':').at(-1) ?? '', 16)
      // 0A: listening (its receive queue is the accept backlog)
      if (f[3] === '0A' || (!ports.includes(local) && !ports.includes(remote))) continue
      const [tx = 0, rx = 0] = (f[4] ?? '').split(':').map((h) => parseInt(h, 16))
      total += tx + rx
    }
  }
  return total
}

before(async () => { fx = await startProxyFixture(SIZE) })
after(async () => {
  await fx.close()
  assert.deepEqual(fx.errors(), [], 'unhandled errors were logged')
})

describe('proxy resume, refresh and backpressure', () => {
  test('client abort stops the upstream request', async () => {
    fx.origin.behave('abort', { dripBytes: 65536, dripMs: 5 })
    const r = await get(fx.proxy.port, fx.link({ url: fx.media('abort') }), { abortAfter: 256 * 1024 })
    assert.equal(r.error, 'aborted by test')
    await waitFor(() => fx.lastRequest('/media/abort').closedEarly)
    assert.ok(fx.lastRequest('/media/abort').sent < SIZE / 2)
    await waitFor(() => fx.proxy.inflight() === 0)
  })

  test('client abort before the upstream answered ends quietly', async () => {
    const before = fx.origin.requests.length
    const r = await get(fx.proxy.port, fx.link({ url: `${fx.origin.base}/hang` }), { abortAfterMs: 200 })
    assert.equal(r.error, 'aborted by test')
    await waitFor(() => fx.origin.requests.length > before && fx.lastRequest('/hang').closedEarly)
    await waitFor(() => fx.proxy.inflight() === 0)
    assert.equal(fx.errors().length, 0)
  })

  test('403 mid-stream: re-extracts once and resumes at the exact offset', async () => {
    fx.origin.behave('exp', { gen: 1, resetAfter: 3_000_001, resets: 1 })
    fx.refreshTo.set('exp1', () => ({ url: fx.media('exp', 2), headers: {} }))
    const n = fx.refreshes.length
    const r = await get(fx.proxy.port, fx.link({ url: fx.media('exp', 1), ref: { platform: 'generic', id: 'exp1', formatId: 'f' } }))
    assert.equal(r.status, 200)
    assert.equal(fx.refreshes.length, n + 1)
    assert.equal(sha256(r.body), sha256(fx.data))
    // the old URL answered 403 to the resume; the new one got the very same offset
    const [first, refused, resumed] = fx.origin.requests.filter((x) => x.path.startsWith('/media/exp/'))
    assert.equal(first?.headers.range, undefined)
    const offset = Number(/^bytes=(\d+)-/.exec(refused?.headers.range ?? '')?.[1])
    assert.ok(offset > 0 && offset <= 3_000_001, String(offset))
    assert.equal(refused?.path, '/media/exp/1')
    assert.equal(resumed?.path, '/media/exp/2')
    assert.equal(resumed?.headers.range, `bytes=${offset}-${SIZE - 1}`)
  })

  test('403 before any byte and an expired URL both re-extract first', async () => {
    fx.origin.behave('exp2', { gen: 5 })
    fx.refreshTo.set('exp2', () => ({ url: fx.media('exp2', 5), headers: {} }))
    const r = await get(fx.proxy.port, fx.link({ url: fx.media('exp2', 4), ref: { platform: 'generic', id: 'exp2', formatId: 'f' } }), { headers: { range: 'bytes=7-70000' } })
    assert.equal(r.status, 206)
    assert.equal(sha256(r.body), sha256(fx.data.subarray(7, 70001)))
    const n = fx.origin.requests.length
    const ahead = await get(fx.proxy.port, fx.link({ url: fx.media('exp2', 4), urlExpiresAt: Date.now() / 1000 - 1, ref: { platform: 'generic', id: 'exp2', formatId: 'f' } }), { headers: { range: 'bytes=0-99' } })
    assert.equal(ahead.status, 206)
    assert.deepEqual(fx.origin.requests.slice(n).map((x) => x.path), ['/media/exp2/5'])
  })

  test('a body that breaks off is resumed as long as it makes progress', async () => {
    fx.origin.behave('flaky', { resetAfter: 5_000_000, resets: 2 })
    const ok = await get(fx.proxy.port, fx.link({ url: fx.media('flaky') }), { headers: { range: 'bytes=1000-' } })
    assert.equal(ok.status, 206)
    assert.equal(sha256(ok.body), sha256(fx.data.subarray(1000)))
    fx.origin.behave('choppy', { resetAfter: 4 * 1024 * 1024 })
    const choppy = await get(fx.proxy.port, fx.link({ url: fx.media('choppy') }))
    assert.equal(choppy.status, 200)
    assert.equal(choppy.error, null)
    assert.equal(sha256(choppy.body), sha256(fx.data))
    // each cut loses whatever was still in the origin's socket buffer; the next range starts exactly there
    const tries = fx.origin.requests.filter((x) => x.path === '/media/choppy')
    assert.ok(tries.length >= 8 && tries.length <= 10, String(tries.length))
  })

  test('a body that breaks off for good cuts the connection, never a wrong byte', async () => {
    fx.origin.behave('stuck', { resetAfter: [1_000_000, 0] })
    const stuck = await get(fx.proxy.port, fx.link({ url: fx.media('stuck') }))
    assert.equal(stuck.status, 200)
    assert.notEqual(stuck.error, null)
    assert.ok(stuck.body.length > 0 && stuck.body.length <= 1_000_000)
    assert.equal(sha256(stuck.body), sha256(fx.data.subarray(0, 1_000_000)))
    assert.equal(fx.origin.requests.filter((x) => x.path === '/media/stuck').length, 4)
    fx.origin.behave('gone', { gen: 1, resetAfter: 2_000_000 })
    const gone = await get(fx.proxy.port, fx.link({ url: fx.media('gone', 1) }))
    assert.notEqual(gone.error, null)
    assert.equal(sha256(gone.body), sha256(fx.data.subarray(0, gone.body.length)))
    await waitFor(() => fx.proxy.inflight() === 0)
  })

  test('a paused reader does not make the server buffer the file', async () => {
    fx.origin.behave('paused', {})
    let ahead = -1
    let inKernel = -1
    const r = await get(fx.proxy.port, fx.link({ url: fx.media('paused') }), {
      pauseAt: 1024 * 1024,
      pauseMs: 1500,
      onPaused: (read) => {
        ahead = fx.lastRequest('/media/paused').sent - read
        inKernel = kernelQueued([fx.origin.port, fx.proxy.port])
      }
    })
    assert.equal(r.status, 200)
    assert.equal(sha256(r.body), sha256(fx.data))
    // Between origin and client sit the kernel's socket buffers, which grow
    // with the rate (autotuning, up to tcp_rmem and tcp_wmem per socket), and
    // what the processes hold: the piece the proxy keeps while the client is
    // paused (at most one 1 MiB read), node's stream buffers at both ends. A
    // server buffering the body would hold the rest of the file.
    const outside = ahead - inKernel
    assert.ok(ahead > 0 && inKernel >= 0, `ahead ${ahead}, in the kernel ${inKernel}`)
    assert.ok(outside < 4 * 1024 * 1024, `${outside} of the ${ahead} bytes the origin ran ahead of the paused reader were not in socket buffers (${inKernel} were)`)
  })
})
