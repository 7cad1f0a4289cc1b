// The operator's yt-dlp settings for one platform's runs (extraction threads, warm and
// spawned, and downloads): the JavaScript runtime found at start, the cache folder,
// the outbound proxy (the platform's own <PLATFORM>_PROXY, else YTDLP_PROXY) and the
// extractor arguments, as yt-dlp's own syntax parsed once by config.ts.
import { isConfigKey } from '../config.ts'
import type { Config } from '../config.ts'
import type { Executables } from './executables.ts'
import type { YtDlpSettings } from '../../workers/protocol.ts'

export function proxyFor (config: Config, platform: string | null): string | null {
  const key = platform === null ? '' : `${platform.toUpperCase()}_PROXY`
  const own = isConfigKey(key) ? config[key] : ''
  const chosen = typeof own === 'string' && own !== '' ? own : config.YTDLP_PROXY
  return chosen === '' ? null : chosen
}

export function createYtDlpSettings (config: Config, tools: Pick<Executables, 'jsRuntime' | 'cacheDir'>): (platform: string | null) => YtDlpSettings {
  const jsRuntime = tools.jsRuntime === null ? null : { name: tools.jsRuntime.name, path: tools.jsRuntime.path }
  const extractorArgs = config.YTDLP_EXTRACTOR_ARGS.map((a) => ({ ie: a.ie, args: Object.fromEntries(Object.entries(a.args).map(([k, v]) => [k, [...v]])), raw: a.raw }))
  const byPlatform = new Map<string | null, YtDlpSettings>()
  return (platform) => {
    let settings = byPlatform.get(platform)
    if (settings === undefined) {
      settings = Object.freeze({ jsRuntime, jsRuntimesOption: false, cacheDir: tools.cacheDir, proxy: proxyFor(config, platform), extractorArgs })
      byPlatform.set(platform, settings)
    }
    return settings
  }
}
