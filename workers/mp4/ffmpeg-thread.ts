// Entry of the remuxer's own worker thread (not piscina): starts and kills ffmpeg.
// uv_spawn returns only after the child has exec'd, which on a busy machine
// takes tens of milliseconds; paid here, it stalls this thread, not the HTTP
// event loop. The child writes its output to a socket the caller listens on.
import { spawn } from 'node:child_process'
import { setPriority } from 'node:os'
import type { ChildProcess } from 'node:child_process'
import { parentPort } from 'node:worker_threads'
import { killGroup } from '../children.ts'
import type { MessagePort } from 'node:worker_threads'

export type LauncherRequest =
  | { type: 'spawn', id: number, command: string, args: string[], nice: number }
  | { type: 'kill', id: number }

export interface LauncherExit { type: 'exit', id: number, code: number | null, stderr: string }

const STDERR_CHARS = 4000

function isRequest (m: unknown): m is LauncherRequest {
  if (typeof m !== 'object' || m === null || !('type' in m) || !('id' in m) || typeof m.id !== 'number') return false
  if (m.type === 'kill') return true
  return m.type === 'spawn' && 'command' in m && typeof m.command === 'string' && 'nice' in m && typeof m.nice === 'number' &&
    'args' in m && Array.isArray(m.args) && m.args.every((a) => typeof a === 'string')
}

function serve (port: MessagePort): void {
  const children = new Map<number, ChildProcess>()
  const kill = (child: ChildProcess): void => { if (child.exitCode === null && child.signalCode === null) killGroup(child.pid) }
  port.on('message', (m: unknown) => {
    if (!isRequest(m)) return
    if (m.type === 'kill') {
      const child = children.get(m.id)
      if (child !== undefined) kill(child)
      return
    }
    let stderr = ''
    let done = false
    const exit = (code: number | null, extra = ''): void => {
      if (done) return
      done = true
      children.delete(m.id)
      const event: LauncherExit = { type: 'exit', id: m.id, code, stderr: (stderr + extra).slice(-STDERR_CHARS) }
      port.postMessage(event)
    }
    // its own process group (children.ts)
    const child = spawn(m.command, m.args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
    children.set(m.id, child)
    if (m.nice !== 0 && child.pid !== undefined) {
      try { setPriority(child.pid, m.nice) } catch {}
    }
    child.stderr?.on('data', (d: Buffer) => { if (stderr.length < STDERR_CHARS) stderr += d.toString() })
    child.once('error', (err) => { exit(null, err.message) })
    child.once('close', (code) => { exit(code) })
  })
  port.once('close', () => { for (const child of children.values()) kill(child) })
}

if (parentPort !== null) serve(parentPort)
