// API keys: configured as `key` or `key:scope+scope` (API_KEYS), kept only as
// SHA-256 digests. Admin endpoints need the admin scope once any key exists and
// are limited to loopback clients while none does.
import { createHash, timingSafeEqual } from 'node:crypto'
import { AppError } from './errors.ts'

export interface ApiKey { digest: Buffer, scopes: readonly string[], id: string }

export interface Access {
  readonly keysConfigured: boolean
  readonly required: boolean
  identify: (authorization: string | undefined, headerKey: string | undefined) => ApiKey | null
  check: (opts: { key: ApiKey | null, presented: boolean, admin: boolean, loopback: boolean }) => void
}

const digest = (key: string): Buffer => createHash('sha256').update(key).digest()

export function parseApiKeys (entries: readonly string[]): ApiKey[] {
  return entries.map((entry) => {
    const [key = '', scopeText = ''] = entry.split(':')
    const d = digest(key)
    return { digest: d, scopes: scopeText === '' ? [] : scopeText.split('+'), id: d.subarray(0, 4).toString('hex') }
  })
}

export function isLoopback (ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.') || ip === '0000:0000:0000:0000:0000:0000:0000:0001'
}

export function createAccess (keyEntries: readonly string[], requireKey: boolean): Access {
  const keys = parseApiKeys(keyEntries)
  const keysConfigured = keys.length > 0
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
        if (!keysConfigured) {
          if (!loopback) throw new AppError('FORBIDDEN', 'Admin endpoints are only open to loopback clients until an API key is configured')
          return
        }
        if (key === null) throw new AppError('UNAUTHORIZED', 'This endpoint needs an API key with the admin scope')
        if (!key.scopes.includes('admin')) throw new AppError('FORBIDDEN', 'This API key does not have the admin scope')
        return
      }
      if (requireKey && keysConfigured && key === null) throw new AppError('UNAUTHORIZED')
    }
  }
}
