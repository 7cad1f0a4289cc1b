// An idle Node process that only watches its own event-loop delay, run beside
// a burst: what it sees is CPU starvation of the machine, not any server code.
// stdin "read" → one JSON line {maxMs, p99Ms} since the previous read.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createInterface } from 'node:readline'

const h = monitorEventLoopDelay({ resolution: 10 })
h.enable()
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'read') return
  process.stdout.write(`${JSON.stringify({ maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6 })}\n`)
  h.reset()
}).on('close', () => process.exit(0))
process.stdout.write('ready\n')
