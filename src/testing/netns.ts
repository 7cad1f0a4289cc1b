// Test hosts in network namespaces (tests only; needs root and iproute2): each
// node is a namespace with its own addresses, wired through two bridges that
// live in a switch namespace of their own. `front` carries clients and the
// media origin (this test process, in the root namespace, is .1 on it); `back`
// carries Redis. A host on both can be cut off Redis alone by taking the switch
// end of its back link down: a pulled cable at the switch, packets dropped
// silently, while clients still reach it.
//
// Everything a net creates sits in its namespaces (the root namespace's two
// veth ends vanish with the switch namespace), so removing them is all the
// cleanup: close() in the test, an exit hook when the test process ends
// early, and, for a run that was killed outright, the next run removes every
// namespace whose creator (pid and start time, in the name) is gone.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { sleep } from './helpers.ts'

export type Network = 'front' | 'back'

export interface NetNode {
  // the namespace's name (for `ip netns exec`)
  ns: string
  // its address on each network it is on
  front: string | null
  back: string | null
  // runs a command inside the namespace (the shape startCluster and startRedis take)
  wrap: (cmd: string, args: string[]) => [string, string[]]
  // the pids of every process in the namespace
  pids: () => number[]
  // SIGKILLs every process in the namespace (a host dying with its whole process tree); resolves once they are gone
  kill: () => Promise<number[]>
  // takes the switch end of the node's link on `network` down (cut) or up again (mend)
  cut: (network: Network) => void
  mend: (network: Network) => void
}

export interface TestNet {
  // this process's own address on each network (clients, origins)
  root: { front: string, back: string }
  nodes: Record<string, NetNode>
  close: () => void
}

const PREFIX = 'vgnet-'
const live = new Set<() => void>()
let seq = 0
let hooked = false

function ip (...args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    const e = err as { code?: string, stderr?: string }
    if (e.code === 'ENOENT') throw new Error('`ip` (iproute2) is not installed: apt-get install iproute2', { cause: err })
    throw new Error(`ip ${args.join(' ')}: ${String(e.stderr ?? err).trim()}`, { cause: err })
  }
}

// A process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or null once it is gone.
function startTime (pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

const namespaces = (): string[] => ip('netns', 'list').split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(PREFIX))

function nsPids (ns: string): number[] {
  try {
    return ip('netns', 'pids', ns).split('\n').filter((l) => l !== '').map(Number)
  } catch {
    return []
  }
}

function killPids (pids: number[]): void {
  for (const pid of pids) try { process.kill(pid, 'SIGKILL') } catch {}
}

// Every process inside first (a namespace with processes left outlives its name), then the name.
function removeNamespaces (names: string[]): void {
  for (const ns of names) killPids(nsPids(ns))
  const until = Date.now() + 5000
  // synchronous (it also runs in the exit hook): a blocking 50 ms wait between looks
  while (names.some((ns) => nsPids(ns).length > 0) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50)
  for (const ns of names) try { ip('netns', 'del', ns) } catch {}
}

// Namespaces of runs whose process is gone (killed before it could clean up).
export function removeStaleNamespaces (): string[] {
  const stale = namespaces().filter((ns) => {
    const m = /^vgnet-(\d+)-(\d+)-/.exec(ns)
    return m === null || startTime(Number(m[1])) !== m[2]
  })
  removeNamespaces(stale)
  return stale
}

// Two /24s (front, back) under 10.0.0.0/8 that no route or address of the root namespace overlaps.
function pickSubnets (): [string, string] {
  const taken = ip('-4', '-o', 'route', 'show', 'table', 'all').split('\n').concat(ip('-4', '-o', 'addr').split('\n'))
    .flatMap((line) => [...line.matchAll(/\b(\d+)\.(\d+)\.(\d+)\.\d+(?:\/(\d+))?/g)])
    .map((m) => ({ net: (Number(m[1]) << 24 | Number(m[2]) << 16 | Number(m[3]) << 8) >>> 0, len: Number(m[4] ?? 32) }))
  const overlaps = (net: number): boolean => taken.some((t) => {
    const len = Math.min(t.len, 24)
    const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0
    return ((t.net & mask) >>> 0) === ((net & mask) >>> 0)
  })
  for (let i = 0; i < 200; i++) {
    const b = 200 + Math.floor(Math.random() * 50)
    const c = Math.floor(Math.random() * 127) * 2
    const front = (10 << 24 | b << 16 | c << 8) >>> 0
    if (!overlaps(front) && !overlaps(front + 256)) return [`10.${b}.${c}`, `10.${b}.${c + 1}`]
  }
  throw new Error('no free 10.x.y.0/23 for the test network')
}

