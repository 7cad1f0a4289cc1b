// The download endpoints: JSON for tasks and storage (handlers stay thin: parse →
// use case → view), progress events (download-events.ts) and finished files (files.ts).
// Every one has `caller: true`: the policy identifies the API key and decides
// admin, and the caller sees only its own tasks (owner.ts).
import { AppError, toErrorBody } from '../../errors.ts'
import { errorSchema } from '../../schemas/error.ts'
import { jsonRoute } from '../route.ts'
import type { JsonInput, Route } from '../route.ts'
import type { CleanupCounts } from '../../downloads/cleanup.ts'
import { parseBatchRequest, parseDownloadRequest, parseJsonBody, parseListQuery } from '../../downloads/request.ts'
import { TASK_ID } from '../../downloads/names.ts'
import { callerFrom, ownerFor, TASK_TOKEN_HEADER } from '../../downloads/owner.ts'
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
  report: (full: boolean) => Promise<StorageReport>
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

const tokenParam = {
  name: 'X-Task-Token',
  in: 'header' as const,
  description: 'the owner_token the task was created with (anonymous clients; an API key owns its tasks by itself)'
}
const idParam = [{ name: 'id', in: 'path' as const, required: true, description: 'task id' }, tokenParam]
const notYours = { 404: { description: 'TASK_NOT_FOUND: no such task, or not the caller\'s', schema: errorSchema } }
const tokenHeader = (token: string | null): Record<string, string> => token === null ? {} : { [TASK_TOKEN_HEADER]: token }

export function downloadRoutes (d: Downloads): Route[] {
  const o = d.options
  return [
    ...jsonRoutes({ manager: d.manager, report: d.report, cleanup: d.cleanup, batchMax: o.batchMax }),
    eventsRoute(d.manager, d.watch, { heartbeatMs: o.sseHeartbeatMs, pollMs: o.ssePollMs, minIntervalMs: o.progressIntervalMs }),
    fileRoute(d.root, d.manager.fileReadable)
  ]
}

