// The scenario list. `hot` scenarios are the endpoints of the original
// project's benchmark; each is compared with the raw uWebSockets.js baseline
// by server CPU time per request.
export interface Scenario {
  name: string
  path: string
  kind: 'hot'
  connections: number
}

export const HOT_SCENARIOS: readonly Scenario[] = [
  { name: 'root', path: '/', kind: 'hot', connections: 50 },
  { name: 'health', path: '/api/v2/system/health', kind: 'hot', connections: 50 },
  { name: 'auth-status', path: '/api/v2/auth/status', kind: 'hot', connections: 50 }
]

// Settings for the server under test: limits high enough never to trigger,
// but the limiter still runs on every request.
export const BENCH_ENV: Readonly<Record<string, string>> = {
  RATE_LIMIT_MAX_REQUESTS: '1000000000',
  LOG_LEVEL: 'info',
  YTDLP_PATH: 'yt-dlp'
}
