// Small hand-written parsers for query, path and body fields. Each failure is
// an INVALID_INPUT naming the field, never a 500.
import type { Request } from 'hyper-express'
import { AppError } from '../errors.ts'

const MAX_FIELD = 4096

function invalid (field: string, problem: string): AppError {
  return new AppError('INVALID_INPUT', `${field} ${problem}`, { detail: field })
}

export function pathParam (params: Readonly<Record<string, string>>, name: string): string {
  const raw = params[name]
  if (raw === undefined || raw === '') throw invalid(name, 'is required')
  if (raw.length > MAX_FIELD) throw invalid(name, 'is too long')
  try { return decodeURIComponent(raw) } catch { throw invalid(name, 'is not valid percent-encoding') }
}

// querystring.parse gives arrays for repeated keys: a field is given once or not at all.
export function queryString (query: Readonly<Record<string, unknown>>, name: string, opts: { required?: boolean, max?: number } = {}): string | undefined {
  const value = query[name]
  if (value === undefined || value === '') {
    if (opts.required === true) throw invalid(name, 'is required')
    return undefined
  }
  if (typeof value !== 'string') throw invalid(name, 'must be given once')
  if (value.length > (opts.max ?? MAX_FIELD)) throw invalid(name, `must be at most ${opts.max ?? MAX_FIELD} characters`)
  if (value.includes('\0')) throw invalid(name, 'must not contain NUL')
  return value
}

export function queryEnum<T extends string> (query: Readonly<Record<string, unknown>>, name: string, allowed: readonly T[], fallback: T): T {
  const value = queryString(query, name, { max: 64 })
  if (value === undefined) return fallback
  const found = allowed.find((a) => a === value.toLowerCase())
  if (found === undefined) throw new AppError('INVALID_INPUT', `${name} must be one of ${allowed.join(', ')}`, { detail: name })
  return found
}

export function queryInt (query: Readonly<Record<string, unknown>>, name: string, opts: { min: number, max: number, fallback: number }): number {
  const value = queryString(query, name, { max: 16 })
  if (value === undefined) return opts.fallback
  if (!/^-?\d+$/.test(value)) throw invalid(name, 'must be a whole number')
  const n = Number(value)
  if (n < opts.min || n > opts.max) throw invalid(name, `must be between ${opts.min} and ${opts.max}`)
  return n
}

export function queryBool (query: Readonly<Record<string, unknown>>, name: string, fallback = false): boolean {
  const value = queryString(query, name, { max: 8 })
  if (value === undefined) return fallback
  const v = value.toLowerCase()
  if (v === 'true' || v === '1' || v === 'yes') return true
  if (v === 'false' || v === '0' || v === 'no') return false
  throw invalid(name, 'must be true or false')
}

const MAX_DEPTH = 16

function depthOf (value: unknown, depth = 0): number {
  if (depth > MAX_DEPTH || typeof value !== 'object' || value === null) return depth
  let max = depth
  for (const v of Object.values(value)) max = Math.max(max, depthOf(v, depth + 1))
  return max
}

// Reads a JSON object body; the pipeline has already bounded its size.
export async function jsonBody (req: Request): Promise<Record<string, unknown>> {
  const value = await jsonValue(req)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('body', 'must be a JSON object')
  return value as Record<string, unknown>
}

// A JSON body that is an object or an array (the original's bare-array batch), depth-checked.
export async function jsonValue (req: Request): Promise<Record<string, unknown> | unknown[]> {
  const type = (req.headers['content-type'] ?? '').toLowerCase()
  if (type !== '' && !type.startsWith('application/json')) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json')
  let text: string
  try { text = await req.text() } catch (err) {
    if (err instanceof AppError) throw err
    throw new AppError('INVALID_INPUT', 'The request body could not be read', { cause: err })
  }
  let value: unknown
  try { value = JSON.parse(text) } catch { throw new AppError('INVALID_INPUT', 'The request body is not valid JSON', { detail: 'body' }) }
  if (typeof value !== 'object' || value === null) throw invalid('body', 'must be a JSON object or array')
  if (depthOf(value) > MAX_DEPTH) throw invalid('body', `must not nest deeper than ${MAX_DEPTH} levels`)
  return value as Record<string, unknown> | unknown[]
}

export function bodyString (body: Readonly<Record<string, unknown>>, name: string, opts: { required?: boolean, max?: number } = {}): string | undefined {
  const value = body[name]
  if (value === undefined || value === null || value === '') {
    if (opts.required === true) throw invalid(name, 'is required')
    return undefined
  }
  if (typeof value !== 'string') throw invalid(name, 'must be a string')
  if (value.length > (opts.max ?? MAX_FIELD)) throw invalid(name, `must be at most ${opts.max ?? MAX_FIELD} characters`)
  if (value.includes('\0')) throw invalid(name, 'must not contain NUL')
  return value
}

export function bodyBool (body: Readonly<Record<string, unknown>>, name: string, fallback = false): boolean {
  const value = body[name]
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'boolean') throw invalid(name, 'must be true or false')
  return value
}

export function bodyArray (body: Readonly<Record<string, unknown>>, name: string, max: number): unknown[] {
  const value = body[name]
  if (!Array.isArray(value)) throw invalid(name, 'must be an array')
  if (value.length === 0) throw invalid(name, 'must not be empty')
  if (value.length > max) throw invalid(name, `may hold at most ${max} items`)
  return value
}
