// The download folder on disk: finished files at its top level, one temp folder
// per running task under .vidgate/tmp. Measures use (finished files plus
// partials, for the quota), and removes expired files and abandoned temp folders.
import { lstat, mkdir, readdir, rm, statfs, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { STATE_DIR } from './names.ts'
import type { StorageReport } from './schemas.ts'

export interface StorageOptions {
  root: string
  quotaBytes: number
  retentionMs: number
  cleanupIntervalSec: number
  // how often a usage figure may be reused instead of walking the folder again
  usageCacheMs: number
}

export interface Usage {
  usedBytes: number
  fileCount: number
  tempBytes: number
  tempDirs: number
  oldest: { name: string, mtimeMs: number } | null
}

export interface Storage {
  readonly root: string
  readonly stateDir: string
  readonly quotaBytes: number
  init: () => Promise<void>
  tempDir: (taskId: string) => string
  usage: (fresh?: boolean) => Promise<Usage>
  // full: the folder and the oldest file's name too (admins only: other clients' names, our paths)
  report: (full: boolean) => Promise<StorageReport>
  removeExpiredFiles: (now?: number) => Promise<{ files: number, bytes: number }>
  removeTempDirs: (keep: (taskId: string) => Promise<boolean>, graceMs: number) => Promise<number>
  removeFile: (name: string) => Promise<boolean>
  fileSize: (name: string) => Promise<number | null>
}

const isMissing = (err: unknown): boolean => err instanceof Error && 'code' in err && err.code === 'ENOENT'

async function entries (dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    if (isMissing(err)) return []
    throw err
  }
}

// Size and newest mtime of a temp folder, two levels deep (fragment folders).
async function folderSize (dir: string, depth = 2): Promise<{ bytes: number, newestMs: number }> {
  let bytes = 0
  let newestMs = 0
  for (const name of await entries(dir)) {
    const s = await lstat(join(dir, name)).catch(() => null)
    if (s === null) continue
    newestMs = Math.max(newestMs, s.mtimeMs)
    if (s.isFile()) bytes += s.size
    else if (s.isDirectory() && depth > 1) {
      const inner = await folderSize(join(dir, name), depth - 1)
      bytes += inner.bytes
      newestMs = Math.max(newestMs, inner.newestMs)
    }
  }
  return { bytes, newestMs }
}

export function createStorage (opts: StorageOptions): Storage {
  const root = opts.root
  const stateDir = join(root, STATE_DIR)
  const tmpRoot = join(stateDir, 'tmp')
  let cached: { at: number, usage: Promise<Usage> } | null = null

  async function topFiles (): Promise<Array<{ name: string, size: number, mtimeMs: number }>> {
    const out: Array<{ name: string, size: number, mtimeMs: number }> = []
    for (const name of await entries(root)) {
      if (name.startsWith('.')) continue
      const s = await lstat(join(root, name)).catch(() => null)
      if (s?.isFile() === true) out.push({ name, size: s.size, mtimeMs: s.mtimeMs })
    }
    return out
  }

  async function measure (): Promise<Usage> {
    const files = await topFiles()
    let tempBytes = 0
    let tempDirs = 0
    for (const name of await entries(tmpRoot)) {
      tempDirs++
      tempBytes += (await folderSize(join(tmpRoot, name))).bytes
    }
    let oldest: Usage['oldest'] = null
    for (const f of files) if (oldest === null || f.mtimeMs < oldest.mtimeMs) oldest = { name: f.name, mtimeMs: f.mtimeMs }
    const fileBytes = files.reduce((sum, f) => sum + f.size, 0)
    return { usedBytes: fileBytes + tempBytes, fileCount: files.length, tempBytes, tempDirs, oldest }
  }

  function usage (fresh = false): Promise<Usage> {
    const now = Date.now()
    if (!fresh && cached !== null && now - cached.at < opts.usageCacheMs) return cached.usage
    const p = measure()
    cached = { at: now, usage: p }
    p.catch(() => { if (cached?.usage === p) cached = null })
    return p
  }

  return {
    root,
    stateDir,
    quotaBytes: opts.quotaBytes,
    async init () {
      await mkdir(tmpRoot, { recursive: true })
    },
    tempDir: (taskId) => join(tmpRoot, taskId),
    usage,
    async report (full) {
      const u = await usage(true)
      const disk = await statfs(root).catch(() => null)
      const now = Date.now()
      return {
        directory: full ? root : null,
        used_bytes: u.usedBytes,
        quota_bytes: opts.quotaBytes,
        available_bytes: Math.max(0, opts.quotaBytes - u.usedBytes),
        usage_percent: Math.round((u.usedBytes / opts.quotaBytes) * 10000) / 100,
        file_count: u.fileCount,
        temp_bytes: u.tempBytes,
        temp_dirs: u.tempDirs,
        free_disk_bytes: disk === null ? null : disk.bavail * disk.bsize,
        total_disk_bytes: disk === null ? null : disk.blocks * disk.bsize,
        oldest_file: full ? u.oldest?.name ?? null : null,
        oldest_file_age_seconds: u.oldest === null ? null : Math.max(0, Math.round((now - u.oldest.mtimeMs) / 1000)),
        retention_hours: opts.retentionMs / 3_600_000,
        cleanup_interval_seconds: opts.cleanupIntervalSec,
        timestamp: new Date(now).toISOString()
      }
    },
    async removeExpiredFiles (now = Date.now()) {
      let files = 0
      let bytes = 0
      for (const f of await topFiles()) {
        if (now - f.mtimeMs < opts.retentionMs) continue
        try {
          await unlink(join(root, f.name))
          files++
          bytes += f.size
        } catch (err) {
          if (!isMissing(err)) throw err
        }
      }
      cached = null
      return { files, bytes }
    },
    async removeTempDirs (keep, graceMs) {
      let removed = 0
      const now = Date.now()
      for (const name of await entries(tmpRoot)) {
        const dir = join(tmpRoot, name)
        const { newestMs } = await folderSize(dir)
        const s = await lstat(dir).catch(() => null)
        const touched = Math.max(newestMs, s?.mtimeMs ?? 0)
        if (now - touched < graceMs || await keep(name)) continue
        await rm(dir, { recursive: true, force: true })
        removed++
      }
      cached = null
      return removed
    },
    async removeFile (name) {
      try {
        await unlink(join(root, name))
        cached = null
        return true
      } catch (err) {
        if (isMissing(err)) return false
        throw err
      }
    },
    async fileSize (name) {
      const s = await lstat(join(root, name)).catch(() => null)
      return s?.isFile() === true ? s.size : null
    }
  }
}
