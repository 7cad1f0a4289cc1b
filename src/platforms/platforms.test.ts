import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { AppError } from '../errors.ts'
import type { ErrorCode } from '../errors.ts'
import { createGenericPlatform, createPlatformRegistry, describePlatforms, parseGenericHost, PLATFORMS } from './index.ts'
import type { TargetKind } from './index.ts'

// dist/src/platforms/x.test.js → the repo root is three levels up (fixtures are not copied to dist)
const root = new URL('../../../', import.meta.url)
const fixtureUrl = new URL('src/platforms/fixtures/urls.json', root)

type Row =
  | { url: string, platform: string, id: string, kind: TargetKind }
  | { url: string, error: ErrorCode }

function isRow (value: unknown): value is Row {
  if (typeof value !== 'object' || value === null) return false
  const r = value as Record<string, unknown>
  if (typeof r.url !== 'string') return false
  return typeof r.error === 'string' ||
    (typeof r.platform === 'string' && typeof r.id === 'string' && (r.kind === 'video' || r.kind === 'playlist'))
}

function loadRows (): Row[] {
  const parsed: unknown = JSON.parse(readFileSync(fixtureUrl, 'utf8'))
  assert.ok(Array.isArray(parsed))
  return parsed.map((row, i) => {
    assert.ok(isRow(row), `fixture row ${i} is malformed`)
    return row
  })
}

function errorCode (fn: () => unknown): ErrorCode {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof AppError, `expected AppError, got ${String(err)}`)
    return err.code
  }
  assert.fail('expected an error')
}

const registry = createPlatformRegistry()
const rows = loadRows()

test('the fixture table is large and covers every platform and both error kinds', () => {
  assert.ok(rows.length >= 60)
  for (const p of PLATFORMS) assert.ok(rows.some(r => 'platform' in r && r.platform === p.name), p.name)
  assert.ok(rows.some(r => 'error' in r && r.error === 'UNSUPPORTED_URL'))
  assert.ok(rows.some(r => 'error' in r && r.error === 'INVALID_INPUT'))
})

for (const row of rows) {
  if ('error' in row) {
    test(`rejects ${row.url} with ${row.error}`, () => {
      assert.equal(errorCode(() => registry.resolve({ url: row.url })), row.error)
    })
    continue
  }
  test(`detects ${row.url} as ${row.platform} ${row.kind} ${row.id}`, () => {
    const target = registry.resolve({ url: row.url })
    assert.equal(target.platform.name, row.platform)
    assert.equal(target.id, row.id)
    assert.equal(target.kind, row.kind)
    const again = registry.resolve({ url: target.url, kind: row.kind })
    assert.equal(again.id, row.id, 'canonical URL round trip')
    assert.equal(again.url, target.url)
    const byId = registry.resolve({ platform: row.platform, id: row.id, kind: row.kind })
    assert.equal(byId.url, target.url, 'platform+id gives the same canonical URL')
  })
}

test('canonical URLs have the documented shapes', () => {
  const url = (platform: string, id: string, kind?: TargetKind): string => registry.resolve({ platform, id, kind }).url
  assert.equal(url('youtube', 'dQw4w9WgXcQ'), 'https://www.youtube.com/watch?v=dQw4w9WgXcQ')
  assert.equal(url('youtube', 'PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI'), 'https://www.youtube.com/playlist?list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI')
  assert.equal(url('youtube', 'RDdQw4w9WgXcQ'), 'https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=RDdQw4w9WgXcQ')
  assert.equal(url('bilibili', 'BV1xx411c7mD_p2'), 'https://www.bilibili.com/video/BV1xx411c7mD/?p=2')
  assert.equal(url('bilibili', 'b23_a1B2c3D'), 'https://b23.tv/a1B2c3D')
  assert.equal(url('x', '1712853931186733541'), 'https://x.com/i/status/1712853931186733541')
  assert.equal(url('instagram', 'CuGH5eSLvPk'), 'https://www.instagram.com/p/CuGH5eSLvPk/')
  assert.equal(url('twitch', 'v1358945235'), 'https://www.twitch.tv/videos/1358945235')
  assert.equal(url('twitch', 'AgreeableFancyBunnyPogChamp'), 'https://clips.twitch.tv/AgreeableFancyBunnyPogChamp')
})

test('alias x and case-insensitive names resolve to twitter', () => {
  assert.equal(registry.get('x')?.name, 'twitter')
  assert.equal(registry.get(' Twitter ')?.name, 'twitter')
  assert.equal(registry.resolve({ platform: 'X', id: '20' }).platform.name, 'twitter')
  assert.equal(registry.get('generic'), undefined)
})

test('unknown platform names are UNSUPPORTED_PLATFORM listing the supported ones', () => {
  try {
    registry.resolve({ platform: 'vimeo', id: '123' })
    assert.fail('expected an error')
  } catch (err) {
    assert.ok(err instanceof AppError)
    assert.equal(err.code, 'UNSUPPORTED_PLATFORM')
    assert.equal(err.detail, 'supported: youtube, bilibili, twitter, instagram, twitch')
  }
  assert.equal(errorCode(() => registry.resolve({ platform: 'toString', id: 'x' })), 'UNSUPPORTED_PLATFORM')
})

