// GET/HEAD /api/v2/proxy/:token — relays a URL that an extraction produced and
// the server signed; a client can never make us fetch a URL of its own.
import { mediaExchange } from '../hyper-exchange.ts'
import type { Route } from '../route.ts'
import { proxyMedia } from '../../proxy/stream.ts'
import type { MediaSource, MediaTarget } from '../../proxy/stream.ts'
import type { LinkSigner, ReextractRef } from '../../proxy/signer.ts'
import type { UpstreamClient } from '../../proxy/upstream.ts'
import type { Requester } from '../../extract/fair-queue.ts'
import { requester } from '../context.ts'

// client: who asks (a re-extraction takes its turn for that client)
export type ResolveRef = (ref: ReextractRef, signal: AbortSignal, client?: Requester) => Promise<MediaTarget>

export interface ProxyRouteDeps {
  signer: LinkSigner
  upstream: UpstreamClient
  allowHosts: readonly string[]
  resolveRef?: ResolveRef
  // metrics: the byte counter of a platform ("unknown" for links without a ref, e.g. HLS segments)
  proxyBytes?: (platform: string) => (bytes: number) => void
}

export const PROXY_PATH = '/api/v2/proxy/:token'
// A signed link carries the whole media URL (often 1–2 KB) plus its headers.
export const PROXY_MAX_URL_LENGTH = 16384

function flag (value: unknown): boolean {
  return value === 'true' || value === '1' || value === 'yes'
}

// The same link with a file name after it (/api/v2/proxy/<token>/seg.ts): the
// segments of rewritten playlists, since ffmpeg's HLS reader opens a segment
// only if its URL ends in an extension it expects. The name is not read.
export const PROXY_NAMED_PATH = `${PROXY_PATH}/:name`

export function proxyRoutes (deps: ProxyRouteDeps): Route[] {
  const { signer, upstream, allowHosts, resolveRef, proxyBytes } = deps
  return [PROXY_PATH, PROXY_NAMED_PATH].map((path): Route => ({
    method: 'get',
    path,
    limit: 'default',
    admin: false,
    stream: true,
    maxUrlLength: PROXY_MAX_URL_LENGTH,
    doc: {
      summary: 'Relay a signed media link (Range, HEAD, 416; re-extracts once if the media URL expired)',
      tags: ['streams'],
      params: [
        { name: 'token', in: 'path', required: true, description: 'signed, expiring link handed out by the stream endpoints' },
        ...(path === PROXY_NAMED_PATH ? [{ name: 'name', in: 'path' as const, required: true, description: 'a file name for players and ffmpeg (seg.ts, init.ts, …); not read' }] : []),
        { name: 'download', in: 'query', description: 'true: Content-Disposition attachment' },
        { name: 'filename', in: 'query', description: 'file name for Content-Disposition (UTF-8 allowed); defaults to the one in the link' },
        { name: 'Range', in: 'header', description: 'a single byte range, e.g. bytes=0- (several ranges get the whole file)' }
      ],
      responses: {
        200: { description: 'the media', contentType: 'application/octet-stream' },
        206: { description: 'the requested byte range', contentType: 'application/octet-stream' },
        403: { description: 'INVALID_SIGNATURE: the link was altered or has expired; FORBIDDEN: the media address is not allowed' },
        416: { description: 'RANGE_NOT_SATISFIABLE, with Content-Range: bytes */size' },
        502: { description: 'UPSTREAM_ERROR' },
        504: { description: 'UPSTREAM_TIMEOUT' }
      }
    },
    async handle (req, res, ctx) {
      const ex = mediaExchange(req, res, ctx)
      const link = signer.verify(req.path_parameters?.token ?? '', 'proxy')
      const query = req.query_parameters
      const filename = typeof query.filename === 'string' && query.filename !== '' ? query.filename : link.filename
      const ref = link.ref
      const source: MediaSource = {
        url: link.url,
        headers: link.headers,
        expiresAtMs: link.urlExpiresAt === null ? null : link.urlExpiresAt * 1000
      }
      if (ref !== null && resolveRef !== undefined) {
        const client = requester(ctx)
        source.refresh = async () => await resolveRef(ref, ex.signal, client)
      }
      await proxyMedia(ex, source, { upstream, allow: allowHosts, platform: ref?.platform ?? null, download: flag(query.download), filename, countBytes: proxyBytes?.(ref?.platform ?? 'unknown') })
    }
  }))
}
