// The yt-dlp task as the piscina entry calls it. Expected failures come back as data
// (TaskResult), never as throws: errors lose their code crossing the thread boundary.
import { performance } from 'node:perf_hooks'
import type { MediaInfo, PlaylistInfo, TaskErrorCode, TaskResult, YtDlpMode, YtDlpTask } from './protocol.ts'
import { normalizeMediaInfo, normalizePlaylist } from './normalize.ts'
import { parseHttpUrl, runProcess, runYtDlpSpawn, toExtractOutcome, type ExtractOutcome } from './ytdlp.ts'
import { runYtDlpWarm } from './ytdlp-warm.ts'

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
  if (outcome === null) {
    mode = 'spawn'
    const remainingMs = Math.max(1, Math.round(input.timeoutMs - (performance.now() - startedMs)))
    outcome = await runYtDlpSpawn(input, url, remainingMs)
  }
  if (!outcome.ok) return failure(outcome.code, outcome.message, outcome.stderrTail, startedMs)

  try {
    const value = input.kind === 'info' ? normalizeMediaInfo(outcome.raw) : normalizePlaylist(outcome.raw)
    return { ok: true, value, ms: Math.round(performance.now() - startedMs), mode }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    return failure('EXTRACTION_FAILED', `unexpected yt-dlp output: ${message}`, '', startedMs)
  }
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
