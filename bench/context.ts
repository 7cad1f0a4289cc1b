// What every scenario gets: run settings and the local origin (started on
// first use, closed at the end of the run).
import { startOrigin } from './origin.ts'
import type { Origin } from './origin.ts'
import type { CompareOptions } from './compare.ts'
import type { Metric, Row } from './metric.ts'

export interface BenchContext extends CompareOptions {
  cpus: number
  // bench:gate: 1-worker rows only and fewer samples
  quick: boolean
  // the proxy scenario's file (default 256 MB; the scenario's own test uses a small one)
  proxyFileMB?: number
  origin: () => Promise<Origin>
  log: (line: string) => void
}

export interface ScenarioResult { rows: Row[], metrics: Metric[], notes?: string[] }

export interface ContextOptions extends CompareOptions { cpus: number, quick: boolean, proxyFileMB?: number, log?: (line: string) => void }

export function createContext (opts: ContextOptions): { ctx: BenchContext, close: () => Promise<void> } {
  let origin: Promise<Origin> | null = null
  const ctx: BenchContext = {
    ...opts,
    log: opts.log ?? ((line: string) => { process.stderr.write(`${line}\n`) }),
    async origin () {
      origin ??= startOrigin()
      return await origin
    }
  }
  return { ctx, close: async () => { if (origin !== null) await (await origin.catch(() => null))?.close() } }
}
