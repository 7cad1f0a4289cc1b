// Picking up a new yt-dlp without downtime (issue 13): POST /api/v2/system/ytdlp/reload
// and YTDLP_AUTO_UPDATE, on the real cluster (the compiled entry, 1-2 workers) with
// the project's current yt-dlp (.tools/yt-dlp, the default: YTDLP_PATH is set empty)
// in warm mode, extracting pages of a local origin (GENERIC_HOSTS is its host).
// Warm processes are found as the shipped-defaults test finds them: Python
// interpreters under the primary running the warm script (workers/ytdlp/ytdlp-warm-process.ts).
// EXTRACT_CONCURRENCY (warm processes per worker) is lowered to keep the number of
// Python processes small on a shared machine; nothing here depends on its value.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, copyFileSync, existsSync, mkdtempSync, openSync, closeSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { assertErrorBody, cmdline, descendants, json, sleep, startApp, startCluster } from '../testing/helpers.ts'
import type { StartedCluster } from '../testing/helpers.ts'
import { startOrigin } from '../testing/origin.ts'
import type { Origin } from '../testing/origin.ts'
import { PROJECT_YTDLP } from '../extract/executables.ts'
import { WARM_SCRIPT } from '../../workers/ytdlp/ytdlp-warm-script.ts'

const RELOAD = '/api/v2/system/ytdlp/reload'
const WARM = { YTDLP_PATH: '', YTDLP_MODE: 'warm', RATE_LIMIT_ENABLED: 'false' }

// pid → the HTTP worker it runs under
function warmProcesses (c: StartedCluster): Map<number, number> {
  const out = new Map<number, number>()
  for (const worker of c.workerPids()) {
    for (const pid of descendants(worker)) {
      const argv = cmdline(pid)
      if (argv === null) continue
      const i = argv.indexOf('-c')
      if (i < 1 || argv[i + 1] !== WARM_SCRIPT || !argv.slice(0, i).some((a) => /^(?:python|pypy)[0-9.]*$/.test(basename(a)))) continue
      out.set(pid, worker)
    }
  }
  return out
}

function alive (pid: number): boolean {
  const stat = (() => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8') } catch { return null } })()
  // a zombie (state Z after the closing parenthesis) has exited
  return stat !== null && !/\) Z /.test(stat)
}

