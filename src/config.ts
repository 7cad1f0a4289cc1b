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

const envNames: Parser<string[]> = (raw, name) => list(raw, name).map((x) => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(x)) throw new Error(`${name} entry "${x}" is not an environment variable name`)
  return x
})

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

const PROXY_SCHEMES = new Set(['http:', 'https:', 'socks4:', 'socks4a:', 'socks5:', 'socks5h:'])

const proxyUrl: Parser<string> = (raw, name) => {
  const v = raw.trim()
  let url: URL
  try { url = new URL(v) } catch { throw new Error(`${name} must be a proxy URL such as http://host:3128 or socks5://host:1080`) }
  if (!PROXY_SCHEMES.has(url.protocol) || url.hostname === '') throw new Error(`${name} must be an http, https, socks4, socks4a, socks5 or socks5h URL with a host`)
  return v
}

export type JsRuntimeSetting = { readonly name: 'auto' | 'none' } | { readonly name: 'deno' | 'node', readonly path: string | null }

export function parseJsRuntime (raw: string, name = 'YTDLP_JS_RUNTIME'): JsRuntimeSetting {
  const v = raw.trim()
  const m = /^(auto|none|deno|node)(?::(.+))?$/i.exec(v)
  const kind = m?.[1]?.toLowerCase()
  if (m === null || kind === undefined) throw new Error(`${name} must be auto, deno, node or none (deno:PATH and node:PATH name the binary), got "${raw}"`)
  if (kind === 'auto' || kind === 'none') {
    if (m[2] !== undefined) throw new Error(`${name}: ${kind} takes no path`)
    return { name: kind }
  }
  return { name: kind === 'deno' ? 'deno' : 'node', path: m[2] ?? null }
}

const jsRuntime: Parser<string> = (raw, name) => { parseJsRuntime(raw, name); return raw.trim() }

// yt-dlp's own --extractor-args syntax: IE_KEY:KEY=V1,V2;KEY2=V (a backslash keeps a comma in a value).
export interface ExtractorArg { readonly ie: string, readonly args: Readonly<Record<string, readonly string[]>>, readonly raw: string }

export function parseExtractorArg (entry: string): ExtractorArg | null {
  const colon = entry.indexOf(':')
  if (colon <= 0) return null
  const ie = entry.slice(0, colon).trim().toLowerCase()
  if (!/^[a-z0-9_-]+$/.test(ie)) return null
  const args: Record<string, string[]> = {}
  for (const part of entry.slice(colon + 1).split(';')) {
    if (part.trim() === '') continue
    const eq = part.indexOf('=')
    const key = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase().replaceAll('-', '_')
    if (!/^[a-z0-9_]+$/.test(key)) return null
    const values = eq === -1 ? '' : part.slice(eq + 1)
    args[key] = values.split(/(?<!\\),/).map((x) => x.replaceAll('\\,', ',').trim())
  }
  return Object.keys(args).length === 0 ? null : { ie, args, raw: entry }
}

