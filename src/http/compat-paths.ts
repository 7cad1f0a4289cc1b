// The routes that keep the original YouTuberBilBiliHelper's paths for its
// clients: the rows ../shared/API.md marks (compat) (the /api/v2/auth section as
// a whole) and issue 17's compat paths. /openapi.json tags them 'compat'.
export const COMPAT_ROUTES: ReadonlySet<string> = new Set([
  'get /api/health',
  'get /api/v2/auth/status',
  'get /api/v2/auth/guide',
  'get /api/v2/auth/platforms/:platform',
  'put /api/v2/auth/cookies/:platform',
  'delete /api/v2/auth/cookies/:platform',
  'get /api/info',
  'get /api/formats',
  'get /api/platforms',
  'get /api/v2/stream/direct/:platform/:id',
  'get /api/v2/stream/proxy/:platform/:id',
  'get /api/v2/stream/info/:platform/:id',
  'get /api/v2/stream/url',
  'get /api/v2/stream/auto/:platform/:id',
  'post /api/v2/videos/info',
  'post /api/v2/videos/stream',
  'post /api/v2/stream/batch',
  'get /api/v2/stream/embed/:platform/:id',
  'get /api/embed',
  'get /api/stream',
  'get /api/download',
  'get /api/v1/',
  'get /api/v1',
  'get /api/vrchat/stream',
  'get /api/vrchat/info',
  'get /api/vrchat/download',
  'get /api/vrchat/health',
  'get /api/v2/videos/download/vrchat',
  'get /api/v2/stream/cache/stats'
])
