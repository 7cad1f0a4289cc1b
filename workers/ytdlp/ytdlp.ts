// Runs the yt-dlp executable once per task (spawn mode) and owns everything both modes
// share: URL validation, options, the error-text → code table. No shell, ever.
import { lowerPriority } from '../nice.ts'
import { killGroup } from '../children.ts'
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import type { Readable } from 'node:stream'
import type { TaskErrorCode, YtDlpSettings, YtDlpTask } from '../protocol.ts'

export type ExtractOutcome =
  | { ok: true, raw: unknown }
  | { ok: false, code: TaskErrorCode, message: string, stderrTail: string }

export const STDERR_TAIL_CHARS = 2048
export const KILL_GRACE_MS = 500

// First match wins, so the specific phrases sit above the broad ones ("Private video.
// Sign in if you've been granted access" is not a login problem, "ffprobe and ffmpeg not
// found" is not a missing video). The texts are yt-dlp's (2023.03 – 2026.11) and the
// sites' own reasons that it passes on; src/extract/ytdlp-errors.test.ts holds real examples.
export const YTDLP_ERROR_PATTERNS: readonly { pattern: RegExp, code: TaskErrorCode }[] = [
  // our egress proxy's refusal (src/proxy/egress.ts), for plain HTTP ("HTTP Error 403: …") and tunnels ("Tunnel connection failed: 403 …")
  { pattern: /\b403:? refused by the egress policy\b/i, code: 'EGRESS_REFUSED' },
  { pattern: /unsupported url/i, code: 'UNSUPPORTED_URL' },
  // "Postprocessing: ffprobe and ffmpeg not found", "… merging of multiple formats but ffmpeg is not installed"
  { pattern: /\bff(?:mpeg|probe)(?: and ffmpeg)? (?:is )?not (?:found|installed)\b/i, code: 'FFMPEG_MISSING' },
  // another missing helper ("pycryptodomex not found. Please install") is ours to fix, not a missing video
  { pattern: /\bnot found\. please install\b/i, code: 'EXTRACTION_FAILED' },
  { pattern: /\bdrm[- ]protected\b/i, code: 'DRM_PROTECTED' },
  { pattern: /requested format (?:is )?not available|no video formats found/i, code: 'FORMAT_NOT_AVAILABLE' },
  // YouTube appends its captcha note to any reason but a sign-in one ("… try again later" included)
  { pattern: /captcha/i, code: 'CAPTCHA_REQUIRED' },
  { pattern: /\bnot a (?:ro)?bot\b/i, code: 'BOT_CHECK' },
  { pattern: /confirm your age|age[- ]restricted|inappropriate for some users|age[- ]verif|\bnsfw\b/i, code: 'AGE_RESTRICTED' },
  { pattern: /private video|video is private|this (?:video|post|tweet|account) is private/i, code: 'VIDEO_NOT_FOUND' },
  { pattern: /in your (?:country|region)|from your location|geo[- ]?(?:restrict|block)|not available in your area/i, code: 'GEO_BLOCKED' },
  {
    pattern: /live event will begin|\bpremieres? (?:in|will begin)\b|not currently live|\b(?:streamer|stream|channel|user) is (?:not live|offline)\b/i,
    code: 'LIVE_NOT_STARTED'
  },
  // above the login row: Instagram's anonymous limit redirects to its login page and says so
  {
    pattern: /http error 429|too many requests|rate[- ]?limit|try (?:again )?later|http error 412|(?:blocked|rejected) by server/i,
    code: 'UPSTREAM_RATE_LIMITED'
  },
  {
    pattern: /\b(?:sign in|log ?in|login|logged in)\b|cookies|members[- ]only|channel['’]s members|premium|subscriber[- ]only|registered users|authenticat|not authorized|purchase/i,
    code: 'LOGIN_REQUIRED'
  },
  {
    pattern: /http error 404|http error 410|not found|could not be found|no video could be found|does not exist|doesn't exist|private|removed|deleted|unavailable|no longer available|not available|terminated|suspended/i,
    code: 'VIDEO_NOT_FOUND'
  }
]

export function classifyYtDlpError (text: string): TaskErrorCode {
  return YTDLP_ERROR_PATTERNS.find(({ pattern }) => pattern.test(text))?.code ?? 'EXTRACTION_FAILED'
}

// "ERROR: [youtube] id: Video unavailable; please report this issue on …" → "[youtube] id: Video unavailable".
// yt-dlp's command-line advice ("Use --cookies-from-browser or --cookies …") is dropped:
// clients cannot pass options, and the error's detail names our remedy instead.
export function cleanYtDlpMessage (text: string): string {
  const errorLines = text.split('\n').map(l => l.trim()).filter(l => l.startsWith('ERROR:'))
  const line = errorLines.at(-1) ?? text.split('\n').map(l => l.trim()).filter(l => l !== '').at(-1) ?? ''
  return line
    .replace(/^ERROR:\s*/, '')
    .replace(/;\s*please report this issue.*$/is, '')
    .replace(/(?<=\S)\.?\s+Use --(?:cookies|username)\b.*$/s, '')
    .slice(0, 500)
}

export function tail (text: string, chars = STDERR_TAIL_CHARS): string {
  return text.length > chars ? text.slice(-chars) : text
}

// Returns the URL yt-dlp may see, or null. Only absolute http(s) URLs pass, and the
// serialized form always starts with the scheme, so it can never look like an option.
export function parseHttpUrl (input: string): string | null {
  if (typeof input !== 'string' || input.length > 8192) return null
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return null
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null
}

export function socketTimeoutSec (timeoutMs: number): number {
  return Math.min(20, Math.max(1, Math.ceil(timeoutMs / 2000)))
}

export function buildYtDlpArgs (task: YtDlpTask, url: string): string[] {
  const args = ['-J', '--ignore-config', '--no-warnings', '--socket-timeout', String(socketTimeoutSec(task.timeoutMs))]
  if (task.kind === 'info') args.push('--no-playlist')
  else {
    args.push('--flat-playlist')
    if (task.playlistLimit !== undefined) args.push('--playlist-end', String(task.playlistLimit))
  }
  if (task.cookiesFile !== null) args.push('--cookies', task.cookiesFile)
  args.push(...settingsArgs(task.settings))
  // Security: everything after `--` is a URL, never an option (yt-dlp has --exec).
  args.push('--', url)
  return args
}

// The operator's settings as command-line options, for every spawned yt-dlp (extractions and downloads).
export function settingsArgs (settings: YtDlpSettings | undefined): string[] {
  if (settings === undefined) return []
  const args: string[] = []
  if (settings.cacheDir !== null) args.push('--cache-dir', settings.cacheDir)
  if (settings.proxy !== null) args.push('--proxy', settings.proxy)
  for (const entry of settings.extractorArgs) args.push('--extractor-args', entry.raw)
  if (settings.jsRuntime !== null && settings.jsRuntimesOption) args.push('--js-runtimes', `${settings.jsRuntime.name}:${settings.jsRuntime.path}`)
  return args
}

// The same settings as YoutubeDL params (a yt-dlp that predates a param ignores it).
export function settingsParams (settings: YtDlpSettings | undefined): Record<string, unknown> {
  if (settings === undefined) return {}
  const params: Record<string, unknown> = {}
  if (settings.cacheDir !== null) params.cachedir = settings.cacheDir
  if (settings.proxy !== null) params.proxy = settings.proxy
  if (settings.extractorArgs.length > 0) {
    const byIe: Record<string, Record<string, string[]>> = {}
    for (const entry of settings.extractorArgs) byIe[entry.ie] = { ...byIe[entry.ie], ...entry.args }
    params.extractor_args = byIe
  }
  if (settings.jsRuntime !== null) params.js_runtimes = { [settings.jsRuntime.name]: { path: settings.jsRuntime.path } }
  return params
}

// The same choices as buildYtDlpArgs, as YoutubeDL params for the warm process.
export function buildWarmOptions (task: YtDlpTask): Record<string, unknown> {
  const opts: Record<string, unknown> = {
    ignoreconfig: true, // the library reads no config files anyway; kept to mirror --ignore-config
    quiet: true,
    no_warnings: true,
    noprogress: true,
    skip_download: true,
    socket_timeout: socketTimeoutSec(task.timeoutMs),
    noplaylist: task.kind === 'info',
    extract_flat: task.kind === 'playlist' ? 'in_playlist' : false
  }
  if (task.kind === 'playlist' && task.playlistLimit !== undefined) opts.playlistend = task.playlistLimit
  if (task.cookiesFile !== null) opts.cookiefile = task.cookiesFile
  return { ...opts, ...settingsParams(task.settings) }
}

export type ProcessOutcome =
  | { kind: 'exit', exitCode: number | null, signal: NodeJS.Signals | null, stdout: Buffer, stderrTail: string }
  | { kind: 'timeout' | 'overflow', stderrTail: string }
  | { kind: 'error', message: string }

export interface RunLimits {
  timeoutMs: number
  maxOutputBytes: number
}

export function runProcess (file: string, args: readonly string[], limits: RunLimits): Promise<ProcessOutcome> {
  return new Promise(resolve => {
    let child: ChildProcessByStdio<null, Readable, Readable>
    try {
      // its own process group: a stop reaches what it started too (children.ts)
      child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      lowerPriority(child.pid)
    } catch (err) {
      // bad arguments (a NUL byte) throw synchronously; ENOENT and EACCES arrive as 'error'
      resolve({ kind: 'error', message: `cannot run ${file}: ${err instanceof Error ? err.message : String(err)}` })
      return
    }
    const chunks: Buffer[] = []
    let bytes = 0
    let stderr = ''
    let stopped: 'timeout' | 'overflow' | null = null
    let settled = false
    let graceTimer: NodeJS.Timeout | undefined
    const settle = (outcome: ProcessOutcome): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(graceTimer)
      resolve(outcome)
    }
    const stop = (reason: 'timeout' | 'overflow', signal: NodeJS.Signals): void => {
      if (stopped !== null) return
      stopped = reason
      killGroup(child.pid, signal)
      graceTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS)
    }
    const timer = setTimeout(() => stop('timeout', 'SIGTERM'), limits.timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => {
      if (stopped !== null) return
      bytes += chunk.length
      if (bytes > limits.maxOutputBytes) stop('overflow', 'SIGKILL')
      else chunks.push(chunk)
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => { stderr = tail(stderr + chunk) })
    child.on('error', err => settle({ kind: 'error', message: `cannot run ${file}: ${err.message}` }))
    // A killed child may leave a grandchild holding its pipes, so a stop settles on exit, not close.
    // What it started goes with it (a group member that outlived the SIGTERM).
    child.on('exit', () => { if (stopped !== null) { killGroup(child.pid, 'SIGKILL'); settle({ kind: stopped, stderrTail: stderr }) } })
    child.on('close', (exitCode, signal) => {
      settle(stopped !== null
        ? { kind: stopped, stderrTail: stderr }
        : { kind: 'exit', exitCode, signal, stdout: Buffer.concat(chunks), stderrTail: stderr })
    })
  })
}

