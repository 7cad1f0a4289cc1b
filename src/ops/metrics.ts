// Prometheus metrics of one worker. Request counts and latencies are kept in
// plain arrays per route and status (prom-client's labels() hashes the label
// object on every observation, which showed up in profiles of the hot path) and
// handed to prom-client as custom metrics when scraped; so are proxied bytes
// (a number added per chunk) and the caches' own counters (read at scrape).
// Extractions take milliseconds to seconds each, so they use prom-client's
// Counter and Histogram directly. /metrics merges every worker's registry
// (collected through the primary) with AggregatorRegistry, summing each series.
import { AggregatorRegistry, Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export type RouteObserver = (status: number, seconds: number) => void

// ok, or the error code the extraction failed with
export type ExtractionObserver = (platform: string, kind: ExtractionKind, outcome: string, seconds: number) => void
export type ExtractionKind = 'video' | 'playlist'

// Lookups of one cache by layer, counted by the cache itself (extract/cache.ts).
// l2: the shared layer behind this worker's, if any (Redis, or the primary without it)
export interface CacheLayerCounts { l1Hits: number, l1Misses: number, l2Hits: number, l2Misses: number, l2: 'redis' | 'primary' | null }

export interface MetricsOptions {
  // warm yt-dlp processes restarted in this process so far (monotonic); 0 until set
  warmRestarts?: () => number
}

export interface RequestMetrics {
  readonly registry: Registry
  forRoute: (route: string, method: string) => RouteObserver
  totals: () => { requests: number, errors: number }
  // one real extraction (not a cache hit) that ended
  extraction: ExtractionObserver
  // a counter of bytes sent to clients by the byte proxy for one platform; the same function per platform
  proxyBytes: (platform: string) => (bytes: number) => void
  // counts this cache's lookups by layer, read at each scrape
  watchCache: (name: string, counts: () => CacheLayerCounts) => void
  // replaces the warm-restart reader (for a pool created after the metrics)
  setWarmRestarts: (read: () => number) => void
}

export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const
// an L1-fast warm extraction (a few ms) up to EXTRACT_TIMEOUT's range (a minute)
export const EXTRACTION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60] as const

interface Series { labels: Record<string, string>, count: number, sum: number, buckets: Float64Array }

interface MetricValue { labels: Record<string, string | number>, value: number, metricName?: string }

type Registrable = Parameters<Registry['registerMetric']>[0]

function customMetric (name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue[]): Registrable {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => {}
  } as unknown as Registrable
}

export function createRequestMetrics (opts: MetricsOptions = {}): RequestMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const series: Series[] = []
  let requests = 0
  let errors = 0

  const counterName = 'vidgate_http_requests_total'
  const histName = 'vidgate_http_request_duration_seconds'
  registry.registerMetric(customMetric(counterName, 'HTTP requests by route, method and status', 'counter',
    () => series.map((s) => ({ labels: s.labels, value: s.count }))))
  registry.registerMetric(customMetric(histName, 'HTTP request latency by route, method and status', 'histogram', () => {
    const out: MetricValue[] = []
    for (const s of series) {
      let cumulative = 0
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += s.buckets[i] ?? 0
        out.push({ labels: { ...s.labels, le }, value: cumulative, metricName: `${histName}_bucket` })
      })
      out.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${histName}_bucket` })
      out.push({ labels: s.labels, value: s.sum, metricName: `${histName}_sum` })
      out.push({ labels: s.labels, value: s.count, metricName: `${histName}_count` })
    }
    return out
  }))

  const extractions = new Counter({
    name: 'vidgate_extractions_total',
    help: 'Extractions run (cache hits excluded) by platform, kind (video, playlist) and outcome (ok or the error code)',
    labelNames: ['platform', 'kind', 'outcome'] as const,
    registers: [registry]
  })
  const extractionSeconds = new Histogram({
    name: 'vidgate_extraction_duration_seconds',
    help: 'Extraction latency (queue wait included) by platform and kind; refusals of a full queue are not observed',
    labelNames: ['platform', 'kind'] as const,
    buckets: [...EXTRACTION_BUCKETS],
    registers: [registry]
  })

  const proxied = new Map<string, { labels: { platform: string }, bytes: number, add: (bytes: number) => void }>()
  registry.registerMetric(customMetric('vidgate_proxy_bytes_total', 'Media bytes the byte proxy sent to clients, by platform', 'counter',
    () => [...proxied.values()].map((p) => ({ labels: p.labels, value: p.bytes }))))

  const caches: Array<{ name: string, counts: () => CacheLayerCounts }> = []
  registry.registerMetric(customMetric('vidgate_cache_requests_total', 'Cache lookups by cache, layer (l1: this worker, l2: Redis, or the primary without it) and result (hit, miss)', 'counter', () => {
    const out: MetricValue[] = []
    for (const { name, counts } of caches) {
      const c = counts()
      out.push({ labels: { cache: name, layer: 'l1', result: 'hit' }, value: c.l1Hits })
      out.push({ labels: { cache: name, layer: 'l1', result: 'miss' }, value: c.l1Misses })
      if (c.l2 !== null) {
        out.push({ labels: { cache: name, layer: 'l2', result: 'hit' }, value: c.l2Hits })
        out.push({ labels: { cache: name, layer: 'l2', result: 'miss' }, value: c.l2Misses })
      }
    }
    return out
  }))

  let warmRestarts = opts.warmRestarts ?? (() => 0)
  registry.registerMetric(customMetric('vidgate_ytdlp_warm_restarts_total', 'Warm yt-dlp processes restarted (after a crash, a hang or a reload)', 'counter',
    () => [{ labels: {}, value: warmRestarts() }]))

  const observers = new Map<string, RouteObserver>()
  return {
    registry,
    forRoute (route, method) {
      const key = `${method} ${route}`
      const existing = observers.get(key)
      if (existing !== undefined) return existing
      const byStatus = new Map<number, Series>()
      const observe: RouteObserver = (status, seconds) => {
        requests++
        if (status >= 500) errors++
        let s = byStatus.get(status)
        if (s === undefined) {
          s = { labels: { route, method, status: String(status) }, count: 0, sum: 0, buckets: new Float64Array(LATENCY_BUCKETS.length) }
          byStatus.set(status, s)
          series.push(s)
        }
        s.count++
        s.sum += seconds
        for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
          if (seconds <= (LATENCY_BUCKETS[i] ?? Infinity)) { s.buckets[i] = (s.buckets[i] ?? 0) + 1; break }
        }
      }
      observers.set(key, observe)
      return observe
    },
    totals: () => ({ requests, errors }),
    extraction (platform, kind, outcome, seconds) {
      extractions.labels(platform, kind, outcome).inc()
      if (outcome !== 'EXTRACTION_BUSY') extractionSeconds.labels(platform, kind).observe(seconds)
    },
    proxyBytes (platform) {
      const existing = proxied.get(platform)
      if (existing !== undefined) return existing.add
      const entry = { labels: { platform }, bytes: 0, add: (bytes: number): void => { entry.bytes += bytes } }
      proxied.set(platform, entry)
      return entry.add
    },
    watchCache (name, counts) { caches.push({ name, counts }) },
    setWarmRestarts (read) { warmRestarts = read }
  }
}

export async function aggregateMetrics (perWorker: unknown[]): Promise<{ text: string, contentType: string }> {
  const valid = perWorker.filter((x): x is object[] => Array.isArray(x))
  const merged = AggregatorRegistry.aggregate(valid)
  return { text: await merged.metrics(), contentType: merged.contentType }
}
