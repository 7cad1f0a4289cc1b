// /docs in a real headless Chromium: Swagger UI must render every operation
// from local files under our Content-Security-Policy (no CDN, no inline script).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findChromium, startApp, json } from '../testing/helpers.ts'

async function dumpDom (chromium: string, url: string, profile: string): Promise<string> {
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${profile}`,
    '--dump-dom', '--virtual-time-budget=10000', url
  ]
  return await new Promise((resolve, reject) => {
    execFile(chromium, args, { timeout: 45_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`chromium failed: ${err.message}\n${String(stderr).slice(-2000)}`))
      else resolve(String(stdout))
    })
  })
}

test('the docs page renders every operation with Swagger UI from local files', async (t) => {
  const chromium = findChromium()
  assert.ok(chromium !== null, 'Chromium is not installed (apt-get install chromium); CI installs it, so this test fails instead of skipping')
  const s = await startApp()
  t.after(s.close)
  const profile = mkdtempSync(join(tmpdir(), 'vidgate-chromium-'))
  t.after(() => rmSync(profile, { recursive: true, force: true }))

  const page = await fetch(`${s.url}/docs`)
  const csp = page.headers.get('content-security-policy') ?? ''
  assert.match(csp, /script-src 'self'(;|$)/, 'no inline or remote scripts allowed')
  assert.doesNotMatch(await page.text(), /https?:\/\//, 'the page references no remote host')

  const dom = await dumpDom(chromium, `${s.url}/docs`, profile)
  const rendered = new Set([...dom.matchAll(/class="opblock-summary-path"[^>]*data-path="([^"]+)"/g)].map((m) => m[1]))
  assert.ok(rendered.has('/api/v2/system/health'), `no rendered operation for /api/v2/system/health; DOM starts: ${dom.slice(0, 500)}`)
  const { body } = await json(`${s.url}/openapi.json`)
  const documented = Object.keys(body.paths as object)
  const missing = documented.filter((p) => !rendered.has(p))
  assert.deepEqual(missing, [], 'every documented path is rendered')
  assert.match(dom, /class="opblock opblock-get/)
})
