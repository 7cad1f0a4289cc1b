import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createClientIpResolver, forwardedFor, normalizeIp, peerAddress } from './client-ip.ts'

test('without trusted proxies X-Forwarded-For is ignored', () => {
  const r = createClientIpResolver([])
  assert.equal(r.resolve('203.0.113.7', '1.1.1.1'), '203.0.113.7')
  assert.equal(r.resolve('203.0.113.7', undefined), '203.0.113.7')
  assert.equal(r.isTrusted('203.0.113.7'), false)
})

test('X-Forwarded-For is believed only from a trusted peer', () => {
  const r = createClientIpResolver(['10.0.0.0/8'])
  assert.equal(r.resolve('10.1.2.3', '198.51.100.9'), '198.51.100.9')
  assert.equal(r.resolve('203.0.113.7', '198.51.100.9'), '203.0.113.7', 'an untrusted peer cannot claim another address')
  assert.equal(r.resolve('10.1.2.3', undefined), '10.1.2.3')
  assert.equal(r.resolve('10.1.2.3', ''), '10.1.2.3')
})

test('spoofed left-most entries are ignored: the right-most untrusted hop is the client', () => {
  const r = createClientIpResolver(['10.0.0.0/8', '192.168.1.1'])
  // client sent "X-Forwarded-For: 6.6.6.6"; our proxies appended the real hops
  assert.equal(r.resolve('10.0.0.1', '6.6.6.6, 198.51.100.9'), '198.51.100.9')
  assert.equal(r.resolve('10.0.0.1', '6.6.6.6, 198.51.100.9, 192.168.1.1, 10.9.9.9'), '198.51.100.9')
  assert.equal(r.resolve('10.0.0.1', ' 6.6.6.6 ,198.51.100.9 '), '198.51.100.9')
  // garbage from the client never becomes the key, and does not hide the real hop
  assert.equal(r.resolve('10.0.0.1', 'not-an-ip, 198.51.100.9'), '198.51.100.9')
})

test('IPv6 clients are grouped by /64', () => {
  const r = createClientIpResolver([])
  const a = r.resolve('2001:db8:1:2:aaaa::1', undefined)
  const b = r.resolve('2001:db8:1:2:bbbb:cccc:dddd:eeee', undefined)
  const c = r.resolve('2001:db8:1:3::1', undefined)
  assert.equal(a, b)
  assert.notEqual(a, c)
  assert.equal(r.resolve('2001:0db8:0001:0002:0000:0000:0000:0009', undefined), a, 'expanded and compressed spellings group together')
  const wide = createClientIpResolver([], 48)
  assert.equal(wide.resolve('2001:db8:1:2::1', undefined), wide.resolve('2001:db8:1:ffff::1', undefined))
  // grouped behind a trusted proxy too
  const behind = createClientIpResolver(['::1'])
  assert.equal(behind.resolve('::1', '2001:db8:1:2::5'), behind.resolve('::1', '2001:db8:1:2::6'))
})

test('CIDR matching for IPv4 and IPv6', () => {
  const r = createClientIpResolver(['10.0.0.0/8', '172.16.0.0/12', '192.0.2.1', 'fd00::/8', '2001:db8:abcd::/48', '::1'])
  for (const ip of ['10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.254', '192.0.2.1', 'fd12:3456::1', '2001:db8:abcd:12::1', '::1', '0000:0000:0000:0000:0000:0000:0000:0001']) {
    assert.equal(r.isTrusted(ip), true, ip)
  }
  for (const ip of ['11.0.0.1', '172.32.0.1', '192.0.2.2', 'fe80::1', '2001:db8:abce::1', '::2', 'garbage', '']) {
    assert.equal(r.isTrusted(ip), false, ip)
  }
  const all = createClientIpResolver(['0.0.0.0/0'])
  assert.equal(all.isTrusted('8.8.8.8'), true)
  assert.equal(all.isTrusted('2001:db8::1'), false, 'an IPv4 range never matches IPv6')
})

