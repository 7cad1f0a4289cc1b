// GET/HEAD /api/v2/images/:token — a thumbnail or poster behind a signed link
// that this server handed out (info, embed page); never a URL a client supplied.
import type { Route } from '../route.ts'
import { sendRaw } from '../route.ts'
import { PROXY_MAX_URL_LENGTH } from './proxy.ts'
import type { ImageService } from '../../proxy/images.ts'

export function imageRoutes (deps: { images: ImageService }): Route[] {
  return [{
    method: 'get',
    path: '/api/v2/images/:token',
    limit: 'default',
    admin: false,
    maxUrlLength: PROXY_MAX_URL_LENGTH,
    doc: {
      summary: 'A thumbnail or poster through a signed link (the links in info and on the embed page): JPEG, PNG, GIF, WebP or AVIF by its first bytes, at most 5 MB',
      tags: ['videos'],
      params: [{ name: 'token', in: 'path', required: true, description: 'signed, expiring link handed out in info (thumbnail, thumbnails) and on the embed page' }],
      responses: {
        200: { description: 'the image', contentType: 'image/jpeg' },
        403: { description: 'INVALID_SIGNATURE: the link was altered or has expired; FORBIDDEN: the image address is not allowed' },
        502: { description: 'UPSTREAM_ERROR: the upstream answer is not an image, is larger than 5 MB, or is an error' },
        504: { description: 'UPSTREAM_TIMEOUT' }
      }
    },
    async handle (req, res, ctx) {
      const image = await deps.images.serve(req.path_parameters?.token ?? '')
      res.status(200).header('cache-control', `public, max-age=${image.maxAgeSec}`)
      sendRaw(req, res, ctx, image.type, image.body)
    }
  }]
}
