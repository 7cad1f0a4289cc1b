// The operator's yt-dlp settings for one platform's runs (extraction threads, warm and
// spawned, and downloads): the JavaScript runtime found at start, the cache folder,
// the proxy and the extractor arguments, as yt-dlp's own syntax parsed once by config.ts.
// The proxy yt-dlp gets is the worker's egress proxy (src/proxy/egress.ts) for the
// platform's route: the egress holds every fetch to the address policy and chains to
// the operator's outbound proxy (the platform's own <PLATFORM>_PROXY, else YTDLP_PROXY).
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

// ffmpeg under yt-dlp (HLS and DASH downloads it hands over, live streams, features its
// native downloader lacks) gets the egress as http_proxy from yt-dlp; these input
// options keep it to http(s) through that proxy: no file:, data:, rtmp:, udp:, concat:,
// subfile: … from a hostile playlist.
export const FFMPEG_DOWNLOAD_PROTOCOLS = 'http,https,tcp,tls,httpproxy,crypto'
export const DOWNLOAD_FFMPEG_ARGS: readonly string[] = ['--downloader-args', `ffmpeg_i:-protocol_whitelist ${FFMPEG_DOWNLOAD_PROTOCOLS}`]

// route: the proxy URL yt-dlp gets for a platform's runs, the egress's in the app
// (default: the operator's proxy itself, for tests of the settings alone).
export function createYtDlpSettings (
  config: Config,
  tools: Pick<Executables, 'jsRuntime' | 'cacheDir'>,
  route: (platform: string | null) => string | null = (platform) => proxyFor(config, platform)
): (platform: string | null) => YtDlpSettings {
  const jsRuntime = tools.jsRuntime === null ? null : { name: tools.jsRuntime.name, path: tools.jsRuntime.path }
  const extractorArgs = config.YTDLP_EXTRACTOR_ARGS.map((a) => ({ ie: a.ie, args: Object.fromEntries(Object.entries(a.args).map(([k, v]) => [k, [...v]])), raw: a.raw }))
  const byPlatform = new Map<string | null, YtDlpSettings>()
  return (platform) => {
    let settings = byPlatform.get(platform)
    if (settings === undefined) {
      settings = Object.freeze({ jsRuntime, jsRuntimesOption: false, cacheDir: tools.cacheDir, proxy: route(platform), extractorArgs })
      byPlatform.set(platform, settings)
    }
    return settings
  }
}
