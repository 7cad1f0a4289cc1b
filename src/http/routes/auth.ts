// Platform credentials: per-platform Netscape cookie files that yt-dlp uses.
// Uploading or removing them is an admin action; the next extraction uses them.
import { AppError } from '../../errors.ts'
import { jsonRoute } from '../route.ts'
import type { Route } from '../route.ts'
import { pathParam } from '../input.ts'
import { compile, object, nullable } from '../../schemas/compile.ts'
import { serializePlatformCookies, platformCookieSchema } from '../../schemas/system.ts'
import type { CookieStore } from '../../extract/cookies.ts'
import { MAX_COOKIE_FILE_BYTES } from '../../extract/cookies.ts'

export interface AuthGuide {
  summary: string
  format: string
  steps: string[]
  upload: { method: string, path: string, content_type: string, max_bytes: number, requires: string }
  remove: { method: string, path: string }
  platforms: Array<{ platform: string, cookie_domain: string, notes: string | null }>
}

const serializeGuide = compile<AuthGuide>(object({
  summary: { type: 'string' },
  format: { type: 'string' },
  steps: { type: 'array', items: { type: 'string' } },
  upload: object({ method: { type: 'string' }, path: { type: 'string' }, content_type: { type: 'string' }, max_bytes: { type: 'integer' }, requires: { type: 'string' } }),
  remove: object({ method: { type: 'string' }, path: { type: 'string' } }),
  platforms: { type: 'array', items: object({ platform: { type: 'string' }, cookie_domain: { type: 'string' }, notes: nullable('string') }) }
}))

interface CookieChange { platform: string, removed: boolean, state: ReturnType<CookieStore['status']>[number] }
const serializeChange = compile<CookieChange>(object({ platform: { type: 'string' }, removed: { type: 'boolean' }, state: platformCookieSchema }))

const COOKIE_DOMAINS: Readonly<Record<string, { domain: string, notes: string | null }>> = {
  youtube: { domain: '.youtube.com', notes: 'needed for age-restricted, members-only videos and "confirm you are not a bot" checks' },
  bilibili: { domain: '.bilibili.com', notes: 'needed for 1080p and above and for member-only videos' },
  twitter: { domain: '.x.com', notes: 'needed for sensitive or protected posts' },
  instagram: { domain: '.instagram.com', notes: 'most posts need a logged-in session' },
  twitch: { domain: '.twitch.tv', notes: 'needed for subscriber-only VODs' }
}

export function authRoutes (deps: { cookies: CookieStore, platforms: readonly string[] }): Route[] {
  const known = (name: string): string => {
    if (!deps.platforms.includes(name)) throw new AppError('UNSUPPORTED_PLATFORM', `Unknown platform "${name.slice(0, 64)}"`, { detail: `supported: ${deps.platforms.join(', ')}` })
    return name
  }
  const guide: AuthGuide = {
    summary: 'Give yt-dlp a logged-in session per platform by uploading that platform\'s cookies in Netscape format.',
    format: 'Netscape HTTP Cookie File: one cookie per line, 7 tab-separated fields (domain, include-subdomains, path, secure, expiry, name, value)',
    steps: [
      'Log in to the platform in a browser profile used only for this purpose.',
      'Export the cookies of that site with a "cookies.txt" browser extension, or run: yt-dlp --cookies-from-browser BROWSER --cookies cookies.txt --skip-download URL',
      'Upload the file: curl -X PUT --data-binary @cookies.txt -H "Content-Type: text/plain" -H "X-API-Key: ADMIN_KEY" http://HOST/api/v2/auth/cookies/PLATFORM',
      'Check GET /api/v2/auth/platforms/PLATFORM: cookie_file_valid should be true. The next extraction uses the cookies; no restart is needed.'
    ],
    upload: { method: 'PUT', path: '/api/v2/auth/cookies/{platform}', content_type: 'text/plain', max_bytes: MAX_COOKIE_FILE_BYTES, requires: 'an API key with the admin scope, or a loopback client while no API key is configured' },
    remove: { method: 'DELETE', path: '/api/v2/auth/cookies/{platform}' },
    platforms: deps.platforms.map((p) => ({ platform: p, cookie_domain: COOKIE_DOMAINS[p]?.domain ?? p, notes: COOKIE_DOMAINS[p]?.notes ?? null }))
  }
  return [
    jsonRoute({
      method: 'get',
      path: '/api/v2/auth/guide',
      doc: { summary: 'How to export and upload platform cookies', tags: ['auth'] },
      serialize: serializeGuide,
      handle: () => guide
    }),
    jsonRoute({
      method: 'get',
      path: '/api/v2/auth/platforms/:platform',
      doc: { summary: 'One platform\'s cookie state', tags: ['auth'] },
      serialize: serializePlatformCookies,
      handle: ({ params }) => {
        const name = known(pathParam(params, 'platform'))
        const state = deps.cookies.status().find((s) => s.platform === name)
        if (state === undefined) throw new AppError('UNSUPPORTED_PLATFORM')
        return state
      }
    }),
    jsonRoute({
      method: 'put',
      path: '/api/v2/auth/cookies/:platform',
      admin: true,
      doc: { summary: 'Upload a platform\'s Netscape cookie file (admin); used by the next extraction', tags: ['auth', 'admin'], body: { schema: { type: 'string' }, contentType: 'text/plain' } },
      serialize: serializeChange,
      handle: async ({ req, params }) => {
        const name = known(pathParam(params, 'platform'))
        const text = await req.text()
        const state = await deps.cookies.save(name, text)
        return { platform: name, removed: false, state }
      }
    }),
    jsonRoute({
      method: 'delete',
      path: '/api/v2/auth/cookies/:platform',
      admin: true,
      doc: { summary: 'Remove a platform\'s cookie file (admin)', tags: ['auth', 'admin'] },
      serialize: serializeChange,
      handle: async ({ params }) => {
        const name = known(pathParam(params, 'platform'))
        const removed = await deps.cookies.remove(name)
        const state = deps.cookies.status().find((s) => s.platform === name)
        if (state === undefined) throw new AppError('UNSUPPORTED_PLATFORM')
        return { platform: name, removed, state }
      }
    })
  ]
}
