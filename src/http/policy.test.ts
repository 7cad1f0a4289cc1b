// One policy, two lanes: every policy case is sent to routes the uWS lane
// serves (a snapshot route, a cached-info peek) and to routes hyper-express
// serves, and each must get the same answer: status, error, the policy's
// headers, the metrics series and the slow-request log line.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import { startApp } from '../testing/helpers.ts'
import type { StartedApp } from '../testing/helpers.ts'
import { loadConfig } from '../config.ts'
import { createLogger } from '../log.ts'
import { createAccess } from '../guard/access.ts'
import { compile, object } from '../schemas/compile.ts'
import { createPolicy, SANE_ID } from './policy.ts'
import { createHttpServer } from './server.ts'
import { jsonRoute } from './route.ts'
import type { Route } from './route.ts'

interface Reply { status: number, headers: IncomingHttpHeaders, body: Record<string, unknown> }
interface Send { query?: string, headers?: Record<string, string>, body?: string }

// node:http sends a body with a GET (fetch refuses to), on a fresh connection each time
async function send (port: number, path: string, opts: Send = {}): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body))
    const req = request({ host: '127.0.0.1', port, path: path + (opts.query ?? ''), method: 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        let body: Record<string, unknown> = {}
        try { body = JSON.parse(text) as Record<string, unknown> } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
      })
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

