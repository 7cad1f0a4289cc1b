// Client address for rate limits and logs: X-Forwarded-For / Forwarded are
// believed only when the socket peer is one of TRUSTED_PROXIES.
import { isIP } from 'node:net'
import { remember } from './memo.ts'

interface Range { family: 4 | 6, bits: number, value: bigint }

// bound of each per-address memo
const MEMO_MAX = 10000

function toBigInt (raw: string): { family: 4 | 6, value: bigint } | null {
  const ip = normalizeIp(raw)
  const family = isIP(ip)
  if (family === 4) {
    let value = 0n
    for (const part of ip.split('.')) value = (value << 8n) | BigInt(Number(part))
    return { family: 4, value }
  }
  if (family === 6) return { family: 6, value: parseV6(ip) }
  return null
}

function parseV6 (ip: string): bigint {
  let text = ip.split('%')[0] ?? ''
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number)
    text = `${text.slice(0, v4.index)}${(((a ?? 0) << 8) | (b ?? 0)).toString(16)}:${(((c ?? 0) << 8) | (d ?? 0)).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const parse = (s: string): number[] => s === '' ? [] : s.split(':').map((h) => parseInt(h, 16))
  const left = parse(head)
  const right = tail === undefined ? [] : parse(tail)
  const groups = tail === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
  let value = 0n
  for (const g of groups) value = (value << 16n) | BigInt(g)
  return value
}

function parseRange (cidr: string): Range | null {
  const [addr = '', bitsText] = cidr.split('/')
  const parsed = toBigInt(addr)
  if (parsed === null) return null
  const max = parsed.family === 4 ? 32 : 128
  const bits = bitsText === undefined ? max : Number(bitsText)
  return { family: parsed.family, bits, value: parsed.value >> BigInt(max - bits) }
}

export interface ClientIpResolver {
  resolve: (peer: string, forwardedFor: string | undefined) => string
  isTrusted: (peer: string) => boolean
  // false when no proxy is trusted: forwarding headers can be ignored unread
  readonly trustsProxies: boolean
}

export function createClientIpResolver (trusted: readonly string[], ipv6PrefixBits = 64): ClientIpResolver {
  const ranges = trusted.map(parseRange).filter((r): r is Range => r !== null)
  const cache = new Map<string, boolean>()
  // IPv6 peers → their prefix key (parsing them takes BigInt arithmetic)
  const grouped = new Map<string, string>()

  function isTrusted (peer: string): boolean {
    if (ranges.length === 0) return false
    const hit = cache.get(peer)
    if (hit !== undefined) return hit
    const ip = toBigInt(peer)
    const ok = ip !== null && ranges.some((r) => {
      const max = r.family === 4 ? 32 : 128
      return r.family === ip.family && (ip.value >> BigInt(max - r.bits)) === r.value
    })
    return remember(cache, MEMO_MAX, peer, ok)
  }

  // Walk X-Forwarded-For from the right, skipping our own proxies: the first
  // untrusted hop is the client. A spoofed left-most entry is never believed.
  function resolve (peer: string, forwardedFor: string | undefined): string {
    if (ranges.length === 0) {
      if (!peer.includes(':')) return peer
      return grouped.get(peer) ?? remember(grouped, MEMO_MAX, peer, group(normalizeIp(peer)))
    }
    let client = normalizeIp(peer)
    if (forwardedFor === undefined || forwardedFor === '' || !isTrusted(client)) return group(client)
    const hops = forwardedFor.split(',')
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeIp((hops[i] ?? '').trim())
      if (isIP(hop) === 0) break
      client = hop
      if (!isTrusted(hop)) break
    }
    return group(client)
  }

  // IPv6 clients own whole prefixes; count them as one.
  function group (ip: string): string {
    if (isIP(ip) !== 6) return ip
    const parsed = toBigInt(ip)
    if (parsed === null) return ip
    return `${(parsed.value >> BigInt(128 - ipv6PrefixBits)).toString(16)}::/${ipv6PrefixBits}`
  }

  return { resolve, isTrusted, trustsProxies: ranges.length > 0 }
}

// IPv4-mapped IPv6 → dotted IPv4, in every spelling: "::ffff:1.2.3.4", and the
// fully expanded hex form uWS reports for IPv4 peers on a dual-stack (::) socket,
// "0000:0000:0000:0000:0000:ffff:0102:0304". Anything else is returned as is.
export function normalizeIp (ip: string): string {
  if (!ip.includes(':')) return ip
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (dotted?.[1] !== undefined) return dotted[1]
  if (isIP(ip) !== 6) return ip
  const value = parseV6(ip)
  if (value >> 32n !== 0xffffn) return ip
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.')
}

// Headers that proxies add when they relay a request (RFC 7239, the X-Forwarded-*
// family, X-Real-IP, CDNs' client-IP headers, Via). A loopback peer that sends one
// is a proxy on this host relaying someone else, not the host itself.
export const FORWARDING_HEADERS: readonly string[] = [
  'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-server',
  'x-real-ip', 'x-client-ip', 'x-cluster-client-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip',
  'x-original-forwarded-for', 'via'
]

// header: a request header by its lower-case name, '' when absent
export function isRelayed (header: (name: string) => string): boolean {
  for (const name of FORWARDING_HEADERS) if (header(name) !== '') return true
  return false
}

// RFC 7239 `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"` as
// an X-Forwarded-For list; obfuscated identifiers ("unknown", _hidden) end the walk.
export function forwardedFor (xff: string | undefined, forwarded: string | undefined): string | undefined {
  if (xff !== undefined && xff !== '') return xff
  if (forwarded === undefined || forwarded === '') return undefined
  const hops = forwarded.split(',').map((element) => {
    const m = /(?:^|;)\s*for=("?)([^";]*)\1/i.exec(element)
    const value = (m?.[2] ?? '').trim()
    const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value)
    if (bracketed !== null) return bracketed[1] ?? ''
    return /^\d+\.\d+\.\d+\.\d+:\d+$/.test(value) ? value.slice(0, value.lastIndexOf(':')) : value
  })
  return hops.join(',')
}

// The socket peer from uWS's binary address (getRemoteAddress: 4 bytes, or 16
// on an IPv6 socket), as text: dotted IPv4 (also for IPv4-mapped IPv6), else
// the eight hex groups. Reading the binary form and memoizing IPv4 text skips
// the snprintf and UTF-8 decoding of getRemoteAddressAsText on every request.
const dotted = new Map<number, string>()
export function peerAddress (binary: ArrayBuffer): string {
  const b = new Uint8Array(binary)
  let at = 0
  if (b.length === 16) {
    let mapped = b[10] === 0xff && b[11] === 0xff
    for (let i = 0; i < 10 && mapped; i++) mapped = b[i] === 0
    if (!mapped) {
      const groups: string[] = []
      for (let i = 0; i < 16; i += 2) groups.push((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16))
      return groups.join(':')
    }
    at = 12
  } else if (b.length !== 4) {
    return ''
  }
  const n = (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0
  return dotted.get(n) ?? remember(dotted, MEMO_MAX, n, `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`)
}
