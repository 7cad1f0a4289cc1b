// The extraction use case: target → L1/L2 cache → single-flight → yt-dlp in the
// pool → cache. Media URLs expire, so a cached info never outlives its URLs.
import { AppError, isErrorCode } from '../errors.ts'
import { cacheKey } from './cache.ts'
import type { CacheEntry, CacheL2, InfoCache } from './cache.ts'
import type { ExtractionPool } from './pool.ts'
import { ClientCapError, INTERNAL } from './fair-queue.ts'
import type { Requester } from './fair-queue.ts'
import type { SingleFlight } from './single-flight.ts'
import type { Target } from '../platforms/index.ts'
import type { ExtractionKind, ExtractionObserver } from '../ops/metrics.ts'
import type { MediaInfo, PlaylistInfo } from '../../workers/protocol.ts'

export const EXPIRY_MARGIN_SEC = 120
export const ERROR_TTL_SEC = 15
// Deterministic failures are shared with waiting processes; timeouts are not.
const SHARED_ERRORS = new Set(['VIDEO_NOT_FOUND', 'LOGIN_REQUIRED', 'AGE_RESTRICTED', 'GEO_BLOCKED', 'DRM_PROTECTED', 'FORMAT_NOT_AVAILABLE', 'LIVE_NOT_STARTED', 'UNSUPPORTED_URL', 'EXTRACTION_FAILED', 'EGRESS_REFUSED'])
// A request that shared another client's extraction (single-flight) and saw it refused
// for that client's cap asks again, with an extraction of its own if need be.
const CAP_RETRIES = 2

// entry: the cache entry the info came from or went into (null when it was not
// cached), for what callers derive from it once (CacheEntry.memo)
export interface Extraction { info: MediaInfo, cached: boolean, key: string, entry: CacheEntry<MediaInfo> | null }

export interface ExtractorDeps {
  pool: ExtractionPool
  cache: InfoCache<MediaInfo>
  playlists: InfoCache<PlaylistInfo>
  flights: SingleFlight
  // where deterministic failures are shared with the processes waiting on one (the caches' L2)
  shared: CacheL2 | null
  cookieFile: (platform: string) => string | null
  ttlSec: (platform: string) => number
  now?: () => number
  // each real extraction (cache hits and waits on another process's excluded) as it ends
  observe?: ExtractionObserver
  // stored beside a new info in the cache, in the form a hit is answered with (its response body)
  infoParts?: (target: Target, info: MediaInfo) => ReadonlyArray<readonly [string, Buffer]>
}

export interface Extractor {
  // client: who asks (their extractions wait their turn and count against their cap); default: the server itself
  info: (target: Target, opts?: { fresh?: boolean, client?: Requester }) => Promise<Extraction>
  // an L1 hit, or null; never asks L2 nor extracts
  peek: (target: Target) => CacheEntry<MediaInfo> | null
  // the cached info without extracting: an L1 hit at once, an L2 read as a promise (null: not cached), null without L2
  find: (target: Target) => CacheEntry<MediaInfo> | Promise<CacheEntry<MediaInfo> | null> | null
  playlist: (target: Target, limit: number, client?: Requester) => Promise<{ playlist: PlaylistInfo, cached: boolean }>
  infoKey: (target: Target) => string
  // 429 unless `count` more extractions of this client fit under its cap (a batch asks for all its items first)
  admit: (client: Requester, count: number) => void
}

// Runs `attempt` again when it failed only because another client was over its cap.
async function ownTurn<T> (client: Requester, attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt()
    } catch (err) {
      if (!(err instanceof ClientCapError) || err.client === client.id || i >= CAP_RETRIES) throw err
    }
  }
}

export function ttlFor (info: { expires_at: string | null }, configuredSec: number, nowMs: number): number {
  if (info.expires_at === null) return configuredSec
  const left = Math.floor((Date.parse(info.expires_at) - nowMs) / 1000) - EXPIRY_MARGIN_SEC
  return Math.min(configuredSec, left)
}

