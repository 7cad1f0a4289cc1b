import { test } from 'node:test'
import assert from 'node:assert/strict'
import { filterVariants, variantCap } from './hls-variants.ts'

const master = (...variants: string[]): string => ['#EXTM3U', '#EXT-X-INDEPENDENT-SEGMENTS', ...variants.flatMap((v, i) => [`#EXT-X-STREAM-INF:${v}`, `/v/${i}`])].join('\n') + '\n'
const order = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('/v/'))

test('a master keeps the variants at or below the cap, best first; vertical sizes count by their shorter side', () => {
  const text = master('BANDWIDTH=1,RESOLUTION=640x360', 'BANDWIDTH=3,RESOLUTION=1920x1080', 'BANDWIDTH=2,RESOLUTION=720x1280', 'BANDWIDTH=9,CODECS="mp4a.40.2"')
  assert.deepEqual(order(filterVariants(text, Infinity)), ['/v/1', '/v/2', '/v/0', '/v/3'])
  assert.deepEqual(order(filterVariants(text, 720)), ['/v/2', '/v/0', '/v/3'])
  assert.deepEqual(order(filterVariants(text, 144)), ['/v/0', '/v/3'], 'none at or below: the lowest, and audio only')
  const out = filterVariants(text, 720)
  assert.ok(out.startsWith('#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n'))
  assert.ok(out.endsWith('\n'))
})

test('media playlists and masters without resolutions pass unchanged; audio sets no cap', () => {
  const media = '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg.ts\n#EXT-X-ENDLIST\n'
  assert.equal(filterVariants(media, 360), media)
  const audioOnly = master('BANDWIDTH=64000,CODECS="mp4a.40.2"', 'BANDWIDTH=128000,CODECS="mp4a.40.2"')
  assert.equal(filterVariants(audioOnly, 0), audioOnly)
  assert.equal(variantCap({ kind: 'audio' }), null)
  assert.equal(variantCap({ kind: 'worst' }), 0)
  assert.equal(variantCap({ kind: 'height', height: 480 }), 480)
  assert.equal(variantCap({ kind: 'auto' }, { device: 'mobile' }), 480)
})
