// HLS rewriting across the thread boundary: functions cannot cross it, so the
// thread returns the re-serialized playlist cut at every URI (parts), which
// URI goes in each cut (slots) and the list of absolute URIs; the HTTP worker
// signs them and joins the parts with the links. Nothing of the upstream text
// can stand for a slot: the cuts are positions, not markers in the text.
import { rewriteHlsParts } from './hls-rewrite.ts'
import type { HlsRewrite } from './hls-rewrite.ts'
import { isManifestError } from '../manifest-error.ts'
import type { TaskResult } from '../protocol.ts'

export interface HlsTemplateTask { text: string, baseUrl: string }
export type HlsTemplate = HlsRewrite

export function hlsTemplate (input: HlsTemplateTask): TaskResult<HlsTemplate> {
  const started = performance.now()
  try {
    const value = rewriteHlsParts(input.text, input.baseUrl)
    return { ok: true, value, ms: Math.round(performance.now() - started) }
  } catch (err) {
    const message = isManifestError(err) ? err.message : err instanceof Error ? err.message : String(err)
    return { ok: false, code: 'EXTRACTION_FAILED', message: `bad HLS playlist: ${message}`, stderrTail: '', ms: Math.round(performance.now() - started) }
  }
}