export function createExtractor (deps: ExtractorDeps): Extractor {
  const now = deps.now ?? Date.now
  // made once per target object (the routes keep the targets of the requests they have seen)
  const infoKeys = new WeakMap<Target, string>()
  const infoKey = (t: Target): string => {
    let key = infoKeys.get(t)
    if (key === undefined) { key = cacheKey('info', t.platform.name, t.id); infoKeys.set(t, key) }
    return key
  }
  const errorKey = (key: string): string => `${key}:error`

  async function sharedError (key: string): Promise<never | null> {
    const stored = await deps.shared?.get(errorKey(key)) ?? null
    if (stored === null) return null
    let parsed: unknown
    try { parsed = JSON.parse(stored.toString()) } catch { return null }
    if (typeof parsed === 'object' && parsed !== null && 'code' in parsed && isErrorCode(parsed.code)) {
      const detail = 'detail' in parsed && typeof parsed.detail === 'string' ? parsed.detail : null
      throw new AppError(parsed.code, undefined, { detail })
    }
    return null
  }

  // Times one extraction and reports its outcome: ok, or the code it failed with.
  async function measured<T> (target: Target, kind: ExtractionKind, run: () => Promise<T>): Promise<T> {
    const observe = deps.observe
    if (observe === undefined) return await run()
    const started = performance.now()
    try {
      const value = await run()
      observe(target.platform.name, kind, 'ok', (performance.now() - started) / 1000)
      return value
    } catch (err) {
      // refused before it ran: not an extraction
      if (!(err instanceof ClientCapError)) observe(target.platform.name, kind, err instanceof AppError ? err.code : 'INTERNAL', (performance.now() - started) / 1000)
      throw err
    }
  }

  async function produce (target: Target, key: string, client: Requester): Promise<MediaInfo> {
    try {
      const value = await deps.pool.ytdlp('info', target.url, deps.cookieFile(target.platform.name), undefined, target.platform.name, client)
      if (!('formats' in value)) throw new AppError('EXTRACTION_FAILED', 'yt-dlp returned a playlist where a video was expected')
      await deps.cache.set(key, value, ttlFor(value, deps.ttlSec(target.platform.name), now()), deps.infoParts?.(target, value))
      return value
    } catch (err) {
      if (err instanceof AppError && SHARED_ERRORS.has(err.code)) {
        await deps.shared?.set(errorKey(key), Buffer.from(JSON.stringify({ code: err.code, detail: err.detail })), ERROR_TTL_SEC)
      }
      throw err
    }
  }

  // the entry holding this very info, if L1 has it
  const entryOf = (key: string, info: MediaInfo): CacheEntry<MediaInfo> | null => {
    const entry = deps.cache.held(key)
    try { return entry !== null && entry.value === info ? entry : null } catch { return null }
  }

  return {
    infoKey,
    peek: (target) => deps.cache.peek(infoKey(target)),
    find: (target) => deps.cache.find(infoKey(target)),
    admit: (client, count) => { deps.pool.admit(client, count) },
    async info (target, opts = {}) {
      const client = opts.client ?? INTERNAL
      const key = infoKey(target)
      if (opts.fresh !== true) {
        const info = await deps.cache.get(key)
        if (info !== null) return { info, cached: true, key, entry: entryOf(key, info) }
      } else {
        await deps.cache.delete(key)
      }
      let produced = false
      const info = await ownTurn(client, async () => await deps.flights.run(key, async () => { produced = true; return await measured(target, 'video', async () => await produce(target, key, client)) }, async () => {
        const shared = await deps.cache.get(key)
        return shared ?? await sharedError(key)
      }))
      return { info, cached: !produced, key, entry: entryOf(key, info) }
    },
    async playlist (target, limit, client = INTERNAL) {
      const key = cacheKey('playlist', target.platform.name, target.id, String(limit))
      const hit = await deps.playlists.get(key)
      if (hit !== null) return { playlist: hit, cached: true }
      const playlist = await ownTurn(client, async () => await deps.flights.run(key, async () => await measured(target, 'playlist', async () => {
        const value = await deps.pool.ytdlp('playlist', target.url, deps.cookieFile(target.platform.name), limit, target.platform.name, client)
        if (!('entry_count' in value)) throw new AppError('EXTRACTION_FAILED', 'yt-dlp did not return a playlist')
        await deps.playlists.set(key, value, deps.ttlSec(target.platform.name))
        return value
      }), async () => await deps.playlists.get(key)))
      return { playlist, cached: false }
    }
  }
}
