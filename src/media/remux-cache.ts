// Finished remuxes kept on disk, so that merged streams can be served with
// Range and an exact length: the first remux of a pair is written to a file
// as ffmpeg produces it (the same bytes its clients get), and once complete
// every request for that pair is served from the file. Both the full response
// and any range of it come from one file, so a range always equals the same
// bytes of the full response.
// The folder is shared by the host's workers: a finished file is
// <sha256(key)>.mp4 (renamed into place when complete), one being written is
// <hash>.<pid>.<n>.part. Bounded: before each MiB written, the folder's size is
// counted and the least recently served files are deleted to make room (and
// every file not served for REMUX_CACHE_TTL); a remux that does not fit is not
// kept. Writers of several workers may overshoot the cap by up to a MiB each.
import { createHash } from 'node:crypto'
import { mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Config } from '../config.ts'

export const CACHE_STEP_BYTES = 1024 * 1024

export interface CachedFile { path: string, size: number }

export interface CacheWriter {
  // the file being written (renamed by commit)
  readonly path: string
  // false: the cap leaves no room for it; the file is deleted
  append: (chunk: Buffer) => Promise<boolean>
  // moves the complete file into place; null when it could not be kept
  commit: () => Promise<CachedFile | null>
  abort: () => Promise<void>
}

export interface RemuxCache {
  // the finished file of a key (counts as a use: it moves to the back of the eviction order)
  find: (key: string) => Promise<CachedFile | null>
  // null: the cache is off or its folder cannot be written
  create: (key: string) => Promise<CacheWriter | null>
}

// deleting is best effort: a file that cannot be deleted is counted and left
const remove = async (path: string): Promise<void> => { await rm(path, { force: true }).catch(() => {}) }
const nameOf = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 40)
const PART = /^[0-9a-f]{40}\.(\d+)\.\d+\.part$/
const DONE = /^[0-9a-f]{40}\.mp4$/

function alive (pid: number): boolean {
  if (pid === process.pid) return true
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

// maxBytes 0: no cache (find and create answer null)
// The cache the settings describe (REMUX_CACHE_*).
export function remuxCacheOf (config: Pick<Config, 'REMUX_CACHE_MB' | 'REMUX_CACHE_TTL' | 'REMUX_CACHE_DIRECTORY' | 'PORT'>): RemuxCache {
  const dir = config.REMUX_CACHE_DIRECTORY !== '' ? resolve(config.REMUX_CACHE_DIRECTORY) : join(tmpdir(), `vidgate-remux-cache-${config.PORT}`)
  return createRemuxCache({ dir, maxBytes: Math.floor(config.REMUX_CACHE_MB * 1024 * 1024), ttlMs: config.REMUX_CACHE_TTL * 1000 })
}

export function createRemuxCache (opts: { dir: string, maxBytes: number, ttlMs: number, now?: () => number }): RemuxCache {
  const now = opts.now ?? Date.now
  const enabled = opts.maxBytes > 0
  let ready: Promise<boolean> | null = null
  let seq = 0
  // the parts this process is writing
  const writing = new Set<string>()
  const ensureDir = async (): Promise<boolean> => await (ready ??= mkdir(opts.dir, { recursive: true, mode: 0o700 }).then(() => true, () => false))

  // Counts the folder, deletes expired files and parts of dead processes, then
  // the least recently used finished files until `need` more bytes fit;
  // answers how many bytes are left under the cap.
  async function makeRoom (need: number): Promise<number> {
    let names: string[]
    try { names = await readdir(opts.dir) } catch { return 0 }
    let total = 0
    const done: Array<{ path: string, size: number, used: number }> = []
    for (const name of names) {
      const path = join(opts.dir, name)
      const st = await stat(path).catch(() => null)
      if (st === null) continue
      const part = PART.exec(name)
      // a part of a process that is gone (or one not written to for the TTL: its pid may be another's now)
      if (part !== null && !writing.has(path) && (!alive(Number(part[1])) || now() - st.mtimeMs > opts.ttlMs)) { await remove(path); continue }
      if (part === null && DONE.test(name) && now() - st.mtimeMs > opts.ttlMs) { await remove(path); continue }
      total += st.size
      if (part === null && DONE.test(name)) done.push({ path, size: st.size, used: st.mtimeMs })
    }
    done.sort((a, b) => a.used - b.used)
    for (const f of done) {
      if (total + need <= opts.maxBytes) break
      await remove(f.path)
      total -= f.size
    }
    return Math.max(0, opts.maxBytes - total)
  }

  return {
    async find (key) {
      if (!enabled) return null
      const path = join(opts.dir, `${nameOf(key)}.mp4`)
      const st = await stat(path).catch(() => null)
      if (st === null || !st.isFile()) return null
      const t = now()
      if (t - st.mtimeMs > opts.ttlMs) { await remove(path); return null }
      await utimes(path, t / 1000, t / 1000).catch(() => {})
      return { path, size: st.size }
    },

    async create (key) {
      if (!enabled || !(await ensureDir())) return null
      const name = nameOf(key)
      const part = join(opts.dir, `${name}.${process.pid}.${++seq}.part`)
      let fh: FileHandle
      try { fh = await open(part, 'wx', 0o600) } catch { return null }
      writing.add(part)
      let budget = 0
      let size = 0
      let closed = false
      const close = async (): Promise<void> => { if (!closed) { closed = true; writing.delete(part); await fh.close().catch(() => {}) } }
      const abort = async (): Promise<void> => { await close(); await remove(part) }
      return {
        path: part,
        async append (chunk) {
          if (closed) return false
          if (chunk.length > budget) {
            const left = await makeRoom(chunk.length)
            if (left < chunk.length) { await abort(); return false }
            budget = Math.min(left, Math.max(chunk.length, CACHE_STEP_BYTES))
          }
          try {
            let off = 0
            while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off, size + off)).bytesWritten
          } catch {
            await abort()
            return false
          }
          budget -= chunk.length
          size += chunk.length
          return true
        },
        async commit () {
          if (closed) return null
          await close()
          const path = join(opts.dir, `${name}.mp4`)
          try {
            await rename(part, path)
          } catch {
            await remove(part)
            return null
          }
          return { path, size }
        },
        abort
      }
    }
  }
}
