// HLS rewriting across the thread boundary: functions cannot cross it, so the
// thread returns the playlist with a numbered slot for every URI and the
// list of absolute URIs; the HTTP worker signs them and fills the slots.
import { rewriteHls } from './hls-rewrite.ts'
import { isManifestError } from '../manifest-error.ts'
import type { HlsUriKind } from './hls-types.ts'
import type { TaskResult } from '../protocol.ts'

export interface HlsTemplateTask { text: string, baseUrl: string }
export interface HlsTemplate { template: string, uris: Array<{ url: string, kind: HlsUriKind }> }

export const URI_SLOT = /__VGURI_(\d+)__/g

export function hlsTemplate (input: HlsTemplateTask): TaskResult<HlsTemplate> {
  const started = performance.now()
  const uris: HlsTemplate['uris'] = []
  const index = new Map<string, number>()
  try {
    const template = rewriteHls(input.text, input.baseUrl, (url, kind) => {
      const key = `${kind} ${url}`
      let i = index.get(key)
      if (i === undefined) {
        i = uris.length
        uris.push({ url, kind })
        index.set(key, i)
      }
      return `__VGURI_${i}__`
    })
    return { ok: true, value: { template, uris }, ms: Math.round(performance.now() - started) }
  } catch (err) {
    const message = isManifestError(err) ? err.message : err instanceof Error ? err.message : String(err)
    return { ok: false, code: 'EXTRACTION_FAILED', message: `bad HLS playlist: ${message}`, stderrTail: '', ms: Math.round(performance.now() - started) }
  }
}
