// The base URL of links we hand out (proxy links, HLS, VRChat): PUBLIC_URL when
// set, else from the request — X-Forwarded-Proto/Host only from trusted proxies,
// and a Host header only when it looks like a host (it ends up in a Location).
import type { Request } from 'hyper-express'

const HOST = /^(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?$/

export function createPublicBase (opts: { publicUrl: string, isTrusted: (ip: string) => boolean, fallback: () => string }): (req: Request) => string {
  const fixed = opts.publicUrl.replace(/\/+$/, '')
  return (req) => {
    if (fixed !== '') return fixed
    const trusted = opts.isTrusted(req.ip)
    const fwdHost = trusted ? req.headers['x-forwarded-host']?.split(',')[0]?.trim() : undefined
    const fwdProto = trusted ? req.headers['x-forwarded-proto']?.split(',')[0]?.trim().toLowerCase() : undefined
    const host = fwdHost !== undefined && HOST.test(fwdHost) ? fwdHost : req.headers.host
    if (host === undefined || !HOST.test(host)) return opts.fallback()
    return `${fwdProto === 'https' ? 'https' : 'http'}://${host}`
  }
}

// The same base for the uWS lane's peek, which reads headers only: PUBLIC_URL,
// else http://<Host> for a request without X-Forwarded-Host/Proto (where the
// peer's trust changes nothing); null hands the request to the pipeline.
export function createPeekBase (publicUrl: string): (header: (name: string) => string) => string | null {
  const fixed = publicUrl.replace(/\/+$/, '')
  return (header) => {
    if (fixed !== '') return fixed
    if (header('x-forwarded-host') !== '' || header('x-forwarded-proto') !== '') return null
    const host = header('host')
    return HOST.test(host) ? `http://${host}` : null
  }
}
