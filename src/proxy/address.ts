// SSRF policy: which resolved addresses the proxy may connect to, and which
// hosts the operator exempted from that check (GENERIC_HOSTS-style entries).
import { BlockList, isIP } from 'node:net'

const blocked = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16],
  ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4]
] as const) blocked.addSubnet(net, bits, 'ipv4')
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['::', 96], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7],
  ['fe80::', 10], ['fec0::', 10], ['ff00::', 8]
] as const) blocked.addSubnet(net, bits, 'ipv6')

// IPv4 embedded in IPv6 (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16):
// judged by the IPv4 address they reach.
function embeddedV4 (address: string): string | null {
  const a = address.toLowerCase()
  const dotted = /^(?:::ffff:|::ffff:0:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(a)
  if (dotted?.[1] !== undefined) return dotted[1]
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a)
  if (hex?.[1] !== undefined && hex[2] !== undefined) return v4FromHex(hex[1], hex[2])
  const six = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4})(?::|$)/.exec(a)
  if (six?.[1] !== undefined && six[2] !== undefined) return v4FromHex(six[1], six[2])
  return null
}

function v4FromHex (hi: string, lo: string): string {
  const h = parseInt(hi, 16)
  const l = parseInt(lo, 16)
  return `${h >> 8}.${h & 255}.${l >> 8}.${l & 255}`
}

// True only for a literal IP that is routable on the public internet.
export function isPublicAddress (address: string): boolean {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address
  const family = isIP(bare)
  if (family === 4) return !blocked.check(bare, 'ipv4')
  if (family !== 6) return false
  const v4 = embeddedV4(bare)
  if (v4 !== null) return isIP(v4) === 4 && !blocked.check(v4, 'ipv4')
  return !blocked.check(bare, 'ipv6')
}

export interface HostEntry { hostname: string, port: string | null }

export function parseHostEntry (entry: string): HostEntry {
  const trimmed = entry.trim().toLowerCase()
  let url: URL | null = null
  try { url = new URL(`http://${trimmed}`) } catch {}
  if (url === null || trimmed === '' || url.username !== '' || url.pathname !== '/' || url.search !== '' || /[/?#@\s]/.test(trimmed)) {
    throw new TypeError(`allowed host "${entry}" must be a host or host:port`)
  }
  const port = /:(\d+)$/.exec(trimmed)?.[1]
  return { hostname: url.hostname, port: port === undefined ? null : String(Number(port)) }
}

export function effectivePort (url: URL): string {
  if (url.port !== '') return url.port
  return url.protocol === 'https:' ? '443' : '80'
}

export type HostMatcher = (url: URL) => boolean

const matchers = new WeakMap<readonly string[], HostMatcher>()

// Parsed once per list: callers pass the same config array on every request.
export function hostMatcher (entries: readonly string[]): HostMatcher {
  const known = matchers.get(entries)
  if (known !== undefined) return known
  const hosts = entries.map(parseHostEntry)
  const match: HostMatcher = (url) => hosts.some((h) => h.hostname === url.hostname && (h.port === null || h.port === effectivePort(url)))
  matchers.set(entries, match)
  return match
}
