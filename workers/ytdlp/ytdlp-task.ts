// The yt-dlp task as the piscina entry calls it. Expected failures come back as data
// (TaskResult), never as throws: errors lose their code crossing the thread boundary.
import { performance } from 'node:perf_hooks'
import type { MediaInfo, PlaylistInfo, TaskErrorCode, TaskResult, YtDlpMode, YtDlpProbe, YtDlpProbeTask, YtDlpTask } from '../protocol.ts'
import { normalizeMediaInfo, normalizePlaylist } from './normalize.ts'
import { isRecord } from './json-guards.ts'
import { parseHttpUrl, runProcess, runYtDlpSpawn, settingsParams, toExtractOutcome, type ExtractOutcome } from './ytdlp.ts'
import { runWarmJob, runYtDlpWarm, warmUnavailable } from './ytdlp-warm.ts'
import { readInterpreter, startWarmProcess } from './ytdlp-warm-process.ts'

export { closeWarmProcesses, listWarmProcesses } from './ytdlp-warm.ts'

const VERSION_MAX_BYTES = 4096

function isPositiveInt (value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value > 0
}

function checkTask (input: YtDlpTask): string | null {
  if (input.kind !== 'info' && input.kind !== 'playlist') return 'kind must be info or playlist'
  if (input.mode !== 'warm' && input.mode !== 'spawn') return 'mode must be warm or spawn'
  if (typeof input.ytdlpPath !== 'string' || input.ytdlpPath === '') return 'ytdlpPath must be a non-empty string'
  if (!isPositiveInt(input.timeoutMs)) return 'timeoutMs must be a positive integer'
  if (!isPositiveInt(input.maxOutputBytes)) return 'maxOutputBytes must be a positive integer'
  if (!isPositiveInt(input.maxWarmJobs)) return 'maxWarmJobs must be a positive integer'
  if (input.maxWarmProcesses !== undefined && !isPositiveInt(input.maxWarmProcesses)) return 'maxWarmProcesses must be a positive integer'
  if (input.playlistLimit !== undefined && !isPositiveInt(input.playlistLimit)) return 'playlistLimit must be a positive integer'
  if (input.cookiesFile !== null && (typeof input.cookiesFile !== 'string' || input.cookiesFile === '')) return 'cookiesFile must be a path or null'
  return null
}

function failure (code: TaskErrorCode, message: string, stderrTail: string, startedMs: number): TaskResult<never> {
  return { ok: false, code, message, stderrTail, ms: Math.round(performance.now() - startedMs) }
}

export async function runYtDlpTask (input: YtDlpTask): Promise<TaskResult<MediaInfo | PlaylistInfo>> {
  const startedMs = performance.now()
  const problem = checkTask(input)
  if (problem !== null) return failure('INVALID_INPUT', problem, '', startedMs)
  const url = parseHttpUrl(input.url)
  if (url === null) return failure('INVALID_INPUT', 'url must be an absolute http(s) URL', '', startedMs)

  let mode: YtDlpMode = input.mode
  let outcome: ExtractOutcome | null = input.mode === 'warm' ? await runYtDlpWarm(input, url, input.timeoutMs) : null
  const warmError = input.mode === 'warm' && outcome === null ? warmUnavailable(input.ytdlpPath) : null
  const note = warmError === null ? {} : { warmError }
  if (outcome === null) {
    mode = 'spawn'
    const remainingMs = Math.max(1, Math.round(input.timeoutMs - (performance.now() - startedMs)))
    outcome = await runYtDlpSpawn(input, url, remainingMs)
  }
  if (!outcome.ok) return { ...failure(outcome.code, outcome.message, outcome.stderrTail, startedMs), ...note }

  try {
    const value = input.kind === 'info' ? normalizeMediaInfo(outcome.raw) : normalizePlaylist(outcome.raw)
    return { ok: true, value, ms: Math.round(performance.now() - startedMs), mode, ...note }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    return { ...failure('EXTRACTION_FAILED', `unexpected yt-dlp output: ${message}`, '', startedMs), ...note }
  }
}

const PROBE_MAX_BYTES = 1024 * 1024

