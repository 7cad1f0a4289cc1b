import { compile, nullable, object } from './compile.ts'
import { ERRORS } from '../errors.ts'
import type { ErrorBody } from '../errors.ts'

export const errorSchema = object({
  error: { type: 'string' },
  // the codes of src/errors.ts, so the OpenAPI document lists them
  code: { type: 'string', enum: Object.keys(ERRORS) },
  detail: nullable('string'),
  request_id: { type: 'string' },
  timestamp: { type: 'string', format: 'date-time' }
})

export const serializeError = compile<ErrorBody>(errorSchema)
