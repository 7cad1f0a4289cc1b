// The executables vidgate runs, resolved once at start to absolute paths: a bare
// name is looked up on PATH (yt-dlp takes --ffmpeg-location as a path, and the warm
// pool reads the interpreter from the file itself), an empty YTDLP_PATH means the
// project's own current yt-dlp, and the JavaScript runtime yt-dlp needs for YouTube
// is found the way YTDLP_JS_RUNTIME says. Nothing here runs a process except the
// version checks of a JavaScript runtime candidate.
import { accessSync, constants, mkdirSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { Config, JsRuntimeSetting } from '../config.ts'
import { childEnv } from '../../workers/children.ts'

// dist/src/extract/ → the repository (or /app in the image)
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
// Where scripts/ensure.js puts the current yt-dlp (a zipapp, like yt-dlp's own release file).
export const PROJECT_YTDLP = join(PROJECT_ROOT, '.tools', 'yt-dlp')

// yt-dlp's own minimums (yt_dlp/utils/_jsruntime.py); older ones it ignores.
const NODE_MIN_MAJOR = 22
const DENO_MIN = [2, 3, 0] as const

export interface JsRuntime { readonly name: 'deno' | 'node', readonly path: string, readonly version: string }

export interface Executables {
  // null: not found; `problem` says what was looked for
  readonly ytdlp: string | null
  readonly ffmpeg: string | null
  readonly ffprobe: string | null
  readonly jsRuntime: JsRuntime | null
  readonly cacheDir: string
  readonly problems: readonly string[]
}

export function isExecutable (file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

// A name with a slash is a path (made absolute); a bare name is looked up on PATH.
export function findOnPath (name: string, pathEnv = process.env.PATH ?? ''): string | null {
  if (name === '') return null
  if (name.includes('/')) {
    const file = isAbsolute(name) ? name : resolve(name)
    return isExecutable(file) ? file : null
  }
  for (const dir of pathEnv.split(delimiter)) {
    if (dir === '') continue
    const file = join(dir, name)
    if (isExecutable(file)) return file
  }
  return null
}

export function resolveYtDlp (setting: string, projectYtDlp = PROJECT_YTDLP): string | null {
  if (setting !== '') return findOnPath(setting)
  return isExecutable(projectYtDlp) ? projectYtDlp : findOnPath('yt-dlp')
}

// The Deno binary the npm package `deno` installs (its per-platform optional dependency).
export function npmDeno (): string | null {
  const require = createRequire(import.meta.url)
  const names = [`@deno/${process.platform}-${process.arch}-glibc`, `@deno/${process.platform}-${process.arch}`]
  for (const name of names) {
    try {
      const dir = dirname(require.resolve(`${name}/package.json`))
      const file = join(dir, process.platform === 'win32' ? 'deno.exe' : 'deno')
      if (isExecutable(file)) return file
    } catch {}
  }
  return null
}

function versionOutput (file: string): string | null {
  try {
    return execFileSync(file, ['--version'], { timeout: 10_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024, env: childEnv(process.env) })
  } catch {
    return null
  }
}

function atLeast (version: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    const a = version[i] ?? 0
    const b = min[i] ?? 0
    if (a !== b) return a > b
  }
  return true
}

function parseVersion (text: string, pattern: RegExp): number[] | null {
  const m = pattern.exec(text)
  return m?.[1] === undefined ? null : m[1].split('.').map((x) => Number.parseInt(x, 10) || 0)
}

// A candidate runtime, checked against yt-dlp's minimum: null when missing or too old.
export function checkJsRuntime (name: 'deno' | 'node', file: string | null): JsRuntime | null {
  if (file === null) return null
  const out = versionOutput(file)
  if (out === null) return null
  const version = name === 'deno' ? parseVersion(out, /^deno (\d+(?:\.\d+)*)/m) : parseVersion(out, /^v?(\d+(?:\.\d+)*)/)
  if (version === null) return null
  const ok = name === 'deno' ? atLeast(version, DENO_MIN) : (version[0] ?? 0) >= NODE_MIN_MAJOR
  return ok ? { name, path: file, version: version.join('.') } : null
}

export function resolveJsRuntime (setting: JsRuntimeSetting, denoFromNpm: () => string | null = npmDeno): { runtime: JsRuntime | null, problem: string | null } {
  switch (setting.name) {
    case 'none':
      return { runtime: null, problem: null }
    case 'deno':
    case 'node': {
      const file = setting.path !== null ? findOnPath(setting.path) : setting.name === 'deno' ? (denoFromNpm() ?? findOnPath('deno')) : findOnPath('node')
      const runtime = checkJsRuntime(setting.name, file)
      const min = setting.name === 'deno' ? `Deno >= ${DENO_MIN.join('.')}` : `Node >= ${NODE_MIN_MAJOR}`
      return { runtime, problem: runtime === null ? `YTDLP_JS_RUNTIME=${setting.name}: no ${min} found${file === null ? '' : ` (${file} is older or does not run)`}` : null }
    }
    case 'auto': {
      const runtime = checkJsRuntime('deno', denoFromNpm()) ?? checkJsRuntime('deno', findOnPath('deno')) ?? checkJsRuntime('node', findOnPath('node'))
      return { runtime, problem: runtime === null ? `no JavaScript runtime for yt-dlp (Deno >= ${DENO_MIN.join('.')} or Node >= ${NODE_MIN_MAJOR}): YouTube formats will be missing; npm ci installs Deno` : null }
    }
  }
}

export function resolveCacheDir (setting: string): string {
  const dir = setting !== '' ? resolve(setting) : join(tmpdir(), `vidgate-yt-dlp-cache-${process.getuid?.() ?? 0}`)
  try { mkdirSync(dir, { recursive: true, mode: 0o700 }) } catch {}
  return dir
}

type ExecutableSettings = Pick<Config, 'YTDLP_PATH' | 'FFMPEG_PATH' | 'FFPROBE_PATH' | 'YTDLP_CACHE_DIR' | 'jsRuntime'>

export function resolveExecutables (config: ExecutableSettings): Executables {
  const problems: string[] = []
  const ytdlp = resolveYtDlp(config.YTDLP_PATH)
  if (ytdlp === null) problems.push(config.YTDLP_PATH === '' ? `no yt-dlp: neither ${PROJECT_YTDLP} (npm start sets it up) nor yt-dlp on PATH` : `YTDLP_PATH=${config.YTDLP_PATH} is not an executable file`)
  const ffmpeg = findOnPath(config.FFMPEG_PATH)
  if (ffmpeg === null) problems.push(`FFMPEG_PATH=${config.FFMPEG_PATH} not found: merged streams, audio conversion and mp3/m4a/mkv downloads are unavailable`)
  const ffprobe = findOnPath(config.FFPROBE_PATH)
  if (ffprobe === null) problems.push(`FFPROBE_PATH=${config.FFPROBE_PATH} not found: yt-dlp's audio conversion needs it beside ffmpeg`)
  const js = resolveJsRuntime(config.jsRuntime)
  if (js.problem !== null) problems.push(js.problem)
  return Object.freeze({ ytdlp, ffmpeg, ffprobe, jsRuntime: js.runtime, cacheDir: resolveCacheDir(config.YTDLP_CACHE_DIR), problems })
}