function jsonRoutes (deps: RouteDeps): Route[] {
  const { manager } = deps
  const submitted = (task: Parameters<typeof toView>[0], reused: boolean, token: string | null): SubmitResult => ({ ...toView(task), reused, owner_token: token })
  const caps = {
    429: { description: 'TOO_MANY_TASKS: the client holds DOWNLOAD_TASKS_PER_CLIENT tasks (Retry-After)', schema: errorSchema },
    507: { description: 'TASK_STORE_FULL (DOWNLOAD_TASKS_MAX tasks in all) or STORAGE_FULL', schema: errorSchema }
  }
  return [
    jsonRoute({
      method: 'post',
      path: '/api/v2/videos/download',
      caller: true,
      doc: {
        summary: 'Download a video to server storage (runs in the background)',
        tags: ['downloads'],
        params: [{ ...tokenParam, description: 'anonymous clients: an owner_token to create the task under (default: a new one)' }],
        body: { schema: { type: 'object', description: '{ url } or { platform, id }, plus quality, format (mp4|webm|mkv|mp3|m4a), audio_only, filename, item (one item of a multi-item post, from 1: entries[].index of the video info; 404 ITEM_NOT_FOUND past its items, 422 ITEM_IS_PHOTO for a photo)' } },
        responses: {
          202: { description: 'accepted, or the same download of this owner already queued, running or finished (reused: true); X-Task-Token carries owner_token', schema: submitSchema },
          ...caps
        }
      },
      serialize: serializeSubmit,
      status: () => 202,
      headers: (r) => ({ location: r.links.self, ...tokenHeader(r.owner_token) }),
      async handle (input) {
        const { caller, token } = ownerFor(input.ctx, input.req.headers[TASK_TOKEN_HEADER])
        const { task, reused } = await manager.submit(parseDownloadRequest(await jsonBody(input)), caller)
        return submitted(task, reused, token)
      }
    }),
    jsonRoute({
      method: 'post',
      path: '/api/v2/videos/batch-download',
      caller: true,
      doc: {
        summary: `Submit up to ${deps.batchMax} downloads at once; one result per item`,
        tags: ['downloads'],
        params: [{ ...tokenParam, description: 'anonymous clients: an owner_token to create the tasks under (default: a new one)' }],
        body: { schema: { type: 'object', description: '{ items: [{ url } | { platform, id }, …] } (or { urls: [...] }) with shared quality, format, audio_only' } },
        responses: { 202: { description: 'a result or an error per item (TOO_MANY_TASKS, TASK_STORE_FULL among them); one owner_token for all', schema: batchSchema } }
      },
      serialize: serializeBatch,
      status: (r) => r.accepted > 0 ? 202 : 200,
      headers: (r) => tokenHeader(r.owner_token),
      async handle (input): Promise<BatchResult> {
        const { caller, token } = ownerFor(input.ctx, input.req.headers[TASK_TOKEN_HEADER])
        const items = parseBatchRequest(await jsonBody(input), deps.batchMax)
        // every item counts against the rate limit, as a request of its own would
        await input.ctx.charge(items.length - 1)
        const results = await Promise.all(items.map(async (item, index): Promise<BatchItemResult> => {
          try {
            const { task, reused } = await manager.submit(parseDownloadRequest(item, `items[${index}].`), caller)
            return { index, ok: true, reused, task: toView(task), error: null }
          } catch (err) {
            const body = toErrorBody(err, input.ctx.id)
            return { index, ok: false, reused: false, task: null, error: { code: body.code, message: body.error, detail: body.detail } }
          }
        }))
        const accepted = results.filter((r) => r.ok).length
        return { total_count: results.length, accepted, failed: results.length - accepted, owner_token: token, results }
      }
    }),
    jsonRoute({
      method: 'get',
      path: TASKS_PATH,
      caller: true,
      doc: {
        summary: 'The caller\'s download tasks (an admin\'s: every client\'s), newest first',
        tags: ['downloads'],
        params: [
          { name: 'status', in: 'query', description: 'queued, running, completed, failed or cancelled' },
          { name: 'limit', in: 'query', description: '1–500 (50)' },
          { name: 'offset', in: 'query', description: 'tasks to skip (0)' },
          { ...tokenParam, description: 'anonymous clients: the owner_token whose tasks to list (without one the list is empty)' }
        ]
      },
      serialize: serializeTaskList,
      async handle (input) {
        const q = parseListQuery(input.query)
        const page = await manager.list(callerFrom(input.ctx, input.req.headers), q)
        return { total: page.total, limit: q.limit, offset: q.offset, tasks: page.tasks.map(toView) }
      }
    }),
    jsonRoute({
      method: 'get',
      path: `${TASKS_PATH}/:id`,
      caller: true,
      doc: { summary: 'One download task: state, progress, file link, error', tags: ['downloads'], params: idParam, responses: notYours },
      serialize: serializeTask,
      async handle (input) {
        const id = taskId(input)
        return toView(await manager.get(id, callerFrom(input.ctx, input.req.headers)))
      }
    }),
    jsonRoute({
      method: 'delete',
      path: `${TASKS_PATH}/:id`,
      caller: true,
      doc: {
        summary: 'Cancel a queued or running task (partial files are removed), or remove a finished task and its file',
        tags: ['downloads'],
        params: idParam,
        responses: notYours
      },
      serialize: serializeDelete,
      async handle (input) {
        const id = taskId(input)
        const r = await manager.cancel(id, callerFrom(input.ctx, input.req.headers))
        return { action: r.action, file_removed: r.fileRemoved, task: toView(r.task) }
      }
    }),
    jsonRoute({
      method: 'get',
      path: '/api/v2/system/storage',
      caller: true,
      doc: { summary: 'Download storage: use, quota, files, free disk (the folder and the oldest file\'s name for admins only)', tags: ['system'] },
      serialize: serializeStorage,
      async handle (input) {
        return await deps.report(input.ctx.admin)
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
        return { ...counts, storage: await deps.report(true) }
      }
    })
  ]
}
