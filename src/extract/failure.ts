// Turns a failed yt-dlp run (a thread's result, or a download's classified stderr)
// into what the client sees: the code's status and message from src/errors.ts, and a
// detail that names the remedy (REMEDIES) followed by yt-dlp's own cleaned message.
import { AppError, REMEDIES } from '../errors.ts'
import type { ErrorCode } from '../errors.ts'
import { PLATFORMS } from '../platforms/index.ts'
import type { TaskErrorCode } from '../../workers/protocol.ts'
import { redactRefused } from '../proxy/egress.ts'

const MAX_YTDLP_MESSAGE = 500
const PLATFORM_NAMES = new Set(PLATFORMS.map((p) => p.name))

// "[youtube] id: …", "[twitch:stream] …", "[BiliBili] …" → the platform whose cookies and
// proxy apply, when yt-dlp's extractor is one of ours.
export function platformOfMessage (message: string): string | null {
  const m = /^\[([A-Za-z]+)[:\]]/.exec(message.trim())
  const name = m?.[1]?.toLowerCase() ?? null
  return name !== null && PLATFORM_NAMES.has(name) ? name : null
}

export function remedyFor (code: ErrorCode, platform: string | null = null): string | null {
  const text = REMEDIES[code]
  if (text === undefined) return null
  return platform === null
    ? text.replaceAll('{PLATFORM}_PROXY', '<PLATFORM>_PROXY')
    : text.replaceAll('{platform}', platform).replaceAll('{PLATFORM}', platform.toUpperCase())
}

// The remedy first (it is what the reader can act on), then what yt-dlp said, less
// any address the egress proxy refused (yt-dlp may quote the URL it was refused).
export function failureDetail (code: ErrorCode, message: string, platform: string | null = null): string {
  const said = redactRefused(message).slice(0, MAX_YTDLP_MESSAGE)
  const known = platform !== null && PLATFORM_NAMES.has(platform) ? platform : platformOfMessage(said)
  const remedy = remedyFor(code, known)
  if (remedy === null) return said
  return said === '' ? remedy : `${remedy} yt-dlp: ${said}`
}

// `new AppError(result.code)` also makes every code a thread may return one that src/errors.ts knows.
export function taskFailure (result: { code: TaskErrorCode, message: string }, platform: string | null = null): AppError {
  return new AppError(result.code, undefined, { detail: failureDetail(result.code, result.message, platform) })
}
