// Remux under concurrency: a 10 s 720p clip, split into a video-only fMP4 and an
// audio-only M4A on a local origin, remuxed through the real cluster (one
// worker, fake yt-dlp): once alone (several runs, median), then N clients at
// once for the same video (they share one ffmpeg), then N different videos
// (N ffmpegs: CPU-bound on a small machine, reported for comparison).
// Pass: every same-video client within 2x the single time measured in this run,
// and the worker's event loop never stalled > 20 ms in either scenario (from
// /api/v2/system/stats, whose max resets on each read and includes its 10 ms
// sampling interval, subtracted here).
// With --audio=mp3|opus|m4a|wav the same scenarios run the audio transcode
// (quality=audio&format=…) of the clip instead, on the same shared-ffmpeg machinery.
// Prints JSON. Run: node dist/bench/remux.js [--concurrency=10] [--runs=5] [--audio=mp3]
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CLOCK_TICKS_PER_SEC, childrenOf, percentile } from './lib.ts'
import { fakeYtdlpEnv, splitClipFixture, startSplitClipOrigin } from './split-clip.ts'
import { ROOT, startCluster } from './servers.ts'

const LOOP_RESOLUTION_MS = 10
const MAX_RATIO = 2
const MAX_STALL_MS = 20

function arg (name: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
  const n = raw === undefined ? fallback : Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`)
  return n
}

interface Remuxed { ms: number, bytes: number, mode: string | null, body: Buffer | null }

// node:http rather than fetch: the client shares the machine's two cores with the server, so it stays lean.
async function remux (url: string, keep = false): Promise<Remuxed> {
  const started = performance.now()
  return await new Promise((resolve, reject) => {
    get(url, (res) => {
      const chunks: Buffer[] = []
      let bytes = 0
      res.on('data', (d: Buffer) => { bytes += d.length; if (keep) chunks.push(d) })
      res.on('error', reject)
      res.on('end', () => {
        if (res.statusCode !== 200) { reject(new Error(`remux answered ${res.statusCode ?? '?'}: ${Buffer.concat(chunks).toString().slice(0, 300)}`)); return }
        const mode = res.headers['x-stream-mode']
        resolve({ ms: performance.now() - started, bytes, mode: typeof mode === 'string' ? mode : null, body: keep ? Buffer.concat(chunks) : null })
      })
    }).on('error', reject)
  })
}

async function loopMaxMs (base: string): Promise<number> {
  const stats = await (await fetch(`${base}/api/v2/system/stats`)).json() as { per_worker: Array<{ event_loop_delay_max_ms: number }> }
  return Math.max(0, ...stats.per_worker.map((w) => w.event_loop_delay_max_ms))
}

async function probe (media: Buffer, dir: string): Promise<{ streams: string[], duration: number }> {
  writeFileSync(join(dir, 'out.mp4'), media)
  const { stdout } = await promisify(execFile)('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type:format=duration', '-of', 'json', join(dir, 'out.mp4')])
  const j = JSON.parse(stdout) as { streams: Array<{ codec_type: string }>, format: { duration: string } }
  return { streams: j.streams.map((s) => s.codec_type).sort(), duration: Number(j.format.duration) }
}

const round = (n: number): number => Math.round(n * 10) / 10

interface Cpu { own: number, children: number }

// CPU seconds of one process: its own (node: main thread and threads) and its reaped children's (ffmpeg).
function cpuOf (pid: number): Cpu {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number)
  return { own: ((f[11] ?? 0) + (f[12] ?? 0)) / CLOCK_TICKS_PER_SEC, children: ((f[13] ?? 0) + (f[14] ?? 0)) / CLOCK_TICKS_PER_SEC }
}

const perRemux = (a: Cpu, b: Cpu, n: number): { node: number, ffmpeg: number } =>
  ({ node: round((b.own - a.own) * 1000 / n), ffmpeg: round((b.children - a.children) * 1000 / n) })

async function main (): Promise<void> {
  const concurrency = arg('concurrency', 10)
  const audio = process.argv.find((a) => a.startsWith('--audio='))?.split('=')[1] ?? null
  if (audio !== null && !['mp3', 'opus', 'm4a', 'wav'].includes(audio)) throw new Error('--audio must be mp3, opus, m4a or wav')
  const runs = arg('runs', 5)
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-bench-remux-'))
  const origin = await startSplitClipOrigin(dir)
  const { host, clip } = origin
  // remux: the clip every "same video" request asks for; remux-<n>: the same bytes under
  // distinct ids, so each of those remuxes runs its own ffmpeg.
  for (const name of ['remux', ...Array.from({ length: concurrency }, (_, i) => `remux-${i}`)]) {
    writeFileSync(join(dir, `${name}.json`), splitClipFixture(name, 'remux bench', host))
  }
  const server = await startCluster({
    workers: 1,
    env: {
      ...fakeYtdlpEnv(ROOT, dir, host),
      REMUX_MAX_CONCURRENT: String(Math.max(16, concurrency)),
      // what is measured is ffmpeg's remux: with the remux cache, every run after the
      // first would be served from a file (bench/seek.ts measures that)
      REMUX_CACHE_MB: '0'
    }
  })
  try {
    const urlOf = (name: string): string => `${server.base}/api/v2/stream?url=${encodeURIComponent(`http://${host}/fixture/${name}`)}&${audio === null ? 'quality=720p&format=mp4' : `quality=audio&format=${audio}`}`
    const url = urlOf('remux')
    const first = await remux(url, true)
    const mode = audio === null ? 'remux' : 'transcode'
    if (first.mode !== mode || first.body === null) throw new Error(`expected a ${mode}, got ${first.mode ?? 'no X-Stream-Mode'}`)
    const check = await probe(first.body, dir)
    const distinct = Array.from({ length: concurrency }, (_, i) => urlOf(`remux-${i}`))
    for (const u of distinct) await remux(u)
    const workerPid = childrenOf(server.child.pid ?? 0)[0] ?? 0
    const single: number[] = []
    const cpu0 = cpuOf(workerPid)
    for (let i = 0; i < runs; i++) single.push((await remux(url)).ms)
    const singleMs = percentile(single, 50)
    const singleCpu = perRemux(cpu0, cpuOf(workerPid), runs)

    // N clients at once: the same video (one ffmpeg, fanned out), then N different videos.
    const scenario = async (urls: readonly string[]): Promise<Record<string, unknown> & { pass: { ratio: boolean, event_loop: boolean } }> => {
      await loopMaxMs(server.base)
      const before = cpuOf(workerPid)
      const started = performance.now()
      const together = await Promise.all(urls.map(async (u) => await remux(u)))
      const wallMs = performance.now() - started
      const loopMs = await loopMaxMs(server.base)
      const each = together.map((r) => r.ms)
      const ratio = Math.max(...each) / singleMs
      const stallMs = Math.max(0, loopMs - LOOP_RESOLUTION_MS)
      return {
        count: urls.length,
        each_ms: each.map(round),
        max_ms: round(Math.max(...each)),
        wall_ms: round(wallMs),
        max_ratio: round(ratio * 100) / 100,
        all_bytes_equal: together.every((r) => r.bytes === first.bytes),
        cpu_ms_per_request: perRemux(before, cpuOf(workerPid), urls.length),
        event_loop: { reported_max_ms: round(loopMs), stall_max_ms: round(stallMs) },
        pass: { ratio: ratio <= MAX_RATIO, event_loop: stallMs <= MAX_STALL_MS }
      }
    }
    const same = await scenario(Array.from({ length: concurrency }, () => url))
    const different = await scenario(distinct)
    const result = {
      clip: { seconds: 10, height: 720, transcode: audio, video_bytes: clip.video.length, audio_bytes: clip.audio.length, remuxed_bytes: first.bytes, ffprobe: check },
      single: { runs_ms: single.map(round), median_ms: round(singleMs), cpu_ms: singleCpu },
      concurrent_same_video: same,
      concurrent_distinct_videos: different,
      machine: { cpus: availableParallelism(), load_avg_1m: round(loadavg()[0] ?? 0) },
      event_loop_sampling_ms: LOOP_RESOLUTION_MS,
      sound: check.streams.join(',') === (audio === null ? 'audio,video' : 'audio')
    }
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    if (!result.sound || !same.pass.ratio || !same.pass.event_loop || !different.pass.event_loop) process.exitCode = 1
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
