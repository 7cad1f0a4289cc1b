import { pino } from 'pino'
import type { DestinationStream, Logger, LoggerOptions } from 'pino'

export type { Logger }

// One root logger per process; threads never log (their envelopes carry timings).
// dest: tests capture the output (default: stdout).
export function createLogger (level: string, bindings: Record<string, unknown>, dest?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { pid: process.pid, ...bindings },
    redact: {
      paths: ['headers.authorization', 'headers.cookie', 'headers["x-api-key"]', 'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'apiKey', 'secret', 'password'],
      censor: '[redacted]'
    }
  }
  return dest === undefined ? pino(options) : pino(options, dest)
}
