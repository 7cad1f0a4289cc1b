// Entry point. The primary must not load hyper-express, piscina or ioredis, so
// each role imports only its own module tree.
import cluster from 'node:cluster'

function fail (err: unknown): never {
  process.stderr.write(`vidgate failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
}

if (cluster.isPrimary) {
  import('./primary.ts').then((m) => m.runPrimary(), fail)
} else {
  import('./worker.ts').then(async (m) => await m.runWorker()).catch(fail)
}