test('bad ids are INVALID_INPUT naming the id field', () => {
  const bad: Array<[string, string]> = [
    ['youtube', 'short'], ['youtube', 'dQw4w9WgXcQ/../x'], ['youtube', 'a'.repeat(5000)],
    ['bilibili', 'BV1'], ['bilibili', 'BV1xx411c7mD_p1'], ['bilibili', 'b23_'],
    ['twitter', 'abc'], ['twitter', '0123'], ['instagram', 'a/b/c'],
    ['twitch', '123'], ['twitch', 'v0'], ['twitch', 'https://clips.twitch.tv/x'], ['youtube', '']
  ]
  for (const [platform, id] of bad) {
    try {
      registry.resolve({ platform, id })
      assert.fail(`${platform}/${id} was accepted`)
    } catch (err) {
      assert.ok(err instanceof AppError)
      assert.equal(err.code, 'INVALID_INPUT', `${platform}/${id}`)
      assert.match(err.message, /^id /)
    }
  }
})

test('kind constrains what an id or URL may be', () => {
  assert.equal(errorCode(() => registry.resolve({ platform: 'youtube', id: 'dQw4w9WgXcQ', kind: 'playlist' })), 'INVALID_INPUT')
  assert.equal(errorCode(() => registry.resolve({ platform: 'twitter', id: '20', kind: 'playlist' })), 'INVALID_INPUT')
  assert.equal(errorCode(() => registry.resolve({ url: 'https://www.youtube.com/playlist?list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI', kind: 'video' })), 'INVALID_INPUT')
  const both = 'https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI'
  assert.equal(registry.resolve({ url: both }).kind, 'video')
  const list = registry.resolve({ url: both, kind: 'playlist' })
  assert.equal(list.id, 'PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI')
  assert.equal(list.url, 'https://www.youtube.com/playlist?list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI')
})

test('input combinations are checked', () => {
  assert.equal(errorCode(() => registry.resolve({})), 'INVALID_INPUT')
  assert.equal(errorCode(() => registry.resolve({ id: 'dQw4w9WgXcQ' })), 'INVALID_INPUT')
  assert.equal(errorCode(() => registry.resolve({ url: 'https://youtu.be/dQw4w9WgXcQ', id: 'dQw4w9WgXcQ' })), 'INVALID_INPUT')
  assert.equal(errorCode(() => registry.resolve({ url: 'https://youtu.be/dQw4w9WgXcQ', platform: 'twitter' })), 'INVALID_INPUT')
  assert.equal(registry.resolve({ url: 'https://youtu.be/dQw4w9WgXcQ', platform: 'youtube' }).id, 'dQw4w9WgXcQ')
  assert.equal(registry.resolve({ url: 'https://x.com/i/status/20', platform: 'x' }).platform.name, 'twitter')
  assert.equal(errorCode(() => registry.resolve({ url: 'https://youtu.be/dQw4w9WgXcQ', platform: 'vimeo' })), 'UNSUPPORTED_PLATFORM')
  assert.equal(errorCode(() => registry.resolve({ platform: 'p'.repeat(100), id: 'x' })), 'INVALID_INPUT')
})

test('URLs longer than the limit are INVALID_INPUT', () => {
  const long = `https://www.youtube.com/watch?v=dQw4w9WgXcQ&x=${'a'.repeat(2048)}`
  assert.equal(errorCode(() => registry.resolve({ url: long })), 'INVALID_INPUT')
  const ok = `https://www.youtube.com/watch?v=dQw4w9WgXcQ&x=${'a'.repeat(1900)}`
  assert.equal(registry.resolve({ url: ok }).id, 'dQw4w9WgXcQ')
  assert.equal(errorCode(() => createPlatformRegistry({ maxUrlLength: 40 }).resolve({ url: ok })), 'INVALID_INPUT')
})

test('UNSUPPORTED_URL names the platform when the host is known but the path is not a video', () => {
  try {
    registry.resolve({ url: 'https://www.youtube.com/@RickAstleyYT' })
    assert.fail('expected an error')
  } catch (err) {
    assert.ok(err instanceof AppError)
    assert.equal(err.code, 'UNSUPPORTED_URL')
    assert.match(err.message, /YouTube/)
    assert.match(err.detail ?? '', /^supported: youtube, bilibili/)
  }
})

