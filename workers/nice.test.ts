import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { getPriority } from 'node:os'

// field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value
function niceOf (tid: number): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
}

test('a pool thread lowers its own priority, not the process’s', async () => {
  const niceModule = new URL('./nice.js', import.meta.url).href
  // the thread stays alive (the interval) until terminated: its /proc entry is read after it answers
  const worker = new Worker(`setInterval(() => {}, 60000); import(${JSON.stringify(niceModule)}).then((m) => require('node:worker_threads').parentPort.postMessage(m.lowerThisThread(12)))`, { eval: true })
  const tid = await new Promise<number | null>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject) })
  try {
    assert.ok(typeof tid === 'number' && tid !== process.pid, `tid ${String(tid)}`)
    assert.equal(niceOf(tid), 12)
    assert.equal(niceOf(process.pid), getPriority(process.pid))
    assert.notEqual(getPriority(process.pid), 12)
  } finally {
    await worker.terminate()
  }
})
