// What an extraction hands out names only addresses this server may fetch. A
// page can list media, thumbnails or a canonical URL on internal hosts (never
// fetched: the egress proxy refuses them) and yt-dlp passes them on; echoing
// them would map the internal network for the client. So every URL in an info
// or playlist is held to the egress policy before anyone sees it: hosts in
// GENERIC_HOSTS pass; otherwise a literal address must be public, a name must
// not be one the egress refused lately, nor a localhost name, nor resolve to a
// non-public address. Refused URLs are dropped (formats, thumbnails, subtitle
// tracks, playlist entries, items of a post) or nulled (webpage_url, thumbnail); an info left
// without a format is EGRESS_REFUSED.
import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { AppError } from '../errors.ts'
import { hostMatcher, isPublicAddress } from '../proxy/address.ts'
import { wasRefused } from '../proxy/egress.ts'
import { remedyFor } from './failure.ts'
import type { Resolve } from '../proxy/upstream.ts'
import type { MediaEntry, MediaFormat, MediaInfo, PlaylistInfo, SubtitleTrack } from '../../workers/protocol.ts'

export interface ScrubOptions {
  // GENERIC_HOSTS
  allow: readonly string[]
  resolve?: Resolve
  // how long a name's verdict is kept
  cacheMs?: number
  // a name that does not resolve within this long is judged by what is known (kept)
  lookupTimeoutMs?: number
}

export type Scrub = <T extends MediaInfo | PlaylistInfo>(value: T) => Promise<T>

const CACHE_MAX = 2048
const defaultResolve: Resolve = async (hostname) => await dnsLookup(hostname, { all: true, verbatim: true })

