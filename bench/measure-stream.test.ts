// The stream scenarios of npm run bench, shortened: a real cluster, real
// yt-dlp against the local origin, a real 302 and real proxied bytes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createContext } from './context.ts'
import { runProxyThroughput, runRedirect } from './measure-stream.ts'

test('redirect-302 and proxy-throughput measure real 302s and real proxied bytes, the proxy against nginx', { timeout: 120_000 }, async (t) => {
  const { ctx, close } = createContext({ durationSec: 0.5, warmupSec: 0, rounds: 1, cpus: 1, quick: true, proxyFileMB: 16, log: (line) => t.diagnostic(line) })
  t.after(close)

  const redirect = await runRedirect(ctx)
  const served = redirect.rows.find((r) => r.scenario === 'redirect-302')
  const raw = redirect.rows.find((r) => r.workers === 'raw')
  assert.ok(served !== undefined && raw !== undefined)
  assert.ok(served.requests > 0 && raw.requests > 0)
  assert.equal(served.errors + served.non2xx, 0, 'every answer is the 302 (non2xx counts any other status)')
  assert.equal(raw.errors + raw.non2xx, 0, 'the baseline answers the same 302')
  assert.ok(Number.isFinite(redirect.metrics.find((m) => m.id === 'redirect.cpu_ratio')?.value))

  const proxy = await runProxyThroughput(ctx)
  const rows = proxy.rows.map((r) => r.workers)
  assert.deepEqual(rows, ['direct', 'nginx', 1])
  for (const id of ['proxy.cpu_vs_nginx', 'proxy.rate_vs_nginx']) {
    const ratio = proxy.metrics.find((m) => m.id === id)?.value ?? 0
    assert.ok(ratio > 0 && Number.isFinite(ratio), `${id} ${ratio}`)
  }
  // any rate above zero: bytes went through the proxy (the rate itself is for npm run bench, not a test)
  assert.ok((proxy.metrics.find((m) => m.id === 'proxy.mbps')?.value ?? 0) > 0, 'bytes went through the proxy')
})
