// The platform registry: one line per platform. Adding a platform is its file,
// a line in PLATFORMS and its rows in fixtures/urls.json.
import { AppError } from '../errors.ts'
import { bilibili } from './bilibili.ts'
import { createGenericPlatform } from './generic.ts'
import { instagram } from './instagram.ts'
import { twitch } from './twitch.ts'
import { twitter } from './twitter.ts'
import type { Platform, PlatformDescription, TargetKind } from './types.ts'
import { hostIn } from './url.ts'
import { youtube } from './youtube.ts'

export type { DetectedId, Platform, PlatformDescription, TargetKind } from './types.ts'
export { createGenericPlatform, parseGenericHost } from './generic.ts'

export const PLATFORMS: readonly Platform[] = Object.freeze([
  youtube,
  bilibili,
  twitter,
  instagram,
  twitch
])

export const DEFAULT_MAX_URL_LENGTH = 2048
const MAX_ID_LENGTH = 4096
const MAX_NAME_LENGTH = 64

export interface Target {
  platform: Platform
  id: string
  url: string
  kind: TargetKind
  // one item of a multi-item post (item=N; src/media/items.ts): the links made for it name it
  item?: number
}

export interface ResolveInput {
  platform?: string | undefined
  id?: string | undefined
  url?: string | undefined
  // the route's expectation; when absent an id or URL may resolve to either kind
  kind?: TargetKind | undefined
}

export interface PlatformRegistry {
  readonly list: readonly Platform[]
  get (nameOrAlias: string): Platform | undefined
  resolve (input: ResolveInput): Target
  describe (): PlatformDescription[]
}

export interface RegistryOptions {
  genericHosts?: readonly string[]
  maxUrlLength?: number
}

export function describePlatforms (platforms: readonly Platform[] = PLATFORMS): PlatformDescription[] {
  return platforms.map(p => ({
    name: p.name,
    aliases: [...p.aliases],
    display_name: p.displayName,
    domains: [...p.domains],
    example_urls: [...p.exampleUrls],
    features: [...p.features],
    notes: p.notes
  }))
}

function invalid (field: string, message: string, detail: string | null = null): AppError {
  return new AppError('INVALID_INPUT', `${field} ${message}`, { detail })
}

function urlOf (platform: Platform, id: string, kind: TargetKind): string {
  if (kind === 'playlist' && platform.playlistUrl !== undefined) return platform.playlistUrl(id)
  return platform.canonicalUrl(id)
}

export function createPlatformRegistry (options: RegistryOptions = {}): PlatformRegistry {
  const genericHosts = options.genericHosts ?? []
  const maxUrlLength = options.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH
  const list: readonly Platform[] = Object.freeze(
    genericHosts.length > 0 ? [...PLATFORMS, createGenericPlatform(genericHosts)] : [...PLATFORMS]
  )
  const byName = new Map<string, Platform>()
  for (const p of list) {
    for (const key of [p.name, ...p.aliases]) byName.set(key, p)
  }
  const supported = `supported: ${list.map(p => p.name).join(', ')}`

  function get (nameOrAlias: string): Platform | undefined {
    return byName.get(nameOrAlias.trim().toLowerCase())
  }

  function fromName (name: string): Platform {
    if (name.length > MAX_NAME_LENGTH) throw invalid('platform', 'is too long')
    const platform = get(name)
    if (platform === undefined) {
      throw new AppError('UNSUPPORTED_PLATFORM', `platform "${name}" is not supported`, { detail: supported })
    }
    return platform
  }

  function fromId (name: string, id: string, kind: TargetKind | undefined): Target {
    const platform = fromName(name)
    if (id === '' || id.length > MAX_ID_LENGTH) throw invalid('id', id === '' ? 'is required' : 'is too long')
    const kinds: TargetKind[] = kind !== undefined ? [kind] : ['video', 'playlist']
    for (const k of kinds) {
      const pattern = k === 'video' ? platform.idPattern : platform.playlistIdPattern
      if (pattern?.test(id) === true) return { platform, id, url: urlOf(platform, id, k), kind: k }
    }
    const what = kind === 'playlist' ? 'playlist id' : 'id'
    const patterns = kinds
      .map(k => k === 'video' ? platform.idPattern : platform.playlistIdPattern)
      .filter(p => p !== undefined)
      .map(p => p.source)
    throw invalid('id', `is not a valid ${platform.name} ${what}`,
      patterns.length > 0 ? `id must match ${patterns.join(' or ')}` : `${platform.name} has no playlists`)
  }

  function fromUrl (raw: string, kind: TargetKind | undefined): Target {
    if (raw.length > maxUrlLength) throw invalid('url', `is longer than ${maxUrlLength} characters`)
    if (!/^https?:\/\//i.test(raw.trim())) throw invalid('url', 'must be an http:// or https:// URL')
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw invalid('url', 'is not a valid URL')
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('url', 'must be an http:// or https:// URL')
    if (url.username !== '' || url.password !== '') throw invalid('url', 'must not contain credentials')
    for (const platform of list) {
      const found = platform.detect(url, kind)
      if (found === null) continue
      if (kind !== undefined && found.kind !== kind) {
        throw invalid('url', `is a ${platform.name} ${found.kind} URL, not a ${kind} URL`)
      }
      return { platform, id: found.id, url: urlOf(platform, found.id, found.kind), kind: found.kind }
    }
    const known = list.find(p => hostIn(url, p.domains))
    const message = known === undefined
      ? 'url does not belong to a supported platform'
      : `url is a ${known.displayName} link, but not to a video or playlist`
    throw new AppError('UNSUPPORTED_URL', message, { detail: supported })
  }

  function resolve (input: ResolveInput): Target {
    const { platform, id, url, kind } = input
    if (url !== undefined && url !== '') {
      if (id !== undefined && id !== '') throw invalid('url', 'and id cannot both be given')
      const named = platform === undefined || platform === '' ? undefined : fromName(platform)
      const target = fromUrl(url, kind)
      if (named !== undefined && named !== target.platform) {
        throw invalid('platform', `does not match the url (detected ${target.platform.name})`)
      }
      return target
    }
    if (platform === undefined || platform === '') {
      throw invalid(id === undefined || id === '' ? 'url' : 'platform', 'is required')
    }
    return fromId(platform, id ?? '', kind)
  }

  return Object.freeze({ list, get, resolve, describe: () => describePlatforms(list) })
}
