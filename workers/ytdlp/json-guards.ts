// Small narrowing helpers for JSON that arrives as `unknown` (yt-dlp output).

export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function stringOrNull (value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null
}

export function numberOrNull (value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

// yt-dlp ids are strings, but some extractors hand back numbers
export function idOrNull (value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return stringOrNull(value)
}

export function recordsOf (value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : []
}
