import type { ClusterStats, WorkerStats } from '../schemas/system.ts'
import type { ClusterState } from './link.ts'

function isWorkerStats (x: unknown): x is WorkerStats {
  return typeof x === 'object' && x !== null && 'pid' in x && 'requests' in x
}

export function buildClusterStats (collected: unknown[], state: ClusterState, backend: 'memory' | 'redis'): ClusterStats {
  const per = collected.filter(isWorkerStats).sort((a, b) => a.pid - b.pid)
  const sum = (pick: (w: WorkerStats) => number): number => per.reduce((n, w) => n + pick(w), 0)
  const hits = sum((w) => w.cache_hits)
  const misses = sum((w) => w.cache_misses)
  return {
    workers: { alive: state.alive, expected: state.expected, restarts: state.restarts },
    requests: sum((w) => w.requests),
    errors: sum((w) => w.errors),
    cache: { backend, hits, misses, hit_ratio: hits + misses === 0 ? null : hits / (hits + misses) },
    extraction: { queued: sum((w) => w.extraction_queued), active: sum((w) => w.extraction_active), completed: sum((w) => w.extractions) },
    memory: { rss_bytes: sum((w) => w.rss_bytes), heap_used_bytes: sum((w) => w.heap_used_bytes) },
    uptime_seconds: Math.max(0, ...per.map((w) => w.uptime_seconds)),
    per_worker: per,
    timestamp: new Date().toISOString()
  }
}
