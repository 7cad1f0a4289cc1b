// An idle Node process that only watches its own event-loop delay, run beside
// a burst: what it sees is CPU starvation of the machine, not any server code.
// stdin "read" → one JSON line {maxMs, p99Ms} since the previous read.
import { createInterface } from 'node:readline'
import { watchLoopDelay } from '../src/ops/loop-delay.ts'

const h = watchLoopDelay(Number(process.argv[2] ?? '10'))
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'read') return
  process.stdout.write(`${JSON.stringify({ maxMs: h.maxMs(), p99Ms: h.p99Ms() })}\n`)
  h.reset()
}).on('close', () => process.exit(0))
process.stdout.write('ready\n')
