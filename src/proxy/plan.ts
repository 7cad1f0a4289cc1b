// Decides what the client gets from the first upstream answer: status, the
// absolute byte window, and where the upstream body starts. Pure, so every
// upstream behaviour (honours Range, ignores it, answers 416, …) is unit-tested.
import { AppError } from '../errors.ts'
import { parseContentRange, parseUnsatisfiedSize, resolveRange } from './range.ts'
import type { RangeSpec } from './range.ts'

export interface Plan {
  status: 200 | 206
  // absolute offsets; end is inclusive, null = until the upstream body ends
  start: number
  end: number | null
  size: number | null
  // absolute offset of the first byte of the upstream body
  upstreamStart: number
}

export function contentLength (headers: Readonly<Record<string, string>>): number | null {
  const v = headers['content-length']
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : null
}

export function planLength (plan: Plan): number | null {
  return plan.end === null ? null : plan.end - plan.start + 1
}

export function isExpiredStatus (status: number): boolean {
  return status === 403 || status === 410
}

function unsatisfiable (size: number | null): AppError {
  return new AppError('RANGE_NOT_SATISFIABLE', undefined, {
    detail: size === null ? null : `the media is ${size} bytes long`,
    headers: size === null ? {} : { 'content-range': `bytes */${size}`, 'accept-ranges': 'bytes' }
  })
}

export function upstreamStatusError (status: number): AppError {
  if (status === 429) return new AppError('UPSTREAM_RATE_LIMITED', undefined, { detail: 'the media server answered 429' })
  const hint = isExpiredStatus(status) ? ' (the media link was refused or has expired)' : ''
  return new AppError('UPSTREAM_ERROR', undefined, { detail: `the media server answered ${status}${hint}` })
}

// ranged: the client sent a single range and no If-Range.
export function planResponse (status: number, headers: Readonly<Record<string, string>>, spec: RangeSpec, hasIfRange: boolean): Plan {
  if (status === 416) throw unsatisfiable(parseUnsatisfiedSize(headers['content-range']))
  if (status === 200) {
    const size = contentLength(headers)
    // An upstream that ignored our Range is cut locally; with If-Range, a 200
    // may mean the validator failed, and then the full body is the right answer.
    if ((spec.kind === 'from' || spec.kind === 'suffix') && !hasIfRange && size !== null) {
      const r = resolveRange(spec, size)
      if (r === null) throw unsatisfiable(size)
      return { status: 206, start: r.start, end: r.end, size, upstreamStart: 0 }
    }
    return { status: 200, start: 0, end: size === null ? null : size - 1, size, upstreamStart: 0 }
  }
  if (status !== 206) throw upstreamStatusError(status)
  const cr = parseContentRange(headers['content-range'])
  if (cr === null) throw new AppError('UPSTREAM_ERROR', undefined, { detail: 'the media server sent 206 without a valid Content-Range' })
  let start = cr.start
  let end = cr.end
  if (spec.kind === 'from' || spec.kind === 'suffix') {
    const wanted = cr.size === null
      ? { start: spec.kind === 'from' ? spec.start : cr.start, end: spec.kind === 'from' && spec.end !== null ? spec.end : cr.end }
      : resolveRange(spec, cr.size)
    if (wanted === null) throw unsatisfiable(cr.size)
    if (wanted.start < cr.start || wanted.start > cr.end) throw new AppError('UPSTREAM_ERROR', undefined, { detail: 'the media server answered a different range' })
    start = wanted.start
    end = Math.min(wanted.end, cr.end)
  }
  const whole = spec.kind !== 'from' && spec.kind !== 'suffix' && start === 0 && cr.size !== null && end === cr.size - 1
  return { status: whole ? 200 : 206, start, end, size: cr.size, upstreamStart: cr.start }
}

// The upstream answer to a resume request (bytes=pos-): where its body starts.
export function resumeStart (status: number, headers: Readonly<Record<string, string>>, pos: number, size: number | null): number {
  if (status === 200) {
    const total = contentLength(headers)
    if (size !== null && total !== null && total !== size) throw new AppError('UPSTREAM_ERROR', undefined, { detail: 'the media changed size while resuming' })
    return 0
  }
  if (status !== 206) throw upstreamStatusError(status)
  const cr = parseContentRange(headers['content-range'])
  if (cr === null || cr.start > pos || cr.end < pos) throw new AppError('UPSTREAM_ERROR', undefined, { detail: 'the media server resumed at a different offset' })
  if (size !== null && cr.size !== null && cr.size !== size) throw new AppError('UPSTREAM_ERROR', undefined, { detail: 'the media changed size while resuming' })
  return cr.start
}
