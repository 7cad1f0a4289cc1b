// API keys, kept only as SHA-256 digests. An entry is `key[:scope+scope[:limit]]`
// (API_KEYS) or, in a keys file, the same with `sha256:<hex>` in place of the
// key, so the file need not hold secrets. `limit` is that key's requests per
// rate-limit window. Admin endpoints need the admin scope once any key exists
// and are limited to this host's own requests while none does (loopback, no
// trusted proxy, no forwarding headers: see policy.ts).
import { createHash, timingSafeEqual } from 'node:crypto'
import { AppError } from '../errors.ts'

export interface ApiKey { digest: Buffer, scopes: readonly string[], id: string, limit: number | null }

export interface Access {
  readonly keysConfigured: boolean
  readonly required: boolean
  identify: (authorization: string | undefined, headerKey: string | undefined) => ApiKey | null
  // loopback: the request comes from this host itself, not relayed by a proxy on it
  check: (opts: { key: ApiKey | null, presented: boolean, admin: boolean, loopback: boolean }) => void
  // whether this caller may use admin endpoints (the same rule check applies to them)
  isAdmin: (key: ApiKey | null, loopback: boolean) => boolean
}

const digest = (key: string): Buffer => createHash('sha256').update(key).digest()

export function parseApiKey (entry: string): ApiKey {
  const hashed = /^sha256:([0-9a-fA-F]{64})(?::(.*))?$/.exec(entry.trim())
  const [key = '', scopeText = '', limitText = ''] = hashed === null ? entry.trim().split(':') : ['', ...(hashed[2] ?? '').split(':')]
  if (hashed === null && key.length < 8) throw new TypeError('an API key must be at least 8 characters')
  if (limitText !== '' && !/^\d+$/.test(limitText)) throw new TypeError(`API key limit "${limitText}" is not a whole number`)
  const d = hashed === null ? digest(key) : Buffer.from(hashed[1] ?? '', 'hex')
  return { digest: d, scopes: scopeText === '' ? [] : scopeText.split('+'), id: d.subarray(0, 6).toString('hex'), limit: limitText === '' ? null : Number(limitText) }
}

// Lines of a keys file: entries as above; blank lines and # comments skipped.
export function parseKeysFile (text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
}

export function isLoopback (ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.') || ip === '0000:0000:0000:0000:0000:0000:0000:0001'
}

export function createAccess (keyEntries: readonly string[], requireKey: boolean): Access {
  const keys = keyEntries.map(parseApiKey)
  const keysConfigured = keys.length > 0
  // null when the caller is an admin, else why not
  function adminRefusal (key: ApiKey | null, loopback: boolean): AppError | null {
    if (!keysConfigured) {
      return loopback ? null : new AppError('FORBIDDEN', 'Admin endpoints are only open to loopback clients until an API key is configured', { detail: 'a request relayed by a proxy (Forwarded, X-Forwarded-For, X-Real-IP, Via, ...) is not a loopback client; set API_KEYS' })
    }
    if (key === null) return new AppError('UNAUTHORIZED', 'This endpoint needs an API key with the admin scope')
    if (!key.scopes.includes('admin')) return new AppError('FORBIDDEN', 'This API key does not have the admin scope')
    return null
  }
  return {
    keysConfigured,
    required: requireKey && keysConfigured,
    identify (authorization, headerKey) {
      let presented = headerKey
      if (presented === undefined && authorization !== undefined && authorization.toLowerCase().startsWith('bearer ')) presented = authorization.slice(7).trim()
      if (presented === undefined || presented === '' || !keysConfigured) return null
      const d = digest(presented)
      return keys.find((k) => timingSafeEqual(k.digest, d)) ?? null
    },
    check ({ key, presented, admin, loopback }) {
      if (presented && key === null && keysConfigured) throw new AppError('UNAUTHORIZED', 'The API key is not valid')
      if (admin) {
        const refusal = adminRefusal(key, loopback)
        if (refusal !== null) throw refusal
        return
      }
      if (requireKey && keysConfigured && key === null) throw new AppError('UNAUTHORIZED')
    },
    isAdmin: (key, loopback) => adminRefusal(key, loopback) === null
  }
}
