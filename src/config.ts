// The env var table: every setting vidgate reads, its parser, default and unit.
// loadConfig(env) validates everything at once and returns frozen data; it never
// reads files and never falls back silently on a value that does not parse.
import { availableParallelism } from 'node:os'
import { isIP } from 'node:net'

type Parser<T> = (raw: string, name: string) => T

export class ConfigError extends Error {
  readonly problems: string[]
  constructor (problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

function int (min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> {
  return (raw, name) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`${name} must be a whole number, got "${raw}"`)
    const value = Number(raw.trim())
    if (value < min || value > max) throw new Error(`${name} must be between ${min} and ${max}, got ${value}`)
    return value
  }
}

function num (min: number, max = Number.MAX_VALUE): Parser<number> {
  return (raw, name) => {
    const value = Number(raw.trim())
    if (raw.trim() === '' || !Number.isFinite(value)) throw new Error(`${name} must be a number, got "${raw}"`)
    if (value < min || value > max) throw new Error(`${name} must be between ${min} and ${max}, got ${value}`)
    return value
  }
}

const bool: Parser<boolean> = (raw, name) => {
  const v = raw.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(v)) return true
  if (['0', 'false', 'no', 'off'].includes(v)) return false
  throw new Error(`${name} must be true or false, got "${raw}"`)
}

const str: Parser<string> = (raw) => raw.trim()

function oneOf<T extends string> (values: readonly T[]): Parser<T> {
  return (raw, name) => {
    const v = raw.trim().toLowerCase()
    const found = values.find((x) => x === v)
    if (found === undefined) throw new Error(`${name} must be one of ${values.join(', ')}, got "${raw}"`)
    return found
  }
}

const list: Parser<string[]> = (raw) => {
  const trimmed = raw.trim()
  // The original accepted a JSON list for CORS_ORIGINS; keep that working.
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed)
      if (Array.isArray(parsed)) return parsed.map((x) => String(x).trim()).filter((x) => x !== '')
    } catch {}
  }
  return trimmed.split(',').map((x) => x.trim()).filter((x) => x !== '')
}

const redisUrl: Parser<string> = (raw, name) => {
  const v = raw.trim()
  let url: URL
  try { url = new URL(v) } catch { throw new Error(`${name} must be a redis:// or rediss:// URL`) }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`${name} must be a redis:// or rediss:// URL`)
  return v
}

const proxies: Parser<string[]> = (raw, name) => {
  const items = list(raw, name)
  for (const item of items) {
    const [addr, bits, extra] = item.split('/')
    const family = isIP(addr ?? '')
    const maxBits = family === 6 ? 128 : 32
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits)
    if (family === 0 || !okBits || extra !== undefined) throw new Error(`${name} entry "${item}" is not an IP address or CIDR range`)
  }
  return items
}

interface Entry<T> { parse: Parser<T>, default: T | (() => T), description: string }

function entry<T> (parse: Parser<T>, def: NoInfer<T> | (() => NoInfer<T>), description: string): Entry<T> {
  return { parse, default: def, description }
}

