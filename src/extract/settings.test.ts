// The operator's yt-dlp settings: parsed by config, turned into options and params,
// and accepted by the current yt-dlp in both modes (the project's own, what ships),
// with extraction really leaving through YTDLP_PROXY.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../config.ts'
import { createYtDlpSettings, proxyFor } from './settings.ts'
import { resolveExecutables, resolveYtDlp } from './executables.ts'
import { createExtractionPool } from './pool.ts'
import { settingsArgs, settingsParams } from '../../workers/ytdlp/ytdlp.ts'
import { startForwardProxy, startOrigin } from '../testing/origin.ts'
import type { MediaInfo } from '../../workers/protocol.ts'

test('config parses extractor args in yt-dlp\'s own syntax and refuses what is not', () => {
  const c = loadConfig({ YTDLP_EXTRACTOR_ARGS: 'youtube:player_client=tv,web;po_token=a\\,b youtubepot-bgutilhttp:base_url=http://pot:4416' })
  assert.deepEqual(c.YTDLP_EXTRACTOR_ARGS.map((a) => [a.ie, a.args]), [
    ['youtube', { player_client: ['tv', 'web'], po_token: ['a,b'] }],
    ['youtubepot-bgutilhttp', { base_url: ['http://pot:4416'] }]
  ])
  assert.throws(() => loadConfig({ YTDLP_EXTRACTOR_ARGS: 'no-colon-here' }), /YTDLP_EXTRACTOR_ARGS entry "no-colon-here"/)
  assert.throws(() => loadConfig({ YTDLP_PROXY: 'ftp://x:21' }), /YTDLP_PROXY must be an http, https, socks4/)
  assert.throws(() => loadConfig({ YTDLP_JS_RUNTIME: 'bun' }), /YTDLP_JS_RUNTIME must be auto, deno, node or none/)
  assert.deepEqual(loadConfig({ YTDLP_JS_RUNTIME: 'deno:/opt/deno' }).jsRuntime, { name: 'deno', path: '/opt/deno' })
})

test('a platform\'s own proxy wins over YTDLP_PROXY; the generic extractor uses YTDLP_PROXY', () => {
  const c = loadConfig({ YTDLP_PROXY: 'socks5h://egress:1080', YOUTUBE_PROXY: 'http://yt-egress:3128' })
  assert.equal(proxyFor(c, 'youtube'), 'http://yt-egress:3128')
  assert.equal(proxyFor(c, 'bilibili'), 'socks5h://egress:1080')
  assert.equal(proxyFor(c, null), 'socks5h://egress:1080')
  assert.equal(proxyFor(loadConfig({}), 'youtube'), null)
})

test('settings become the same choices as options (spawn) and params (warm)', () => {
  const c = loadConfig({ YTDLP_PROXY: 'http://p:3128', YTDLP_EXTRACTOR_ARGS: 'youtube:player_client=tv' })
  const settings = createYtDlpSettings(c, { jsRuntime: { name: 'deno', path: '/x/deno', version: '2.9.6' }, cacheDir: '/tmp/c' })('youtube')
  assert.deepEqual(settingsArgs(settings), ['--cache-dir', '/tmp/c', '--proxy', 'http://p:3128', '--extractor-args', 'youtube:player_client=tv'])
  assert.deepEqual(settingsArgs({ ...settings, jsRuntimesOption: true }).slice(-2), ['--js-runtimes', 'deno:/x/deno'])
  assert.deepEqual(settingsParams(settings), {
    cachedir: '/tmp/c', proxy: 'http://p:3128', extractor_args: { youtube: { player_client: ['tv'] } }, js_runtimes: { deno: { path: '/x/deno' } }
  })
})

for (const mode of ['warm', 'spawn'] as const) {
  test(`the current yt-dlp takes every setting in ${mode} mode, and extraction leaves through YTDLP_PROXY`, async (t) => {
    const ytdlp = resolveYtDlp('')
    assert.ok(ytdlp !== null, 'npm test provisions .tools/yt-dlp (scripts/ensure.js)')
    const origin = await startOrigin()
    const proxy = await startForwardProxy()
    const cache = mkdtempSync(join(tmpdir(), 'vidgate-ytdlp-cache-'))
    const config = loadConfig({ YTDLP_PROXY: proxy.url, YTDLP_CACHE_DIR: cache, YTDLP_EXTRACTOR_ARGS: 'generic:impersonate=false youtube:player_client=tv,web' })
    const tools = resolveExecutables(config)
    const pool = createExtractionPool({ threads: 1, concurrency: 1, maxQueue: 8, ytdlpPath: ytdlp, mode, timeoutMs: 60_000, settings: createYtDlpSettings(config, tools) })
    t.after(async () => { await pool.close(); await proxy.close(); await origin.close(); rmSync(cache, { recursive: true, force: true }) })

    const probe = await pool.probe()
    assert.ok(probe !== null)
    assert.match(probe.version, /^20(2[6-9]|[3-9]\d)\./, 'the project provisions a current yt-dlp')
    assert.equal(probe.jsRuntimesOption, true)
    assert.equal(probe.ejs, true)
    assert.equal(probe.warm, mode === 'warm')
    const runtime = probe.jsRuntimes.find((r) => r.supported)
    assert.ok(runtime !== undefined, `yt-dlp sees the JavaScript runtime: ${JSON.stringify(probe.jsRuntimes)}`)
    assert.equal(runtime.name, tools.jsRuntime?.name)

    const info = await pool.ytdlp('info', `${origin.url}/page.html`, null, undefined, 'generic') as MediaInfo
    assert.match(info.title, /^Local Test Clip/)
    assert.ok(proxy.seen.includes(`${origin.url}/page.html`), `the page was fetched through the proxy: ${JSON.stringify(proxy.seen)}`)
    assert.equal(pool.stats().completed, 1)
    assert.equal(pool.stats()[mode], 1, `served in ${mode} mode`)
  })
}
