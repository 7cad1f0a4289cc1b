// An HTML5 player page. Every interpolated value is HTML-escaped (the original
// put the raw title into <title>: an XSS hole), and the page has its own CSP.
import type { Route } from '../route.ts'
import { processTime, requester } from '../context.ts'
import { AppError } from '../../errors.ts'
import { queryInt, queryBool, queryString } from '../input.ts'
import { targetFrom } from './videos.ts'
import { subtitlePath } from './subtitles.ts'
import { streamOptions, ITEM_PARAM } from './stream-options.ts'
import { itemQuery, withItem } from '../../media/items.ts'
import { formatQuality } from '../../media/quality.ts'
import type { StreamService } from '../../media/service.ts'
import type { PlatformRegistry, Target } from '../../platforms/index.ts'
import type { SubtitleTrack } from '../../../workers/protocol.ts'

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;', '`': '&#96;' }

export function escapeHtml (value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c)
}

// The poster and the tracks are this server's links: images come from here only.
const EMBED_CSP = "default-src 'none'; media-src 'self' https: http: blob:; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors *; base-uri 'none'; form-action 'none'"

// tracks on the page: the uploaded subtitles, or the automatic captions when there are none
const MAX_TRACKS = 20
const BCP47 = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$/

export interface EmbedTrack { src: string, lang: string, label: string, isDefault: boolean }

export function pageTracks (target: Target, tracks: readonly SubtitleTrack[], show: string | null): EmbedTrack[] {
  const readable = tracks.filter((t) => t.source !== null)
  const manual = readable.filter((t) => !t.automatic)
  const chosen = (manual.length > 0 ? manual : readable).slice(0, MAX_TRACKS)
  let shown = false
  return chosen.map((t) => {
    const isDefault = !shown && t.lang === show
    if (isDefault) shown = true
    return { src: subtitlePath(target, t), lang: t.lang, label: `${t.name ?? t.lang}${t.automatic ? ' (auto)' : ''}`, isDefault }
  })
}

function trackTag (t: EmbedTrack): string {
  const lang = BCP47.test(t.lang) ? ` srclang="${escapeHtml(t.lang)}"` : ''
  return `<track kind="subtitles" src="${escapeHtml(t.src)}"${lang} label="${escapeHtml(t.label)}"${t.isDefault ? ' default' : ''}>`
}

export function embedPage (p: { title: string, src: string, poster: string | null, width: number, height: number, autoplay: boolean, controls: boolean, tracks?: readonly EmbedTrack[] }): string {
  const attrs = [
    `width="${p.width}"`, `height="${p.height}"`, 'preload="metadata"', 'playsinline',
    ...(p.controls ? ['controls'] : []), ...(p.autoplay ? ['autoplay', 'muted'] : []),
    ...(p.poster !== null ? [`poster="${escapeHtml(p.poster)}"`] : [])
  ].join(' ')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(p.title)}</title>
<style>html,body{margin:0;background:#000;height:100%}video{display:block;max-width:100%;max-height:100%;margin:auto}</style>
</head>
<body>
<video ${attrs} src="${escapeHtml(p.src)}" title="${escapeHtml(p.title)}">${(p.tracks ?? []).map(trackTag).join('')}</video>
</body>
</html>
`
}

export interface EmbedDeps {
  registry: PlatformRegistry
  streams: StreamService
  // the path of a signed image link (the poster); without it the page has no poster
  image?: (target: Target, url: string) => string
}

export function embedRoutes (deps: EmbedDeps): Route[] {
  const route = (path: string): Route => ({
    method: 'get',
    path,
    limit: 'extract',
    admin: false,
    doc: {
      summary: 'An HTML5 player page for the video',
      tags: ['streams'],
      params: [
        { name: 'quality', in: 'query', description: 'as for the stream endpoint (default best)' },
        { name: 'width', in: 'query', description: 'pixels (default 640)' },
        { name: 'height', in: 'query', description: 'pixels (default 360)' },
        { name: 'autoplay', in: 'query', description: 'true: start muted' },
        { name: 'controls', in: 'query', description: 'false: hide controls' },
        { name: 'captions', in: 'query', description: 'a language key of the track list: that track is shown from the start (the page lists the uploaded subtitles, or the automatic captions when there are none)' },
        ITEM_PARAM
      ],
      responses: { 200: { description: 'HTML page', contentType: 'text/html' } }
    },
    async handle (req, res, ctx) {
      const q = req.query_parameters
      const target = targetFrom(deps.registry, req.path_parameters ?? {}, q, 'video')
      const opts = { ...streamOptions(req), client: requester(ctx) }
      const captions = queryString(q, 'captions', { max: 64 }) ?? null
      if (captions !== null && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(captions)) throw new AppError('INVALID_INPUT', 'captions is not a language key', { detail: 'captions' })
      const { info } = await deps.streams.plan(target, opts)
      const image = deps.image
      const src = `/api/v2/stream/${encodeURIComponent(target.platform.name)}/${encodeURIComponent(target.id)}?quality=${encodeURIComponent(formatQuality(opts.quality))}&mode=proxy&format=mp4${itemQuery(opts.item)}`
      const html = embedPage({
        title: info.title,
        src,
        poster: info.thumbnail !== null && /^https?:\/\//.test(info.thumbnail) && image !== undefined ? image(withItem(target, opts.item), info.thumbnail) : null,
        width: queryInt(q, 'width', { min: 16, max: 7680, fallback: 640 }),
        height: queryInt(q, 'height', { min: 16, max: 4320, fallback: 360 }),
        autoplay: queryBool(q, 'autoplay'),
        controls: queryBool(q, 'controls', true),
        tracks: pageTracks(target, info.subtitle_tracks, captions)
      })
      // Embeddable by design: its own CSP instead of the API's frame-ancestors 'none'.
      res.header('content-security-policy', EMBED_CSP)
      res.removeHeader('x-frame-options')
      res.status(200).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'public, max-age=300').header('x-process-time', processTime(ctx))
      if (req.method === 'HEAD') res.header('content-length', String(Buffer.byteLength(html))).send()
      else res.send(html)
    }
  })
  return [route('/api/v2/stream/embed/:platform/:id'), route('/api/embed')]
}
