import { jsonRoute, sendRaw } from '../route.ts'
import type { Route } from '../route.ts'
import { serializeRoot, serializeHealth, serializeVersion, serializeStats, serializeAuthStatus } from '../../schemas/system.ts'
import type { ClusterStats, HealthReport, VersionInfo, AuthStatus } from '../../schemas/system.ts'
import type { CookieStore } from '../../cookies.ts'

export interface SystemDeps {
  name: string
  version: string
  description: string
  platforms: () => readonly string[]
  health: () => HealthReport
  // changes identity whenever the primary reports a worker change
  clusterState: () => unknown
  versionInfo: () => VersionInfo
  stats: () => Promise<ClusterStats>
  metrics: () => Promise<{ text: string, contentType: string }>
  cookies: CookieStore
  apiKeysRequired: boolean
  adminRequiresKey: boolean
}

const ENDPOINT_GROUPS: Readonly<Record<string, string>> = {
  health: '/api/v2/system/health',
  videos: '/api/v2/videos/{platform}/{id}',
  formats: '/api/v2/videos/{platform}/{id}/formats',
  playlists: '/api/v2/playlists/{platform}/{id}',
  stream: '/api/v2/stream/{platform}/{id}',
  hls: '/api/v2/stream/hls/{platform}/{id}',
  downloads: '/api/v2/videos/download',
  auth: '/api/v2/auth/status',
  platforms: '/api/platforms',
  metrics: '/metrics'
}

export function systemRoutes (deps: SystemDeps): Route[] {
  const healthDoc = {
    summary: 'Service health: cache backend, yt-dlp, storage and workers',
    tags: ['system'],
    description: 'healthy or degraded (200), unhealthy (503)',
    responses: { 503: { description: 'unhealthy', schema: serializeHealth.schema } }
  }
  const health = (path: string): Route => jsonRoute({
    method: 'get',
    path,
    limit: 'none',
    doc: healthDoc,
    serialize: serializeHealth,
    status: (r) => r.status === 'unhealthy' ? 503 : 200,
    cacheMs: 250,
    cacheTag: deps.clusterState,
    snapshot: () => deps.health()
  })
  return [
    jsonRoute({
      method: 'get',
      path: '/',
      doc: { summary: 'API name, version and where to find everything', tags: ['system'] },
      serialize: serializeRoot,
      cacheMs: 1000,
      snapshot: () => ({
        name: deps.name,
        version: deps.version,
        description: deps.description,
        docs_url: '/docs',
        openapi_url: '/openapi.json',
        health_url: '/api/v2/system/health',
        endpoints: ENDPOINT_GROUPS,
        supported_platforms: [...deps.platforms()],
        timestamp: new Date().toISOString()
      })
    }),
    health('/health'),
    health('/api/v2/system/health'),
    health('/api/health'),
    jsonRoute({
      method: 'get',
      path: '/api/v2/system/version',
      doc: { summary: 'Versions of vidgate, Node.js and yt-dlp', tags: ['system'] },
      serialize: serializeVersion,
      handle: () => deps.versionInfo()
    }),
    jsonRoute({
      method: 'get',
      path: '/api/v2/system/stats',
      doc: { summary: 'Cluster-wide counters: workers, requests, cache, extraction pool, memory', tags: ['system'] },
      serialize: serializeStats,
      handle: async () => await deps.stats()
    }),
    {
      method: 'get',
      path: '/metrics',
      limit: 'none',
      admin: false,
      doc: { summary: 'Prometheus metrics aggregated over all workers', tags: ['system'], responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain; version=0.0.4' } } },
      async handle (req, res, ctx) {
        const { text, contentType } = await deps.metrics()
        sendRaw(req, res, ctx, contentType, text)
      }
    },
    jsonRoute({
      method: 'get',
      path: '/api/v2/auth/status',
      doc: { summary: 'Per-platform cookie state and whether API keys are required', tags: ['auth'] },
      serialize: serializeAuthStatus,
      cacheMs: 500,
      snapshot: (): AuthStatus => {
        const states = deps.cookies.status()
        const auth: AuthStatus['auth_status'] = {}
        for (const s of states) auth[s.platform] = s
        return {
          auth_status: auth,
          summary: {
            total_platforms: states.length,
            authenticated_platforms: states.filter((s) => s.authenticated).length,
            platforms_with_cookies: states.filter((s) => s.cookies_configured).length
          },
          api_keys_required: deps.apiKeysRequired,
          admin_requires_key: deps.adminRequiresKey,
          timestamp: new Date().toISOString()
        }
      }
    })
  ]
}

