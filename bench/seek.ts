// Seekable merged streams: a 10 s 720p clip as separate video and audio on a
// local origin, remuxed through the real cluster (one worker, fake yt-dlp, the
// remux cache on). The first request remuxes (and fills the cache); then the
// same stream whole from the cache, and 1 MiB ranges from its middle. Reports
// medians and their ratios to the remux measured in the same run, and checks
// that every answer holds the remux's bytes.
// Prints JSON. Run: node dist/bench/seek.js [--runs=10]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { percentile } from './lib.ts'
import { fakeYtdlpEnv, splitClipFixture, startSplitClipOrigin } from './split-clip.ts'
import { ROOT, startCluster } from './servers.ts'

const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.split('=')[1] ?? 10)
const MIB = 1024 * 1024

interface Answer { ms: number, status: number, length: string | undefined, body: Buffer }

async function fetchOnce (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const started = performance.now()
  return await new Promise((resolve, reject) => {
    request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('error', reject)
      res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, length: res.headers['content-length'], body: Buffer.concat(chunks) }))
    }).on('error', reject).end()
  })
}

const round = (n: number): number => Math.round(n * 10) / 10

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-bench-seek-'))
  const origin = await startSplitClipOrigin(dir)
  const { host } = origin
  writeFileSync(join(dir, 'seek.json'), splitClipFixture('seek', 'seek bench', host))
  const server = await startCluster({
    workers: 1,
    env: {
      ...fakeYtdlpEnv(ROOT, dir, host),
      // a folder of this run's own (the default is per port)
      REMUX_CACHE_DIRECTORY: join(dir, 'cache')
    }
  })
  try {
    const url = `${server.base}/api/v2/stream?url=${encodeURIComponent(`http://${host}/fixture/seek`)}&quality=720p&format=mp4`
    const first = await fetchOnce(url)
    if (first.status !== 200) throw new Error(`the remux answered ${first.status}: ${first.body.toString().slice(0, 400)}`)
    const full = first.body
    // the cached file is in place once HEAD has its length
    for (let i = 0; (await fetchOnce(url, {}, 'HEAD')).length === undefined; i++) {
      if (i > 600) throw new Error('the remux was not cached')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const whole: number[] = []
    const ranges: number[] = []
    let exact = true
    for (let i = 0; i < runs; i++) {
      const w = await fetchOnce(url)
      whole.push(w.ms)
      exact &&= w.status === 200 && w.length === String(full.length) && w.body.equals(full)
      const start = Math.floor(full.length / 2) + i * 4096
      const r = await fetchOnce(url, { range: `bytes=${start}-${start + MIB - 1}` })
      ranges.push(r.ms)
      exact &&= r.status === 206 && r.body.equals(full.subarray(start, start + MIB))
    }
    const wholeMs = percentile(whole, 50)
    const rangeMs = percentile(ranges, 50)
    const result = {
      clip: { seconds: 10, height: 720, remuxed_bytes: full.length },
      remux_ms: round(first.ms),
      cached_whole: { runs_ms: whole.map(round), median_ms: round(wholeMs), ratio_to_remux: Math.round(wholeMs / first.ms * 1000) / 1000 },
      cached_range_1mib: { runs_ms: ranges.map(round), median_ms: round(rangeMs), ratio_to_remux: Math.round(rangeMs / first.ms * 1000) / 1000 },
      every_answer_exact: exact,
      machine: { cpus: availableParallelism(), load_avg_1m: round(loadavg()[0] ?? 0) }
    }
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    if (!exact) process.exitCode = 1
  } finally {
    await server.stop()
    await origin.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
