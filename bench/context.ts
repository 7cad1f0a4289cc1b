// What every scenario gets: run settings, the raw uWS baseline (measured once
// per body size, in the same run, so ratios survive a noisy shared machine) and
// the local origin (started on first use).
import { load } from './lib.ts'
import { startOrigin } from './origin.ts'
import { startRaw, using } from './servers.ts'
import { toRow } from './metric.ts'
import type { Origin } from './origin.ts'
import type { Metric, Row } from './metric.ts'

export interface BenchContext {
  durationSec: number
  warmupSec: number
  cpus: number
  // bench:gate: 1-worker rows only and fewer samples
  quick: boolean
  baseline: (bodyBytes?: number) => Promise<Row>
  origin: () => Promise<Origin>
  log: (line: string) => void
}

export interface ScenarioResult { rows: Row[], metrics: Metric[], notes?: string[] }

export interface ContextOptions { durationSec: number, warmupSec: number, cpus: number, quick: boolean, log?: (line: string) => void }

export const DEFAULT_BODY_BYTES = 400

export function createContext (opts: ContextOptions): { ctx: BenchContext, baselineRows: () => Row[], close: () => Promise<void> } {
  const baselines = new Map<number, Promise<Row>>()
  const rows: Row[] = []
  let origin: Promise<Origin> | null = null
  const log = opts.log ?? ((line: string) => { process.stderr.write(`${line}\n`) })

  const measure = async (bodyBytes: number): Promise<Row> => await using(async () => await startRaw(bodyBytes), async (raw) => {
    const r = await load(`${raw.base}/`, { connections: 50, durationSec: opts.durationSec, warmupSec: opts.warmupSec, pids: raw.pids })
    const row = toRow(bodyBytes === DEFAULT_BODY_BYTES ? 'raw-uws' : `raw-uws-${bodyBytes}B`, 'raw', r, r)
    rows.push(row)
    return row
  })

  const ctx: BenchContext = {
    ...opts,
    log,
    async baseline (bodyBytes = DEFAULT_BODY_BYTES) {
      let p = baselines.get(bodyBytes)
      if (p === undefined) {
        log(`baseline: raw uWebSockets.js, ${bodyBytes} B body`)
        p = measure(bodyBytes)
        baselines.set(bodyBytes, p)
      }
      return await p
    },
    async origin () {
      origin ??= startOrigin()
      return await origin
    }
  }
  return {
    ctx,
    baselineRows: () => [...rows],
    close: async () => { if (origin !== null) await (await origin.catch(() => null))?.close() }
  }
}
