// Media proxy bench: a node:http origin serving a 200 MB file, our proxy
// (pipeline + hyper-express + proxyRoutes) in its own process, and this
// process as the client. Measures download throughput direct vs through the
// proxy, alternating runs in the same session, then the proxy's RSS while a
// throttled client reads 300 MB at 10 MB/s. Prints JSON; CPU seconds per GB
// per process are included because throughput on a shared 2-core box is noisy.
//   node dist/bench/proxy.js     (BENCH_RUNS=5, BENCH_SLOW_MB=300; the same
//   file runs the children: `origin <file> <port>`, `proxy <originPort> <port>`)
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cpuSeconds, freePort, sleep, startNode } from './lib.ts'
import { createLinkSigner } from '../src/proxy/signer.ts'
import { createUpstream } from '../src/proxy/upstream.ts'
import { proxyRoutes } from '../src/proxy/routes.ts'
import { parseRange, resolveRange } from '../src/proxy/range.ts'
import { mediaBytes, startProxyServer } from '../src/proxy/testing.ts'

const MB = 1024 * 1024
const FILE_MB = 200
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const SLOW_TOTAL_MB = Number(process.env.BENCH_SLOW_MB ?? 300)
const SLOW_RATE_MBPS = 10
const SECRET = 'bench-secret'

function runOrigin (file: string, port: number): void {
  const size = statSync(file).size
  const server = createServer((req, res) => {
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
    createReadStream(file, { start, end, highWaterMark: 256 * 1024 }).pipe(res)
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

// Downloads a URL, discarding the bytes; optionally throttled to rateMBps.
async function download (url: string, opts: { range?: string, rateMBps?: number } = {}): Promise<{ bytes: number, sec: number }> {
  const t0 = performance.now()
  return await new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: opts.range === undefined ? {} : { range: opts.range } }, (res) => {
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (opts.rateMBps === undefined) return
        const aheadMs = bytes / (opts.rateMBps * MB) * 1000 - (performance.now() - t0)
        if (aheadMs > 5) { res.pause(); setTimeout(() => res.resume(), aheadMs) }
      })
      res.on('end', () => resolve({ bytes, sec: (performance.now() - t0) / 1000 }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

function rssMB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1]) / 1024
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d

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
    const token = createLinkSigner(SECRET).sign({ url: direct, headers: { referer: 'https://bench.example/' } }, 3600)
    const viaProxy = `http://127.0.0.1:${proxyPort}/api/v2/proxy/${token}`
    // RSS first, on a fresh process (one small request to load the code paths)
    await download(viaProxy, { range: 'bytes=0-1048575' })
    await sleep(500)
    const rssBefore = rssMB(pid)
    let rssMax = rssBefore
    const sampler = setInterval(() => { rssMax = Math.max(rssMax, rssMB(pid)) }, 100)
    const t0 = performance.now()
    const first = await download(viaProxy, { rateMBps: SLOW_RATE_MBPS })
    const second = await download(viaProxy, { rateMBps: SLOW_RATE_MBPS, range: `bytes=0-${(SLOW_TOTAL_MB - FILE_MB) * MB - 1}` })
    const slowSec = (performance.now() - t0) / 1000
    clearInterval(sampler)
    const slowBytes = first.bytes + second.bytes
    if (slowBytes !== SLOW_TOTAL_MB * MB) throw new Error(`slow client got ${slowBytes} bytes`)

    await download(direct)
    await download(viaProxy)
    const rates: { direct: number[], proxy: number[] } = { direct: [], proxy: [] }
    const cpu = { direct: { origin: 0, proxy: 0, client: 0 }, proxy: { origin: 0, proxy: 0, client: 0 } }
    const originPid = origin.child.pid ?? 0
    for (let i = 0; i < RUNS; i++) {
      for (const [kind, url] of [['direct', direct], ['proxy', viaProxy]] as const) {
        const before = { origin: cpuSeconds([originPid]), proxy: cpuSeconds([pid]), client: process.cpuUsage() }
        const r = await download(url)
        const client = process.cpuUsage(before.client)
        cpu[kind].origin += cpuSeconds([originPid]) - before.origin
        cpu[kind].proxy += cpuSeconds([pid]) - before.proxy
        cpu[kind].client += (client.user + client.system) / 1e6
        if (r.bytes !== FILE_MB * MB) throw new Error(`${kind}: got ${r.bytes} bytes`)
        rates[kind].push(r.bytes / MB / r.sec)
      }
    }
    const perGB = (sec: number): number => round(sec / (RUNS * FILE_MB / 1024), 2)
    const directMBps = median(rates.direct)
    const proxyMBps = median(rates.proxy)
    // Each proxy run is paired with the direct run just before it, so load from
    // other processes on the box hits both sides of a ratio alike.
    const pairRatios = rates.proxy.map((p, i) => p / (rates.direct[i] ?? p))

    console.log(JSON.stringify({
      bench: 'proxy',
      file_mb: FILE_MB,
      throughput: {
        runs: RUNS,
        direct_mbps: round(directMBps),
        proxy_mbps: round(proxyMBps),
        ratio: round(median(pairRatios), 2),
        pair_ratios: pairRatios.map((x) => round(x, 2)),
        target_ratio: 0.7,
        direct_runs: rates.direct.map((x) => round(x)),
        proxy_runs: rates.proxy.map((x) => round(x)),
        cpu_sec_per_gb: {
          direct: { origin: perGB(cpu.direct.origin), client: perGB(cpu.direct.client) },
          proxy: { origin: perGB(cpu.proxy.origin), proxy: perGB(cpu.proxy.proxy), client: perGB(cpu.proxy.client) }
        }
      },
      slow_client: {
        read_mb: round(slowBytes / MB),
        rate_mbps: round(slowBytes / MB / slowSec),
        seconds: round(slowSec),
        server_rss_before_mb: round(rssBefore),
        server_rss_max_mb: round(rssMax),
        server_rss_growth_mb: round(rssMax - rssBefore),
        target_growth_mb: 50
      }
    }, null, 2))
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
