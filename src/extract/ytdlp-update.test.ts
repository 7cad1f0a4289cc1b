import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLocalReload } from './ytdlp-update.ts'
import { createLogger } from '../log.ts'
import type { YtDlpProbe } from '../../workers/protocol.ts'

const PROBE: YtDlpProbe = { version: '2026.11.23', python: true, jsRuntimesOption: true, jsRuntimes: [], ejs: true, curlCffi: false, warm: true }

test('a burst of reload calls runs one reload and one more behind it; health adopts the reload\'s probe', async () => {
  let reloads = 0
  let running = 0
  let overlapped = false
  let adopted = 0
  let reprobed = 0
  const reload = createLocalReload({
    pool: {
      reload: async () => {
        reloads++
        running++
        if (running > 1) overlapped = true
        await new Promise((resolve) => setTimeout(resolve, 30))
        running--
        return { replaced: 2, failed: null }
      },
      lastProbe: () => PROBE
    },
    health: { reprobe: () => { reprobed++ }, refresh: async () => {}, ytdlp: () => PROBE, adopt: () => { adopted++ } },
    log: createLogger('silent', { role: 'test' })
  })
  const answers = await Promise.all(Array.from({ length: 10 }, async () => await reload()))
  assert.equal(reloads, 2, 'the first call runs at once; the nine arriving meanwhile share one more')
  assert.equal(overlapped, false, 'reloads never overlap')
  assert.ok(answers.every((a) => a.failed === null && a.replaced === 2 && a.version === '2026.11.23' && a.pid === process.pid))
  assert.equal(adopted, 2)
  assert.equal(reprobed, 0, 'no second probe after a reload that probed')
  await reload()
  assert.equal(reloads, 3, 'a call after the burst runs its own')
})