// Each key is the env name; `--flag=value` on the command line maps to the upper-cased name.
export const CONFIG_TABLE = {
  PORT: entry(int(0, 65535), 8000, 'TCP port every HTTP worker listens on'),
  HOST: entry(str, '0.0.0.0', 'address to listen on'),
  WORKERS: entry(int(1, 256), () => availableParallelism(), 'HTTP worker processes (default: one per CPU, at most CPU_LIMIT)'),
  CPU_LIMIT: entry(int(0, 1024), 0, 'CPUs this instance may use (a container or VM limit); caps the default WORKERS; 0 = all'),
  MEMORY_LIMIT_MB: entry(int(0, 1048576), 0, 'memory budget of the whole instance in MB; each worker\'s V8 heap is capped at its share; 0 = no cap'),
  LOG_LEVEL: entry(oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), 'info', 'pino log level'),
  ACCESS_LOG: entry(bool, false, 'log one line per request (off: only errors and slow requests)'),
  SLOW_REQUEST_MS: entry(int(0), 5000, 'log requests slower than this many milliseconds'),
  EVENT_LOOP_RESOLUTION_MS: entry(int(1, 1000), 10, 'sampling interval of the event-loop delay monitor in /api/v2/system/stats; a stall reads within this much of its length'),
  SHUTDOWN_TIMEOUT: entry(num(0.1, 3600), 10, 'seconds to drain in-flight requests on SIGTERM before killing workers'),
  REDIS_URL: entry(redisUrl, '', 'Redis/Dragonfly URL shared by all workers and hosts; empty = embedded in-memory state'),
  REDIS_HOST: entry(str, '', 'Redis host (used to build REDIS_URL when REDIS_URL is not set)'),
  REDIS_PORT: entry(int(1, 65535), 6379, 'Redis port (with REDIS_HOST)'),
  REDIS_DB: entry(int(0, 255), 0, 'Redis database number (with REDIS_HOST)'),
  REDIS_PASSWORD: entry(str, '', 'Redis password (with REDIS_HOST)'),
  RATE_LIMIT_ENABLED: entry(bool, true, 'per-client rate limiting'),
  RATE_LIMIT_MAX_REQUESTS: entry(int(1), 100, 'requests allowed per client per window'),
  RATE_LIMIT_WINDOW: entry(int(1, 86400), 60, 'rate limit window in seconds'),
  RATE_LIMIT_EXTRACT_MAX_REQUESTS: entry(int(1), 60, 'requests per client per window on endpoints that may run an extraction'),
  TRUSTED_PROXIES: entry(proxies, [], 'IPs/CIDRs whose X-Forwarded-For is believed'),
  CORS_ORIGINS: entry(list, ['*'], 'allowed CORS origins, comma-separated; * = any'),
  CORS_ALLOW_CREDENTIALS: entry(bool, false, 'send Access-Control-Allow-Credentials (needs explicit origins)'),
  MAX_URL_LENGTH: entry(int(64, 65536), 2048, 'longest accepted request URL in bytes'),
  MAX_REQUEST_BODY_SIZE: entry(int(64, 64 * 1024 * 1024), 1048576, 'largest accepted request body in bytes'),
  CACHE_MAX_AGE: entry(int(0), 1800, 'Cache-Control max-age (seconds) on redirects'),
  CACHE_L1_SIZE: entry(int(0, 1000000), 1000, 'videos kept in each worker\'s in-process cache'),
  CACHE_L1_TTL: entry(int(0), 60, 'seconds an info stays in the in-process cache (Redis keeps it for its full TTL)'),
  BATCH_MAX: entry(int(1, 1000), 20, 'items accepted by one batch request'),
  CACHE_TTL: entry(int(1), 3600, 'info cache TTL in seconds for platforms without their own'),
  YOUTUBE_CACHE_TTL: entry(int(1), 1800, 'YouTube info cache TTL in seconds'),
  BILIBILI_CACHE_TTL: entry(int(1), 3600, 'BiliBili info cache TTL in seconds'),
  TWITCH_CACHE_TTL: entry(int(1), 1800, 'Twitch info cache TTL in seconds'),
  INSTAGRAM_CACHE_TTL: entry(int(1), 900, 'Instagram info cache TTL in seconds'),
  TWITTER_CACHE_TTL: entry(int(1), 900, 'Twitter/X info cache TTL in seconds'),
  DOWNLOAD_DIRECTORY: entry(str, 'downloads', 'folder for server-side downloads'),
  MAX_STORAGE_GB: entry(num(0.001), 10, 'download storage quota in GB'),
  TEMP_FILE_RETENTION_HOURS: entry(num(0.001), 24, 'hours a downloaded file is kept'),
  CLEANUP_INTERVAL: entry(int(1), 3600, 'seconds between storage cleanups'),
  MAX_CONCURRENT_DOWNLOADS: entry(int(1, 256), 5, 'download tasks run at once per host'),
  DOWNLOAD_TIMEOUT: entry(int(10, 7 * 86400), 21600, 'seconds one download task may take before it is killed'),
  DOWNLOAD_STALL_TIMEOUT: entry(int(5, 86400), 120, 'seconds without download progress before yt-dlp is killed'),
  BATCH_DOWNLOAD_MAX: entry(int(1, 1000), 10, 'items accepted by one batch-download request'),
  COOKIES_DIRECTORY: entry(str, 'config/cookies', 'folder of per-platform Netscape cookie files (<platform>_cookies.txt)'),
  API_KEYS: entry(list, [], 'API keys, comma-separated: key[:scope+scope[:limit]] (scope admin; limit = that key\'s requests per window)'),
  API_KEYS_FILE: entry(str, '', 'file of API key entries, one per line; sha256:<hex> may stand for the key'),
  STREAM_MAX_PER_CLIENT: entry(int(0, 100000), 16, 'concurrent streams (proxy, remux, HLS) per API key, or per client IP without one; 0 = no cap'),
  IPV6_PREFIX: entry(int(32, 128), 64, 'IPv6 clients are grouped by this prefix length for rate limits'),
  REQUIRE_API_KEY: entry(bool, false, 'require an API key on public endpoints too'),
  GENERIC_HOSTS: entry(list, [], 'hosts the generic extractor may fetch (off when empty)'),
  YTDLP_PATH: entry(str, 'yt-dlp', 'yt-dlp executable'),
  YTDLP_MODE: entry(oneOf(['warm', 'spawn'] as const), 'warm', 'warm: keep yt-dlp loaded in long-lived processes; spawn: one process per call'),
  EXTRACT_THREADS: entry(int(1, 64), 1, 'extraction threads per HTTP worker'),
  EXTRACT_CONCURRENCY: entry(int(1, 64), 4, 'concurrent yt-dlp jobs per extraction thread'),
  EXTRACT_QUEUE: entry(int(0, 100000), 256, 'queued extractions per worker before 503 EXTRACTION_BUSY'),
  EXTRACT_TIMEOUT: entry(num(0.1, 3600), 60, 'seconds before an extraction is killed (504)'),
  PROXY_SIGNING_SECRET: entry(str, '', 'HMAC secret for proxy links (generated at start when empty; set it when several hosts serve one API)'),
  PROXY_LINK_TTL: entry(int(60, 7 * 86400), 21600, 'seconds a signed proxy link stays valid (the media is re-extracted when its own URL expires)'),
  PUBLIC_URL: entry(str, '', 'this API\'s public base URL for links we hand out (default: from the request\'s Host)'),
  FFMPEG_PATH: entry(str, 'ffmpeg', 'ffmpeg executable (remux of separate video and audio, merges)'),
  REMUX_MAX_CONCURRENT: entry(int(0, 256), 4, 'remuxes (ffmpeg) per worker before 503 STREAM_BUSY')
} as const

