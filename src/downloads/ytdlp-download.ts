// Runs one yt-dlp download as a child process of this HTTP worker: progress is
// read line by line from stdout as it arrives (never blocking the event loop),
// and abort, timeout or a silent child kill the whole process group (yt-dlp and
// the ffmpeg it spawns for merges). No shell; the URL sits after `--` (args.ts).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { basename } from 'node:path'
import type { ErrorCode } from '../errors.ts'
import { cleanYtDlpMessage } from '../../workers/ytdlp/ytdlp.ts'
import { childEnv, killGroup } from '../../workers/children.ts'
import { createProgressTracker, parseOutputLine } from './progress.ts'
import type { Progress } from './progress.ts'

export type Classify = (text: string) => ErrorCode

export interface DownloadRun {
  ytdlpPath: string
  // its whole environment (default: workers/children.ts childEnv's allow-list)
  env?: Record<string, string>
  args: readonly string[]
  timeoutMs: number
  // no output at all for this long means the transfer is stuck
  stallTimeoutMs: number
  signal: AbortSignal
  onProgress: (progress: Progress) => void
  classify: Classify
}

export type DownloadOutcome =
  | { ok: true, path: string, title: string | null, progress: Progress }
  | { ok: false, aborted: true }
  | { ok: false, aborted: false, code: ErrorCode, message: string, stderrTail: string }

const STDERR_TAIL_CHARS = 4096
const OUTPUT_TAIL_CHARS = 4096
const MAX_LINE_CHARS = 64 * 1024
// what a run that wrote no file reports of yt-dlp's last words (failureDetail keeps 500 characters)
const SAID_CHARS = 400

// yt-dlp's last lines, one line of text: "[generic] …: Downloading 0 items | [download] Finished …"
export function lastWords (text: string, maxChars = SAID_CHARS): string {
  const said = text.split(/[\r\n]+/).map((l) => l.trim()).filter((l) => l !== '').join(' | ')
  return said.length <= maxChars ? said : `…${said.slice(-maxChars)}`
}

// Exit 0 without a file: yt-dlp skipped the download. --max-filesize (the quota
// left) is the one skip we ask for; anything else (an empty playlist or feed, a
// filter) is a failed extraction, told with what yt-dlp said.
export function noFileOutcome (output: string, stderr: string): { code: ErrorCode, message: string } {
  const said = lastWords(`${output}\n${stderr}`)
  if (/larger than max-filesize/i.test(said)) return { code: 'STORAGE_FULL', message: 'the file is larger than the storage space left' }
  return { code: 'EXTRACTION_FAILED', message: `yt-dlp finished without writing a file; ${said === '' ? 'it printed nothing' : `its last output: ${said}`}` }
}

// the same cleaning as extraction errors (the last ERROR line, without yt-dlp's command-line advice)
export function errorMessage (stderr: string): string {
  return cleanYtDlpMessage(stderr)
}

export function runDownload (run: DownloadRun): Promise<DownloadOutcome> {
  return new Promise((resolve) => {
    if (run.signal.aborted) { resolve({ ok: false, aborted: true }); return }
    const tracker = createProgressTracker()
    let stderr = ''
    // yt-dlp's own messages on stdout (with --no-quiet), for a run that ends without a file
    let output = ''
    let pending = ''
    let done: { path: string, title: string | null } | null = null
    let stopped: 'abort' | 'timeout' | 'stall' | null = null
    let settled = false

    let child: ReturnType<typeof spawn>
    try {
      // detached: its own process group, so a kill reaches ffmpeg too
      child = spawn(run.ytdlpPath, run.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: run.env ?? childEnv(process.env) })
    } catch (err) {
      resolve({ ok: false, aborted: false, code: 'INTERNAL', message: `cannot run yt-dlp: ${err instanceof Error ? err.message : String(err)}`, stderrTail: '' })
      return
    }

    const stop = (reason: 'abort' | 'timeout' | 'stall'): void => {
      if (stopped !== null || settled) return
      stopped = reason
      killGroup(child.pid)
    }
    const onAbort = (): void => stop('abort')
    run.signal.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(() => stop('timeout'), run.timeoutMs)
    let stallTimer: NodeJS.Timeout | undefined = setTimeout(() => stop('stall'), run.stallTimeoutMs)
    // After a part finishes, ffmpeg may merge or convert for minutes without a
    // word; only the overall timeout applies until the next part starts.
    let postProcessing = false
    const alive = (): void => {
      clearTimeout(stallTimer)
      stallTimer = postProcessing ? undefined : setTimeout(() => stop('stall'), run.stallTimeoutMs)
    }

    const handleLine = (line: string): void => {
      const parsed = parseOutputLine(line)
      if (parsed.kind === 'progress') {
        postProcessing = parsed.sample.status === 'finished'
        alive()
        run.onProgress(tracker.add(parsed.sample))
      } else if (parsed.kind === 'formats') tracker.setParts(parsed.parts)
      else if (parsed.kind === 'done') done = { path: parsed.path, title: parsed.title }
      else if (line !== '') output = (output + line.slice(0, 1000) + '\n').slice(-OUTPUT_TAIL_CHARS)
    }

    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      alive()
      pending += chunk
      let nl = pending.indexOf('\n')
      while (nl !== -1) {
        handleLine(pending.slice(0, nl).replace(/\r$/, ''))
        pending = pending.slice(nl + 1)
        nl = pending.indexOf('\n')
      }
      if (pending.length > MAX_LINE_CHARS) pending = ''
    })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      alive()
      stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS)
    })

    const settle = (outcome: DownloadOutcome): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(stallTimer)
      run.signal.removeEventListener('abort', onAbort)
      resolve(outcome)
    }

    child.on('error', (err) => settle({ ok: false, aborted: false, code: 'INTERNAL', message: `cannot run yt-dlp: ${err.message}`, stderrTail: '' }))
    child.on('close', (exitCode, signal) => {
      if (pending !== '') handleLine(pending)
      if (stopped === 'abort') { settle({ ok: false, aborted: true }); return }
      if (stopped !== null) {
        const why = stopped === 'timeout' ? `did not finish within ${Math.round(run.timeoutMs / 1000)} s` : `made no progress for ${Math.round(run.stallTimeoutMs / 1000)} s`
        settle({ ok: false, aborted: false, code: 'UPSTREAM_TIMEOUT', message: `the download ${why}`, stderrTail: stderr })
        return
      }
      if (exitCode === 0 && done !== null) {
        const finished: { path: string, title: string | null } = done
        if (!existsSync(finished.path)) {
          // Without ffmpeg, yt-dlp downloads split video and audio, skips the merge with
          // only a warning (silenced by --no-warnings), exits 0 and still names the merged file.
          settle({ ok: false, aborted: false, code: 'FFMPEG_MISSING', message: `yt-dlp did not merge the video and audio into ${basename(finished.path)}: ffmpeg is not installed`, stderrTail: stderr })
          return
        }
        settle({ ok: true, path: finished.path, title: finished.title, progress: tracker.current() })
        return
      }
      if (exitCode === 0) {
        settle({ ok: false, aborted: false, ...noFileOutcome(output, stderr), stderrTail: `${output}${stderr}`.slice(-STDERR_TAIL_CHARS) })
        return
      }
      const errorText = stderr.split('\n').filter((l) => l.startsWith('ERROR:')).join('\n') || stderr
      const code = signal === null ? run.classify(errorText) : 'INTERNAL'
      const message = errorMessage(stderr) || `yt-dlp exited with ${signal ?? `code ${exitCode ?? '?'}`}`
      settle({ ok: false, aborted: false, code, message, stderrTail: stderr })
    })
  })
}