export function toExtractOutcome (outcome: ProcessOutcome, limits: RunLimits): ExtractOutcome {
  switch (outcome.kind) {
    case 'error':
      return { ok: false, code: 'EXTRACTION_FAILED', message: outcome.message, stderrTail: '' }
    case 'timeout':
      return { ok: false, code: 'EXTRACTION_TIMEOUT', message: `yt-dlp did not finish within ${limits.timeoutMs} ms`, stderrTail: outcome.stderrTail }
    case 'overflow':
      return { ok: false, code: 'EXTRACTION_FAILED', message: `yt-dlp output exceeded ${limits.maxOutputBytes} bytes`, stderrTail: outcome.stderrTail }
    case 'exit':
      break
  }
  const { exitCode, signal, stdout, stderrTail } = outcome
  if (exitCode !== 0) {
    const message = cleanYtDlpMessage(stderrTail) || `yt-dlp exited with ${signal ?? `code ${exitCode}`}`
    const errorText = stderrTail.split('\n').filter(l => l.startsWith('ERROR:')).join('\n') || stderrTail
    const code = signal === null ? classifyYtDlpError(errorText) : 'EXTRACTION_FAILED'
    return { ok: false, code, message, stderrTail }
  }
  try {
    return { ok: true, raw: JSON.parse(stdout.toString('utf8')) }
  } catch {
    return { ok: false, code: 'EXTRACTION_FAILED', message: 'yt-dlp printed invalid JSON', stderrTail }
  }
}

export async function runYtDlpSpawn (task: YtDlpTask, url: string, timeoutMs: number): Promise<ExtractOutcome> {
  const limits = { timeoutMs, maxOutputBytes: task.maxOutputBytes }
  return toExtractOutcome(await runProcess(task.ytdlpPath, buildYtDlpArgs(task, url), limits), limits)
}
