import { compile, nullable, object } from './compile.ts'

export interface SubtitleTrackOut {
  language: string
  name: string | null
  automatic: boolean
  // every format the platform offers it in
  formats: string[]
  // this server's links to it as WebVTT and SubRip; null when no offered format can be converted
  url: string | null
  srt_url: string | null
}

export interface SubtitlesOut {
  id: string
  platform: string
  title: string
  tracks: SubtitleTrackOut[]
  cached: boolean
}

export const subtitleTrackSchema = object({
  language: { type: 'string' },
  name: nullable('string'),
  automatic: { type: 'boolean' },
  formats: { type: 'array', items: { type: 'string' } },
  url: nullable('string'),
  srt_url: nullable('string')
})

export const subtitlesSchema = object({
  id: { type: 'string' },
  platform: { type: 'string' },
  title: { type: 'string' },
  tracks: { type: 'array', items: subtitleTrackSchema },
  cached: { type: 'boolean' }
})

export const serializeSubtitles = compile<SubtitlesOut>(subtitlesSchema)
