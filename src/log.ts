import { pino } from 'pino'
import type { Logger } from 'pino'

export type { Logger }

// One root logger per process; threads never log (their envelopes carry timings).
export function createLogger (level: string, bindings: Record<string, unknown>): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...bindings },
    redact: {
      paths: ['headers.authorization', 'headers.cookie', 'headers["x-api-key"]', 'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'apiKey', 'secret', 'password'],
      censor: '[redacted]'
    }
  })
}
