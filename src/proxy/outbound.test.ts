// The byte proxy leaves through the operator's outbound proxy, the same egress as
// the extraction (media URLs are often bound to the address that extracted them).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { startApp } from '../testing/helpers.ts'
import { startForwardProxy, startMediaOrigin } from '../testing/origin.ts'
import { writeLocalFixtures } from '../testing/fixtures.ts'

const YT = '/api/v2/stream/youtube/dQw4w9WgXcQ'

for (const setting of ['YOUTUBE_PROXY', 'YTDLP_PROXY'] as const) {
  test(`mode=proxy fetches the media through ${setting}`, async (t) => {
    const origin = await startMediaOrigin()
    const proxy = await startForwardProxy()
    const dir = writeLocalFixtures(origin.url)
    process.env.FAKE_YTDLP_FIXTURE_DIR = dir
    const app = await startApp({ GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false', [setting]: proxy.url })
    t.after(async () => { await app.close(); await proxy.close(); await origin.close(); rmSync(dir, { recursive: true, force: true }) })

    const res = await fetch(`${app.url}${YT}?quality=360p&mode=proxy`)
    assert.equal(res.status, 200)
    const body = Buffer.from(await res.arrayBuffer())
    assert.ok(body.length > 0)
    const viaProxy = proxy.seen.filter((u) => u.startsWith(origin.url))
    assert.ok(viaProxy.length > 0, `the media came through the proxy: ${JSON.stringify(proxy.seen)}`)
    assert.ok([...origin.set.files.values()].some((f) => f.equals(body)), 'the bytes are the origin\'s file')
  })
}

test('another platform\'s proxy is not used', async (t) => {
  const origin = await startMediaOrigin()
  const proxy = await startForwardProxy()
  const dir = writeLocalFixtures(origin.url)
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const app = await startApp({ GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false', BILIBILI_PROXY: proxy.url })
  t.after(async () => { await app.close(); await proxy.close(); await origin.close(); rmSync(dir, { recursive: true, force: true }) })
  const res = await fetch(`${app.url}${YT}?quality=360p&mode=proxy`)
  assert.equal(res.status, 200)
  await res.arrayBuffer()
  assert.deepEqual(proxy.seen, [])
})
