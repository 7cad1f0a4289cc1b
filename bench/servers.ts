// The processes a scenario runs against: the raw uWebSockets.js baseline, the
// real cluster (compiled entry), and a throwaway redis-server. All on 127.0.0.1.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, pinnedCommand, startNode, processTree } from './lib.ts'
import type { Started } from './lib.ts'
import { startRedis as startRedisServer } from '../src/testing/helpers.ts'
import { PROJECT_YTDLP, resolveYtDlp } from '../src/extract/executables.ts'
import type { StartedRedis } from '../src/testing/helpers.ts'

export const ROOT = join(fileURLToPath(import.meta.url), '../../..')

export interface Server extends Started { port: number, base: string, pids: () => number[] }

// Settings for the server under test: limits high enough never to trigger,
// but the limiters still run on every request. yt-dlp and ffmpeg are what
// ships: an empty value is a setting's default (src/config.ts), so these are
// set empty rather than left out, and a value in the bench's own environment
// (which the server inherits) cannot change what is measured. YTDLP_PATH's
// default is the project's current yt-dlp (.tools/yt-dlp), else yt-dlp on
// PATH; ffmpeg and ffprobe are looked up on PATH.
export const BENCH_ENV: Readonly<Record<string, string>> = {
  RATE_LIMIT_MAX_REQUESTS: '1000000000',
  RATE_LIMIT_EXTRACT_MAX_REQUESTS: '1000000000',
  LOG_LEVEL: 'info',
  YTDLP_PATH: '',
  YTDLP_MODE: '',
  FFMPEG_PATH: '',
  FFPROBE_PATH: ''
}

// The yt-dlp the server under test runs, resolved as the server resolves its
// default (src/extract/executables.ts): the one-shot baseline runs the same file.
export function serverYtDlp (): string {
  const path = resolveYtDlp('')
  if (path === null) throw new Error(`no yt-dlp: neither ${PROJECT_YTDLP} (npm start sets it up) nor yt-dlp on PATH`)
  return path
}

// The server's own yt-dlp against the local origin, which the generic platform may fetch.
export function extractionEnv (originHost: string, extra: Record<string, string> = {}): Record<string, string> {
  return { GENERIC_HOSTS: originHost, ...extra }
}

// The video info endpoint for a page URL.
export function infoPath (pageUrl: string): string {
  return `/api/v2/videos?url=${encodeURIComponent(pageUrl)}`
}

// The worker that answered: request ids are `<pid base36><random>-<counter>`.
export function workerOf (requestId: string): string {
  return requestId.split('-')[0] ?? ''
}

function asServer (s: Started, port: number): Server {
  return { ...s, port, base: `http://127.0.0.1:${port}`, pids: () => processTree(s.child.pid ?? 0) }
}

// Bare uWebSockets.js answering a JSON body of bodyBytes, pinned to core 0.
// GET /<n> answers a JSON body of n bytes for each n of bodyBytes; any other
// path the first. mirrorsFile: responses to copy byte for byte at /m<i> (raw-uws.ts).
export async function startRaw (bodyBytes: number | readonly number[] = 400, mirrorsFile?: string): Promise<Server> {
  const port = await freePort()
  const sizes = typeof bodyBytes === 'number' ? [bodyBytes] : bodyBytes
  const s = await startNode([join(ROOT, 'dist/bench/raw-uws.js'), String(port), sizes.join(','), ...(mirrorsFile === undefined ? [] : [mirrorsFile])], { cpus: '0', ready: /ready/ })
  return asServer(s, port)
}

export interface ClusterOptions {
  workers: number
  env?: Record<string, string>
  // pin a 1-worker cluster to core 0 (like the raw baseline); N workers float
  pin?: boolean
}

export async function startCluster (opts: ClusterOptions): Promise<Server> {
  const port = await freePort()
  const s = await startNode([join(ROOT, 'dist/src/main.js'), `--workers=${opts.workers}`, `--port=${port}`, '--host=127.0.0.1'], {
    cpus: opts.pin === true ? '0' : undefined,
    env: { ...BENCH_ENV, ...opts.env },
    ready: /"msg":"ready"/,
    timeoutMs: 30000
  })
  return asServer(s, port)
}

// redis-server through taskset on every core (children inherit the bench's own pinning otherwise)
export async function startRedis (): Promise<StartedRedis> {
  return await startRedisServer((cmd, args) => pinnedCommand(cmd, args))
}

// Runs `use` with a started resource and always stops it.
export async function using<R extends { stop: () => Promise<void> }, T> (start: () => Promise<R>, use: (r: R) => Promise<T>): Promise<T> {
  const r = await start()
  try { return await use(r) } finally { await r.stop() }
}
