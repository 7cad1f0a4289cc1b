// Composition root of one HTTP worker process: config → logger → redis → app →
// listen → tell the primary. Owns the shutdown order: drain HTTP, close the
// extraction pool, quit Redis, exit 0; however it exits, its children's process
// groups (yt-dlp, ffmpeg and what they started) are killed with it.
import cluster from 'node:cluster'
import { loadConfig } from './config.ts'
import { createLogger } from './log.ts'
import { createRedis, connectRedis, closeRedis } from './redis.ts'
import { createApp } from './app.ts'
import { killChildGroups } from '../workers/children.ts'

export async function runWorker (): Promise<void> {
  // after the drain, or on a crash: no child outlives the worker
  process.on('exit', () => { killChildGroups() })
  const config = loadConfig(process.env)
  const log = createLogger(config.LOG_LEVEL, { role: 'worker', worker: cluster.worker?.id ?? 0 })
  const redis = config.redisUrl === null ? null : createRedis(config.redisUrl, log)
  if (redis !== null && !(await connectRedis(redis, 3000))) log.warn('redis not reachable at start; continuing degraded')
  const app = createApp({ config, log, redis })

  let stopping = false
  const stop = (reason: string): void => {
    if (stopping) return
    stopping = true
    log.info({ reason }, 'worker draining')
    app.close()
      .then(async () => { if (redis !== null) await closeRedis(redis) })
      .then(() => process.exit(0), (err: unknown) => { log.error({ err }, 'shutdown failed'); process.exit(1) })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  app.link.onShutdown(() => stop('primary'))
  process.on('disconnect', () => stop('primary gone'))

  const port = await app.listen()
  log.debug({ port }, 'worker listening')
  app.link.ready(port)
}
