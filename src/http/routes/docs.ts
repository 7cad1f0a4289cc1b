// GET /openapi.json and the interactive docs page, served from the npm
// package swagger-ui-dist (no CDN: the page works offline).
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { sendRaw } from '../route.ts'
import type { Route } from '../route.ts'
import type { RequestContext } from '../context.ts'
import type { Request, Response } from 'hyper-express'
import { AppError } from '../../errors.ts'

// a Map: a plain object would answer /docs/valueOf with Object.prototype's
const ASSETS: ReadonlyMap<string, string> = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
  ['favicon-32x32.png', 'image/png']
])

const INIT_JS = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, tryItOutEnabled: true })
})
`

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vidgate API docs</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`

const DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

function sendText (req: Request, res: Response, ctx: RequestContext, type: string, body: string | Buffer, cache: string): void {
  sendRaw(req, res.header('cache-control', cache), ctx, type, body)
}

export function docsRoutes (openapi: () => string): Route[] {
  const assetDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
  const cache = new Map<string, Buffer>()
  const load = async (name: string): Promise<Buffer> => {
    let buf = cache.get(name)
    if (buf === undefined) {
      buf = await readFile(join(assetDir, name))
      cache.set(name, buf)
    }
    return buf
  }
  let openapiText: string | undefined
  return [
    {
      method: 'get',
      path: '/openapi.json',
      limit: 'default',
      admin: false,
      doc: { summary: 'This OpenAPI 3.1 document', tags: ['system'], responses: { 200: { description: 'OpenAPI document', contentType: 'application/json' } } },
      handle (req, res, ctx) {
        openapiText ??= openapi()
        sendText(req, res, ctx, 'application/json; charset=utf-8', openapiText, 'no-cache')
      }
    },
    {
      method: 'get',
      path: '/docs',
      limit: 'default',
      admin: false,
      doc: { summary: 'Interactive API documentation (Swagger UI, served locally)', tags: ['system'], responses: { 200: { description: 'HTML page', contentType: 'text/html' } } },
      handle (req, res, ctx) {
        res.header('content-security-policy', DOCS_CSP)
        sendText(req, res, ctx, 'text/html; charset=utf-8', PAGE, 'no-cache')
      }
    },
    {
      method: 'get',
      path: '/docs/:asset',
      limit: 'default',
      admin: false,
      doc: { summary: 'Static files of the docs page', tags: ['system'], responses: { 200: { description: 'file', contentType: 'application/octet-stream' } } },
      async handle (req, res, ctx) {
        const name = req.path_parameters.asset ?? ''
        if (name === 'init.js') { sendText(req, res, ctx, 'text/javascript; charset=utf-8', INIT_JS, 'public, max-age=3600'); return }
        const type = ASSETS.get(name)
        if (type === undefined) throw new AppError('NOT_FOUND', 'No such docs file')
        sendText(req, res, ctx, type, await load(name), 'public, max-age=86400')
      }
    }
  ]
}
