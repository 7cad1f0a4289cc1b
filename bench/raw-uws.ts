// The baseline: bare uWebSockets.js answering a JSON body of the same size as
// the endpoint under test, with no framework and no middleware.
import { createRequire } from 'node:module'

interface UwsResponse { cork: (fn: () => void) => void, writeHeader: (k: string, v: string) => UwsResponse, end: (body: string) => void }
interface UwsApp { get: (p: string, h: (res: UwsResponse) => void) => UwsApp, listen: (host: string, port: number, cb: (s: unknown) => void) => void }

const uws = createRequire(import.meta.url)('uWebSockets.js') as { App: () => UwsApp }
const port = Number(process.argv[2] ?? '0')
const size = Number(process.argv[3] ?? '400')
const body = JSON.stringify({ status: 'healthy', pad: 'x'.repeat(Math.max(0, size - 28)) })

uws.App().get('/*', (res) => {
  res.cork(() => { res.writeHeader('content-type', 'application/json; charset=utf-8').end(body) })
}).listen('127.0.0.1', port, (socket) => {
  process.stdout.write(socket === false ? 'failed\n' : 'ready\n')
})
