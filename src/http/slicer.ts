// Runs tasks in slices of at most budgetMs of event-loop time. A burst of
// requests arriving together (uWS hands every request of one socket read to
// its handlers back to back) would otherwise start all their work in a single
// loop turn: 50 cold extractions hold a worker's loop for tens of ms, and
// every timer and every other client waits. Past the budget, tasks queue and
// run on the following turns (setImmediate), in arrival order.
export interface Slicer {
  run: (task: () => void) => void
  readonly queued: () => number
}

export function createSlicer (budgetMs: number): Slicer {
  const queue: Array<() => void> = []
  // when the current turn's slice began; -1: no slice open
  let sliceStart = -1

  const drain = (): void => {
    sliceStart = performance.now()
    while (queue.length > 0 && performance.now() - sliceStart < budgetMs) queue.shift()?.()
    if (queue.length > 0) setImmediate(drain)
    else sliceStart = -1
  }

  return {
    run (task) {
      const now = performance.now()
      if (sliceStart < 0) {
        // the first task of this turn opens a slice; the next turn closes it
        sliceStart = now
        setImmediate(drain)
      }
      if (queue.length === 0 && now - sliceStart < budgetMs) task()
      else queue.push(task)
    },
    queued: () => queue.length
  }
}
