// Event-loop delay: how late the monitor's timer ran. monitorEventLoopDelay's
// histogram holds the intervals between its timer's runs, which include the
// sampling resolution itself (an idle loop reads ~10 ms at resolution 10): the
// delay is what exceeds it, as fastify's under-pressure reports it. A stall of
// L ms then reads between L − resolution and L (it may begin anywhere in an
// interval), so a fine resolution measures stalls closely.
import { monitorEventLoopDelay } from 'node:perf_hooks'

export interface LoopDelay { maxMs: () => number, p99Ms: () => number, reset: () => void, stop: () => void }

export function watchLoopDelay (resolutionMs = 10): LoopDelay {
  const h = monitorEventLoopDelay({ resolution: resolutionMs })
  h.enable()
  const beyond = (ns: number): number => h.count === 0 ? 0 : Math.max(0, ns / 1e6 - resolutionMs)
  return {
    maxMs: () => beyond(h.max),
    p99Ms: () => beyond(h.percentile(99)),
    reset: () => h.reset(),
    stop: () => h.disable()
  }
}
