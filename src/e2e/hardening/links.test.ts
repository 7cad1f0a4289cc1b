// Signed links name the route class they were made for: a token handed out for
// the byte proxy, a rewritten HLS playlist or a split-HLS stream works there and
// is refused (403 INVALID_SIGNATURE, nothing fetched) on every other media route.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { startCluster } from '../../testing/helpers.ts'
import { startMediaOrigin } from '../../testing/origin.ts'
import { writeLocalFixtures } from '../../testing/fixtures.ts'

const YT = 'youtube/dQw4w9WgXcQ'
const TOKEN = /^\/api\/v2\/(?:proxy|hls|hls\/split)\/([\w-]+\.[\w-]{22})(?:\/|$)/

type Kind = 'proxy' | 'hls' | 'split'
const ROUTE: Readonly<Record<Kind, (token: string) => string>> = {
  proxy: (token) => `/api/v2/proxy/${token}`,
  hls: (token) => `/api/v2/hls/${token}`,
  split: (token) => `/api/v2/hls/split/${token}/master.m3u8`
}

test('a signed link works on the route it was made for and is refused on the others', { timeout: 120_000 }, async (t) => {
  const origin = await startMediaOrigin()
  const dir = writeLocalFixtures(origin.url)
  // the fake yt-dlp (the test default) reads its fixtures from there
  const cluster = await startCluster({ workers: 1, env: { GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false', FAKE_YTDLP_FIXTURE_DIR: dir } })
  t.after(async () => { await cluster.stop(); await origin.close(); rmSync(dir, { recursive: true, force: true }) })

  const tokenOf = (link: string): string => {
    const m = TOKEN.exec(new URL(link, cluster.url).pathname)
    assert.ok(m?.[1] !== undefined, `a signed link: ${link}`)
    return m[1]
  }
  const info = async (query: string): Promise<Record<string, unknown>> => {
    const res = await fetch(`${cluster.url}/api/v2/stream/info/${YT}?${query}`)
    const body = await res.json() as Record<string, unknown>
    assert.equal(res.status, 200, JSON.stringify(body))
    return body
  }
  const proxyUrl = String((await info('quality=360p')).proxy_url)
  const splitUrl = String((await info('quality=1080p&format=hls')).hls_url)
  assert.match(splitUrl, /\/api\/v2\/hls\/split\//)
  // a rewritten playlist's variants are /api/v2/hls/ links
  const master = await fetch(`${cluster.url}/api/v2/stream/hls/${YT}?quality=720p`)
  assert.equal(master.status, 200)
  const variant = (await master.text()).split('\n').find((l) => l.startsWith('/api/v2/hls/')) ?? ''
  const tokens: Record<Kind, string> = { proxy: tokenOf(proxyUrl), hls: tokenOf(variant), split: tokenOf(splitUrl) }

  for (const made of Object.keys(tokens) as Kind[]) {
    for (const used of Object.keys(ROUTE) as Kind[]) {
      const fetched = origin.requests.length
      const res = await fetch(cluster.url + ROUTE[used](tokens[made]), { signal: AbortSignal.timeout(30_000) })
      const bytes = Buffer.from(await res.arrayBuffer())
      if (made === used) {
        assert.equal(res.status, 200, `${made} link on its own route`)
        continue
      }
      assert.equal(res.status, 403, `${made} link on the ${used} route: ${bytes.toString().slice(0, 300)}`)
      const body = JSON.parse(bytes.toString()) as Record<string, unknown>
      assert.equal(body.code, 'INVALID_SIGNATURE')
      assert.match(String(body.detail), new RegExp(`made for the ${made} route`))
      assert.equal(origin.requests.length, fetched, `${made} link on the ${used} route fetched nothing`)
    }
  }
})