const extractorArgs: Parser<ExtractorArg[]> = (raw, name) => raw.trim().split(/\s+/).filter((x) => x !== '').map((item) => {
  const parsed = parseExtractorArg(item)
  if (parsed === null) throw new Error(`${name} entry "${item}" is not IE:KEY=VALUE[,VALUE][;KEY=VALUE]`)
  return parsed
})

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
  CACHE_L1_TTL: entry(int(0), 60, 'seconds an info stays in the in-process cache (the L2 keeps it for its full TTL)'),
  CACHE_L2_MB: entry(int(1, 65536), 64, 'without REDIS_URL: megabytes of infos the primary keeps for all its workers (the host\'s L2, least recently used out first)'),
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
  DOWNLOAD_TASKS_PER_CLIENT: entry(int(0, 1_000_000), 100, 'download tasks one client (API key, or client IP without one) may hold, finished ones included, before 429 TOO_MANY_TASKS; admins are exempt; 0 = no cap'),
  DOWNLOAD_TASKS_MAX: entry(int(0, 10_000_000), 10000, 'download tasks all clients together may hold before 507 TASK_STORE_FULL; 0 = no cap'),
  COOKIES_DIRECTORY: entry(str, 'config/cookies', 'folder of per-platform Netscape cookie files (<platform>_cookies.txt)'),
  API_KEYS: entry(list, [], 'API keys, comma-separated: key[:scope+scope[:limit]] (scope admin; limit = that key\'s requests per window)'),
  API_KEYS_FILE: entry(str, '', 'file of API key entries, one per line; sha256:<hex> may stand for the key'),
  STREAM_MAX_PER_CLIENT: entry(int(0, 100000), 16, 'concurrent streams (proxy, remux, audio transcode, HLS) per API key, or per client IP without one; 0 = no cap'),
  IPV6_PREFIX: entry(int(32, 128), 64, 'IPv6 clients are grouped by this prefix length for rate limits'),
  REQUIRE_API_KEY: entry(bool, false, 'require an API key on public endpoints too'),
  GENERIC_HOSTS: entry(list, [], 'hosts the generic extractor may fetch (off when empty)'),
  YTDLP_PATH: entry(str, '', 'yt-dlp executable; empty = the project\'s current yt-dlp (.tools/yt-dlp, set up by npm start and npm test), else yt-dlp on PATH; a bare name is looked up on PATH'),
  YTDLP_JS_RUNTIME: entry(jsRuntime, 'auto', 'JavaScript runtime yt-dlp solves YouTube\'s challenges with: auto (Deno from the npm package, else deno or a Node >= 22 on PATH), deno, node, none; deno:PATH or node:PATH names the binary'),
  YTDLP_CACHE_DIR: entry(str, '', 'writable folder for yt-dlp\'s cache (player scripts, solver results); empty = a vidgate folder in the system temp folder'),
  YTDLP_PROXY: entry(proxyUrl, '', 'outbound proxy for extraction, the byte proxy and downloads (http, https, socks4, socks4a, socks5, socks5h URL); empty = direct'),
  YOUTUBE_PROXY: entry(proxyUrl, '', 'outbound proxy for YouTube only (overrides YTDLP_PROXY)'),
  BILIBILI_PROXY: entry(proxyUrl, '', 'outbound proxy for BiliBili only (overrides YTDLP_PROXY)'),
  TWITTER_PROXY: entry(proxyUrl, '', 'outbound proxy for Twitter/X only (overrides YTDLP_PROXY)'),
  INSTAGRAM_PROXY: entry(proxyUrl, '', 'outbound proxy for Instagram only (overrides YTDLP_PROXY)'),
  TWITCH_PROXY: entry(proxyUrl, '', 'outbound proxy for Twitch only (overrides YTDLP_PROXY)'),
  YTDLP_EXTRACTOR_ARGS: entry(extractorArgs, [], 'yt-dlp extractor arguments, entries separated by spaces, each IE:KEY=V1,V2;KEY2=V (e.g. youtube:player_client=tv,web youtubepot-bgutilhttp:base_url=http://pot:4416)'),
  YTDLP_MAX_AGE_DAYS: entry(int(1, 3650), 90, 'health reports yt-dlp as degraded when its release is older than this many days'),
  YTDLP_AUTO_UPDATE: entry(oneOf(['off', 'stable', 'nightly'] as const), 'off', 'update yt-dlp with YTDLP_UPDATE_COMMAND at start and every YTDLP_UPDATE_INTERVAL, then reload the warm processes: off, stable, nightly'),
  YTDLP_UPDATE_COMMAND: entry(str, '', 'command (run by /bin/sh, with YTDLP_UPDATE_CHANNEL=stable|nightly) that updates yt-dlp in place; empty = the project\'s own installer (scripts/ensure.js ytdlp)'),
  YTDLP_UPDATE_INTERVAL: entry(int(60, 30 * 86400), 86400, 'seconds between automatic yt-dlp updates'),
  YTDLP_MODE: entry(oneOf(['warm', 'spawn'] as const), 'warm', 'warm: keep yt-dlp loaded in long-lived processes; spawn: one process per call'),
  EXTRACT_THREADS: entry(int(1, 64), 1, 'extraction threads per HTTP worker'),
  EXTRACT_CONCURRENCY: entry(int(1, 64), 4, 'concurrent yt-dlp jobs per extraction thread'),
  EXTRACT_QUEUE: entry(int(0, 100000), 256, 'queued extractions per worker before 503 EXTRACTION_BUSY'),
  EXTRACT_MAX_PER_CLIENT: entry(int(0, 100000), 32, 'queued + running extractions per API key, or per client IP without one, in each worker before 429 (a batch needs room for all its items); 0 = no cap'),
  EXTRACT_TIMEOUT: entry(num(0.1, 3600), 60, 'seconds an extraction may take, its wait in the queue included, before it is killed or leaves the queue (504)'),
  PROXY_SIGNING_SECRET: entry(str, '', 'HMAC secret for proxy links (generated at start when empty; set it when several hosts serve one API)'),
  PROXY_LINK_TTL: entry(int(60, 7 * 86400), 21600, 'seconds a signed proxy link stays valid (the media is re-extracted when its own URL expires)'),
  PUBLIC_URL: entry(str, '', 'this API\'s public base URL for links we hand out (default: from the request\'s Host)'),
  FFMPEG_PATH: entry(str, 'ffmpeg', 'ffmpeg executable (remux of separate video and audio, merges, audio conversion); a bare name is looked up on PATH'),
  FFPROBE_PATH: entry(str, 'ffprobe', 'ffprobe executable (yt-dlp\'s conversions need it beside ffmpeg); a bare name is looked up on PATH'),
  REMUX_MAX_CONCURRENT: entry(int(0, 256), 4, 'remuxes and audio transcodes (ffmpeg) per worker before 503 STREAM_BUSY'),
  REMUX_CACHE_MB: entry(num(0, 16 * 1024 * 1024), 1024, 'megabytes of finished remuxes (merged video + audio) kept on disk by all workers of the host, so that merged streams answer Range and HEAD with an exact length; least recently served out first; 0 = no cache (a merged stream is streamed only and Range is ignored)'),
  REMUX_CACHE_TTL: entry(int(1, 30 * 86400), 3600, 'seconds a cached remux is kept after it was last served'),
  REMUX_CACHE_DIRECTORY: entry(str, '', 'folder of the remux cache; empty = vidgate-remux-cache-<PORT> in the system temp folder'),
  CHILD_ENV_ALLOW: entry(envNames, [], 'more environment variables (names, comma-separated) that yt-dlp, ffmpeg and Deno get; they see only PATH, HOME, USER, LANG, LC_*, TZ, temp folders, XDG_CACHE_HOME, DENO_DIR and TLS CA settings besides, never vidgate\'s settings or secrets')
} as const

