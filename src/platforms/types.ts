export type TargetKind = 'video' | 'playlist'

export interface DetectedId {
  id: string
  kind: TargetKind
}

export interface Platform {
  // youtube | bilibili | twitter | instagram | twitch | generic; a string so a new platform is one file
  readonly name: string
  readonly aliases: readonly string[]
  readonly displayName: string
  readonly domains: readonly string[]
  readonly exampleUrls: readonly string[]
  readonly features: readonly string[]
  readonly notes: string | null
  readonly idPattern: RegExp
  readonly playlistIdPattern?: RegExp
  // `prefer: 'playlist'` asks for the playlist when a URL names both (watch?v=…&list=…)
  detect (url: URL, prefer?: TargetKind): DetectedId | null
  canonicalUrl (id: string): string
  playlistUrl? (id: string): string
  readonly mediaHeaders: Readonly<Record<string, string>>
  // media URLs only work from the IP that extracted them: stream through us, never redirect
  readonly ipBound: boolean
  readonly cacheTtlEnv: string | null
}

export interface PlatformDescription {
  name: string
  aliases: string[]
  display_name: string
  domains: string[]
  example_urls: string[]
  features: string[]
  notes: string | null
}
