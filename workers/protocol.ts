// What crosses the thread boundary for yt-dlp tasks: inputs, normalized outputs and
// the result envelope. Types only, plus the code-string constants.

export const TASK_ERROR_CODES = [
  'VIDEO_NOT_FOUND',
  'LOGIN_REQUIRED',
  'AGE_RESTRICTED',
  'BOT_CHECK',
  'CAPTCHA_REQUIRED',
  'DRM_PROTECTED',
  'FORMAT_NOT_AVAILABLE',
  'LIVE_NOT_STARTED',
  'FFMPEG_MISSING',
  'GEO_BLOCKED',
  'UPSTREAM_RATE_LIMITED',
  'EXTRACTION_TIMEOUT',
  'EXTRACTION_FAILED',
  'UNSUPPORTED_URL',
  'EGRESS_REFUSED',
  'INVALID_INPUT'
] as const

export type TaskErrorCode = typeof TASK_ERROR_CODES[number]

export type YtDlpMode = 'warm' | 'spawn'

// warmError: why the warm mode could not serve (its processes fail to start), when it could not
export type TaskResult<T> =
  | { ok: true, value: T, ms: number, mode?: YtDlpMode, warmError?: string }
  | { ok: false, code: TaskErrorCode, message: string, stderrTail: string, ms: number, warmError?: string }

// What the operator chose for every yt-dlp run, passed identically to the warm
// process (as YoutubeDL params) and to spawns (as options).
export interface YtDlpSettings {
  // yt-dlp's js_runtimes: the runtime that solves YouTube's challenges
  jsRuntime: { name: 'deno' | 'node', path: string } | null
  // the spawned yt-dlp accepts --js-runtimes (from the probe); a warm process passes the param regardless
  jsRuntimesOption: boolean
  cacheDir: string | null
  proxy: string | null
  // IE key → { arg: values }, and the raw IE:ARGS text for --extractor-args
  extractorArgs: Array<{ ie: string, args: Record<string, string[]>, raw: string }>
}

// Counters every pool thread adds to (Int32Array over a SharedArrayBuffer): see WARM_COUNTER.
export const WARM_COUNTER = { live: 0, ready: 1, exits: 2, startFailures: 3 } as const
export const WARM_COUNTERS_LENGTH = 4

export interface YtDlpTask {
  kind: 'info' | 'playlist'
  url: string
  ytdlpPath: string
  mode: YtDlpMode
  settings?: YtDlpSettings
  // bumped by a reload: warm processes of an older generation are replaced
  generation?: number
  counters?: SharedArrayBuffer
  timeoutMs: number
  maxOutputBytes: number
  cookiesFile: string | null
  // jobs one warm Python process serves before it is replaced
  maxWarmJobs: number
  // warm processes per thread and yt-dlp path; when all are busy the task spawns (default 4)
  maxWarmProcesses?: number
  playlistLimit?: number
}

export interface YtDlpVersionTask {
  ytdlpPath: string
  timeoutMs: number
}

// What the yt-dlp in use offers, as a warm process (or the same script run once) sees it.
export interface YtDlpProbe {
  version: string
  // false: not a Python yt-dlp, so only --version and --help were asked
  python: boolean
  jsRuntimesOption: boolean
  jsRuntimes: Array<{ name: string, version: string | null, path: string | null, supported: boolean }>
  ejs: boolean
  curlCffi: boolean
  // the warm mode served the probe
  warm: boolean
}

export interface YtDlpProbeTask {
  ytdlpPath: string
  mode: YtDlpMode
  settings: YtDlpSettings
  timeoutMs: number
  generation?: number
  counters?: SharedArrayBuffer
}

export interface YtDlpReloadTask extends YtDlpProbeTask {
  generation: number
  count: number
}

export interface YtDlpReloadResult { replaced: number, failed: string | null }

export interface MediaThumbnail {
  url: string
  width: number | null
  height: number | null
}

export interface MediaFragment {
  url?: string
  path?: string
  duration?: number
}

export interface MediaFormat {
  format_id: string
  url: string
  manifest_url: string | null
  ext: string
  protocol: string
  width: number | null
  height: number | null
  fps: number | null
  vcodec: string | null
  acodec: string | null
  has_audio: boolean
  has_video: boolean
  // kbps (yt-dlp tbr)
  bitrate: number | null
  filesize: number | null
  headers: Record<string, string>
  expires_at: string | null
  fragment_base_url: string | null
  fragments: MediaFragment[] | null
  language: string | null
  format_note: string | null
  dynamic_range: string | null
}

// A subtitle format the subtitle task reads (workers/subtitles/convert.ts)
export type SubtitleInput = 'vtt' | 'srt' | 'json3'

// One subtitle track as yt-dlp lists it under subtitles or automatic_captions
export interface SubtitleTrack {
  lang: string
  name: string | null
  automatic: boolean
  // every format yt-dlp offers for it (json3, srv3, ttml, vtt, …), in its order
  formats: string[]
  // the one the subtitle task converts from (vtt, else srt, else json3); null when none of them is offered
  source: { ext: SubtitleInput, url: string, headers: Record<string, string> } | null
}

export interface MediaInfo {
  id: string
  title: string
  description: string | null
  duration: number | null
  uploader: string | null
  uploader_id: string | null
  // YYYY-MM-DD
  upload_date: string | null
  view_count: number | null
  like_count: number | null
  thumbnail: string | null
  thumbnails: MediaThumbnail[]
  is_live: boolean
  webpage_url: string | null
  extractor: string
  formats: MediaFormat[]
  subtitles: string[]
  automatic_captions: string[]
  subtitle_tracks: SubtitleTrack[]
  // earliest expiry among the format URLs, ISO 8601
  expires_at: string | null
  // only for a post or page of several items (an X or Instagram post, a page of videos), in yt-dlp's
  // order; the info's own fields are then those of its first video. Absent for a single item.
  entries?: MediaEntry[]
}

// One item of a multi-item post. index: its position among yt-dlp's entries, from 1
// (yt-dlp's --playlist-items numbering). A photo has no formats, only its image.
export interface MediaEntry {
  index: number
  kind: 'video' | 'photo'
  id: string | null
  title: string | null
  duration: number | null
  thumbnail: string | null
  // the photo's image URL (null for a video)
  image: string | null
  width: number | null
  height: number | null
  formats: MediaFormat[]
  expires_at: string | null
}

export interface PlaylistEntry {
  id: string
  title: string | null
  duration: number | null
  url: string
}

export interface PlaylistInfo {
  id: string
  title: string
  uploader: string | null
  // yt-dlp's playlist_count when it knows the total, else the number of entries returned
  entry_count: number
  entries: PlaylistEntry[]
}
