// The download endpoints: JSON for tasks and storage (handlers stay thin: parse →
// use case → view), progress events (download-events.ts) and finished files (files.ts).
import { AppError, toErrorBody } from '../../errors.ts'
import { jsonRoute } from '../route.ts'
import type { JsonInput, Route } from '../route.ts'
import type { CleanupCounts } from '../../downloads/cleanup.ts'
import { parseBatchRequest, parseDownloadRequest, parseJsonBody, parseListQuery } from '../../downloads/request.ts'
import { TASK_ID } from '../../downloads/names.ts'
import { TASKS_PATH, toView } from '../../downloads/record.ts'
import {
  batchSchema, serializeBatch, serializeCleanup, serializeDelete, serializeStorage, serializeSubmit, serializeTask,
  serializeTaskList, submitSchema
} from '../../downloads/schemas.ts'
import type { BatchItemResult, BatchResult, StorageReport, SubmitResult } from '../../downloads/schemas.ts'
import type { TaskManager } from '../../downloads/tasks.ts'
import type { Downloads } from '../../downloads/index.ts'
import { eventsRoute } from './download-events.ts'
import { fileRoute } from './files.ts'

interface RouteDeps {
  manager: TaskManager
  report: () => Promise<StorageReport>
  cleanup: () => Promise<CleanupCounts>
  batchMax: number
}

async function jsonBody (input: JsonInput): Promise<unknown> {
  const type = input.req.headers['content-type']
  if (type !== undefined && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'The request body must be JSON', { detail: `got content-type ${type.slice(0, 100)}` })
  }
  return parseJsonBody(await input.req.text())
}

function taskId (input: JsonInput): string {
  const id = input.params.id ?? ''
  if (!TASK_ID.test(id)) throw new AppError('INVALID_INPUT', 'id is not a valid task id', { detail: 'task ids are 16 characters of A-Z, a-z, 0-9, _ and -' })
  return id
}

const idParam = [{ name: 'id', in: 'path' as const, required: true, description: 'task id' }]

export function downloadRoutes (d: Downloads): Route[] {
  const o = d.options
  return [
    ...jsonRoutes({ manager: d.manager, report: d.report, cleanup: d.cleanup, batchMax: o.batchMax }),
    eventsRoute(d.manager, d.watch, { heartbeatMs: o.sseHeartbeatMs, pollMs: o.ssePollMs, minIntervalMs: o.progressIntervalMs }),
    fileRoute(d.root)
  ]
}

function jsonRoutes (deps: RouteDeps): Route[] {
  const { manager } = deps
  const submitted = (task: Parameters<typeof toView>[0], reused: boolean): SubmitResult => ({ ...toView(task), reused })
  return [
    jsonRoute({
      method: 'post',
      path: '/api/v2/videos/download',
      doc: {
        summary: 'Download a video to server storage (runs in the background)',
        tags: ['downloads'],
        body: { schema: { type: 'object', description: '{ url } or { platform, id }, plus quality, format (mp4|webm|mkv|mp3|m4a), audio_only, filename' } },
        responses: { 202: { description: 'accepted, or the same download already queued, running or finished (reused: true)', schema: submitSchema } }
      },
      serialize: serializeSubmit,
      status: () => 202,
      headers: (r) => ({ location: r.links.self }),
      async handle (input) {
        const { task, reused } = await manager.submit(parseDownloadRequest(await jsonBody(input)))
        return submitted(task, reused)
      }
    }),
    jsonRoute({
      method: 'post',
      path: '/api/v2/videos/batch-download',
      doc: {
        summary: `Submit up to ${deps.batchMax} downloads at once; one result per item`,
        tags: ['downloads'],
        body: { schema: { type: 'object', description: '{ items: [{ url } | { platform, id }, …] } (or { urls: [...] }) with shared quality, format, audio_only' } },
        responses: { 202: { description: 'a result or an error per item', schema: batchSchema } }
      },
      serialize: serializeBatch,
      status: (r) => r.accepted > 0 ? 202 : 200,
      async handle (input): Promise<BatchResult> {
        const items = parseBatchRequest(await jsonBody(input), deps.batchMax)
        const results = await Promise.all(items.map(async (item, index): Promise<BatchItemResult> => {
          try {
            const { task, reused } = await manager.submit(parseDownloadRequest(item, `items[${index}].`))
            return { index, ok: true, reused, task: toView(task), error: null }
          } catch (err) {
            const body = toErrorBody(err, input.ctx.id)
            return { index, ok: false, reused: false, task: null, error: { code: body.code, message: body.error, detail: body.detail } }
          }
        }))
        const accepted = results.filter((r) => r.ok).length
        return { total_count: results.length, accepted, failed: results.length - accepted, results }
      }
    }),
    jsonRoute({
      method: 'get',
      path: TASKS_PATH,
      doc: {
        summary: 'Download tasks, newest first',
        tags: ['downloads'],
        params: [
          { name: 'status', in: 'query', description: 'queued, running, completed, failed or cancelled' },
          { name: 'limit', in: 'query', description: '1–500 (50)' },
          { name: 'offset', in: 'query', description: 'tasks to skip (0)' }
        ]
      },
      serialize: serializeTaskList,
      async handle (input) {
        const q = parseListQuery(input.query)
        const all = await manager.list(q.status)
        return { total: all.length, limit: q.limit, offset: q.offset, tasks: all.slice(q.offset, q.offset + q.limit).map(toView) }
      }
    }),
    jsonRoute({
      method: 'get',
      path: `${TASKS_PATH}/:id`,
      doc: { summary: 'One download task: state, progress, file link, error', tags: ['downloads'], params: idParam },
      serialize: serializeTask,
      async handle (input) {
        const id = taskId(input)
        return toView(await manager.get(id))
      }
    }),
    jsonRoute({
      method: 'delete',
      path: `${TASKS_PATH}/:id`,
      doc: {
        summary: 'Cancel a queued or running task (partial files are removed), or remove a finished task and its file',
        tags: ['downloads'],
        params: idParam
      },
      serialize: serializeDelete,
      async handle (input) {
        const id = taskId(input)
        const r = await manager.cancel(id)
        return { action: r.action, file_removed: r.fileRemoved, task: toView(r.task) }
      }
    }),
    jsonRoute({
      method: 'get',
      path: '/api/v2/system/storage',
      doc: { summary: 'Download storage: use, quota, files, free disk, oldest file', tags: ['system'] },
      serialize: serializeStorage,
      async handle () {
        return await deps.report()
      }
    }),
    jsonRoute({
      method: 'post',
      path: '/api/v2/system/storage/cleanup',
      admin: true,
      doc: { summary: 'Remove expired downloads and abandoned temp folders now (admin)', tags: ['system'] },
      serialize: serializeCleanup,
      async handle () {
        const counts = await deps.cleanup()
        return { ...counts, storage: await deps.report() }
      }
    })
  ]
}