export function createScrubber (opts: ScrubOptions): Scrub {
  const allowed = hostMatcher(opts.allow)
  const resolve = opts.resolve ?? defaultResolve
  const cacheMs = opts.cacheMs ?? 60_000
  const lookupTimeoutMs = opts.lookupTimeoutMs ?? 2000
  const names = new Map<string, { internal: boolean, until: number }>()

  // true: the name resolves to a non-public address (unresolvable names are not internal: nothing reaches them)
  async function internalName (hostname: string): Promise<boolean> {
    const known = names.get(hostname)
    if (known !== undefined && known.until > Date.now()) return known.internal
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), lookupTimeoutMs) })
    const answers = await Promise.race([resolve(hostname).catch(() => []), timeout]).finally(() => clearTimeout(timer))
    if (answers === null) return false
    const internal = answers.some((a) => !isPublicAddress(a.address))
    if (names.size >= CACHE_MAX) names.delete(names.keys().next().value as string)
    names.set(hostname, { internal, until: Date.now() + cacheMs })
    return internal
  }

  // fine or refused as it stands, or a name that is fine unless it resolves to an internal address
  function judge (text: string): 'ok' | 'refused' | { name: string } {
    let url: URL
    try { url = new URL(text) } catch { return 'ok' }
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
    if (host === '' || allowed(url)) return 'ok'
    if (isIP(host) !== 0) return isPublicAddress(host) ? 'ok' : 'refused'
    if (host === 'localhost' || host.endsWith('.localhost') || wasRefused(host)) return 'refused'
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'ok'
    return { name: host }
  }

  async function verdicts (urls: Iterable<string>): Promise<(url: string | null | undefined) => boolean> {
    const refused = new Set<string>()
    const lookups = new Map<string, string[]>()
    for (const u of urls) {
      const v = judge(u)
      if (v === 'refused') refused.add(u)
      else if (v !== 'ok') lookups.set(v.name, [...(lookups.get(v.name) ?? []), u])
    }
    await Promise.all([...lookups].map(async ([name, list]) => {
      if (await internalName(name)) for (const u of list) refused.add(u)
    }))
    return (url) => url === null || url === undefined || !refused.has(url)
  }

  function formatUrls (f: MediaFormat): string[] {
    const out = [f.url]
    if (f.manifest_url !== null) out.push(f.manifest_url)
    if (f.fragment_base_url !== null) out.push(f.fragment_base_url)
    for (const frag of f.fragments ?? []) if (frag.url !== undefined) out.push(frag.url)
    return out
  }

  function offered (langs: string[], before: readonly SubtitleTrack[], after: readonly SubtitleTrack[], automatic: boolean): string[] {
    const kept = new Set(after.filter((t) => t.automatic === automatic).map((t) => t.lang))
    const dropped = new Set(before.filter((t) => t.automatic === automatic && !kept.has(t.lang)).map((t) => t.lang))
    return dropped.size === 0 ? langs : langs.filter((l) => !dropped.has(l))
  }

  async function scrubInfo (info: MediaInfo): Promise<MediaInfo> {
    const all = new Set<string>(info.formats.flatMap(formatUrls))
    for (const t of info.thumbnails) all.add(t.url)
    for (const s of info.subtitle_tracks) if (s.source !== null) all.add(s.source.url)
    if (info.thumbnail !== null) all.add(info.thumbnail)
    if (info.webpage_url !== null) all.add(info.webpage_url)
    for (const e of info.entries ?? []) entryUrls(e).forEach((u) => all.add(u))
    const fine = await verdicts(all)
    const entries = info.entries === undefined ? undefined : scrubEntries(info.entries, fine)
    const formats = info.formats.filter((f) => formatUrls(f).every(fine))
    if (formats.length === 0 && info.formats.length > 0) {
      throw new AppError('EGRESS_REFUSED', undefined, { detail: `${remedyFor('EGRESS_REFUSED') ?? ''} Every format of this video is on such an address.`.trim() })
    }
    const thumbnails = info.thumbnails.filter((t) => fine(t.url))
    const tracks = info.subtitle_tracks.filter((s) => fine(s.source?.url))
    const same = formats.length === info.formats.length && thumbnails.length === info.thumbnails.length && tracks.length === info.subtitle_tracks.length
    if (same && fine(info.thumbnail) && fine(info.webpage_url) && entries === info.entries) return info
    const { entries: _listed, ...rest } = info
    return {
      ...rest,
      ...(entries === undefined ? {} : { entries }),
      formats,
      thumbnails,
      subtitle_tracks: tracks,
      // a language whose only track was dropped is no longer offered
      subtitles: offered(info.subtitles, info.subtitle_tracks, tracks, false),
      automatic_captions: offered(info.automatic_captions, info.subtitle_tracks, tracks, true),
      thumbnail: fine(info.thumbnail) ? info.thumbnail : thumbnails.at(-1)?.url ?? null,
      webpage_url: fine(info.webpage_url) ? info.webpage_url : null
    }
  }

  const entryUrls = (e: MediaEntry): string[] =>
    [...e.formats.flatMap(formatUrls), ...(e.thumbnail === null ? [] : [e.thumbnail]), ...(e.image === null ? [] : [e.image])]

  // Items keep their fine formats; a photo on a refused address, or a video left without a
  // format, is dropped; fewer than two left: no items at all (a single video).
  function scrubEntries (list: MediaEntry[], fine: (url: string | null | undefined) => boolean): MediaEntry[] | undefined {
    if (list.every((e) => entryUrls(e).every(fine))) return list
    const kept = list.flatMap((e): MediaEntry[] => {
      if (e.kind === 'photo') return fine(e.image) ? [{ ...e, thumbnail: fine(e.thumbnail) ? e.thumbnail : null }] : []
      const formats = e.formats.filter((f) => formatUrls(f).every(fine))
      return formats.length === 0 ? [] : [{ ...e, formats, thumbnail: fine(e.thumbnail) ? e.thumbnail : null }]
    })
    return kept.length >= 2 ? kept : undefined
  }

  async function scrubPlaylist (playlist: PlaylistInfo): Promise<PlaylistInfo> {
    const fine = await verdicts(playlist.entries.map((e) => e.url))
    const entries = playlist.entries.filter((e) => fine(e.url))
    return entries.length === playlist.entries.length ? playlist : { ...playlist, entries }
  }

  return async <T extends MediaInfo | PlaylistInfo>(value: T): Promise<T> =>
    ('formats' in value ? await scrubInfo(value) : await scrubPlaylist(value)) as T
}
