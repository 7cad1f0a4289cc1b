// The one table that decides HTTP statuses. Codes are the stable, client-facing
// machine codes of the error body (API.md); nothing else picks a status.

export const ERRORS = Object.freeze({
  INVALID_INPUT: { status: 400, message: 'The request is invalid' },
  UNSUPPORTED_PLATFORM: { status: 400, message: 'This platform is not supported' },
  UNAUTHORIZED: { status: 401, message: 'A valid API key is required' },
  FORBIDDEN: { status: 403, message: 'This request is not allowed' },
  INVALID_SIGNATURE: { status: 403, message: 'The link signature is invalid or has expired' },
  LOGIN_REQUIRED: { status: 403, message: 'The platform requires login or cookies for this video' },
  NOT_FOUND: { status: 404, message: 'No such endpoint' },
  VIDEO_NOT_FOUND: { status: 404, message: 'The video does not exist, is private or was removed' },
  TASK_NOT_FOUND: { status: 404, message: 'No such download task' },
  FILE_NOT_FOUND: { status: 404, message: 'No such file' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed on this path' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  URL_TOO_LONG: { status: 414, message: 'The request URL is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request body must be JSON' },
  RANGE_NOT_SATISFIABLE: { status: 416, message: 'The requested range cannot be satisfied' },
  UNSUPPORTED_URL: { status: 422, message: 'The URL does not belong to a supported platform' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  UPSTREAM_RATE_LIMITED: { status: 429, message: 'The platform is rate-limiting us; try again later' },
  GEO_BLOCKED: { status: 451, message: 'The video is not available in this server\'s region' },
  INTERNAL: { status: 500, message: 'An unexpected error occurred' },
  EXTRACTION_FAILED: { status: 502, message: 'The video could not be extracted' },
  UPSTREAM_ERROR: { status: 502, message: 'The media server answered with an error' },
  EXTRACTION_BUSY: { status: 503, message: 'The extraction queue is full; try again shortly' },
  STREAM_BUSY: { status: 503, message: 'Too many concurrent streams; try again shortly' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'The service is temporarily unavailable' },
  SHUTTING_DOWN: { status: 503, message: 'The server is shutting down' },
  EXTRACTION_TIMEOUT: { status: 504, message: 'The extraction took too long' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The media server took too long to answer' },
  STORAGE_FULL: { status: 507, message: 'Download storage is full' }
} as const)

export type ErrorCode = keyof typeof ERRORS

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