type Table = typeof CONFIG_TABLE
export type ConfigKey = keyof Table
type ValueOf<K extends ConfigKey> = Table[K] extends Entry<infer T> ? T : never
export type Settings = { readonly [K in ConfigKey]: ValueOf<K> }

export interface Config extends Settings {
  readonly redisUrl: string | null
  readonly cookiesDirectory: string
}

export function isConfigKey (name: string): name is ConfigKey {
  return Object.hasOwn(CONFIG_TABLE, name)
}

// `--workers=4 --port 9000` → { WORKERS: '4', PORT: '9000' }; unknown flags are problems.
export function parseArgs (argv: readonly string[]): { overrides: Record<string, string>, problems: string[] } {
  const overrides: Record<string, string> = {}
  const problems: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg)
    if (m === null) { problems.push(`unexpected argument "${arg}"`); continue }
    const name = (m[1] ?? '').replaceAll('-', '_').toUpperCase()
    let value = m[2]
    if (value === undefined) {
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('--')) { problems.push(`--${m[1]} needs a value`); continue }
      value = next
      i++
    }
    if (!isConfigKey(name)) { problems.push(`unknown option --${m[1]}`); continue }
    overrides[name] = value
  }
  return { overrides, problems }
}

export function loadConfig (env: Readonly<Record<string, string | undefined>>, argv: readonly string[] = []): Config {
  const { overrides, problems } = parseArgs(argv)
  const values: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(CONFIG_TABLE) as Array<[ConfigKey, Entry<unknown>]>) {
    const raw = overrides[name] ?? env[name]
    if (raw === undefined || raw.trim() === '') {
      values[name] = typeof spec.default === 'function' ? (spec.default as () => unknown)() : spec.default
      continue
    }
    try {
      values[name] = spec.parse(raw, name)
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err))
    }
  }
  if (values.CORS_ALLOW_CREDENTIALS === true && Array.isArray(values.CORS_ORIGINS) && values.CORS_ORIGINS.includes('*')) {
    problems.push('CORS_ALLOW_CREDENTIALS needs explicit CORS_ORIGINS, not *')
  }
  if (values.REQUIRE_API_KEY === true && Array.isArray(values.API_KEYS) && values.API_KEYS.length === 0 && values.API_KEYS_FILE === '') {
    problems.push('REQUIRE_API_KEY needs API_KEYS or API_KEYS_FILE')
  }
  if (problems.length > 0) throw new ConfigError(problems)
  if (values.CPU_LIMIT !== 0 && typeof values.CPU_LIMIT === 'number' && overrides.WORKERS === undefined && (env.WORKERS ?? '').trim() === '') {
    values.WORKERS = Math.max(1, Math.min(Number(values.WORKERS), values.CPU_LIMIT))
  }
  const settings = values as unknown as Settings
  return Object.freeze({
    ...settings,
    redisUrl: deriveRedisUrl(settings),
    cookiesDirectory: settings.COOKIES_DIRECTORY
  })
}

function deriveRedisUrl (s: Settings): string | null {
  if (s.REDIS_URL !== '') return s.REDIS_URL
  if (s.REDIS_HOST === '') return null
  const auth = s.REDIS_PASSWORD === '' ? '' : `:${encodeURIComponent(s.REDIS_PASSWORD)}@`
  return `redis://${auth}${s.REDIS_HOST}:${s.REDIS_PORT}/${s.REDIS_DB}`
}

// The operator documentation (README table) is generated from the same table.
export function describeConfig (): Array<{ name: ConfigKey, default: string, description: string }> {
  return (Object.entries(CONFIG_TABLE) as Array<[ConfigKey, Entry<unknown>]>).map(([name, spec]) => ({
    name,
    default: typeof spec.default === 'function' ? '(number of CPUs)' : Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default),
    description: spec.description
  }))
}
