// yt-dlp runs below the HTTP workers' priority: on a small machine a burst of
// extractions must not starve the event loops that serve cached requests
// (bench/ measured event-loop stalls of ~100 ms at nice 0 and ~50 ms at nice 10; 19 leaves the HTTP workers ~90% of a contended core).
import { setPriority } from 'node:os'
import { readlinkSync } from 'node:fs'

export const EXTRACTION_NICE = 19
// the pool's threads (JSON from yt-dlp, normalization, manifest parsing): below
// the HTTP event loop, above yt-dlp itself
export const POOL_THREAD_NICE = 10

export function lowerPriority (pid: number | undefined): void {
  if (pid === undefined) return
  try { setPriority(pid, EXTRACTION_NICE) } catch {}
}

// Linux nice values are per thread: a pool thread lowers its own priority, so
// the HTTP worker's main thread wins a contended core (bench/ loop-stall).
// Elsewhere (no /proc/thread-self) it stays as it is.
export function lowerThisThread (nice = POOL_THREAD_NICE): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (!Number.isInteger(tid) || tid <= 0) return null
    setPriority(tid, nice)
    return tid
  } catch {
    return null
  }
}
