// The subtitle task: upstream bytes in one of the formats we read → WebVTT or
// SubRip, re-serialized from the cue model (cues.ts). What the bytes are is
// decided by their content first (a WEBVTT header, a JSON object) and by the
// format yt-dlp named only when the content does not say.
import { SubtitleError, decodeText } from './cues.ts'
import type { Cue } from './cues.ts'
import { parseVtt, writeVtt } from './vtt.ts'
import { parseSrt, writeSrt } from './srt.ts'
import { parseJson3 } from './json3.ts'
import type { SubtitleInput, TaskResult } from '../protocol.ts'

export const SUBTITLE_INPUTS: readonly SubtitleInput[] = ['vtt', 'srt', 'json3']
export const SUBTITLE_OUTPUTS = ['vtt', 'srt'] as const
export type SubtitleOutput = typeof SUBTITLE_OUTPUTS[number]

export interface SubtitleTask { bytes: Uint8Array, from: SubtitleInput, to: SubtitleOutput }

export function readCues (bytes: Uint8Array, named: SubtitleInput): Cue[] {
  const text = decodeText(bytes)
  const head = text.trimStart()
  const kind: SubtitleInput = head.startsWith('WEBVTT') ? 'vtt' : head.startsWith('{') ? 'json3' : named
  const cues = kind === 'vtt' ? parseVtt(head) : kind === 'json3' ? parseJson3(text) : parseSrt(text)
  // players expect cues in start order; sort is stable, so equal starts keep their order
  return cues.sort((a, b) => a.start - b.start)
}

export function writeCues (cues: readonly Cue[], to: SubtitleOutput): string {
  return to === 'srt' ? writeSrt(cues) : writeVtt(cues)
}

export function convertSubtitles (task: SubtitleTask): TaskResult<string> {
  const started = performance.now()
  const ms = (): number => Math.round(performance.now() - started)
  try {
    return { ok: true, value: writeCues(readCues(task.bytes, task.from), task.to), ms: ms() }
  } catch (err) {
    const message = err instanceof SubtitleError ? err.message : err instanceof Error ? err.message : String(err)
    return { ok: false, code: 'EXTRACTION_FAILED', message: `bad subtitle track: ${message}`, stderrTail: '', ms: ms() }
  }
}
