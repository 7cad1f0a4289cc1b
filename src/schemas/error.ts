import { compile, nullable, object } from './compile.ts'
import type { ErrorBody } from '../errors.ts'

export const errorSchema = object({
  error: { type: 'string' },
  code: { type: 'string' },
  detail: nullable('string'),
  request_id: { type: 'string' },
  timestamp: { type: 'string', format: 'date-time' }
})

export const serializeError = compile<ErrorBody>(errorSchema)