// Every process still in a namespace is killed and the namespaces removed when
// this process ends without closing its nets (a failed or interrupted test).
function hook (): void {
  if (hooked) return
  hooked = true
  process.once('exit', () => { for (const close of [...live]) close() })
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(1))
}

// nodes: each node's name and the networks it is on, e.g. { a: ['front', 'back'], redis: ['back'] }.
export function createTestNet (nodes: Record<string, readonly Network[]>): TestNet {
  if (process.getuid?.() !== 0) throw new Error('network namespaces need root')
  hook()
  removeStaleNamespaces()
  const run = `${PREFIX}${process.pid}-${startTime(process.pid) ?? '0'}-${seq}`
  // interface names in the root namespace (at most 15 bytes): unique among live processes
  const tag = `vg${process.pid.toString(36)}${(seq++).toString(36)}`
  const sw = `${run}-sw`
  const made: string[] = []
  const close = (): void => {
    live.delete(close)
    removeNamespaces(made)
  }
  live.add(close)
  try {
    const [front, back] = pickSubnets()
    const subnet: Record<Network, string> = { front, back }
    ip('netns', 'add', sw)
    made.push(sw)
    for (const net of ['front', 'back'] as const) {
      ip('-n', sw, 'link', 'add', net, 'type', 'bridge')
      ip('-n', sw, 'link', 'set', net, 'up')
      // a leftover of a dead process that had our pid would hold the name
      const rootEnd = `${tag}${net[0] ?? ''}`
      try { ip('link', 'del', rootEnd) } catch {}
      ip('link', 'add', rootEnd, 'type', 'veth', 'peer', 'name', `root-${net}`, 'netns', sw)
      ip('-n', sw, 'link', 'set', `root-${net}`, 'master', net, 'up')
      ip('addr', 'add', `${subnet[net]}.1/24`, 'dev', rootEnd)
      ip('link', 'set', rootEnd, 'up')
    }
    const out: Record<string, NetNode> = {}
    let host = 2
    for (const [name, nets] of Object.entries(nodes)) {
      const ns = `${run}-${name}`
      ip('netns', 'add', ns)
      made.push(ns)
      ip('-n', ns, 'link', 'set', 'lo', 'up')
      const addr: Record<Network, string | null> = { front: null, back: null }
      for (const net of nets) {
        const dev = net === 'front' ? 'eth0' : 'eth1'
        const swEnd = `${name}-${net}`.slice(0, 15)
        addr[net] = `${subnet[net]}.${host}`
        ip('-n', sw, 'link', 'add', swEnd, 'type', 'veth', 'peer', 'name', dev, 'netns', ns)
        ip('-n', sw, 'link', 'set', swEnd, 'master', net, 'up')
        ip('-n', ns, 'addr', 'add', `${addr[net] ?? ''}/24`, 'dev', dev)
        ip('-n', ns, 'link', 'set', dev, 'up')
      }
      host++
      const link = (net: Network, state: 'up' | 'down'): void => {
        if (!nets.includes(net)) throw new Error(`${name} is not on ${net}`)
        ip('-n', sw, 'link', 'set', `${name}-${net}`.slice(0, 15), state)
      }
      out[name] = {
        ns,
        front: addr.front,
        back: addr.back,
        wrap: (cmd, args) => ['ip', ['netns', 'exec', ns, cmd, ...args]],
        pids: () => nsPids(ns),
        async kill () {
          const pids = nsPids(ns)
          killPids(pids)
          const until = Date.now() + 10_000
          while (nsPids(ns).length > 0) {
            if (Date.now() > until) throw new Error(`processes left in ${ns}: ${nsPids(ns).join(' ')}`)
            await sleep(50)
          }
          return pids
        },
        cut: (net) => link(net, 'down'),
        mend: (net) => link(net, 'up')
      }
    }
    return { root: { front: `${front}.1`, back: `${back}.1` }, nodes: out, close }
  } catch (err) {
    close()
    throw err
  }
}
