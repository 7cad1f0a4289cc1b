// GET /api/v2/videos/tasks/:id/events: Server-Sent Events. Each change of the
// task is one `event: progress` with the task JSON (same schema as GET task),
// never older than the one before (records carry a sequence number). The final
// state is followed by `event: end` and the stream closes, so an EventSource
// client should close on `end` instead of reconnecting. Comments keep idle
// proxies from timing the stream out; a client that leaves releases everything.
import { AppError } from '../../errors.ts'
import { processTime } from '../context.ts'
import type { Route } from '../route.ts'
import { TASK_ID } from '../../downloads/names.ts'
import { toView } from '../../downloads/record.ts'
import { serializeTask } from '../../downloads/schemas.ts'
import type { TaskManager } from '../../downloads/tasks.ts'
import { isTerminal } from '../../downloads/types.ts'
import type { TaskRecord, TaskStore } from '../../downloads/types.ts'
import { callerFrom } from '../../downloads/owner.ts'

export interface EventsOptions {
  heartbeatMs: number
  // re-read the record this often in case a notification was missed
  pollMs: number
  // at most one progress event per this many ms (the final state is never held back)
  minIntervalMs: number
}

export function eventsRoute (manager: TaskManager, watch: TaskStore['watch'], opts: EventsOptions): Route {
  return {
    method: 'get',
    path: '/api/v2/videos/tasks/:id/events',
    limit: 'default',
    admin: false,
    caller: true,
    doc: {
      summary: 'Live progress of a download task (Server-Sent Events) until it ends',
      tags: ['downloads'],
      params: [
        { name: 'id', in: 'path', required: true, description: 'task id' },
        { name: 'X-Task-Token', in: 'header', description: 'the owner_token the task was created with (anonymous clients)' }
      ],
      responses: {
        200: { description: '`event: progress` per change with the task JSON, then `event: end`', contentType: 'text/event-stream' },
        404: { description: 'no such task, or not the caller\'s' }
      }
    },
    async handle (req, res, ctx) {
      const id = req.path_parameters.id ?? ''
      if (!TASK_ID.test(id)) throw new AppError('INVALID_INPUT', 'id is not a valid task id')
      const first = await manager.get(id, callerFrom(ctx, req.headers))
      ctx.status = 200
      res.status(200)
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache, no-transform')
        .header('x-accel-buffering', 'no')
        .header('x-process-time', processTime(ctx))
      if (req.method === 'HEAD' || res.completed) { res.send(); return }

      await new Promise<void>((resolve) => {
        let lastSeq = 0
        let lastSentMs = 0
        let held: TaskRecord | null = null
        let holdTimer: NodeJS.Timeout | null = null
        let closed = false

        const write = (text: string): void => { if (!closed && !res.completed) res.write(text) }
        const close = (): void => {
          if (closed) return
          closed = true
          unwatch()
          clearInterval(beat)
          clearInterval(poll)
          if (holdTimer !== null) clearTimeout(holdTimer)
          if (!res.completed) res.send()
          resolve()
        }
        const emit = (task: TaskRecord): void => {
          lastSeq = task.seq
          lastSentMs = Date.now()
          const data = serializeTask(toView(task))
          write(`id: ${task.seq}\nevent: progress\ndata: ${data}\n\n`)
          if (isTerminal(task.state)) {
            write(`event: end\ndata: ${data}\n\n`)
            close()
          }
        }
        const offer = (task: TaskRecord | null): void => {
          if (closed) return
          if (task === null) {
            write('event: end\ndata: null\n\n')
            close()
            return
          }
          if (task.seq <= lastSeq) return
          const wait = opts.minIntervalMs - (Date.now() - lastSentMs)
          if (isTerminal(task.state) || wait <= 0) {
            held = null
            emit(task)
            return
          }
          held = task
          holdTimer ??= setTimeout(() => {
            holdTimer = null
            const next = held
            held = null
            if (next !== null && next.seq > lastSeq) emit(next)
          }, wait)
        }

        const unwatch = watch(id, offer)
        res.once('abort', close)
        const beat = setInterval(() => write(': keep-alive\n\n'), opts.heartbeatMs)
        const poll = setInterval(() => { manager.find(id).then(offer, () => {}) }, opts.pollMs)
        write('retry: 5000\n\n')
        offer(first)
      })
    }
  }
}
