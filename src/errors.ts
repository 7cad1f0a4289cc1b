// The one table that decides HTTP statuses. Codes are the stable, client-facing
// machine codes of the error body (API.md); nothing else picks a status.

export const ERRORS = Object.freeze({
  INVALID_INPUT: { status: 400, message: 'The request is invalid' },
  UNSUPPORTED_PLATFORM: { status: 400, message: 'This platform is not supported' },
  UNAUTHORIZED: { status: 401, message: 'A valid API key is required' },
  FORBIDDEN: { status: 403, message: 'This request is not allowed' },
  INVALID_SIGNATURE: { status: 403, message: 'The link signature is invalid or has expired' },
  // The page, a redirect or its media lead to an address this server may not fetch (SSRF policy):
  // refused for this request's content, so retrying never helps.
  EGRESS_REFUSED: { status: 403, message: 'The video leads to an address this server may not fetch' },
  LOGIN_REQUIRED: { status: 403, message: 'The platform requires login or cookies for this video' },
  AGE_RESTRICTED: { status: 403, message: 'The video is age-restricted; the platform requires a signed-in, age-verified account' },
  NOT_FOUND: { status: 404, message: 'No such endpoint' },
  VIDEO_NOT_FOUND: { status: 404, message: 'The video does not exist, is private or was removed' },
  TASK_NOT_FOUND: { status: 404, message: 'No such download task' },
  FILE_NOT_FOUND: { status: 404, message: 'No such file' },
  SUBTITLE_NOT_FOUND: { status: 404, message: 'The video has no subtitle track in this language' },
  // item=N past the items of a post (a single video has one)
  ITEM_NOT_FOUND: { status: 404, message: 'The post has no item with this number' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed on this path' },
  // The video exists but is not playable yet; asking again once it is live succeeds.
  LIVE_NOT_STARTED: { status: 409, message: 'The live stream or premiere has not started yet' },
  // mode=redirect on a video that exists only as separate video and audio: redirecting needs one file (the detail names the remedy)
  NO_SINGLE_FILE: { status: 409, message: 'The video has no single file with both video and audio to redirect to' },
  // the HLS route on a format no playlist can describe (a file of unknown duration, separate WebM streams)
  HLS_NOT_POSSIBLE: { status: 409, message: 'This video cannot be served as an HLS playlist' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  URL_TOO_LONG: { status: 414, message: 'The request URL is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request body must be JSON' },
  RANGE_NOT_SATISFIABLE: { status: 416, message: 'The requested range cannot be satisfied' },
  UNSUPPORTED_URL: { status: 422, message: 'The URL does not belong to a supported platform' },
  // The track exists, but only in formats this server does not read (e.g. TTML, srv3).
  SUBTITLE_UNSUPPORTED: { status: 422, message: 'The subtitle track is offered only in formats this server cannot convert' },
  // Valid request, content nobody can extract (yt-dlp does not download DRM media); retrying never helps.
  DRM_PROTECTED: { status: 422, message: 'The video is DRM-protected and cannot be extracted' },
  // item=N names a photo of a post: it has an image (entries[].image in the info), no stream
  ITEM_IS_PHOTO: { status: 422, message: 'This item of the post is a photo, not a video' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  // a client's stored download tasks are capped (DOWNLOAD_TASKS_PER_CLIENT); deleting finished ones makes room
  TOO_MANY_TASKS: { status: 429, message: 'Too many download tasks for this client' },
  UPSTREAM_RATE_LIMITED: { status: 429, message: 'The platform is rate-limiting us; try again later' },
  GEO_BLOCKED: { status: 451, message: 'The video is not available in this server\'s region' },
  INTERNAL: { status: 500, message: 'An unexpected error occurred' },
  EXTRACTION_FAILED: { status: 502, message: 'The video could not be extracted' },
  UPSTREAM_ERROR: { status: 502, message: 'The media server answered with an error' },
  // Our selectors always fall back to any single file, so "no format" means the site
  // served none that yt-dlp can use (mostly a stale yt-dlp or a missing JS runtime/PO token).
  FORMAT_NOT_AVAILABLE: { status: 502, message: 'The platform served no format that can be downloaded' },
  EXTRACTION_BUSY: { status: 503, message: 'The extraction queue is full; try again shortly' },
  STREAM_BUSY: { status: 503, message: 'Too many concurrent streams; try again shortly' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'The service is temporarily unavailable' },
  SHUTTING_DOWN: { status: 503, message: 'The server is shutting down' },
  // Bot checks and captchas refuse this server's egress, not the client's request:
  // 5xx, and only the operator can fix them (cookies, proxy, PO tokens).
  BOT_CHECK: { status: 503, message: 'The platform asked this server to prove it is not a bot' },
  CAPTCHA_REQUIRED: { status: 503, message: 'The platform requires a captcha to be solved before it serves this server' },
  FFMPEG_MISSING: { status: 503, message: 'ffmpeg is not available on this server' },
  EXTRACTION_TIMEOUT: { status: 504, message: 'The extraction took too long' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The media server took too long to answer' },
  STORAGE_FULL: { status: 507, message: 'Download storage is full' },
  // every client's tasks together are capped (DOWNLOAD_TASKS_MAX)
  TASK_STORE_FULL: { status: 507, message: 'The server holds as many download tasks as it may' }
} as const)

export type ErrorCode = keyof typeof ERRORS

// What an operator (or client) can do about a failure, next to the status table so that
// every yt-dlp failure names the same remedy in extraction and download errors.
// `{platform}` / `{PLATFORM}` are filled in by src/extract/failure.ts when the platform is known.
const COOKIES = 'PUT /api/v2/auth/cookies/{platform}'
const EGRESS = 'YTDLP_PROXY (or {PLATFORM}_PROXY)'
const UPDATE = 'update yt-dlp (upgrade it, then POST /api/v2/system/ytdlp/reload; or set YTDLP_AUTO_UPDATE)'
export const REMEDIES: Readonly<Partial<Record<ErrorCode, string>>> = Object.freeze({
  BOT_CHECK: `The platform refuses this server's IP address until it proves it is not a bot. Upload cookies of a signed-in account with ${COOKIES}, send extraction through another egress with ${EGRESS}, for YouTube add a PO-token provider with YTDLP_EXTRACTOR_ARGS (youtubepot-bgutilhttp:base_url=http://HOST:4416), and ${UPDATE}.`,
  AGE_RESTRICTED: `Upload cookies of a signed-in, age-verified account with ${COOKIES}.`,
  LOGIN_REQUIRED: `Members-only, premium, subscriber-only or sign-in content: upload cookies of an account that may watch it with ${COOKIES}.`,
  CAPTCHA_REQUIRED: `Solve the captcha in a browser that leaves through this server's egress and upload that browser's cookies with ${COOKIES}, or send extraction through another egress with ${EGRESS}.`,
  DRM_PROTECTED: 'None on this server: yt-dlp does not download DRM-protected media, and no setting changes that.',
  UPSTREAM_RATE_LIMITED: `Retry later (YouTube's limit lasts up to an hour) and space requests out; send extraction through another egress with ${EGRESS}, or upload cookies with ${COOKIES} (anonymous limits are the tightest).`,
  FORMAT_NOT_AVAILABLE: `Usually a yt-dlp that is out of date or has no JavaScript runtime (see /api/v2/system/version and YTDLP_JS_RUNTIME): ${UPDATE}; for YouTube a PO-token provider in YTDLP_EXTRACTOR_ARGS may be needed.`,
  VIDEO_NOT_FOUND: `Check the URL; a private video needs cookies of an account that was granted access, uploaded with ${COOKIES}.`,
  GEO_BLOCKED: `Send extraction through an egress in a region where the video is available with ${EGRESS}.`,
  LIVE_NOT_STARTED: 'Ask again once the stream or premiere is live.',
  FFMPEG_MISSING: 'Install ffmpeg and ffprobe on the server or set FFMPEG_PATH to the ffmpeg executable, then restart.',
  EGRESS_REFUSED: 'None for the client: the page, a redirect or the media it names points to a private, loopback, link-local or otherwise non-public address, and this server fetches only public addresses. An operator who means such a host to be reachable lists it (host or host:port) in GENERIC_HOSTS.',
  EXTRACTION_FAILED: `If this persists, the site has likely changed: ${UPDATE}.`,
  EXTRACTION_TIMEOUT: 'Retry; if this persists, check the server\'s egress (YTDLP_PROXY) or raise EXTRACT_TIMEOUT.'
})

export function isErrorCode (value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value)
}

export interface AppErrorOptions {
  detail?: string | null
  cause?: unknown
  headers?: Record<string, string>
}

export class AppError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly detail: string | null
  readonly headers: Record<string, string> | undefined

  constructor (code: ErrorCode, message?: string, options: AppErrorOptions = {}) {
    super(message ?? ERRORS[code].message, { cause: options.cause })
    this.name = 'AppError'
    this.code = code
    this.statusCode = ERRORS[code].status
    this.detail = options.detail ?? null
    this.headers = options.headers
  }
}

export interface ErrorBody {
  error: string
  code: ErrorCode
  detail: string | null
  request_id: string
  timestamp: string
}

// Anything that is not an AppError is a bug: the client gets a generic 500.
export function toErrorBody (err: unknown, requestId: string, now = new Date()): ErrorBody {
  const app = err instanceof AppError ? err : new AppError('INTERNAL')
  return {
    error: app.message,
    code: app.code,
    detail: app.detail,
    request_id: requestId,
    timestamp: now.toISOString()
  }
}

// One batch item's failure, in the shape batch responses carry per item.
export function itemError (err: unknown): { code: ErrorCode, error: string, detail: string | null } {
  const e = err instanceof AppError ? err : new AppError('INTERNAL')
  return { code: e.code, error: e.message, detail: e.detail }
}