function parseProbe (raw: unknown, warm: boolean): YtDlpProbe | null {
  if (!isRecord(raw) || typeof raw.version !== 'string') return null
  const runtimes = Array.isArray(raw.jsRuntimes) ? raw.jsRuntimes.filter(isRecord) : []
  const text = (x: unknown): string | null => typeof x === 'string' ? x : null
  return {
    version: raw.version,
    python: true,
    jsRuntimesOption: raw.jsRuntimesOption === true,
    jsRuntimes: runtimes.map(r => ({ name: text(r.name) ?? 'unknown', version: text(r.version), path: text(r.path), supported: r.supported === true })),
    ejs: raw.ejs === true,
    curlCffi: raw.curlCffi === true,
    warm
  }
}

// What the yt-dlp in use offers (version, JavaScript runtimes, solver scripts, curl_cffi),
// asked of a warm process when the mode is warm, else of the same script run once; a
// yt-dlp that is not Python answers --version and --help only.
export async function runYtDlpProbe (input: YtDlpProbeTask): Promise<TaskResult<YtDlpProbe>> {
  const startedMs = performance.now()
  const opts = { quiet: true, no_warnings: true, ignoreconfig: true, ...settingsParams(input.settings) }
  const job = { probe: true, url: '', opts, timeoutMs: input.timeoutMs, maxOutputBytes: PROBE_MAX_BYTES }
  const done = (value: YtDlpProbe, mode: YtDlpMode): TaskResult<YtDlpProbe> => ({ ok: true, value, ms: Math.round(performance.now() - startedMs), mode })
  if (input.mode === 'warm') {
    const task: YtDlpTask = { kind: 'info', url: '', ytdlpPath: input.ytdlpPath, mode: 'warm', timeoutMs: input.timeoutMs, maxOutputBytes: PROBE_MAX_BYTES, cookiesFile: null, maxWarmJobs: 500, settings: input.settings, ...(input.generation === undefined ? {} : { generation: input.generation }), ...(input.counters === undefined ? {} : { counters: input.counters }) }
    const outcome = await runWarmJob(task, job)
    const probe = outcome?.ok === true ? parseProbe(outcome.raw, true) : null
    if (probe !== null) return done(probe, 'warm')
  }
  const interpreter = readInterpreter(input.ytdlpPath)
  if (interpreter !== null) {
    try {
      const proc = startWarmProcess(input.ytdlpPath, interpreter, { onGone: () => {} })
      const outcome = await proc.run(job)
      proc.retire()
      const probe = outcome?.ok === true ? parseProbe(outcome.raw, false) : null
      if (probe !== null) return done(probe, 'spawn')
    } catch {}
  }
  const version = await ytDlpVersion(input.ytdlpPath, input.timeoutMs)
  if (!version.ok) return version
  const help = await runProcess(input.ytdlpPath, ['--help'], { timeoutMs: input.timeoutMs, maxOutputBytes: PROBE_MAX_BYTES })
  const jsRuntimesOption = help.kind === 'exit' && help.exitCode === 0 && help.stdout.includes('--js-runtimes')
  return done({ version: version.value, python: false, jsRuntimesOption, jsRuntimes: [], ejs: false, curlCffi: false, warm: false }, 'spawn')
}

export async function ytDlpVersion (ytdlpPath: string, timeoutMs = 10_000): Promise<TaskResult<string>> {
  const startedMs = performance.now()
  if (typeof ytdlpPath !== 'string' || ytdlpPath === '') return failure('INVALID_INPUT', 'ytdlpPath must be a non-empty string', '', startedMs)
  if (!isPositiveInt(timeoutMs)) return failure('INVALID_INPUT', 'timeoutMs must be a positive integer', '', startedMs)
  const limits = { timeoutMs, maxOutputBytes: VERSION_MAX_BYTES }
  const result = await runProcess(ytdlpPath, ['--version'], limits)
  if (result.kind === 'exit' && result.exitCode === 0) {
    const version = result.stdout.toString('utf8').trim()
    if (version !== '') return { ok: true, value: version, ms: Math.round(performance.now() - startedMs), mode: 'spawn' }
  }
  const outcome = toExtractOutcome(result, limits)
  if (outcome.ok) return failure('EXTRACTION_FAILED', 'yt-dlp --version printed nothing', '', startedMs)
  return failure(outcome.code, outcome.message, outcome.stderrTail, startedMs)
}
