// Manifest parsers throw ManifestError for bad input. It must not cross the
// thread boundary: the task wrapper in workers/index.ts catches it (instanceof
// works inside the thread) and returns { ok: false, code, message } instead.

export const MANIFEST_ERROR_CODES = ['MANIFEST_INVALID', 'MANIFEST_TOO_LARGE', 'MANIFEST_UNSUPPORTED'] as const

export type ManifestErrorCode = typeof MANIFEST_ERROR_CODES[number]

export class ManifestError extends Error {
  readonly code: ManifestErrorCode

  constructor (code: ManifestErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.name = 'ManifestError'
    this.code = code
  }
}

export function isManifestError (err: unknown): err is ManifestError {
  return err instanceof ManifestError
}

export function resolveUrl (ref: string, base: string): string {
  try {
    return new URL(ref, base).href
  } catch (err) {
    throw new ManifestError('MANIFEST_INVALID', `cannot resolve URL ${JSON.stringify(ref.slice(0, 200))}`, { cause: err })
  }
}

export function assertAbsoluteBase (baseUrl: string): void {
  if (!URL.canParse(baseUrl)) throw new ManifestError('MANIFEST_INVALID', 'base URL must be absolute')
}
