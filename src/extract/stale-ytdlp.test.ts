// Debian 12's own yt-dlp (2023.03.04): what a host that never updated it runs. Health
// says it is stale and cannot solve YouTube's challenges, the server keeps serving,
// and options the old yt-dlp does not know (--js-runtimes) are never passed to it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { json, startApp } from '../testing/helpers.ts'
import { startOrigin } from '../testing/origin.ts'

// The point of this file is the old yt-dlp: the path is set on purpose.
const DEBIAN_YTDLP = '/usr/bin/yt-dlp'

for (const mode of ['warm', 'spawn'] as const) {
  test(`Debian's 2023.03 yt-dlp (${mode}): health degraded with what to do, extraction still served`, async (t) => {
    const origin = await startOrigin()
    const app = await startApp({ YTDLP_PATH: DEBIAN_YTDLP, YTDLP_MODE: mode, GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false' })
    t.after(async () => { await app.close(); await origin.close() })

    const health = await json(`${app.url}/api/v2/system/health`)
    assert.equal(health.res.status, 200, 'degraded still answers 200')
    assert.equal(health.body.status, 'degraded')
    const check = (health.body.checks as Record<string, Record<string, unknown>>).ytdlp ?? {}
    assert.equal(check.status, 'degraded')
    assert.equal(check.version, '2023.03.04')
    assert.ok(Number(check.age_days) > 1000)
    assert.match(String(check.detail), /days old \(YTDLP_MAX_AGE_DAYS=90\)/)
    assert.match(String(check.detail), /cannot use a JavaScript runtime, which YouTube needs: update yt-dlp/)

    const version = await json(`${app.url}/api/v2/system/version`)
    assert.equal(version.body.ytdlp, '2023.03.04')
    assert.equal(version.body.js_runtime, null)
    assert.equal(version.body.yt_dlp_ejs, false)

    // a cold extraction (a warm process may still be starting on a loaded machine): the helper's 5 s is too short
    const info = await json(`${app.url}/api/v2/videos?url=${encodeURIComponent(`${origin.url}/page.html`)}`, { signal: AbortSignal.timeout(60_000) })
    assert.equal(info.res.status, 200, JSON.stringify(info.body))
    assert.match(String(info.body.title), /Local Test Clip/)
  })
}
