// Child processes (yt-dlp, its warm Python processes, ffmpeg, and what those start:
// ffmpeg under yt-dlp, Deno) are spawned with `detached: true`: each is the leader
// of a process group of its own, so one kill of the group reaches the whole tree.
// Whatever thread spawned them, they are children of the process, and on Linux
// /proc lists them: a worker that exits kills every child's group
// (killChildGroups), and the primary does so for a worker it has to kill.
//
// Nor do children get vidgate's environment, which holds its secrets
// (PROXY_SIGNING_SECRET, API_KEYS, REDIS_URL, the operator's own): childEnv is an
// allow-list. The threads that spawn (the extraction pool, the ffmpeg launcher) are
// created with it as their environment, and their children inherit it.
import { readdirSync, readFileSync } from 'node:fs'

// What yt-dlp, its Python, Deno and ffmpeg need of the environment: where programs,
// the home and temp folders are, the locale and time zone, the TLS trust settings.
// No proxy variables: yt-dlp and ffmpeg are given their proxy (the egress) as options.
const ALLOWED: ReadonlySet<string> = new Set([
  'PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TMP', 'TEMP',
  'XDG_CACHE_HOME', 'XDG_RUNTIME_DIR', 'DENO_DIR',
  'SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE'
])

// The operator's proxy variables: only the yt-dlp update command gets them (pip and
// apt-get reach their index through them).
export const PROXY_ENV: readonly string[] = ['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY']

// extra: more names to pass (CHILD_ENV_ALLOW)
export function childEnv (source: Readonly<Record<string, string | undefined>>, extra: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {}
  const more = new Set(extra)
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && (ALLOWED.has(name) || name.startsWith('LC_') || more.has(name))) out[name] = value
  }
  return out
}

export function killGroup (pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined || pid <= 0) return
  try {
    process.kill(-pid, signal)
  } catch {
    try { process.kill(pid, signal) } catch {}
  }
}

// The children of a process, from /proc (every thread's); empty where /proc is not.
export function childrenOf (pid: number = process.pid): number[] {
  const out: number[] = []
  let tasks: string[]
  try { tasks = readdirSync(`/proc/${pid}/task`) } catch { return out }
  for (const task of tasks) {
    let text = ''
    try { text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8') } catch {}
    for (const c of text.split(/\s+/)) if (c !== '') out.push(Number(c))
  }
  return out
}

// Synchronous, so that it can run in an 'exit' handler.
export function killChildGroups (pid: number = process.pid, signal: NodeJS.Signals = 'SIGKILL'): number {
  const children = childrenOf(pid)
  for (const child of children) killGroup(child, signal)
  return children.length
}
