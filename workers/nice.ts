// yt-dlp runs below the HTTP workers' priority: on a small machine a burst of
// extractions must not starve the event loops that serve cached requests
// (bench/ measured event-loop stalls fall from ~100 ms to ~50 ms with nice 10).
import { setPriority } from 'node:os'

export const EXTRACTION_NICE = 10

export function lowerPriority (pid: number | undefined): void {
  if (pid === undefined) return
  try { setPriority(pid, EXTRACTION_NICE) } catch {}
}
