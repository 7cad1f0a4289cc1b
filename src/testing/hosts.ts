// Two vidgate hosts on one Redis, for the multi-host tests (tests only): each
// host is `node dist/src/main.js` in its own network namespace with its own
// address, as on two machines, and Redis runs in a third (src/testing/netns.ts).
// This test process, on the root namespace's address of the hosts' network,
// is their client and runs the media origins.
import assert from 'node:assert/strict'
import { sleep, startCluster, startRedis } from './helpers.ts'
import type { StartedCluster, StartedRedis } from './helpers.ts'
import { createTestNet } from './netns.ts'
import type { NetNode, TestNet } from './netns.ts'

export type Json = Record<string, unknown>

// how long a client waits for a cold extraction (the hosts' EXTRACT_TIMEOUT is 10 s less)
export const EXTRACTION_WAIT_MS = 130_000
type Later = (fn: () => unknown) => void

export interface HostPair { redis: StartedRedis, a: StartedCluster, b: StartedCluster, node: { a: NetNode, b: NetNode } }

// Hosts a and b on the clients' network (front) and Redis's (back), Redis on back only.
// Removed when the test ends, however it ends (`later` runs last-registered first).
export function createHostNet (later: Later): TestNet {
  const net = createTestNet({ a: ['front', 'back'], b: ['front', 'back'], redis: ['back'] })
  later(() => net.close())
  return net
}

export async function startHostPair (later: Later, net: TestNet, env: Record<string, string>): Promise<HostPair> {
  const { a: nodeA, b: nodeB, redis: nodeRedis } = net.nodes
  assert.ok(nodeA !== undefined && nodeB !== undefined && nodeRedis?.back != null, 'createHostNet made the net')
  const redis = await startRedis(nodeRedis.wrap, nodeRedis.back)
  later(redis.stop)
  const start = async (node: NetNode): Promise<StartedCluster> => await startCluster({
    wrap: node.wrap,
    // as the README starts it, on its default address and port (each host has its own address)
    args: ['--workers=1'],
    url: `http://${node.front ?? ''}:8000`,
    // a loaded 2-core machine starts two clusters with warm yt-dlp at once
    timeoutMs: 60_000,
    env: {
      // the helpers' base env binds loopback: back to the default, every address of the host
      HOST: '0.0.0.0',
      REDIS_URL: redis.url,
      // '' is the shipped default (the project's current yt-dlp); the helpers' base env points at the fake
      YTDLP_PATH: '',
      YTDLP_MODE: 'warm',
      // links signed by one host are served by the other
      PROXY_SIGNING_SECRET: 'shared-secret-for-the-multihost-tests',
      // yt-dlp runs at nice 19: on a machine busy with other work a cold extraction waited
      // more than the default 60 s for CPU here; these tests are about faults, not latency.
      // For the same reason one warm yt-dlp per host, not 4: two hosts would start 8 at once.
      EXTRACT_TIMEOUT: String(EXTRACTION_WAIT_MS / 1000 - 10),
      EXTRACT_CONCURRENCY: '1',
      ...env
    }
  })
  const [a, b] = await Promise.all([start(nodeA), start(nodeB)])
  later(async () => { await Promise.all([a.stop(), b.stop()]) })
  // "ready" means listening; the warm yt-dlp loads after it (a minute on a loaded machine).
  // Health names yt-dlp's version once a warm process has answered its probe.
  for (const host of [a, b]) {
    await until('a warm yt-dlp to answer', 120_000, async () => (await get(`${host.url}/api/v2/system/health`, 5000)).body,
      (h) => typeof (h.checks as Record<string, Json> | undefined)?.ytdlp?.version === 'string')
  }
  return { redis, a, b, node: { a: nodeA, b: nodeB } }
}

// A GET whose failure names the URL and how long it waited.
export async function get (url: string, ms = 15_000, headers: Record<string, string> = {}): Promise<{ status: number, body: Json }> {
  const t0 = Date.now()
  let text: string
  let res: Response
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(ms) })
    text = await res.text()
  } catch (err) {
    throw new Error(`GET ${url}: ${String(err)} after ${Date.now() - t0} ms`, { cause: err })
  }
  let body: Json = {}
  try { body = JSON.parse(text) as Json } catch {}
  return { status: res.status, body }
}

// Looks every 250 ms until `done` holds (a failed look counts as not yet); fails after `ms`.
export async function until<T> (what: string, ms: number, look: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    let last = 'nothing yet'
    try {
      const value = await look()
      if (done(value)) return value
      last = JSON.stringify(value)
    } catch (err) {
      last = String(err)
    }
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last: ${last}`)
    await sleep(250)
  }
}

// The cache check of a host's health: 'ok' while it reaches Redis, 'degraded' when it does not.
export async function cacheCheck (url: string): Promise<string> {
  const { body } = await get(`${url}/api/v2/system/health`, 5000)
  return String((body.checks as Record<string, Json> | undefined)?.cache?.status)
}
