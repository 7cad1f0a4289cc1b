import fastJson from 'fast-json-stringify'

// A JSON schema as we write them: trusted constants, never built from input.
export type JsonSchema = Readonly<Record<string, unknown>>

export interface Serializer<T> {
  readonly schema: JsonSchema
  (value: T): string
}

// Compiled once at import (pure work); each route sends serialize(value).
export function compile<T> (schema: JsonSchema): Serializer<T> {
  // Our schemas are plain literal objects; fast-json-stringify's Schema type is narrower than JsonSchema.
  const fn = fastJson(schema as unknown as Parameters<typeof fastJson>[0]) as (value: T) => string
  return Object.assign((value: T) => fn(value), { schema })
}

export const nullable = (type: string): JsonSchema => ({ type: [type, 'null'] })

export function object (properties: Record<string, JsonSchema>, optional: readonly string[] = []): JsonSchema {
  return {
    type: 'object',
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    additionalProperties: false
  }
}

export interface ItemError { code: string, error: string, detail: string | null }

export const itemErrorSchema = object({ code: { type: 'string' }, error: { type: 'string' }, detail: nullable('string') })

// The results array of a batch response: a value or an error per item.
export function batchResults (valueKey: string, valueSchema: JsonSchema): JsonSchema {
  return {
    type: 'array',
    items: object({
      index: { type: 'integer' },
      ok: { type: 'boolean' },
      input: { type: 'string' },
      [valueKey]: { anyOf: [valueSchema, { type: 'null' }] },
      error: { anyOf: [itemErrorSchema, { type: 'null' }] }
    })
  }
}
