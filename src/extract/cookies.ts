// Per-platform Netscape cookie files for yt-dlp (<dir>/<platform>_cookies.txt).
// Their state is read from disk on a short timer so that status requests cost
// nothing; writes go to a temp file and are renamed, so yt-dlp never sees half a file.
import { mkdir, readFile, rename, rm, stat, writeFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { AppError } from '../errors.ts'
import type { PlatformCookieState } from '../schemas/system.ts'

export const MAX_COOKIE_FILE_BYTES = 256 * 1024

export interface CookieCheck { valid: boolean, count: number, problem: string | null }

// Netscape format: optional "# Netscape HTTP Cookie File" header, then lines of
// 7 tab-separated fields (domain, flag, path, secure, expiry, name, value).
export function checkCookieText (text: string): CookieCheck {
  let count = 0
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (line.trim() === '' || (line.startsWith('#') && !line.startsWith('#HttpOnly_'))) continue
    const fields = line.split('\t')
    if (fields.length !== 7) return { valid: false, count, problem: `line ${i + 1} does not have 7 tab-separated fields` }
    if (!/^-?\d+$/.test(fields[4] ?? '')) return { valid: false, count, problem: `line ${i + 1} has a non-numeric expiry` }
    count++
  }
  if (count === 0) return { valid: false, count, problem: 'no cookies in the file' }
  return { valid: true, count, problem: null }
}

export interface CookieStore {
  pathFor: (platform: string) => string
  fileFor: (platform: string) => string | null
  status: () => PlatformCookieState[]
  refresh: () => Promise<void>
  save: (platform: string, text: string) => Promise<PlatformCookieState>
  remove: (platform: string) => Promise<boolean>
  close: () => void
}

export function createCookieStore (dir: string, platforms: readonly string[], refreshMs = 2000): CookieStore {
  const states = new Map<string, PlatformCookieState>(platforms.map((p) => [p, emptyState(p)]))
  const mtimes = new Map<string, number>()
  const pathFor = (platform: string): string => join(dir, `${platform}_cookies.txt`)

  async function readState (platform: string): Promise<PlatformCookieState> {
    const file = pathFor(platform)
    let info
    try { info = await stat(file) } catch { mtimes.delete(platform); return emptyState(platform) }
    const previous = states.get(platform)
    if (previous !== undefined && mtimes.get(platform) === info.mtimeMs && previous.cookies_configured) return previous
    mtimes.set(platform, info.mtimeMs)
    if (!info.isFile() || info.size > MAX_COOKIE_FILE_BYTES) {
      return { ...emptyState(platform), cookies_configured: true, last_updated: info.mtime.toISOString(), problem: 'not a regular file or too large' }
    }
    const check = checkCookieText(await readFile(file, 'utf8').catch(() => ''))
    return {
      platform,
      authenticated: check.valid,
      cookies_configured: true,
      cookie_file_valid: check.valid,
      cookie_count: check.count,
      last_updated: info.mtime.toISOString(),
      problem: check.problem
    }
  }

  async function refresh (): Promise<void> {
    await Promise.all(platforms.map(async (p) => { states.set(p, await readState(p)) }))
  }

  const timer = setInterval(() => { refresh().catch(() => {}) }, refreshMs)
  timer.unref()

  return {
    pathFor,
    fileFor: (platform) => states.get(platform)?.cookie_file_valid === true ? pathFor(platform) : null,
    status: () => platforms.map((p) => states.get(p) ?? emptyState(p)),
    refresh,
    async save (platform, text) {
      if (Buffer.byteLength(text) > MAX_COOKIE_FILE_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', `A cookie file may be at most ${MAX_COOKIE_FILE_BYTES} bytes`)
      const check = checkCookieText(text)
      if (!check.valid) throw new AppError('INVALID_INPUT', 'The body is not a Netscape cookie file', { detail: check.problem })
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const tmp = join(dir, `.${platform}.${randomBytes(6).toString('hex')}.tmp`)
      await writeFile(tmp, text, { mode: 0o600 })
      await chmod(tmp, 0o600)
      await rename(tmp, pathFor(platform))
      const state = await readState(platform)
      states.set(platform, state)
      return state
    },
    async remove (platform) {
      const existed = states.get(platform)?.cookies_configured === true
      await rm(pathFor(platform), { force: true })
      mtimes.delete(platform)
      states.set(platform, emptyState(platform))
      return existed
    },
    close () { clearInterval(timer) }
  }
}

function emptyState (platform: string): PlatformCookieState {
  return { platform, authenticated: false, cookies_configured: false, cookie_file_valid: false, cookie_count: 0, last_updated: null, problem: null }
}
