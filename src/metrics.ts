// Prometheus metrics of one worker. Request counts and latencies are kept in
// plain arrays per route and status (prom-client's labels() hashes the label
// object on every observation, which showed up in profiles of the hot path) and
// handed to prom-client as custom metrics when scraped. /metrics merges every
// worker's registry (collected through the primary) with AggregatorRegistry.
import { AggregatorRegistry, Registry, collectDefaultMetrics } from 'prom-client'

export type RouteObserver = (status: number, seconds: number) => void

export interface RequestMetrics {
  readonly registry: Registry
  forRoute: (route: string, method: string) => RouteObserver
  totals: () => { requests: number, errors: number }
}

export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

interface Series { labels: Record<string, string>, count: number, sum: number, buckets: Float64Array }

interface MetricValue { labels: Record<string, string | number>, value: number, metricName?: string }

function customMetric (name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue[]): unknown {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => {}
  }
}

export function createRequestMetrics (): RequestMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const series: Series[] = []
  let requests = 0
  let errors = 0

  const counterName = 'vidgate_http_requests_total'
  const histName = 'vidgate_http_request_duration_seconds'
  registry.registerMetric(customMetric(counterName, 'HTTP requests by route, method and status', 'counter',
    () => series.map((s) => ({ labels: s.labels, value: s.count }))) as Parameters<Registry['registerMetric']>[0])
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
  }) as Parameters<Registry['registerMetric']>[0])

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
    totals: () => ({ requests, errors })
  }
}

export async function aggregateMetrics (perWorker: unknown[]): Promise<{ text: string, contentType: string }> {
  const valid = perWorker.filter((x): x is object[] => Array.isArray(x))
  const merged = AggregatorRegistry.aggregate(valid)
  return { text: await merged.metrics(), contentType: merged.contentType }
}
