// The response-header policy shared by the pipeline and the fast lane.
export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"]
]
// what a browser script may read of our responses (CORS)
export const EXPOSED = 'X-Request-Id, X-Process-Time, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, X-Stream-Mode, Content-Range, Content-Length, Accept-Ranges'
// a client's X-Request-Id is echoed only when it looks like this
export const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/
// CORS_ORIGINS: '*' allows any origin; otherwise a request's Origin is echoed
// only when it is one of the configured ones (case-insensitive). A configured
// value with a line break could never match a header, and is never written.
export interface CorsOrigins { readonly any: boolean, allows: (origin: string) => boolean }
export function corsOrigins (configured: readonly string[]): CorsOrigins {
  const allowed = new Set(configured.map((o) => o.toLowerCase()).filter((o) => !/[\r\n]/.test(o)))
  return { any: configured.includes('*'), allows: (origin) => allowed.has(origin.toLowerCase()) }
}
