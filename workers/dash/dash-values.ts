// Attribute value parsers for DASH: ISO 8601 durations, byte ranges, numbers.
import { ManifestError } from '../manifest-error.ts'
import type { ByteRangeInclusive } from './dash-types.ts'

const ISO_DURATION = /^P(?:(\d{1,9}(?:[.,]\d{1,9})?)Y)?(?:(\d{1,9}(?:[.,]\d{1,9})?)M)?(?:(\d{1,9}(?:[.,]\d{1,9})?)W)?(?:(\d{1,9}(?:[.,]\d{1,9})?)D)?(?:T(?:(\d{1,12}(?:[.,]\d{1,12})?)H)?(?:(\d{1,12}(?:[.,]\d{1,12})?)M)?(?:(\d{1,12}(?:[.,]\d{1,12})?)S)?)?$/
// Years and months have no fixed length; MPDs practically never use them, so
// the usual 365-day year and 30-day month approximations are enough.
const UNIT_SECONDS = [365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1]

export function parseIsoDuration (value: string | undefined): number | null {
  if (value === undefined) return null
  const trimmed = value.trim()
  const match = ISO_DURATION.exec(trimmed)
  if (match === null || trimmed === 'P' || trimmed.endsWith('T')) return null
  let seconds = 0
  for (const [i, unit] of UNIT_SECONDS.entries()) {
    const part = match[i + 1]
    if (part !== undefined) seconds += Number(part.replace(',', '.')) * unit
  }
  return seconds
}

export function parseRange (value: string | undefined, what: string): ByteRangeInclusive | null {
  if (value === undefined) return null
  const match = /^\s*(\d{1,15})-(\d{1,15})\s*$/.exec(value)
  const start = Number(match?.[1])
  const end = Number(match?.[2])
  if (match === null || end < start) throw new ManifestError('MANIFEST_INVALID', `invalid ${what} ${JSON.stringify(value.slice(0, 40))}`)
  return { start, end }
}

export function parseUnsigned (value: string | undefined): number | null {
  if (value === undefined || !/^\s*\d{1,15}\s*$/.test(value)) return null
  return Number(value)
}

export function parseSigned (value: string | undefined): number | null {
  if (value === undefined || !/^\s*-?\d{1,15}\s*$/.test(value)) return null
  return Number(value)
}

export function parseFrameRate (value: string | undefined): number | null {
  const match = /^\s*(\d{1,9}(?:\.\d{1,9})?)(?:\/(\d{1,9}))?\s*$/.exec(value ?? '')
  if (match === null) return null
  const denominator = match[2] === undefined ? 1 : Number(match[2])
  return denominator === 0 ? null : Number(match[1]) / denominator
}
