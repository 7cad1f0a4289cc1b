// Media proxy bench: our proxy (pipeline + hyper-express + proxyRoutes, as
// shipped) in its own process against nginx proxy_pass (bench/nginx.ts) on the
// same 256 MB file in the same run, and this process as the client.
// - throughput: the file straight from its origin (nginx serving it with
//   sendfile), through nginx proxy_pass and through vidgate, round-robin,
//   BENCH_RUNS rounds. Both proxies on core 0, origin and client on the last
//   core (taskset). Reports each one's CPU seconds per GB (all threads, from
//   /proc schedstat) and MB/s, and per round vidgate ÷ nginx, whose spread
//   says how steady the cost is from run to run.
// - slow client: the proxy's RSS while a throttled client reads one long
//   stream (default 1 GB at 1 MB/s, ~17 minutes: issue #4's case), from a
//   node:http origin generating the bytes.
// Prints JSON and updates bench/results/proxy.json.
//   node dist/bench/proxy.js   BENCH_RUNS=5 throughput rounds (0: none),
//   BENCH_SLOW_MB=1024 and BENCH_SLOW_MBPS=1 for the slow client (0 MB: none).
// The same file runs the children: `origin <file|-> <port>`, `proxy <originHosts> <port>`.
// The node origin serves /generated/<bytes>[.mp4]: that many bytes of a repeating
// pattern, with Range, so that a long stream needs no file of its size.
import { chmodSync, createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { availableParallelism } from 'node:os'
import { download, freePort, hasTaskset, MB, pinSelf, sleep, startNode } from './lib.ts'
import { startNginx } from './nginx.ts'
import { median, roundRobin, spread, versus } from './versus-nginx.ts'
import { createLinkSigner } from '../src/proxy/signer.ts'
import { createUpstream } from '../src/proxy/upstream.ts'
import { proxyRoutes } from '../src/http/routes/proxy.ts'
import { parseRange, resolveRange } from '../src/proxy/range.ts'
import { mediaBytes, startProxyServer } from '../src/testing/proxy.ts'
import { ROOT } from './servers.ts'

const FILE_MB = 256
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

// originHosts: host:port, comma-separated (the origins the bench points it at)
async function runProxy (originHosts: string, port: number): Promise<void> {
  const upstream = createUpstream()
  const routes = proxyRoutes({ signer: createLinkSigner(SECRET), upstream, allowHosts: originHosts.split(',') })
  const server = await startProxyServer(routes, 2048, port)
  console.log(`ready ${server.port}`)
}

function rssMB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1]) / 1024
}

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

// The file from its origin, through nginx and through vidgate, round-robin.
async function throughput (direct: string, viaNginx: string, viaUs: string, pids: { origin: number[], nginx: () => number[], us: number }): Promise<Record<string, unknown>> {
  const runs = await roundRobin([
    { name: 'direct', url: direct, pids: () => pids.origin },
    { name: 'nginx', url: viaNginx, pids: pids.nginx },
    { name: 'vidgate', url: viaUs, pids: () => [pids.us] }
  ], RUNS, FILE_MB * MB)
  const get = (name: string): { mbps: number[], cpuSecPerGB: number[] } => runs.get(name) ?? { mbps: [], cpuSecPerGB: [] }
  const side = (name: string): Record<string, unknown> => {
    const r = get(name)
    return {
      mbps: round(median(r.mbps)),
      cpu_sec_per_gb: round(median(r.cpuSecPerGB), 3),
      mbps_runs: r.mbps.map((x) => round(x)),
      cpu_sec_per_gb_runs: r.cpuSecPerGB.map((x) => round(x, 3)),
      cpu_spread: round(spread(r.cpuSecPerGB), 2)
    }
  }
  const v = versus(get('vidgate'), get('nginx'))
  return {
    runs: RUNS,
    pinned: hasTaskset() ? 'proxies on core 0, origin and client on the last core' : 'no taskset: not pinned',
    vidgate_vs_nginx: {
      cpu_ratio: round(v.cpuRatio, 2),
      rate_ratio: round(v.rateRatio, 2),
      cpu_ratios: v.cpuRatios.map((x) => round(x, 2)),
      rate_ratios: v.rateRatios.map((x) => round(x, 2)),
      target_cpu_ratio: 2.5,
      target_rate_ratio: 0.8
    },
    direct: side('direct'),
    nginx: side('nginx'),
    vidgate: side('vidgate')
  }
}

async function main (): Promise<void> {
  const self = fileURLToPath(import.meta.url)
  const cpus = availableParallelism()
  pinSelf(cpus)
  const last = String(Math.max(0, cpus - 1))
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-bench-proxy-'))
  chmodSync(dir, 0o755)
  writeFileSync(join(dir, 'media.bin'), mediaBytes(FILE_MB * MB))
  chmodSync(join(dir, 'media.bin'), 0o644)
  const stops: Array<() => Promise<void>> = []
  try {
    const origin = await startNginx({ kind: 'static', root: dir }, last)
    stops.push(origin.stop)
    const nodeOriginPort = await freePort()
    const nodeOrigin = await startNode([self, 'origin', '-', String(nodeOriginPort)], { ready: /ready \d+/, cpus: last })
    stops.push(nodeOrigin.stop)
    const proxyPort = await freePort()
    const proxy = await startNode([self, 'proxy', `127.0.0.1:${origin.port},127.0.0.1:${nodeOriginPort}`, String(proxyPort)], { ready: /ready \d+/, cpus: '0' })
    stops.push(proxy.stop)
    const nginx = await startNginx({ kind: 'proxy', upstream: `127.0.0.1:${origin.port}` }, '0')
    stops.push(nginx.stop)
    const pid = proxy.child.pid ?? 0
    const signer = createLinkSigner(SECRET)
    const via = (url: string): string => `http://127.0.0.1:${proxyPort}/api/v2/proxy/${signer.sign({ route: 'proxy', url, headers: { referer: 'https://bench.example/' } }, 3600)}`
    const out = join(ROOT, 'bench/results')
    mkdirSync(out, { recursive: true })
    const file = join(out, 'proxy.json')
    // a part this run skips keeps its previous result (each part carries its date)
    let result: Record<string, unknown> = {}
    try { result = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> } catch {}
    result = { ...result, bench: 'proxy', file_mb: FILE_MB }
    const date = new Date().toISOString()
    if (RUNS > 0) {
      const direct = `${origin.base}/media.bin`
      result.throughput = { date, ...await throughput(direct, `${nginx.base}/media.bin`, via(direct), { origin: origin.pids(), nginx: nginx.pids, us: pid }) }
    }
    if (SLOW_TOTAL_MB > 0) result.slow_client = { date, ...await slowClient(via(`http://127.0.0.1:${nodeOriginPort}/generated/${SLOW_TOTAL_MB * MB}`), pid) }
    const text = JSON.stringify(result, null, 2)
    console.log(text)
    writeFileSync(file, `${text}\n`)
  } finally {
    for (const stop of stops.reverse()) await stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const [mode, a, b] = process.argv.slice(2)
if (mode === 'origin' && a !== undefined) runOrigin(a, Number(b))
else if (mode === 'proxy' && a !== undefined) await runProxy(a, Number(b))
else await main()
