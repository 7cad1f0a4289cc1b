// An HTML5 player page. Every interpolated value is HTML-escaped (the original
// put the raw title into <title>: an XSS hole), and the page has its own CSP.
import type { Route } from '../route.ts'
import { processTime } from '../context.ts'
import { queryInt, queryBool } from '../input.ts'
import { targetFrom } from './videos.ts'
import { streamOptions } from './stream-options.ts'
import { formatQuality } from '../../media/quality.ts'
import type { StreamService } from '../../media/service.ts'
import type { PlatformRegistry } from '../../platforms/index.ts'

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;', '`': '&#96;' }

export function escapeHtml (value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c)
}

const EMBED_CSP = "default-src 'none'; media-src 'self' https: http: blob:; img-src 'self' https: http: data:; style-src 'unsafe-inline'; frame-ancestors *; base-uri 'none'; form-action 'none'"

export function embedPage (p: { title: string, src: string, poster: string | null, width: number, height: number, autoplay: boolean, controls: boolean }): string {
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
<video ${attrs} src="${escapeHtml(p.src)}" title="${escapeHtml(p.title)}"></video>
</body>
</html>
`
}

export function embedRoutes (deps: { registry: PlatformRegistry, streams: StreamService }): Route[] {
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
        { name: 'controls', in: 'query', description: 'false: hide controls' }
      ],
      responses: { 200: { description: 'HTML page', contentType: 'text/html' } }
    },
    async handle (req, res, ctx) {
      const q = req.query_parameters
      const target = targetFrom(deps.registry, req.path_parameters ?? {}, q, 'video')
      const opts = streamOptions(req)
      const { info } = await deps.streams.plan(target, opts)
      const src = `/api/v2/stream/${encodeURIComponent(target.platform.name)}/${encodeURIComponent(target.id)}?quality=${encodeURIComponent(formatQuality(opts.quality))}&mode=proxy&format=mp4`
      const html = embedPage({
        title: info.title,
        src,
        poster: info.thumbnail !== null && /^https?:\/\//.test(info.thumbnail) ? info.thumbnail : null,
        width: queryInt(q, 'width', { min: 16, max: 7680, fallback: 640 }),
        height: queryInt(q, 'height', { min: 16, max: 4320, fallback: 360 }),
        autoplay: queryBool(q, 'autoplay'),
        controls: queryBool(q, 'controls', true)
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
