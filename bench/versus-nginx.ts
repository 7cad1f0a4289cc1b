// The byte proxy against nginx proxy_pass: round-robin downloads of one file
// from each way of serving it (straight from the origin, through nginx,
// through vidgate), with each server's CPU time per download. Load from other
// processes on a shared machine comes and goes; interleaving the ways and
// comparing within a round lets it hit both sides of a ratio alike.
import { fetchBody, MB, percentile, threadCpuSeconds } from './lib.ts'

export interface Way { name: string, url: string, pids: () => number[] }

export interface WayRuns { mbps: number[], cpuSecPerGB: number[] }

// One warm-up download per way, then `rounds` rounds of one download each.
export async function roundRobin (ways: readonly Way[], rounds: number, bytes: number): Promise<Map<string, WayRuns>> {
  const out = new Map<string, WayRuns>(ways.map((w) => [w.name, { mbps: [], cpuSecPerGB: [] }]))
  const once = async (w: Way): Promise<{ sec: number, cpuSec: number }> => {
    const before = threadCpuSeconds(w.pids())
    const r = await fetchBody(w.url)
    const cpuSec = threadCpuSeconds(w.pids()) - before
    if (r.status !== 200 || r.bytes !== bytes) throw new Error(`${w.name}: ${r.status}, ${r.bytes} bytes of ${bytes}`)
    return { sec: r.sec, cpuSec }
  }
  for (const w of ways) await once(w)
  for (let i = 0; i < rounds; i++) {
    for (const w of ways) {
      const r = await once(w)
      const runs = out.get(w.name)
      runs?.mbps.push(bytes / MB / r.sec)
      runs?.cpuSecPerGB.push(r.cpuSec * (1024 * MB) / bytes)
    }
  }
  return out
}

export const median = (xs: readonly number[]): number => percentile(xs, 50)

// (max - min) ÷ median: how far apart the rounds are
export const spread = (xs: readonly number[]): number => xs.length === 0 ? 0 : (Math.max(...xs) - Math.min(...xs)) / median(xs)

// Per round, a's value ÷ b's.
export const perRound = (a: readonly number[], b: readonly number[]): number[] => a.map((x, i) => x / (b[i] ?? Number.NaN))

export interface Versus {
  // vidgate ÷ nginx, per round: CPU seconds per GB, and MB/s
  cpuRatios: number[]
  rateRatios: number[]
  cpuRatio: number
  rateRatio: number
}

export function versus (ours: WayRuns, nginx: WayRuns): Versus {
  const cpuRatios = perRound(ours.cpuSecPerGB, nginx.cpuSecPerGB)
  const rateRatios = perRound(ours.mbps, nginx.mbps)
  return { cpuRatios, rateRatios, cpuRatio: median(cpuRatios), rateRatio: median(rateRatios) }
}