// What must be equal whichever lane answered: the status, the error, and every
// header but those that differ per request (id, time, counts) or per route (length).
const PER_REQUEST = new Set(['x-request-id', 'x-process-time', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after'])
const TRANSPORT = new Set(['date', 'content-length', 'connection', 'keep-alive'])
function shape (r: Reply): Record<string, unknown> {
  const headers: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(r.headers).sort(([a], [b]) => a.localeCompare(b))) {
    if (!TRANSPORT.has(k)) headers[k] = PER_REQUEST.has(k) ? '(present)' : v
  }
  return { status: r.status, code: r.body.code ?? null, error: r.body.error ?? null, headers }
}

// The lane that answered, from the request id it generated (policy.ts: "_" before the counter on uWS, "-" on hyper-express).
const laneOfId = (r: Reply): 'uws' | 'hyper' | null => {
  const m = /([_-])[0-9a-z]+$/.exec(String(r.headers['x-request-id']))
  return m === null ? null : m[1] === '_' ? 'uws' : 'hyper'
}

function assertRefused (r: Reply, status: number, code: string): void {
  assert.equal(r.status, status)
  assert.equal(r.body.code, code)
  assert.equal(r.body.request_id, r.headers['x-request-id'])
  assert.equal(r.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(r.headers['x-content-type-options'], 'nosniff')
  assert.match(String(r.headers['x-process-time']), /^\d+\.\d+$/)
}

const KEY = 'parity-key-1'
// twitter's fixture info has no expiry: it stays in L1, where the peek finds it
const PEEK = '/api/v2/videos/twitter/1234567890123456789'
// Pairs of one limit class each: a uWS-lane route and a hyper-express one.
const TARGETS = [
  { path: '/api/v2/auth/status', lane: 'uws' },
  { path: '/api/v2/system/version', lane: 'hyper' },
  { path: PEEK, lane: 'uws' },
  { path: `${PEEK}/formats`, lane: 'hyper' }
] as const

interface Case {
  name: string
  env: Record<string, string>
  send: Send
  // before the measured request, per target (e.g. use up the rate limit)
  before?: (get: () => Promise<Reply>) => Promise<void>
  expect: (r: Reply) => void
}

const CASES: Case[] = [
  {
    name: '414 for a URL longer than MAX_URL_LENGTH',
    env: { MAX_URL_LENGTH: '256' },
    send: { query: `?pad=${'a'.repeat(300)}` },
    expect: (r) => { assertRefused(r, 414, 'URL_TOO_LONG'); assert.equal(r.body.error, 'The request URL is longer than 256 bytes') }
  },
  {
    name: '413 for a GET whose body is larger than MAX_REQUEST_BODY_SIZE',
    env: { MAX_REQUEST_BODY_SIZE: '1024' },
    send: { body: 'x'.repeat(4096) },
    expect: (r) => { assertRefused(r, 413, 'PAYLOAD_TOO_LARGE'); assert.equal(r.body.error, 'The request body is larger than 1024 bytes') }
  },
  {
    name: 'a GET with a body within the limit is served',
    env: { MAX_REQUEST_BODY_SIZE: '1024' },
    send: { body: 'x'.repeat(512) },
    expect: (r) => assert.equal(r.status, 200)
  },
  {
    name: '401 without an API key when REQUIRE_API_KEY',
    env: { API_KEYS: KEY, REQUIRE_API_KEY: 'true' },
    send: {},
    expect: (r) => assertRefused(r, 401, 'UNAUTHORIZED')
  },
  {
    name: '401 for a key that is not valid',
    env: { API_KEYS: KEY, REQUIRE_API_KEY: 'true' },
    send: { headers: { 'x-api-key': 'not-the-key-1' } },
    expect: (r) => { assertRefused(r, 401, 'UNAUTHORIZED'); assert.equal(r.body.error, 'The API key is not valid') }
  },
  {
    name: 'a valid key (Bearer) passes',
    env: { API_KEYS: KEY, REQUIRE_API_KEY: 'true' },
    send: { headers: { authorization: `Bearer ${KEY}` } },
    expect: (r) => assert.equal(r.status, 200)
  },
  {
    name: '429 with Retry-After and X-RateLimit-* once the limit is used up',
    env: { RATE_LIMIT_MAX_REQUESTS: '2', RATE_LIMIT_EXTRACT_MAX_REQUESTS: '3', RATE_LIMIT_WINDOW: '3600' },
    send: {},
    before: async (get) => {
      for (let i = 0; i < 4; i++) if ((await get()).status === 429) return
      assert.fail('no 429 after 4 requests')
    },
    expect: (r) => {
      assertRefused(r, 429, 'RATE_LIMITED')
      const retry = Number(r.headers['retry-after'])
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 3600, `retry-after ${String(retry)}`)
      assert.equal(r.headers['x-ratelimit-remaining'], '0')
      assert.match(String(r.headers['x-ratelimit-limit']), /^[23]$/)
    }
  },
  {
    name: 'CORS: a configured Origin is echoed',
    env: { CORS_ORIGINS: 'https://ok.example,https://two.example', CORS_ALLOW_CREDENTIALS: 'true' },
    send: { headers: { origin: 'https://ok.example' } },
    expect: (r) => {
      assert.equal(r.status, 200)
      assert.equal(r.headers['access-control-allow-origin'], 'https://ok.example')
      assert.equal(r.headers['access-control-allow-credentials'], 'true')
      assert.match(String(r.headers['access-control-expose-headers']), /X-Request-Id/)
      assert.equal(r.headers.vary, 'Origin')
    }
  },
  {
    name: 'CORS: a foreign Origin gets no allow-origin',
    env: { CORS_ORIGINS: 'https://ok.example,https://two.example', CORS_ALLOW_CREDENTIALS: 'true' },
    send: { headers: { origin: 'https://evil.example' } },
    expect: (r) => {
      assert.equal(r.status, 200)
      assert.equal(r.headers['access-control-allow-origin'], undefined)
      assert.equal(r.headers['access-control-expose-headers'], undefined)
      assert.equal(r.headers['access-control-allow-credentials'], undefined)
      assert.equal(r.headers.vary, 'Origin')
    }
  },
  {
    name: 'CORS_ORIGINS=*: any Origin gets *',
    env: {},
    send: { headers: { origin: 'https://any.example' } },
    expect: (r) => { assert.equal(r.headers['access-control-allow-origin'], '*'); assert.equal(r.headers.vary, undefined) }
  },
  {
    name: 'a sane X-Request-Id is echoed',
    env: {},
    send: { headers: { 'x-request-id': 'trace-42.a:b_c' } },
    expect: (r) => { assert.equal(r.status, 200); assert.equal(r.headers['x-request-id'], 'trace-42.a:b_c') }
  },
  {
    name: 'an X-Request-Id that is not sane is replaced',
    env: { MAX_URL_LENGTH: '256' },
    send: { headers: { 'x-request-id': 'has space<script>' }, query: `?pad=${'a'.repeat(300)}` },
    expect: (r) => {
      const id = String(r.headers['x-request-id'])
      assert.notEqual(id, 'has space<script>')
      assert.match(id, SANE_ID)
      assert.equal(r.body.request_id, id)
    }
  }
]

// One app per configuration, its info cached first so that the peek answers.
const apps = new Map<string, { app: StartedApp, sent: Map<string, number> }>()
after(async () => { for (const { app } of apps.values()) await app.close() })

async function appFor (env: Record<string, string>): Promise<{ app: StartedApp, sent: Map<string, number> }> {
  const key = JSON.stringify(env)
  const known = apps.get(key)
  if (known !== undefined) return known
  const app = await startApp(env)
  const entry = { app, sent: new Map<string, number>() }
  apps.set(key, entry)
  const warm = await send(app.port, PEEK, { headers: { 'x-api-key': KEY } })
  assert.equal(warm.status, 200, JSON.stringify(warm.body))
  count(entry.sent, '/api/v2/videos/:platform/:id', 200)
  return entry
}

const count = (sent: Map<string, number>, route: string, status: number): void => {
  const k = `${route} ${status}`
  sent.set(k, (sent.get(k) ?? 0) + 1)
}

// The route a path reaches, and the lane that serves it as server.ts decides:
// a snapshot route on a static path takes the uWS lane, and so does a peek
// route while its peek has the body; everything else takes hyper-express.
function laneOf (app: StartedApp, path: string): { lane: 'uws' | 'hyper', route: Route } {
  for (const route of app.app.routes) {
    if (route.method !== 'get') continue
    const names: string[] = []
    const pattern = new RegExp(`^${route.path.replace(/:([a-z]+)/g, (_, name: string) => { names.push(name); return '([^/]+)' })}$`)
    const m = pattern.exec(path)
    if (m === null) continue
    const params = Object.fromEntries(names.map((name, i) => [name, m[i + 1] ?? '']))
    const uws = (route.fast !== undefined && names.length === 0) || (route.peek?.({ params, query: '', header: (name) => name === 'host' ? '127.0.0.1' : '' }) ?? null) !== null
    return { lane: uws ? 'uws' : 'hyper', route }
  }
  assert.fail(`no route for ${path}`)
}

for (const c of CASES) {
  test(`same answer on both lanes: ${c.name}`, async () => {
    const { app, sent } = await appFor(c.env)
    const shapes: Array<{ path: string, shape: Record<string, unknown> }> = []
    for (const target of TARGETS) {
      const { lane, route } = laneOf(app, target.path)
      assert.equal(lane, target.lane, `${target.path} is served by the ${target.lane} lane`)
      const get = async (opts?: Send): Promise<Reply> => {
        const r = await send(app.port, target.path, opts)
        count(sent, route.path, r.status)
        return r
      }
      await c.before?.(get)
      const r = await get(c.send)
      c.expect(r)
      if (c.send.headers?.['x-request-id'] === undefined) assert.equal(laneOfId(r), target.lane, `${target.path} was answered by the ${target.lane} lane`)
      shapes.push({ path: target.path, shape: shape(r) })
    }
    const [first, ...rest] = shapes
    for (const s of rest) assert.deepEqual(s.shape, first?.shape, `${s.path} answers as ${String(first?.path)} does`)
  })
}

test('both lanes count every answer in /metrics under the route, GET and the status sent', async () => {
  assert.ok(apps.size > 0)
  for (const { app, sent } of apps.values()) {
    const text = await (await fetch(`${app.url}/metrics`, { headers: { 'x-api-key': KEY } })).text()
    for (const [k, n] of sent) {
      const [route, status] = k.split(' ')
      const line = `vidgate_http_requests_total{route="${String(route)}",method="GET",status="${String(status)}"} ${n}`
      assert.ok(text.includes(line), `${line}\n${text.split('\n').filter((l) => l.startsWith('vidgate_http_requests_total')).join('\n')}`)
    }
  }
})

// Admin routes and slow requests: the app has neither a GET admin route nor a
// deterministically slow one on the uWS lane, so a pair of each is served by
// the same server module and policy. "Slow" is a busy wait longer than
// SLOW_REQUEST_MS=1: it cannot finish sooner, however loaded the machine.
test('both lanes: 401/403/200 on admin routes, and the slow-request log line', async (t) => {
  const lines: string[] = []
  const log = createLogger('info', {}, { write: (line: string) => { lines.push(line) } })
  const config = loadConfig({ API_KEYS: `${KEY},admin-key-1:admin`, SLOW_REQUEST_MS: '1' })
  const policy = createPolicy(config.policy, { log, access: createAccess(config.API_KEYS, config.REQUIRE_API_KEY) })
  const serialize = compile<{ ok: boolean }>(object({ ok: { type: 'boolean' } }))
  const spin = (): { ok: boolean } => {
    const until = performance.now() + 5
    while (performance.now() < until) { /* the slow request */ }
    return { ok: true }
  }
  const doc = { summary: 'test', tags: ['test'] }
  const routes: Route[] = [
    jsonRoute({ method: 'get', path: '/admin/snapshot', admin: true, limit: 'none', doc, serialize, snapshot: () => ({ ok: true }) }),
    jsonRoute({ method: 'get', path: '/admin/handler', admin: true, limit: 'none', doc, serialize, handle: () => ({ ok: true }) }),
    jsonRoute({ method: 'get', path: '/slow/snapshot', limit: 'none', doc, serialize, snapshot: spin }),
    jsonRoute({ method: 'get', path: '/slow/handler', limit: 'none', doc, serialize, handle: spin })
  ]
  assert.ok(routes[0]?.fast !== undefined && routes[2]?.fast !== undefined, 'snapshot routes take the uWS lane')
  assert.ok(routes[1]?.fast === undefined && routes[3]?.fast === undefined, 'handler routes take hyper-express')
  const server = createHttpServer({ routes, policy })
  const port = await server.listen(0, '127.0.0.1')
  t.after(async () => await server.shutdown(1000))

  for (const [headers, status, code] of [[{}, 401, 'UNAUTHORIZED'], [{ 'x-api-key': KEY }, 403, 'FORBIDDEN'], [{ authorization: 'Bearer admin-key-1' }, 200, null]] as const) {
    const replies = [await send(port, '/admin/snapshot', { headers }), await send(port, '/admin/handler', { headers })]
    assert.deepEqual(replies.map(laneOfId), ['uws', 'hyper'])
    for (const r of replies) {
      if (code === null) assert.equal(r.status, status)
      else assertRefused(r, status, code)
    }
    assert.deepEqual(shape(replies[1] as Reply), shape(replies[0] as Reply))
  }

  for (const path of ['/slow/snapshot', '/slow/handler']) {
    const r = await send(port, path, { headers: { 'x-request-id': `slow-${path.slice(6)}` } })
    assert.equal(r.status, 200)
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.reqId === r.headers['x-request-id'])
    assert.ok(logged !== undefined, `a log line for ${path}: ${lines.join('')}`)
    assert.equal(logged.msg, 'slow request')
    assert.equal(logged.level, 40)
    assert.equal(logged.route, path)
    assert.equal(logged.method, 'GET')
    assert.equal(logged.status, 200)
    assert.ok(Number(logged.ms) >= 5, String(logged.ms))
  }
})
