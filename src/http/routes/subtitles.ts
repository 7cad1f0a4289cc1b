// Subtitle endpoints: the tracks of a video, and one track as WebVTT (default)
// or SubRip, fetched under the egress policy and re-serialized (media/subtitles.ts).
import type { Request } from 'hyper-express'
import { AppError } from '../../errors.ts'
import { jsonRoute, sendRaw } from '../route.ts'
import type { ParamDoc, Route } from '../route.ts'
import { pathParam, queryBool, queryEnum, queryString } from '../input.ts'
import { targetFrom } from './videos.ts'
import { serializeSubtitles } from '../../schemas/subtitles.ts'
import type { SubtitleTrackOut } from '../../schemas/subtitles.ts'
import { SUBTITLE_FORMATS, SUBTITLE_TYPES } from '../../media/subtitles.ts'
import type { SubtitleFormat, SubtitleService } from '../../media/subtitles.ts'
import { contentDisposition } from '../../proxy/headers.ts'
import type { PlatformRegistry, Target } from '../../platforms/index.ts'
import type { SubtitleTrack } from '../../../workers/protocol.ts'

export interface SubtitleRouteDeps {
  registry: PlatformRegistry
  subtitles: SubtitleService
  publicBase: (req: Request) => string
}

const LANG = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
const URL_PARAM: ParamDoc = { name: 'url', in: 'query', required: true, description: 'the video page URL (platform detected from its host)' }

// This server's path to one track (relative: the embed page uses it as is, the list puts the base in front).
export function subtitlePath (target: Target, track: Pick<SubtitleTrack, 'lang' | 'automatic'>, format: SubtitleFormat = 'vtt'): string {
  return `/api/v2/videos/${encodeURIComponent(target.platform.name)}/${encodeURIComponent(target.id)}/subtitles/${encodeURIComponent(track.lang)}` +
    `?format=${format}${track.automatic ? '&automatic=true' : ''}`
}

function trackOut (base: string, target: Target, t: SubtitleTrack): SubtitleTrackOut {
  const readable = t.source !== null
  return {
    language: t.lang,
    name: t.name,
    automatic: t.automatic,
    formats: t.formats,
    url: readable ? base + subtitlePath(target, t, 'vtt') : null,
    srt_url: readable ? base + subtitlePath(target, t, 'srt') : null
  }
}

function automaticParam (query: Readonly<Record<string, unknown>>): boolean | null {
  return queryString(query, 'automatic', { max: 8 }) === undefined ? null : queryBool(query, 'automatic')
}

export function subtitleRoutes (deps: SubtitleRouteDeps): Route[] {
  const { registry, subtitles } = deps

  const listRoute = (path: string, params: readonly ParamDoc[]): Route => jsonRoute({
    method: 'get',
    path,
    limit: 'extract',
    doc: { summary: 'The subtitle tracks of a video: language, name, automatic or not, the formats offered, and links to each as WebVTT and SubRip', tags: ['videos'], params },
    serialize: serializeSubtitles,
    handle: async ({ req, params: p }) => {
      const target = targetFrom(registry, p, req.query_parameters, 'video')
      const { info, cached } = await subtitles.list(target)
      const base = deps.publicBase(req)
      return { id: target.id, platform: target.platform.name, title: info.title, tracks: info.subtitle_tracks.map((t) => trackOut(base, target, t)), cached }
    }
  })

  const trackRoute = (path: string, params: readonly ParamDoc[]): Route => ({
    method: 'get',
    path,
    limit: 'extract',
    admin: false,
    doc: {
      summary: 'One subtitle track, converted to WebVTT (default) or SubRip; fetched under the egress policy, size-bounded and re-serialized (only cues, their settings and b/i/u)',
      tags: ['videos'],
      params: [...params,
        { name: 'lang', in: 'path', required: true, description: 'the language key as the track list gives it (en, de-DE, zh-Hans, …)' },
        { name: 'format', in: 'query', description: 'vtt (default) | srt', schema: { type: 'string', enum: [...SUBTITLE_FORMATS] } },
        { name: 'automatic', in: 'query', description: 'true: the automatic captions; false: the uploaded subtitles; absent: uploaded when there are, else automatic' },
        { name: 'download', in: 'query', description: 'true: Content-Disposition attachment' }],
      responses: {
        200: { description: 'the track', contentType: 'text/vtt' },
        404: { description: 'SUBTITLE_NOT_FOUND: no track in that language (the detail lists those there are)' },
        422: { description: 'SUBTITLE_UNSUPPORTED: the track is offered only in formats this server does not read' },
        502: { description: 'UPSTREAM_ERROR: the track could not be fetched or read' }
      }
    },
    async handle (req, res, ctx) {
      const q = req.query_parameters
      const target = targetFrom(registry, req.path_parameters ?? {}, q, 'video')
      const lang = pathParam(req.path_parameters ?? {}, 'lang')
      if (!LANG.test(lang)) throw new AppError('INVALID_INPUT', 'lang is not a language key', { detail: 'lang' })
      const format = queryEnum(q, 'format', SUBTITLE_FORMATS, 'vtt')
      const automatic = automaticParam(q)
      const { text, info, track } = await subtitles.fetch(target, { lang, automatic, format })
      res.header('cache-control', 'public, max-age=600')
      if (queryBool(q, 'download')) res.header('content-disposition', contentDisposition(`${info.title}.${track.lang}.${format}`))
      ctx.status = 200
      sendRaw(req, res.status(200), ctx, SUBTITLE_TYPES[format], text)
    }
  })

  return [
    listRoute('/api/v2/videos/:platform/:id/subtitles', []),
    listRoute('/api/v2/videos/subtitles', [URL_PARAM]),
    trackRoute('/api/v2/videos/:platform/:id/subtitles/:lang', []),
    trackRoute('/api/v2/videos/subtitles/:lang', [URL_PARAM])
  ]
}
