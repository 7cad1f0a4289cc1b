import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hostMatcher, isPublicAddress, parseHostEntry } from './address.ts'

test('public vs internal addresses', () => {
  const internal = [
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.10', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', '224.0.0.1', '239.255.255.250', '255.255.255.255', '198.18.0.1', '192.0.2.1',
    '::', '::1', '[::1]', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1',
    '64:ff9b::a00:1', '2002:7f00:1::', '::127.0.0.1', '2001:db8::1', 'localhost', 'example.com', ''
  ]
  const external = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8', '64:ff9b::808:808']
  for (const a of internal) assert.equal(isPublicAddress(a), false, a)
  for (const a of external) assert.equal(isPublicAddress(a), true, a)
})

test('allow-list entries: host or host:port', () => {
  assert.deepEqual(parseHostEntry('CDN.Example.com'), { hostname: 'cdn.example.com', port: null })
  assert.deepEqual(parseHostEntry('127.0.0.1:8080'), { hostname: '127.0.0.1', port: '8080' })
  for (const bad of ['', 'a/b', 'user@host', 'http://x']) assert.throws(() => parseHostEntry(bad), TypeError, bad)
  const list = ['127.0.0.1:8080', 'media.example']
  const match = hostMatcher(list)
  assert.equal(hostMatcher(list), match)
  assert.equal(match(new URL('http://127.0.0.1:8080/x')), true)
  assert.equal(match(new URL('http://127.0.0.1:8081/x')), false)
  assert.equal(match(new URL('https://media.example/x')), true)
  assert.equal(match(new URL('http://media.example:444/x')), true)
  assert.equal(match(new URL('http://sub.media.example/x')), false)
})