test('IPv4-mapped IPv6 is treated as IPv4 in every spelling', () => {
  assert.equal(normalizeIp('::ffff:192.0.2.5'), '192.0.2.5')
  assert.equal(normalizeIp('::FFFF:192.0.2.5'), '192.0.2.5')
  // what uWS reports for an IPv4 peer on a dual-stack (::) socket
  assert.equal(normalizeIp('0000:0000:0000:0000:0000:ffff:7f00:0001'), '127.0.0.1')
  assert.equal(normalizeIp('::ffff:c000:0205'), '192.0.2.5')
  assert.equal(normalizeIp('2001:db8::1'), '2001:db8::1')
  assert.equal(normalizeIp('0000:0000:0000:0000:0000:0000:0000:0001'), '0000:0000:0000:0000:0000:0000:0000:0001')
  assert.equal(normalizeIp('192.0.2.5'), '192.0.2.5')

  const plain = createClientIpResolver([])
  assert.equal(plain.resolve('0000:0000:0000:0000:0000:ffff:c000:0205', undefined), '192.0.2.5')
  assert.notEqual(plain.resolve('0000:0000:0000:0000:0000:ffff:c000:0205', undefined), plain.resolve('0000:0000:0000:0000:0000:ffff:c000:0206', undefined),
    'distinct IPv4 clients must not collapse into one IPv6 /64 bucket')
  const r = createClientIpResolver(['10.0.0.0/8'])
  assert.equal(r.isTrusted('::ffff:10.1.2.3'), true)
  assert.equal(r.isTrusted('0000:0000:0000:0000:0000:ffff:0a01:0203'), true)
  assert.equal(r.resolve('0000:0000:0000:0000:0000:ffff:0a01:0203', '::ffff:198.51.100.9'), '198.51.100.9')
})

test('RFC 7239 Forwarded is read like X-Forwarded-For, and only from trusted proxies', () => {
  assert.equal(forwardedFor(undefined, 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"'), '192.0.2.60,2001:db8:cafe::17')
  assert.equal(forwardedFor(undefined, 'For="198.51.100.17:8080"'), '198.51.100.17')
  assert.equal(forwardedFor('203.0.113.1', 'for=198.51.100.17'), '203.0.113.1', 'X-Forwarded-For wins when both are sent')
  assert.equal(forwardedFor(undefined, undefined), undefined)
  const trusting = createClientIpResolver(['10.0.0.0/8'])
  assert.equal(trusting.resolve('10.1.2.3', forwardedFor(undefined, 'for=198.51.100.17')), '198.51.100.17')
  assert.equal(trusting.resolve('203.0.113.9', forwardedFor(undefined, 'for=198.51.100.17')), '203.0.113.9')
  assert.equal(trusting.resolve('10.1.2.3', forwardedFor(undefined, 'for=unknown')), '10.1.2.3', 'an obfuscated hop ends the walk')
})

test('peerAddress reads uWS binary addresses: IPv4, IPv4-mapped IPv6, IPv6', () => {
  const bytes = (...b: number[]): ArrayBuffer => new Uint8Array(b).buffer
  assert.equal(peerAddress(bytes(127, 0, 0, 1)), '127.0.0.1')
  assert.equal(peerAddress(bytes(203, 0, 113, 255)), '203.0.113.255')
  assert.equal(peerAddress(bytes(203, 0, 113, 255)), '203.0.113.255', 'the memoized text is the same')
  assert.equal(peerAddress(bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 7)), '198.51.100.7')
  const v6 = peerAddress(bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd))
  assert.equal(v6, '2001:db8:0:0:0:0:0:abcd')
  assert.equal(normalizeIp(v6), v6)
  // not mapped: ::1 and a 0:0:…:ffff:x prefix that is not exactly ::ffff:0:0/96
  assert.equal(peerAddress(bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)), '0:0:0:0:0:0:0:1')
  assert.equal(peerAddress(bytes(0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4)), '1:0:0:0:0:ffff:102:304')
  assert.equal(peerAddress(new ArrayBuffer(0)), '')
})

test('IPv6 grouping is memoized and stays the same per address', () => {
  const r = createClientIpResolver([])
  const first = r.resolve('2001:db8:1:2:3:4:5:6', undefined)
  assert.equal(first, '20010db800010002::/64')
  assert.equal(r.resolve('2001:db8:1:2:3:4:5:6', undefined), first)
  assert.equal(r.resolve('2001:db8:1:2:ffff:4:5:6', undefined), first, 'the same /64')
  assert.equal(r.resolve('0000:0000:0000:0000:0000:ffff:7f00:0001', undefined), '127.0.0.1')
})
