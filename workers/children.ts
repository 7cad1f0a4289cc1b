// Child processes (yt-dlp, its warm Python processes, ffmpeg, and what those start:
// ffmpeg under yt-dlp, Deno) are spawned with `detached: true`: each is the leader
// of a process group of its own, so one kill of the group reaches the whole tree.
// Whatever thread spawned them, they are children of the process, and on Linux
// /proc lists them: a worker that exits kills every child's group
// (killChildGroups), and the primary does so for a worker it has to kill.
import { readdirSync, readFileSync } from 'node:fs'

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