type Table = typeof CONFIG_TABLE
export type ConfigKey = keyof Table
type ValueOf<K extends ConfigKey> = Table[K] extends Entry<infer T> ? T : never
export type Settings = { readonly [K in ConfigKey]: ValueOf<K> }

// The request policy's settings (src/http/policy.ts), in their units.
export interface PolicySettings {
  readonly maxUrlBytes: number
  readonly maxBodyBytes: number
  // 0: no slow-request log
  readonly slowRequestMs: number
  readonly accessLog: boolean
  readonly corsOrigins: readonly string[]
  readonly corsCredentials: boolean
  // concurrent streams per API key (or client IP) in one worker: its share of STREAM_MAX_PER_CLIENT; 0 = no cap
  readonly streamsPerClient: number
}

export interface Config extends Settings {
  readonly redisUrl: string | null
  readonly cookiesDirectory: string
  readonly jsRuntime: JsRuntimeSetting
  readonly extractTimeoutMs: number
  readonly shutdownTimeoutMs: number
  readonly downloadTimeoutMs: number
  readonly downloadStallTimeoutMs: number
  readonly cleanupIntervalMs: number
  readonly ytdlpUpdateIntervalMs: number
  readonly policy: PolicySettings
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
    cookiesDirectory: settings.COOKIES_DIRECTORY,
    jsRuntime: parseJsRuntime(settings.YTDLP_JS_RUNTIME),
    extractTimeoutMs: Math.round(settings.EXTRACT_TIMEOUT * 1000),
    shutdownTimeoutMs: Math.round(settings.SHUTDOWN_TIMEOUT * 1000),
    downloadTimeoutMs: settings.DOWNLOAD_TIMEOUT * 1000,
    downloadStallTimeoutMs: settings.DOWNLOAD_STALL_TIMEOUT * 1000,
    cleanupIntervalMs: settings.CLEANUP_INTERVAL * 1000,
    ytdlpUpdateIntervalMs: settings.YTDLP_UPDATE_INTERVAL * 1000,
    policy: Object.freeze({
      maxUrlBytes: settings.MAX_URL_LENGTH,
      maxBodyBytes: settings.MAX_REQUEST_BODY_SIZE,
      slowRequestMs: settings.SLOW_REQUEST_MS,
      accessLog: settings.ACCESS_LOG,
      corsOrigins: settings.CORS_ORIGINS,
      corsCredentials: settings.CORS_ALLOW_CREDENTIALS,
      // without a shared store each worker enforces its share, at least 1
      streamsPerClient: settings.STREAM_MAX_PER_CLIENT === 0 ? 0 : Math.max(1, Math.floor(settings.STREAM_MAX_PER_CLIENT / settings.WORKERS))
    })
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
