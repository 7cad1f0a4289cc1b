// The piscina entry: named task exports only, each a one-line call into its module.
import type { MediaInfo, PlaylistInfo, TaskResult, YtDlpProbe, YtDlpProbeTask, YtDlpReloadResult, YtDlpReloadTask, YtDlpTask, YtDlpVersionTask } from './protocol.ts'
import { runYtDlpProbe, runYtDlpTask, ytDlpVersion } from './ytdlp/ytdlp-task.ts'
import { prewarm, reloadWarm, useCounters } from './ytdlp/ytdlp-warm.ts'
import { hlsTemplate as buildHlsTemplate } from './hls/hls-template.ts'
import type { HlsTemplate, HlsTemplateTask } from './hls/hls-template.ts'
import { buildHlsTask, fmp4IndexTask, dashRepresentationTask } from './mp4/split-tasks.ts'
import type { BuildHlsTask, DashRepresentationResult, DashRepresentationTask, Fmp4Index, Fmp4IndexTask } from './mp4/split-tasks.ts'
import { convertSubtitles } from './subtitles/convert.ts'
import type { SubtitleTask } from './subtitles/convert.ts'
import { lowerThisThread } from './nice.ts'

// this file is loaded once per pool thread
lowerThisThread()

export async function ytdlp (input: YtDlpTask): Promise<TaskResult<MediaInfo | PlaylistInfo>> {
  return await runYtDlpTask(input)
}

export async function ytdlpVersion (input: YtDlpVersionTask): Promise<TaskResult<string>> {
  return await ytDlpVersion(input.ytdlpPath, input.timeoutMs)
}

export function ytdlpPrewarm (input: { ytdlpPath: string, count: number, counters?: SharedArrayBuffer, generation?: number }): number {
  return prewarm(input.ytdlpPath, input.count, input.counters, input.generation)
}

export async function ytdlpProbe (input: YtDlpProbeTask): Promise<TaskResult<YtDlpProbe>> {
  return await runYtDlpProbe(input)
}

export async function ytdlpReload (input: YtDlpReloadTask): Promise<YtDlpReloadResult> {
  useCounters(input.counters)
  return await reloadWarm(input.ytdlpPath, input.generation, input.count)
}

export function hlsTemplate (input: HlsTemplateTask): TaskResult<HlsTemplate> {
  return buildHlsTemplate(input)
}

export function fmp4Index (input: Fmp4IndexTask): TaskResult<Fmp4Index> {
  return fmp4IndexTask(input)
}

export function dashRepresentation (input: DashRepresentationTask): TaskResult<DashRepresentationResult> {
  return dashRepresentationTask(input)
}

export function buildHls (input: BuildHlsTask): TaskResult<string> {
  return buildHlsTask(input)
}

export function subtitles (input: SubtitleTask): TaskResult<string> {
  return convertSubtitles(input)
}
