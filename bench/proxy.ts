// Media proxy bench: a node:http origin serving a 200 MB file, our proxy
// (pipeline + hyper-express + proxyRoutes) in its own process, and this
// process as the client. Measures the proxy's RSS while a throttled client
// reads one long stream (default 1 GB at 1 MB/s, ~17 minutes: the issue's
// case), then download throughput direct vs through the proxy, alternating
// runs in the same session. Prints JSON and updates bench/results/proxy.json;
// CPU seconds per GB per process are included because throughput on a shared
// 2-core box is noisy.
//   node dist/bench/proxy.js   BENCH_RUNS=5 throughput runs (0: none),
//   BENCH_SLOW_MB=1024 and BENCH_SLOW_MBPS=1 for the slow client (0 MB: none).
// The same file runs the children: `origin <file> <port>`, `proxy <originPort> <port>`.
// The origin also serves /generated/<bytes>[.mp4]: that many bytes of a repeating
// pattern, with Range, so that a long stream needs no file of its size.
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cpuSeconds, download, freePort, MB, ownCpuSeconds, pairedDownloads, sleep, startNode } from './lib.ts'
import { createLinkSigner } from '../src/proxy/signer.ts'
import { createUpstream } from '../src/proxy/upstream.ts'
import { proxyRoutes } from '../src/http/routes/proxy.ts'
import { parseRange, resolveRange } from '../src/proxy/range.ts'
import { mediaBytes, startProxyServer } from '../src/testing/proxy.ts'
import { ROOT } from './servers.ts'

const FILE_MB = 200
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const SLOW_TOTAL_MB = Number(process.env.BENCH_SLOW_MB ?? 1024)
const SLOW_RATE_MBPS = Number(process.env.BENCH_SLOW_MBPS ?? 1)
const PATTERN = mediaBytes(MB)
const SECRET = 'bench-secret'

// Writes bytes [start, end] of the endless repetition of PATTERN, with backpressure.
function sendGenerated (res: ServerResponse, start: number, end: number): void {
  let at = start
  const pump = (): void => {
    while (at <= end) {
      const offset = at % PATTERN.length
      const n = Math.min(PATTERN.length - offset, end - at + 1)
      at += n
      if (!res.write(PATTERN.subarray(offset, offset + n))) { res.once('drain', pump); return }
    }
    res.end()
  }
  pump()
}

// file '-': none (only /generated/ paths; npm run bench's proxy-throughput scenario)
function runOrigin (file: string, port: number): void {
  const fileSize = file === '-' ? 0 : statSync(file).size
  const server = createServer((req, res) => {
    const generated = /^\/generated\/(\d+)(?:\.mp4)?$/.exec(req.url ?? '')
    const size = generated === null ? fileSize : Number(generated[1])
    const spec = parseRange(req.headers.range)
    let start = 0
    let end = size - 1
    if (spec.kind === 'from' || spec.kind === 'suffix') {
      const r = resolveRange(spec, size)
      if (r === null) { res.writeHead(416, { 'content-range': `bytes */${size}` }).end(); return }
      ;({ start, end } = r)
      res.statusCode = 206
      res.setHeader('content-range', `bytes ${start}-${end}/${size}`)
    }
    res.setHeader('content-type', 'video/mp4')
    res.setHeader('accept-ranges', 'bytes')
    res.setHeader('content-length', String(end - start + 1))
    if (generated !== null) sendGenerated(res, start, end)
    else createReadStream(file, { start, end, highWaterMark: 256 * 1024 }).pipe(res)
  })
  server.keepAliveTimeout = 60_000
  server.listen(port, '127.0.0.1', () => console.log(`ready ${port}`))
}

async function runProxy (originPort: number, port: number): Promise<void> {
  const upstream = createUpstream()
  const routes = proxyRoutes({ signer: createLinkSigner(SECRET), upstream, allowHosts: [`127.0.0.1:${originPort}`] })
  const server = await startProxyServer(routes, 2048, port)
  console.log(`ready ${server.port}`)
}

function rssMB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1]) / 1024
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d

