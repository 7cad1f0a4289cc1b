// GET/HEAD /api/v2/files/:name: a finished download, with a single byte range,
// validators (ETag, Last-Modified) and conditional requests. The name must be a
// plain file directly in the storage root: no separators after decoding, no
// hidden or temp names, and the file is opened with O_NOFOLLOW and checked on
// the open descriptor, so a symlink (or a swap after the check) cannot escape.
import { constants, createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { AppError } from '../../errors.ts'
import { processTime, requestSignal } from '../context.ts'
import { createSink } from '../sink.ts'
import type { Route } from '../route.ts'
import { parseServedName } from '../../downloads/names.ts'
import { callerFrom } from '../../downloads/owner.ts'
import type { Caller } from '../../downloads/owner.ts'

const TYPES: Readonly<Record<string, string>> = {
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  opus: 'audio/ogg',
  ogg: 'audio/ogg'
}

export function contentTypeOf (name: string): string {
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase()
  return TYPES[ext] ?? 'application/octet-stream'
}

export type RangeResult = { kind: 'full' } | { kind: 'partial', start: number, end: number } | { kind: 'unsatisfiable' }

// One range only; a multi-range request gets the whole file (RFC 9110 lets us ignore Range).
export function parseRange (header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' }
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (m === null) return { kind: 'full' }
  const [, a = '', b = ''] = m
  if (a === '' && b === '') return { kind: 'full' }
  if (a === '') {
    const suffix = Number(b)
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' }
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(a)
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1)
  if (start >= size || (b !== '' && Number(b) < start)) return { kind: 'unsatisfiable' }
  return { kind: 'partial', start, end }
}

function contentDisposition (name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`
}

async function openPlain (root: string, name: string): Promise<{ fh: FileHandle, size: number, mtimeMs: number } | null> {
  let fh: FileHandle
  try {
    fh = await open(join(root, name), constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch {
    return null
  }
  const s = await fh.stat()
  if (!s.isFile()) {
    await fh.close()
    return null
  }
  return { fh, size: s.size, mtimeMs: s.mtimeMs }
}

// readable: whether the file belongs to one of the caller's tasks (or the caller is an admin)
export function fileRoute (root: string, readable: (name: string, caller: Caller) => Promise<boolean>): Route {
  return {
    method: 'get',
    path: '/api/v2/files/:name',
    limit: 'none',
    admin: false,
    caller: true,
    doc: {
      summary: 'A finished download (Range, HEAD, ETag, Last-Modified); only its task\'s owner and admins may read it',
      head: true,
      tags: ['downloads'],
      params: [
        { name: 'name', in: 'path', required: true, description: 'the file name from a completed task' },
        { name: 'X-Task-Token', in: 'header', description: 'the owner_token of the file\'s task (anonymous clients)' }
      ],
      responses: {
        200: { description: 'the file', contentType: 'application/octet-stream' },
        206: { description: 'one byte range of the file', contentType: 'application/octet-stream' },
        304: { description: 'not modified' },
        400: { description: 'not a valid file name' },
        404: { description: 'no such file, or not the caller\'s' },
        416: { description: 'the range is outside the file' }
      }
    },
    async handle (req, res, ctx) {
      const name = parseServedName(req.path_parameters.name ?? '')
      if (name === null) throw new AppError('INVALID_INPUT', 'name is not a valid file name', { detail: 'a file name from a completed task, without path separators' })
      const notFound = new AppError('FILE_NOT_FOUND', `No file named ${name.slice(0, 200)}`)
      if (!await readable(name, callerFrom(ctx, req.headers))) throw notFound
      const file = await openPlain(root, name)
      if (file === null) throw notFound
      let streaming = false
      try {
        const { size, mtimeMs } = file
        const etag = `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`
        const lastModified = new Date(Math.floor(mtimeMs / 1000) * 1000).toUTCString()
        res.header('accept-ranges', 'bytes').header('etag', etag).header('last-modified', lastModified)
          .header('cache-control', 'private, max-age=0, must-revalidate')
        const inm = req.headers['if-none-match']
        const ims = req.headers['if-modified-since']
        const notModified = inm !== undefined
          ? inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')
          : ims !== undefined && Date.parse(ims) >= Math.floor(mtimeMs / 1000) * 1000
        if (notModified) {
          ctx.status = 304
          res.status(304).header('x-process-time', processTime(ctx)).send()
          return
        }
        const ifRange = req.headers['if-range']
        const rangeAllowed = ifRange === undefined || ifRange === etag || ifRange === lastModified
        const range = rangeAllowed ? parseRange(req.headers.range, size) : { kind: 'full' as const }
        if (range.kind === 'unsatisfiable') {
          throw new AppError('RANGE_NOT_SATISFIABLE', `The range is outside the file (${size} bytes)`, { headers: { 'content-range': `bytes */${size}` } })
        }
        const start = range.kind === 'partial' ? range.start : 0
        const end = range.kind === 'partial' ? range.end : size - 1
        const length = size === 0 ? 0 : end - start + 1
        const status = range.kind === 'partial' ? 206 : 200
        ctx.status = status
        res.status(status).header('content-type', contentTypeOf(name)).header('content-disposition', contentDisposition(name))
          .header('x-process-time', processTime(ctx))
        if (range.kind === 'partial') res.header('content-range', `bytes ${start}-${end}/${size}`)
        if (req.method === 'HEAD' || length === 0) {
          res.header('content-length', String(length)).send()
          return
        }
        const stream = createReadStream('', { fd: file.fh, start, end, autoClose: true, highWaterMark: 256 * 1024 })
        streaming = true
        // Not hyper-express's res.stream(): under backpressure it registers a new uWS
        // onWritable handler from inside the running one (the next chunk's write comes in
        // the same callback scope), uWS 20.30 then restores the old handler, and the rest
        // of that chunk is never sent: a client on a real network got a body short by
        // tens of KB that never ended. The sink registers its handler once (http/sink.ts).
        const sink = createSink(res, requestSignal(ctx, res))
        try {
          sink.start(status, length)
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            if (!sink.write(chunk)) await sink.drained()
            if (sink.gone()) break
          }
          // a file that shrank meanwhile cannot fill its Content-Length: cut the connection
          sink.end()
        } catch {
          sink.close()
        } finally {
          stream.destroy()
        }
      } finally {
        if (!streaming) await file.fh.close()
      }
    }
  }
}