test('platform metadata: headers, IP binding, TTL keys, descriptions', () => {
  const get = (name: string) => {
    const p = registry.get(name)
    assert.ok(p !== undefined)
    return p
  }
  assert.deepEqual(get('bilibili').mediaHeaders, { Referer: 'https://www.bilibili.com/' })
  assert.equal(get('youtube').ipBound, true)
  assert.equal(get('twitch').ipBound, false)
  assert.deepEqual(PLATFORMS.map(p => p.cacheTtlEnv),
    ['YOUTUBE_CACHE_TTL', 'BILIBILI_CACHE_TTL', 'TWITTER_CACHE_TTL', 'INSTAGRAM_CACHE_TTL', 'TWITCH_CACHE_TTL'])
  for (const p of PLATFORMS) {
    assert.ok(p.idPattern.source.startsWith('^') && p.idPattern.source.endsWith('$'), `${p.name} idPattern is anchored`)
    for (const example of p.exampleUrls) assert.equal(registry.resolve({ url: example }).platform, p, example)
  }
  const described = describePlatforms()
  assert.deepEqual(described.map(d => d.name), ['youtube', 'bilibili', 'twitter', 'instagram', 'twitch'])
  const twitter = described.find(d => d.name === 'twitter')
  assert.deepEqual(twitter?.domains, ['twitter.com', 'x.com'])
  assert.deepEqual(twitter?.aliases, ['x'])
  assert.ok((twitter?.features ?? []).includes('streaming'))
})

test('generic is off by default: a configured-looking host is UNSUPPORTED_URL', () => {
  assert.equal(errorCode(() => registry.resolve({ url: 'http://127.0.0.1:8080/video.mp4' })), 'UNSUPPORTED_URL')
  assert.equal(errorCode(() => registry.resolve({ platform: 'generic', id: 'aHR0cDovLzEyNy4wLjAuMTo4MDgwL3ZpZGVvLm1wNA' })), 'UNSUPPORTED_PLATFORM')
})

test('generic matches exactly the configured hosts and round-trips its base64url id', () => {
  const reg = createPlatformRegistry({ genericHosts: ['127.0.0.1:8080', 'Media.Example.org'] })
  assert.equal(reg.list.at(-1)?.name, 'generic')
  const target = reg.resolve({ url: 'http://127.0.0.1:8080/media/video.mp4?token=a%20b#t=10' })
  assert.equal(target.platform.name, 'generic')
  assert.equal(target.url, 'http://127.0.0.1:8080/media/video.mp4?token=a%20b')
  assert.equal(target.id, Buffer.from(target.url).toString('base64url'))
  assert.equal(reg.resolve({ platform: 'generic', id: target.id }).url, target.url)
  assert.equal(reg.resolve({ url: target.url }).id, target.id)
  assert.equal(reg.resolve({ url: 'https://media.example.org/a.m3u8' }).platform.name, 'generic')
  assert.equal(reg.resolve({ url: 'https://media.example.org:8443/a.m3u8' }).platform.name, 'generic', 'a host without port allows any port')
  assert.equal(reg.resolve({ url: 'https://youtu.be/dQw4w9WgXcQ' }).platform.name, 'youtube')

  const rejected = [
    'http://127.0.0.1:8081/video.mp4',
    'http://127.0.0.1/video.mp4',
    'http://localhost:8080/video.mp4',
    'http://sub.media.example.org/a.mp4',
    'http://media.example.org.evil.com/a.mp4',
    'http://evil.com/127.0.0.1:8080/video.mp4'
  ]
  for (const url of rejected) assert.equal(errorCode(() => reg.resolve({ url })), 'UNSUPPORTED_URL', url)
  assert.equal(errorCode(() => reg.resolve({ url: 'http://user@127.0.0.1:8080/v.mp4' })), 'INVALID_INPUT')

  const forged = [
    Buffer.from('http://evil.com/video.mp4').toString('base64url'),
    Buffer.from('file:///etc/passwd').toString('base64url'),
    Buffer.from('http://127.0.0.1:8080/a b').toString('base64url'),
    Buffer.from('http://127.0.0.1:8080/v.mp4#frag').toString('base64url'),
    Buffer.from('http://x@127.0.0.1:8080/v.mp4').toString('base64url'),
    `${target.id}=`,
    'not base64!'
  ]
  for (const id of forged) assert.equal(errorCode(() => reg.resolve({ platform: 'generic', id })), 'INVALID_INPUT', id)
})

test('generic host entries are parsed strictly', () => {
  assert.deepEqual(parseGenericHost('LocalHost:080'), { hostname: 'localhost', port: '80' })
  assert.deepEqual(parseGenericHost('[::1]:9000'), { hostname: '[::1]', port: '9000' })
  assert.deepEqual(parseGenericHost('example.com'), { hostname: 'example.com', port: null })
  for (const bad of ['', 'http://example.com', 'example.com/path', 'user@example.com', 'example.com:99999', '::1']) {
    assert.throws(() => parseGenericHost(bad), TypeError, bad)
  }
  const p = createGenericPlatform(['localhost:80'])
  assert.notEqual(p.detect(new URL('http://localhost/v.mp4')), null, 'the default port matches an explicit :80')
  assert.equal(p.detect(new URL('https://localhost/v.mp4')), null)
})
