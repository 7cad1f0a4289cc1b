// The scenario list. Adding a scenario is one entry here plus its function
// (bench/measure-<name>.ts). `gate: true` entries also run, shortened, in
// `npm run bench:gate`; their metric ids are what bench/thresholds.json names.
import { runHot } from './measure-hot.ts'
import { runHotPaths } from './measure-paths.ts'
import { runCachedL1, runCachedRedis } from './measure-cached.ts'
import { runColdExtraction } from './measure-extract.ts'
import { runSingleFlight } from './measure-burst.ts'
import { runLoopStall } from './measure-stall.ts'
import { runRedirect, runProxyThroughput } from './measure-stream.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

export interface Scenario {
  name: string
  description: string
  gate: boolean
  run: (ctx: BenchContext) => Promise<ScenarioResult>
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'hot', description: '/, /api/v2/system/health, /api/v2/auth/status; 50 connections; 1 and N workers', gate: true, run: runHot },
  { name: 'hot-paths', description: 'cached info and the 302 for a cached video, from L1 and from Redis (CACHE_L1_TTL=0), each vs health in the same cluster; 1 worker; 50 connections', gate: true, run: runHotPaths },
  { name: 'cached-l1', description: 'GET /api/v2/videos?url=<local page>, info in each worker\'s L1; 50 connections', gate: true, run: runCachedL1 },
  { name: 'cached-redis', description: 'the same with CACHE_L1_TTL=0: every hit reads Redis', gate: false, run: runCachedRedis },
  { name: 'cold-extraction', description: 'sequential fresh extractions, real yt-dlp, YTDLP_MODE=warm vs spawn', gate: true, run: runColdExtraction },
  { name: 'single-flight', description: '1,000 concurrent requests for one uncached video, with and without Redis', gate: false, run: runSingleFlight },
  { name: 'redirect-302', description: 'GET /api/v2/stream/url?mode=redirect for a cached video: a 302 to the media; 50 connections', gate: false, run: runRedirect },
  { name: 'proxy-throughput', description: 'a 256 MB file through /api/v2/stream/url?mode=proxy vs nginx proxy_pass and straight from its origin: CPU per GB and MB/s, round-robin', gate: true, run: runProxyThroughput },
  { name: 'loop-stall', description: '100 concurrent cold extractions; worst event-loop delay over workers', gate: false, run: runLoopStall }
]
