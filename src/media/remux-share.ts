// One remux output fanned out to every client that asks for the same video and
// audio while the output is young: in VRChat everyone in an instance requests
// the video at the same moment, and each would otherwise cost an ffmpeg
// process and two more upstream downloads. Late joiners replay from byte 0, so
// chunks are kept until JOIN_WINDOW_BYTES have been produced; after that the
// broadcast takes no one new and frees what every subscriber has read. The
// producer is paced by the slowest subscriber, who may lag by LAG_BYTES.
import type { Readable } from 'node:stream'

export const JOIN_WINDOW_BYTES = 8 * 1024 * 1024
export const LAG_BYTES = 8 * 1024 * 1024

export interface Subscription {
  // the next chunk; null at the end of the output
  next: () => Promise<Buffer | null>
  leave: () => void
}

export interface Broadcast {
  // false once the output has passed the join window, ended, or everyone left
  joinable: () => boolean
  // null when not joinable
  join: () => Subscription | null
  // reads the producer to its end (null: it produced nothing); resolves when it
  // ended, broke off, or every subscriber left
  pump: (source: Readable | null) => Promise<void>
  // no more output: what was produced stays readable
  end: () => void
  // called when the last subscriber leaves before the end
  onEmpty: (fn: () => void) => void
}

export function createBroadcast (): Broadcast {
  const chunks: Buffer[] = []
  let dropped = 0
  let produced = 0
  let done = false
  // every subscriber left before the end: the producer is being stopped
  let stopped = false
  let emptied: (() => void) | null = null
  let changed = signalPromise()
  let resumed: ReturnType<typeof signalPromise> | null = null
  const subs = new Set<{ pos: number, bytes: number }>()

  function signalPromise (): { promise: Promise<void>, fire: () => void } {
    let fire = (): void => {}
    const promise = new Promise<void>((resolve) => { fire = resolve })
    return { promise, fire }
  }
  const notify = (): void => { const c = changed; changed = signalPromise(); c.fire() }
  const slowest = (): { pos: number, bytes: number } | null => {
    let min: { pos: number, bytes: number } | null = null
    for (const s of subs) if (min === null || s.bytes < min.bytes) min = s
    return min
  }
  const joinable = (): boolean => !done && !stopped && produced <= JOIN_WINDOW_BYTES
  // Past the join window, what the slowest subscriber has read is no longer needed.
  function release (): void {
    if (joinable()) return
    const min = slowest()
    const upTo = min === null ? dropped + chunks.length : min.pos
    if (upTo > dropped) { chunks.splice(0, upTo - dropped); dropped = upTo }
  }
  function maybeResume (): void {
    const min = slowest()
    if (resumed !== null && (min === null || produced - min.bytes <= LAG_BYTES / 2)) { const r = resumed; resumed = null; r.fire() }
  }

  return {
    joinable,
    join () {
      if (!joinable()) return null
      const sub = { pos: 0, bytes: 0 }
      subs.add(sub)
      let left = false
      return {
        async next () {
          // eslint-disable-next-line no-unmodified-loop-condition -- return() sets it between awaits
          while (!left) {
            const chunk = sub.pos < dropped + chunks.length ? chunks[sub.pos - dropped] : undefined
            if (chunk !== undefined) {
              sub.pos++
              sub.bytes += chunk.length
              release()
              maybeResume()
              return chunk
            }
            if (done) return null
            await changed.promise
          }
          return null
        },
        leave () {
          if (left) return
          left = true
          subs.delete(sub)
          release()
          maybeResume()
          if (subs.size === 0 && !done) { stopped = true; emptied?.() }
        }
      }
    },
    async pump (source) {
      try {
        if (source === null) return
        for await (const chunk of source) {
          if (subs.size === 0) break
          chunks.push(chunk as Buffer)
          produced += (chunk as Buffer).length
          release()
          notify()
          const min = slowest()
          if (min !== null && produced - min.bytes > LAG_BYTES) {
            resumed = signalPromise()
            await resumed.promise
          }
        }
      } catch {
        // the socket broke off (ffmpeg killed): subscribers see the end, the exit code tells how it ended
      } finally {
        done = true
        notify()
      }
    },
    end () { done = true; notify() },
    onEmpty (fn) { emptied = fn }
  }
}