async function until<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, diagnose: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${diagnose()}`)
    await sleep(100)
  }
}

// every worker runs `perWorker` warm processes
async function warmAll (c: StartedCluster, perWorker: number, diagnose: () => string): Promise<Map<number, number>> {
  return await until(`${perWorker} warm processes in each worker`, 60_000, () => {
    const warm = warmProcesses(c)
    const workers = c.workerPids()
    return workers.every((w) => [...warm.values()].filter((x) => x === w).length >= perWorker) ? warm : undefined
  }, diagnose)
}

// A fresh connection per request, so that the kernel spreads them over the workers.
async function extract (c: StartedCluster, origin: Origin, n: string): Promise<{ status: number, body: string }> {
  const page = `${origin.url}/page.html?n=${n}`
  try {
    const res = await fetch(`${c.url}/api/v2/videos?url=${encodeURIComponent(page)}`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(60_000) })
    return { status: res.status, body: await res.text() }
  } catch (err) {
    return { status: 0, body: String(err) }
  }
}

async function reload (c: StartedCluster): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(`${c.url}${RELOAD}`, { method: 'POST', signal: AbortSignal.timeout(150_000) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

interface WorkerReload { pid: number, replaced: number, failed: string | null, version: string | null }

test('reload under load: every warm process is replaced, and no request fails', { timeout: 170_000 }, async (t) => {
  const origin = await startOrigin()
  t.after(origin.close)
  const c = await startCluster({ workers: 2, env: { ...WARM, GENERIC_HOSTS: origin.host, EXTRACT_CONCURRENCY: '2' }, timeoutMs: 60_000 })
  t.after(c.stop)
  const diagnose = (): string => `\ncluster output (tail):\n${c.output().slice(-3000)}`
  const workers = c.workerPids()
  const old = await warmAll(c, 2, diagnose)

  // A bounded stream of distinct extractions (no cache hits) from 4 clients: it
  // runs before, during and after the reload, and stops 20 requests after the
  // reload answered (or at 600 requests, or after 90 s).
  const MAX = 600
  const results: Array<{ n: number, status: number, body: string }> = []
  let next = 0
  let stopAt = MAX
  const deadline = Date.now() + 90_000
  const client = async (): Promise<void> => {
    while (next < Math.min(stopAt, MAX) && Date.now() < deadline) {
      const n = next++
      const r = await extract(c, origin, `load-${n}`)
      results.push({ n, ...r })
    }
  }
  const load = Promise.all([client(), client(), client(), client()])
  await until('the first extractions', 60_000, () => results.length >= 8 ? true : undefined, diagnose)
  const during = results.length
  // any process started meanwhile is of the old generation too
  for (const [pid, worker] of warmProcesses(c)) old.set(pid, worker)
  const answer = await reload(c)
  stopAt = next + 20
  await load

  const failed = results.filter((r) => r.status !== 200)
  assert.deepEqual(failed.map((r) => `#${r.n}: ${r.status} ${r.body.slice(0, 300)}`), [], `no failed request${diagnose()}`)
  t.diagnostic(`${results.length} extractions, ${during} before the reload was asked, ${results.length - during} after`)
  assert.ok(results.length > during, 'extractions ran while and after the reload ran')

  assert.equal(answer.status, 200, `${JSON.stringify(answer.body)}${diagnose()}`)
  const per = answer.body.workers as WorkerReload[]
  assert.deepEqual(per.map((w) => w.pid).sort((a, b) => a - b), [...workers].sort((a, b) => a - b), 'every worker answered')
  for (const w of per) {
    assert.equal(w.failed, null)
    assert.ok(w.replaced >= 2, `worker ${w.pid} replaced ${w.replaced} warm processes`)
    assert.match(w.version ?? '', /^\d{4}\.\d{1,2}\.\d{1,2}/)
    assert.equal(w.version, answer.body.version)
  }

  // The old processes retire once the new ones are ready (a busy one after its job): none is left.
  const gone = await until('the old warm processes to exit', 30_000, () => [...old.keys()].every((pid) => !alive(pid)) ? true : undefined,
    () => `: still alive ${[...old.keys()].filter(alive).join(', ')}${diagnose()}`)
  assert.ok(gone)
  const now = warmProcesses(c)
  for (const w of workers) assert.ok([...now.values()].includes(w), `worker ${w} has warm processes after the reload`)
  assert.deepEqual([...now.keys()].filter((pid) => old.has(pid)), [], 'every warm process is new')
  const after = await extract(c, origin, 'after')
  assert.equal(after.status, 200, after.body)
})

