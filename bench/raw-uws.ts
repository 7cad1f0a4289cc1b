// The baseline: bare uWebSockets.js answering a JSON body of the same size as
// the endpoint under test, with no framework and no middleware.
// argv: port, then body sizes in bytes (comma list): GET /<size> answers a
// body of that size, any other path the first size. An optional third
// argument names a JSON file of responses to mirror ([{ headers, body }]):
// GET /m<i> answers the i-th with the same header lines and body, i.e. the
// same bytes on the wire as the server under test, with no code behind them.
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'

interface UwsResponse { writeStatus: (s: string) => UwsResponse, writeHeader: (k: string, v: string) => UwsResponse, end: (body: string) => void }
interface UwsRequest { getUrl: () => string }
interface UwsApp { get: (p: string, h: (res: UwsResponse, req: UwsRequest) => void) => UwsApp, listen: (host: string, port: number, cb: (s: unknown) => void) => void }

const uws = createRequire(import.meta.url)('uWebSockets.js') as { App: () => UwsApp, _cfg?: (key: string) => void }
// Like hyper-express (and so the server under test): no "uWebSockets: 20" header line on every response
try { uws._cfg?.('999999990007') } catch {}
const port = Number(process.argv[2] ?? '0')
const sizes = (process.argv[3] ?? '400').split(',').map(Number)
const jsonOf = (size: number): string => JSON.stringify({ status: 'healthy', pad: 'x'.repeat(Math.max(0, size - 28)) })
const bodies = new Map(sizes.map((s) => [`/${s}`, jsonOf(s)]))
const fallback = jsonOf(sizes[0] ?? 400)
// status: when not 200 (e.g. a 302 with its Location)
interface Mirror { status?: number, headers: Array<[string, string]>, body: string }
const mirrors = process.argv[4] === undefined ? [] : JSON.parse(readFileSync(process.argv[4], 'utf8')) as Mirror[]
// uWS writes Date and Content-Length itself; the rest go out as one header block, like the fast lane's
const SKIP = new Set(['date', 'content-length', 'connection'])
const STATUS_TEXT: Readonly<Record<number, string>> = { 301: 'Moved Permanently', 302: 'Found', 307: 'Temporary Redirect' }
const mirrored = new Map(mirrors.map((m, i) => {
  const lines = m.headers.filter(([k]) => !SKIP.has(k.toLowerCase()))
  const [first, ...rest] = lines
  return [`/m${i}`, { status: m.status === undefined || m.status === 200 ? null : `${m.status} ${STATUS_TEXT[m.status] ?? 'Status'}`, name: first?.[0] ?? 'content-type', value: [first?.[1] ?? 'application/json', ...rest.map(([k, v]) => `${k}: ${v}`)].join('\r\n'), body: m.body }]
}))

uws.App().get('/*', (res, req) => {
  const url = req.getUrl()
  const mirror = mirrored.get(url)
  if (mirror !== undefined) {
    ;(mirror.status === null ? res : res.writeStatus(mirror.status)).writeHeader(mirror.name, mirror.value).end(mirror.body)
    return
  }
  const body = bodies.get(url) ?? fallback
  // inside uWS's request callback the socket is already corked: no cork() call
  res.writeHeader('content-type', 'application/json; charset=utf-8').end(body)
}).listen('127.0.0.1', port, (socket) => {
  process.stdout.write(socket === false ? 'failed\n' : 'ready\n')
})
