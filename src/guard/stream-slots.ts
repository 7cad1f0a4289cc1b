// Long-lived media responses in flight per client (STREAM_MAX_PER_CLIENT). A slot is
// taken when a stream route admits a request and given back when the request settles.
export interface StreamSlots {
  // the release function, or null when the client already holds `cap` slots
  take: (client: string, cap: number) => (() => void) | null
  held: (client: string) => number
}

export function createStreamSlots (): StreamSlots {
  const counts = new Map<string, number>()
  return {
    take (client, cap) {
      const n = counts.get(client) ?? 0
      if (n >= cap) return null
      counts.set(client, n + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        const left = (counts.get(client) ?? 1) - 1
        if (left <= 0) counts.delete(client)
        else counts.set(client, left)
      }
    },
    held: (client) => counts.get(client) ?? 0
  }
}
