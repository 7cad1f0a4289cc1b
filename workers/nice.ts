// yt-dlp runs below the HTTP workers' priority: on a small machine a burst of
// extractions must not starve the event loops that serve cached requests
// (bench/ measured event-loop stalls of ~100 ms at nice 0 and ~50 ms at nice 10; 19 leaves the HTTP workers ~90% of a contended core).
import { setPriority } from 'node:os'

export const EXTRACTION_NICE = 19

export function lowerPriority (pid: number | undefined): void {
  if (pid === undefined) return
  try { setPriority(pid, EXTRACTION_NICE) } catch {}
}
