// File names: the ones we create (sanitized, bounded, unique by task id) and the
// ones clients ask for (refused unless they name a plain file in the storage root).
import { randomBytes } from 'node:crypto'

export const TASK_ID = /^[A-Za-z0-9_-]{16}$/
export const MAX_BASE_BYTES = 120
export const MAX_NAME_BYTES = 255
// Hidden names are ours: state, temp folders, partial files.
export const STATE_DIR = '.vidgate'

export function newTaskId (): string {
  return randomBytes(12).toString('base64url')
}

// Control and invisible/bidi characters become spaces; Windows-reserved ones
// become "_", so a name works wherever it is saved and displays as it reads.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g
const RESERVED = /[/\\:*?"<>|]/g

function truncateBytes (text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text
  let out = ''
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > maxBytes) break
    out += ch
  }
  return out
}

export function sanitizeBase (raw: string | null): string {
  const cleaned = (raw ?? '')
    .normalize('NFC')
    .replace(INVISIBLE, ' ')
    .replace(RESERVED, '_')
    .replace(/\s+/g, ' ')
    .replace(/^[\s.\-_]+/, '')
  const bounded = truncateBytes(cleaned, MAX_BASE_BYTES).replace(/[\s.]+$/, '')
  return bounded === '' ? 'download' : bounded
}

// "<base>_<task id>.<ext>": the task id makes it unique, the base makes it readable.
export function finalName (base: string | null, taskId: string, ext: string): string {
  const safeExt = /^[a-z0-9]{1,8}$/i.test(ext) ? ext.toLowerCase() : 'bin'
  return `${sanitizeBase(base)}_${taskId}.${safeExt}`
}

// The user's `filename` may carry an extension; ours wins, so drop a known one.
export function stripExtension (name: string): string {
  return name.replace(/\.(mp4|webm|mkv|mp3|m4a|opus|ogg|mov|avi)$/i, '')
}

// A path parameter exactly as the client sent it (still percent-encoded) → the
// file name in the storage root, or null. Decoding happens once, here, so
// %2F, %5C, %00 and %2e%2e are judged after decoding like their plain forms.
export function parseServedName (raw: string): string | null {
  if (raw.length === 0 || raw.length > MAX_NAME_BYTES * 3) return null
  let name: string
  try {
    name = decodeURIComponent(raw)
  } catch {
    return null
  }
  if (name.length === 0 || Buffer.byteLength(name) > MAX_NAME_BYTES) return null
  if (name.startsWith('.') || name.includes('/') || name.includes('\\')) return null
  if (/[\u0000-\u001f\u007f]/.test(name)) return null
  return name
}