// A yt-dlp that cannot start: the file at YTDLP_PATH (a copy of the project's zipapp in a
// temporary folder) gets an interpreter line naming a Python that does not exist, padded
// to the same length. The rest of the file stays byte for byte: a zipapp is imported
// lazily from its path, and the old processes must keep reading the same archive.
test('a reload whose new yt-dlp cannot start answers 503; the old processes keep serving', { timeout: 170_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-reload-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const ytdlp = join(dir, 'yt-dlp')
  copyFileSync(PROJECT_YTDLP, ytdlp)
  chmodSync(ytdlp, 0o755)
  const origin = await startOrigin()
  t.after(origin.close)
  const c = await startCluster({ workers: 1, env: { ...WARM, YTDLP_PATH: ytdlp, GENERIC_HOSTS: origin.host, EXTRACT_CONCURRENCY: '2' }, timeoutMs: 60_000 })
  t.after(c.stop)
  const diagnose = (): string => `\ncluster output (tail):\n${c.output().slice(-3000)}`
  const old = await warmAll(c, 2, diagnose)
  for (let i = 0; i < 4; i++) {
    const r = await extract(c, origin, `before-${i}`)
    assert.equal(r.status, 200, r.body)
  }

  const fd = openSync(ytdlp, 'r+')
  try {
    const head = Buffer.alloc(128)
    readSync(fd, head, 0, head.length, 0)
    const first = head.subarray(0, head.indexOf(10)).toString('latin1')
    assert.match(first, /^#!.*python/)
    const broken = `#!/${'x'.repeat(Math.max(1, first.length - '#!//python3'.length))}/python3`
    assert.equal(broken.length, first.length)
    writeSync(fd, Buffer.from(broken, 'latin1'), 0, broken.length, 0)
  } finally {
    closeSync(fd)
  }

  const answer = await reload(c)
  assert.equal(answer.status, 503, `${JSON.stringify(answer.body)}${diagnose()}`)
  assert.equal(answer.body.code, 'SERVICE_UNAVAILABLE')
  assert.match(String(answer.body.detail), new RegExp(`worker ${c.workerPids()[0] ?? 0}: `))

  for (let i = 0; i < 6; i++) {
    const r = await extract(c, origin, `after-${i}`)
    assert.equal(r.status, 200, `extraction ${i} after the failed reload: ${r.body}${diagnose()}`)
  }
  assert.deepEqual([...old.keys()].filter((pid) => !alive(pid)), [], 'the old warm processes are still there')
  // and health still finds the yt-dlp in use runnable (through them): the server stays in its load balancer
  const health = await json(`${c.url}/api/v2/system/health`)
  const check = (health.body.checks as Record<string, { status: string, version: string | null }>).ytdlp
  assert.notEqual(check?.status, 'failed', JSON.stringify(check))
  assert.match(check?.version ?? '', /^\d{4}\.\d{1,2}\.\d{1,2}/)
})

// YTDLP_UPDATE_COMMAND is a stand-in for the upgrade: the real ones (scripts/ensure.js
// fetching from deb.debian.org, a pip upgrade) need the network and would replace the
// project's yt-dlp under the other test files. It records the YTDLP_UPDATE_CHANNEL it
// was handed, and waits until the test has noted the warm processes before it succeeds
// (the primary runs it shortly after the workers are ready). The yt-dlp on disk does
// not change; the workers replace their warm processes all the same.
test('YTDLP_AUTO_UPDATE: a successful update command makes every worker reload', { timeout: 170_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-update-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const script = join(dir, 'update.sh')
  writeFileSync(script, [
    `printf '%s\\n' "$YTDLP_UPDATE_CHANNEL" >> '${dir}/channel'`,
    'i=0',
    `while [ ! -e '${dir}/go' ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done`,
    `[ -e '${dir}/go' ] || exit 9`,
    'echo "yt-dlp is up to date (test stand-in)"'
  ].join('\n'))
  const origin = await startOrigin()
  t.after(origin.close)
  const c = await startCluster({
    workers: 2,
    env: { ...WARM, GENERIC_HOSTS: origin.host, EXTRACT_CONCURRENCY: '1', YTDLP_AUTO_UPDATE: 'stable', YTDLP_UPDATE_COMMAND: `sh '${script}'` },
    timeoutMs: 60_000
  })
  t.after(c.stop)
  const diagnose = (): string => `\ncluster output (tail):\n${c.output().slice(-3000)}`
  const workers = c.workerPids()
  const old = await warmAll(c, 1, diagnose)
  await until('the update command to start', 60_000, () => existsSync(join(dir, 'channel')) ? true : undefined, diagnose)
  writeFileSync(join(dir, 'go'), '')

  await until('the update to finish', 120_000, () => /"msg":"yt-dlp updated and reloaded"/.test(c.output()) ? true : undefined, diagnose)
  assert.equal(readFileSync(join(dir, 'channel'), 'utf8'), 'stable\n', 'the command ran once, with YTDLP_UPDATE_CHANNEL=stable')
  await until('the old warm processes to exit', 30_000, () => [...old.keys()].every((pid) => !alive(pid)) ? true : undefined,
    () => `: still alive ${[...old.keys()].filter(alive).join(', ')}${diagnose()}`)
  const now = await warmAll(c, 1, diagnose)
  assert.deepEqual([...now.keys()].filter((pid) => old.has(pid)), [], 'every warm process is new')
  assert.deepEqual(c.workerPids(), workers, 'the same workers (only their warm processes were replaced)')

  const health = await json(`${c.url}/api/v2/system/health`)
  const check = (health.body.checks as Record<string, { detail: string | null }>).ytdlp
  assert.doesNotMatch(check?.detail ?? '', /update failed/)
  const r = await extract(c, origin, 'after-update')
  assert.equal(r.status, 200, r.body)
})

test('YTDLP_AUTO_UPDATE: a failing update command keeps the old yt-dlp and health says so', { timeout: 170_000 }, async (t) => {
  const origin = await startOrigin()
  t.after(origin.close)
  const c = await startCluster({
    workers: 1,
    env: { ...WARM, GENERIC_HOSTS: origin.host, EXTRACT_CONCURRENCY: '1', YTDLP_AUTO_UPDATE: 'nightly', YTDLP_UPDATE_COMMAND: 'echo "E: could not reach the mirror ($YTDLP_UPDATE_CHANNEL)" >&2; exit 3' },
    timeoutMs: 60_000
  })
  t.after(c.stop)
  const diagnose = (): string => `\ncluster output (tail):\n${c.output().slice(-3000)}`
  const old = await warmAll(c, 1, diagnose)
  const check = await until('health to report the failed update', 60_000, async () => {
    const { body } = await json(`${c.url}/api/v2/system/health`)
    const ytdlp = (body.checks as Record<string, { status: string, detail: string | null, version: string | null }>).ytdlp
    return ytdlp !== undefined && /the last yt-dlp update failed/.test(ytdlp.detail ?? '') ? { ...ytdlp, overall: body.status } : undefined
  }, diagnose)
  assert.equal(check.status, 'degraded')
  assert.equal(check.overall, 'degraded')
  assert.match(check.detail ?? '', /exited with code 3; the installed yt-dlp stays: E: could not reach the mirror \(nightly\)/)
  assert.match(check.version ?? '', /^\d{4}\.\d{1,2}\.\d{1,2}/, 'the old yt-dlp is still in use')
  assert.match(c.output(), /"msg":"yt-dlp update failed; the installed yt-dlp stays"/)

  for (let i = 0; i < 3; i++) {
    const r = await extract(c, origin, `after-failed-update-${i}`)
    assert.equal(r.status, 200, r.body)
  }
  assert.deepEqual([...old.keys()].filter((pid) => !alive(pid)), [], 'no reload ran: the same warm processes serve')
})

test('the reload endpoint is an admin endpoint', async (t) => {
  await t.test('with API keys: none → 401, a key without the admin scope → 403, an admin key → 200', async (st) => {
    const s = await startApp({ API_KEYS: 'admin-key-123456:admin,plain-key-123456' })
    st.after(s.close)
    const post = async (headers: Record<string, string>): Promise<{ res: Response, body: Record<string, unknown> }> => await json(`${s.url}${RELOAD}`, { method: 'POST', headers })
    const none = await post({})
    assert.equal(none.res.status, 401)
    assertErrorBody(none.res, none.body, 'UNAUTHORIZED')
    const plain = await post({ authorization: 'Bearer plain-key-123456' })
    assert.equal(plain.res.status, 403)
    assertErrorBody(plain.res, plain.body, 'FORBIDDEN')
    const admin = await post({ 'x-api-key': 'admin-key-123456' })
    assert.equal(admin.res.status, 200, JSON.stringify(admin.body))
    // an in-process app is its own only worker; spawn mode has no warm process to replace
    assert.deepEqual(admin.body.workers, [{ pid: process.pid, replaced: 0, failed: null, version: admin.body.version }])
  })

  await t.test('without API keys: a client that is not loopback (behind a trusted proxy) → 403, loopback → 200', async (st) => {
    const s = await startApp({ TRUSTED_PROXIES: '127.0.0.1' })
    st.after(s.close)
    const remote = await json(`${s.url}${RELOAD}`, { method: 'POST', headers: { 'x-forwarded-for': '203.0.113.7' } })
    assert.equal(remote.res.status, 403)
    assertErrorBody(remote.res, remote.body, 'FORBIDDEN')
    const local = await startApp()
    st.after(local.close)
    const ok = await json(`${local.url}${RELOAD}`, { method: 'POST' })
    assert.equal(ok.res.status, 200, JSON.stringify(ok.body))
  })

  await t.test('OpenAPI documents it as an admin POST with its schema', async (st) => {
    const s = await startApp()
    st.after(s.close)
    const { body } = await json(`${s.url}/openapi.json`)
    const op = ((body.paths as Record<string, Record<string, Record<string, unknown>>>)[RELOAD] ?? {}).post
    assert.ok(op !== undefined, 'POST /api/v2/system/ytdlp/reload is documented')
    assert.deepEqual(op.security, [{ apiKey: [] }, { bearer: [] }])
    const ok = (op.responses as Record<string, { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }>)['200']
    assert.deepEqual(Object.keys(ok?.content?.['application/json']?.schema?.properties ?? {}), ['version', 'workers', 'timestamp'])
  })
})
