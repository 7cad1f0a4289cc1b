// Starts and kills ffmpeg from a worker thread of its own (workers/mp4/ffmpeg-thread.ts),
// so the HTTP event loop never waits for fork/exec. Only types come from
// workers/: the thread file is referenced by URL, as extract/pool.ts does.
import { Worker } from 'node:worker_threads'
import type { LauncherExit, LauncherRequest } from '../../workers/mp4/ffmpeg-thread.ts'
import { childEnv } from '../../workers/children.ts'

export interface Exit { code: number | null, stderr: string }

export interface Launched {
  exited: Promise<Exit>
  kill: () => void
}

export interface FfmpegLauncher {
  // nice: the child's scheduling priority (0 normal, up to 19 lowest)
  start: (args: readonly string[], nice?: number) => Launched
  close: () => Promise<void>
}

const THREAD_FILE = new URL('../../workers/mp4/ffmpeg-thread.js', import.meta.url)

function isExit (m: unknown): m is LauncherExit {
  return typeof m === 'object' && m !== null && 'type' in m && m.type === 'exit' && 'id' in m && typeof m.id === 'number'
}

// env: the thread's environment, which the ffmpeg it starts inherits (default: childEnv's allow-list)
export function createThreadLauncher (command: string, env: Record<string, string> = childEnv(process.env)): FfmpegLauncher {
  let worker: Worker | null = null
  let nextId = 1
  const pending = new Map<number, (exit: Exit) => void>()

  function thread (): Worker {
    if (worker !== null) return worker
    const w = new Worker(THREAD_FILE, { env })
    w.on('message', (m: unknown) => {
      if (!isExit(m)) return
      pending.get(m.id)?.({ code: m.code, stderr: m.stderr })
      pending.delete(m.id)
    })
    const fail = (why: string): void => {
      if (worker === w) worker = null
      for (const resolve of pending.values()) resolve({ code: null, stderr: why })
      pending.clear()
    }
    w.on('error', (err) => { fail(`the ffmpeg thread failed: ${err.message}`) })
    w.on('exit', (code) => { fail(`the ffmpeg thread exited with ${code}`) })
    // Idle, the thread must not keep the process alive (a running remux holds its
    // own sockets). After the listeners: adding a 'message' listener refs it again.
    w.unref()
    worker = w
    return w
  }

  return {
    start (args, nice = 0) {
      const id = nextId++
      const w = thread()
      const exited = new Promise<Exit>((resolve) => pending.set(id, resolve))
      const spawn: LauncherRequest = { type: 'spawn', id, command, args: [...args], nice }
      w.postMessage(spawn)
      return {
        exited,
        kill: () => {
          if (!pending.has(id)) return
          const kill: LauncherRequest = { type: 'kill', id }
          w.postMessage(kill)
        }
      }
    },
    async close () {
      const w = worker
      worker = null
      if (w !== null) await w.terminate()
    }
  }
}
