// Ordered sets of task ids on disk, for the files store: one folder per set
// (a "scope": every task, one owner's, one client's, each also by state), one
// empty file per member named "<created ms, 13 digits>-<task id>", so names sort
// by creation. Every worker process on the host reads and writes the same
// folders. A scope's sorted names are kept in memory and reused while the
// folder's mtime stays the same: listing a quiet scope costs a stat, and a busy
// one a readdir (names only; records are read for the page alone).
import { mkdir, readdir, rmdir, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export const ENTRY = /^(\d{13})-([A-Za-z0-9_-]{16})$/

export const entryName = (createdMs: number, id: string): string => `${String(Math.max(0, Math.floor(createdMs))).padStart(13, '0')}-${id}`

export function parseEntry (name: string): { createdMs: number, id: string } | null {
  const m = ENTRY.exec(name)
  return m === null ? null : { createdMs: Number(m[1]), id: m[2] ?? '' }
}

export interface DirIndex {
  add: (scope: string, entry: string) => Promise<void>
  drop: (scope: string, entry: string) => Promise<void>
  // newest first; maxAgeMs > 0 accepts a cached list that old even if the folder changed since
  entries: (scope: string, maxAgeMs?: number) => Promise<readonly string[]>
  // removes scope folders left empty (not their own concern while they are in use)
  pruneEmpty: () => Promise<number>
}

const isCode = (err: unknown, code: string): boolean => err instanceof Error && 'code' in err && err.code === code

// A folder's mtime has the kernel's coarse clock (a few ms): a list read while
// the folder changed within this margin may miss a change with the same mtime,
// so it is only reused once the folder has been quiet for longer.
const QUIET_MS = 100
// a scope's list is read again after this long even if its folder looks unchanged (clock steps)
const MAX_REUSE_MS = 60_000
const MAX_CACHED_SCOPES = 2000

interface Cached { mtimeMs: number, names: readonly string[], readAt: number, quiet: boolean }

// position of `entry` in names sorted newest first (descending)
function position (names: readonly string[], entry: string): number {
  let lo = 0
  let hi = names.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((names[mid] ?? '') > entry) lo = mid + 1
    else hi = mid
  }
  return lo
}

export function createDirIndex (root: string): DirIndex {
  const cache = new Map<string, Cached>()
  const dirOf = (scope: string): string => join(root, scope)

  async function read (scope: string, maxAgeMs: number): Promise<readonly string[]> {
    const now = Date.now()
    const hit = cache.get(scope)
    if (hit !== undefined && maxAgeMs > 0 && now - hit.readAt <= maxAgeMs) return hit.names
    let s
    try {
      s = await stat(dirOf(scope))
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err
      cache.delete(scope)
      return []
    }
    if (hit !== undefined && hit.quiet && hit.mtimeMs === s.mtimeMs && now - hit.readAt < MAX_REUSE_MS) return hit.names
    let names: string[]
    try {
      names = (await readdir(dirOf(scope))).filter((n) => ENTRY.test(n))
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err
      names = []
    }
    names.sort().reverse()
    cache.delete(scope)
    if (cache.size >= MAX_CACHED_SCOPES) cache.delete(cache.keys().next().value ?? '')
    cache.set(scope, { mtimeMs: s.mtimeMs, names, readAt: now, quiet: now - s.mtimeMs > QUIET_MS })
    return names
  }

  return {
    async add (scope, entry) {
      const path = join(dirOf(scope), entry)
      // the folder may be missing, or pruned between our mkdir and write
      for (let i = 0; ; i++) {
        try {
          await writeFile(path, '')
          break
        } catch (err) {
          if (!isCode(err, 'ENOENT') || i >= 3) throw err
          await mkdir(dirOf(scope), { recursive: true })
        }
      }
      // our own changes show at once in a list reused under maxAgeMs (the folder's mtime invalidates it for the rest)
      const hit = cache.get(scope)
      if (hit === undefined) return
      const at = position(hit.names, entry)
      // copy on write: a listing may still be paging through the old array
      if (hit.names[at] !== entry) hit.names = hit.names.toSpliced(at, 0, entry)
    },
    async drop (scope, entry) {
      try {
        await unlink(join(dirOf(scope), entry))
      } catch (err) {
        if (!isCode(err, 'ENOENT')) throw err
      }
      const hit = cache.get(scope)
      if (hit === undefined) return
      const at = position(hit.names, entry)
      if (hit.names[at] === entry) hit.names = hit.names.toSpliced(at, 1)
    },
    entries: async (scope, maxAgeMs = 0) => await read(scope, maxAgeMs),
    async pruneEmpty () {
      let removed = 0
      let scopes: string[]
      try {
        scopes = await readdir(root)
      } catch (err) {
        if (isCode(err, 'ENOENT')) return 0
        throw err
      }
      for (const scope of scopes) {
        try {
          await rmdir(dirOf(scope))
          cache.delete(scope)
          removed++
        } catch (err) {
          if (!isCode(err, 'ENOTEMPTY') && !isCode(err, 'EEXIST') && !isCode(err, 'ENOENT') && !isCode(err, 'ENOTDIR')) throw err
        }
      }
      return removed
    }
  }
}
