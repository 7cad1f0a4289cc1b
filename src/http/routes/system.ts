import { jsonRoute, sendRaw } from '../route.ts'
import type { Route } from '../route.ts'
import { AppError } from '../../errors.ts'
import { errorSchema } from '../../schemas/error.ts'
import { serializeRoot, serializeHealth, serializeVersion, serializeStats, serializeAuthStatus, serializeYtDlpReload } from '../../schemas/system.ts'
import type { ClusterStats, HealthReport, VersionInfo, AuthStatus, YtDlpReloadAnswer } from '../../schemas/system.ts'
import type { CookieStore } from '../../extract/cookies.ts'

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
  // every worker reloads its warm yt-dlp processes; problems: empty when all of them did
  reloadYtDlp: () => Promise<{ answer: YtDlpReloadAnswer, problems: string[] }>
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
      method: 'post',
      path: '/api/v2/system/ytdlp/reload',
      admin: true,
      doc: {
        summary: 'Replace every worker\'s warm yt-dlp processes one at a time, after yt-dlp was upgraded in place (admin)',
        tags: ['system', 'admin'],
        description: 'every worker reloaded: each worker\'s pid, processes replaced and the yt-dlp version it now uses',
        responses: { 503: { description: 'SERVICE_UNAVAILABLE: the new yt-dlp did not start in some worker, or a worker did not answer (detail says which and why); the old warm processes keep serving there', schema: errorSchema } }
      },
      serialize: serializeYtDlpReload,
      handle: async () => {
        const { answer, problems } = await deps.reloadYtDlp()
        if (problems.length > 0) {
          throw new AppError('SERVICE_UNAVAILABLE', 'yt-dlp could not be reloaded in every worker; where the new one did not start, the old warm processes keep serving', { detail: problems.join('; ') })
        }
        return answer
      }
    }),
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
