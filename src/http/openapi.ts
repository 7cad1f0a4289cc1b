// The OpenAPI 3.1 document is built from the same route table and response
// schemas that serve the requests, so it cannot drift from what we send.
import type { Route } from './route.ts'
import { errorSchema } from '../schemas/error.ts'
import { ERRORS } from '../errors.ts'
import { COMPAT_ROUTES } from './compat-paths.ts'

export interface OpenApiInfo { title: string, version: string, description: string }

function toOpenApiPath (path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}')
}

function operationId (route: Route): string {
  const words = route.path.split('/').filter((s) => s !== '' && s !== 'api').map((s) => s.replace(/^:/, 'by_').replace(/[^A-Za-z0-9]+/g, '_'))
  return [route.method, ...words].join('_') || `${route.method}_root`
}

const ERROR_REF = { $ref: '#/components/schemas/Error' }

export function buildOpenApi (routes: readonly Route[], info: OpenApiInfo): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of routes) {
    const path = toOpenApiPath(route.path)
    const pathParams = [...route.path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => ({
      name: m[1], in: 'path', required: true, schema: { type: 'string' }
    }))
    const declared = (route.doc.params ?? []).map((p) => ({ name: p.name, in: p.in, required: p.required ?? p.in === 'path', description: p.description, schema: p.schema ?? { type: 'string' } }))
    const parameters = [...pathParams.filter((p) => !declared.some((d) => d.name === p.name && d.in === 'path')), ...declared]
    const responses: Record<string, unknown> = {}
    for (const [status, doc] of Object.entries(route.doc.responses)) {
      const contentType = doc.contentType ?? 'application/json'
      responses[status] = doc.schema === undefined && doc.contentType === undefined
        ? { description: doc.description }
        : { description: doc.description, content: { [contentType]: doc.schema === undefined ? {} : { schema: doc.schema } } }
    }
    responses['4XX'] = { description: 'Client error (see the code)', content: { 'application/json': { schema: ERROR_REF } } }
    responses['5XX'] = { description: 'Server or upstream error (see the code)', content: { 'application/json': { schema: ERROR_REF } } }
    const compat = COMPAT_ROUTES.has(`${route.method} ${route.path}`) && !route.doc.tags.includes('compat')
    const op: Record<string, unknown> = {
      operationId: operationId(route),
      summary: route.doc.summary,
      tags: compat ? [...route.doc.tags, 'compat'] : route.doc.tags,
      parameters,
      responses
    }
    if (route.doc.body !== undefined) {
      op.requestBody = { required: true, description: route.doc.body.description, content: { [route.doc.body.contentType ?? 'application/json']: { schema: route.doc.body.schema } } }
    }
    if (route.admin) op.security = [{ apiKey: [] }, { bearer: [] }]
    // every GET route answers HEAD (src/http/server.ts); documented where the route says HEAD matters
    const headOp = {
      ...op,
      operationId: `head${String(op.operationId).slice(3)}`,
      summary: `${route.doc.summary} (headers only)`,
      responses: Object.fromEntries(Object.entries(responses).map(([status, r]) => [status, { description: (r as { description: string }).description }]))
    }
    const head = route.method === 'get' && route.doc.head === true ? { head: headOp } : {}
    paths[path] = { ...paths[path], [route.method]: op, ...head }
  }
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, description: info.description },
    paths,
    components: {
      schemas: { Error: { ...errorSchema, description: `Every 4xx/5xx body. Codes: ${Object.entries(ERRORS).map(([c, e]) => `${c} (${e.status})`).join(', ')}` } },
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        bearer: { type: 'http', scheme: 'bearer' }
      }
    }
  }
}