// RSS of the proxy process while one client reads `url` at SLOW_RATE_MBPS, on
// a fresh process (one small request first, to load the code paths).
async function slowClient (url: string, pid: number): Promise<Record<string, number>> {
  await download(url, { range: 'bytes=0-1048575' })
  await sleep(500)
  const rssBefore = rssMB(pid)
  let rssMax = rssBefore
  const sampler = setInterval(() => { rssMax = Math.max(rssMax, rssMB(pid)) }, 100)
  const t0 = performance.now()
  const r = await download(url, { rateMBps: SLOW_RATE_MBPS })
  const sec = (performance.now() - t0) / 1000
  clearInterval(sampler)
  if (r.bytes !== SLOW_TOTAL_MB * MB) throw new Error(`slow client got ${r.bytes} bytes of ${SLOW_TOTAL_MB * MB}`)
  return {
    read_mb: round(r.bytes / MB),
    rate_mbps: round(r.bytes / MB / sec, 2),
    seconds: round(sec),
    server_rss_before_mb: round(rssBefore),
    server_rss_max_mb: round(rssMax),
    server_rss_growth_mb: round(rssMax - rssBefore),
    target_growth_mb: 50
  }
}

// Direct vs proxied downloads of the file, alternating, RUNS each.
async function throughput (direct: string, viaProxy: string, originPid: number, pid: number): Promise<Record<string, unknown>> {
  const runs = await pairedDownloads({ direct, proxied: viaProxy }, {
    pairs: RUNS,
    bytes: FILE_MB * MB,
    meters: { origin: () => cpuSeconds([originPid]), proxy: () => cpuSeconds([pid]), client: ownCpuSeconds }
  })
  const mbps = (secs: number[]): number[] => secs.map((sec) => FILE_MB / sec)
  const perGB = (sec: number | undefined): number => round((sec ?? 0) / (RUNS * FILE_MB / 1024), 2)
  const { direct: d, proxied: p } = runs.cpuSec
  return {
    runs: RUNS,
    direct_mbps: round(median(mbps(runs.secs.direct))),
    proxy_mbps: round(median(mbps(runs.secs.proxied))),
    ratio: round(median(runs.pairRatios), 2),
    pair_ratios: runs.pairRatios.map((x) => round(x, 2)),
    target_ratio: 0.7,
    direct_runs: mbps(runs.secs.direct).map((x) => round(x)),
    proxy_runs: mbps(runs.secs.proxied).map((x) => round(x)),
    cpu_sec_per_gb: {
      direct: { origin: perGB(d.origin), client: perGB(d.client) },
      proxy: { origin: perGB(p.origin), proxy: perGB(p.proxy), client: perGB(p.client) }
    }
  }
}

async function main (): Promise<void> {
  const self = fileURLToPath(import.meta.url)
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-bench-proxy-'))
  const file = join(dir, 'media.bin')
  writeFileSync(file, mediaBytes(FILE_MB * MB))
  const originPort = await freePort()
  const origin = await startNode([self, 'origin', file, String(originPort)], { ready: /ready \d+/ })
  const proxyPort = await freePort()
  const proxy = await startNode([self, 'proxy', String(originPort), String(proxyPort)], { ready: /ready \d+/ })
  const pid = proxy.child.pid ?? 0
  try {
    const direct = `http://127.0.0.1:${originPort}/media.bin`
    const signer = createLinkSigner(SECRET)
    const via = (url: string): string => `http://127.0.0.1:${proxyPort}/api/v2/proxy/${signer.sign({ route: 'proxy', url, headers: { referer: 'https://bench.example/' } }, 3600)}`
    const viaProxy = via(direct)
    const out = join(ROOT, 'bench/results')
    mkdirSync(out, { recursive: true })
    const file = join(out, 'proxy.json')
    // a part this run skips keeps its previous result (each part carries its date)
    let result: Record<string, unknown> = {}
    try { result = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> } catch {}
    result = { ...result, bench: 'proxy', file_mb: FILE_MB }
    const date = new Date().toISOString()
    if (SLOW_TOTAL_MB > 0) result.slow_client = { date, ...await slowClient(via(`http://127.0.0.1:${originPort}/generated/${SLOW_TOTAL_MB * MB}`), pid) }
    if (RUNS > 0) result.throughput = { date, ...await throughput(direct, viaProxy, origin.child.pid ?? 0, pid) }
    const text = JSON.stringify(result, null, 2)
    console.log(text)
    writeFileSync(file, `${text}\n`)
  } finally {
    await proxy.stop()
    await origin.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const [mode, a, b] = process.argv.slice(2)
if (mode === 'origin' && a !== undefined) runOrigin(a, Number(b))
else if (mode === 'proxy') await runProxy(Number(a), Number(b))
else await main()
