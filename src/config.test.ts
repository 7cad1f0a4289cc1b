import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { CONFIG_TABLE, ConfigError, describeConfig, isConfigKey, loadConfig, parseArgs } from './config.ts'
import { REPO_ROOT } from './testing/helpers.ts'
import { workerExecArgv } from './primary.ts'

function problemsOf (env: Record<string, string>, argv: string[] = []): string[] {
  try {
    loadConfig(env, argv)
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`)
    return err.problems
  }
  assert.fail('loadConfig accepted an invalid configuration')
}

test('defaults apply when the environment is empty', () => {
  const c = loadConfig({})
  assert.equal(c.PORT, 8000)
  assert.equal(c.HOST, '0.0.0.0')
  assert.equal(c.WORKERS, availableParallelism())
  assert.equal(c.LOG_LEVEL, 'info')
  assert.equal(c.RATE_LIMIT_ENABLED, true)
  assert.equal(c.RATE_LIMIT_MAX_REQUESTS, 100)
  assert.equal(c.RATE_LIMIT_WINDOW, 60)
  assert.deepEqual(c.CORS_ORIGINS, ['*'])
  assert.deepEqual(c.TRUSTED_PROXIES, [])
  assert.equal(c.YTDLP_MODE, 'warm')
  assert.equal(c.redisUrl, null)
  assert.ok(Object.isFrozen(c))
})

test('blank values fall back to the default', () => {
  assert.equal(loadConfig({ PORT: '  ' }).PORT, 8000)
})

test('integers are parsed strictly', () => {
  for (const bad of ['12abc', '1.5', '0x10', '1e3', 'abc']) {
    const problems = problemsOf({ PORT: bad })
    assert.equal(problems.length, 1, bad)
    assert.match(problems[0] ?? '', /PORT/)
  }
  assert.equal(loadConfig({ PORT: ' 9000 ' }).PORT, 9000)
  assert.match(problemsOf({ PORT: '65536' })[0] ?? '', /PORT must be between 0 and 65535/)
})

test('every problem is listed at once', () => {
  const problems = problemsOf({ WORKERS: 'abc', PORT: '-1', LOG_LEVEL: 'loud', RATE_LIMIT_ENABLED: 'maybe', REDIS_URL: 'http://x' })
  assert.equal(problems.length, 5, problems.join('\n'))
  for (const name of ['WORKERS', 'PORT', 'LOG_LEVEL', 'RATE_LIMIT_ENABLED', 'REDIS_URL']) {
    assert.ok(problems.some((p) => p.includes(name)), `no problem names ${name}`)
  }
  assert.throws(() => loadConfig({ WORKERS: 'abc', PORT: '-1' }), (err: unknown) => {
    assert.ok(err instanceof ConfigError)
    assert.match(err.message, /WORKERS must be a whole number/)
    assert.match(err.message, /PORT must be between/)
    return true
  })
})

test('command-line flags override the environment', () => {
  const c = loadConfig({ WORKERS: '1', PORT: '8000' }, ['--workers=4', '--port', '9000', '--log-level=debug'])
  assert.equal(c.WORKERS, 4)
  assert.equal(c.PORT, 9000)
  assert.equal(c.LOG_LEVEL, 'debug')
  assert.deepEqual(parseArgs(['--workers=4', '--port', '9000']).overrides, { WORKERS: '4', PORT: '9000' })
})

test('unknown flags, stray arguments and missing values are problems', () => {
  const problems = problemsOf({}, ['--wrokers=4', 'stray', '--port'])
  assert.equal(problems.length, 3, problems.join('\n'))
  assert.ok(problems.some((p) => p.includes('--wrokers')))
  assert.ok(problems.some((p) => p.includes('stray')))
  assert.ok(problems.some((p) => p.includes('--port needs a value')))
  // A bad flag value is reported like a bad env value.
  assert.match(problemsOf({}, ['--port=http'])[0] ?? '', /PORT/)
})

test('REDIS_HOST, REDIS_PORT, REDIS_DB and REDIS_PASSWORD build the Redis URL', () => {
  assert.equal(loadConfig({ REDIS_HOST: 'cache' }).redisUrl, 'redis://cache:6379/0')
  assert.equal(loadConfig({ REDIS_HOST: 'cache', REDIS_PORT: '6380', REDIS_DB: '2', REDIS_PASSWORD: 'p@ss:w' }).redisUrl, 'redis://:p%40ss%3Aw@cache:6380/2')
  assert.equal(loadConfig({ REDIS_URL: 'redis://a:1/3', REDIS_HOST: 'ignored' }).redisUrl, 'redis://a:1/3')
  assert.equal(loadConfig({ REDIS_URL: 'rediss://secure:6380' }).redisUrl, 'rediss://secure:6380')
})

test('CORS credentials with a wildcard origin are rejected', () => {
  const problems = problemsOf({ CORS_ALLOW_CREDENTIALS: 'true' })
  assert.match(problems[0] ?? '', /CORS_ALLOW_CREDENTIALS/)
  const ok = loadConfig({ CORS_ALLOW_CREDENTIALS: 'true', CORS_ORIGINS: 'https://a.example, https://b.example' })
  assert.deepEqual(ok.CORS_ORIGINS, ['https://a.example', 'https://b.example'])
  assert.deepEqual(loadConfig({ CORS_ORIGINS: '["https://c.example"]' }).CORS_ORIGINS, ['https://c.example'])
})

test('TRUSTED_PROXIES accepts addresses and CIDR ranges only', () => {
  assert.deepEqual(loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, ::1, fd00::/8' }).TRUSTED_PROXIES, ['10.0.0.0/8', '::1', 'fd00::/8'])
  for (const bad of ['10.0.0.0/33', 'proxy.local', '::1/129', '1.2.3.4/8/9']) {
    assert.match(problemsOf({ TRUSTED_PROXIES: bad })[0] ?? '', /TRUSTED_PROXIES/, bad)
  }
})

test('booleans, enums and durations', () => {
  assert.equal(loadConfig({ RATE_LIMIT_ENABLED: 'off' }).RATE_LIMIT_ENABLED, false)
  assert.equal(loadConfig({ YTDLP_MODE: 'SPAWN' }).YTDLP_MODE, 'spawn')
  assert.equal(loadConfig({ SHUTDOWN_TIMEOUT: '0.5' }).SHUTDOWN_TIMEOUT, 0.5)
  assert.match(problemsOf({ SHUTDOWN_TIMEOUT: '10s' })[0] ?? '', /SHUTDOWN_TIMEOUT/)
})

test('every table entry documents itself', () => {
  const docs = describeConfig()
  assert.equal(docs.length, Object.keys(CONFIG_TABLE).length)
  for (const d of docs) assert.ok(d.description.length > 5, d.name)
})

test('orbstack.env uses only known config keys, and loads', () => {
  const text = readFileSync(join(REPO_ROOT, 'orbstack.env'), 'utf8')
  const env: Record<string, string> = {}
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
    assert.ok(m !== null, `orbstack.env line ${i + 1} is not KEY=VALUE`)
    const [, key = '', value = ''] = m
    assert.ok(isConfigKey(key), `orbstack.env line ${i + 1}: ${key} is not in CONFIG_TABLE`)
    env[key] = value
  }
  assert.ok(Object.keys(env).length >= 5)
  assert.ok(!('PROXY_SIGNING_SECRET' in env) && !('API_KEYS' in env) && !('REDIS_PASSWORD' in env), 'secrets do not belong in orbstack.env')
  loadConfig(env)
})

test('the README configuration table lists every setting with its default', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
  for (const row of describeConfig()) {
    const def = row.default === '' ? '(empty)' : `\`${row.default}\``
    assert.ok(readme.includes(`| \`${row.name}\` | ${def} |`), `README is missing ${row.name} (default ${def})`)
  }
})

test('MEMORY_LIMIT_MB and CPU_LIMIT shape the workers', () => {
  assert.equal(loadConfig({ CPU_LIMIT: '1' }).WORKERS, 1)
  assert.equal(loadConfig({ CPU_LIMIT: '1', WORKERS: '3' }).WORKERS, 3, 'an explicit WORKERS wins')
  assert.equal(loadConfig({ MEMORY_LIMIT_MB: '2048' }).MEMORY_LIMIT_MB, 2048)
  // each worker's heap: its share of 3/4 of the budget, at least 64 MB
  assert.deepEqual(workerExecArgv(loadConfig({ MEMORY_LIMIT_MB: '2048', WORKERS: '2' }), ['--inspect=0']), ['--inspect=0', '--no-memory-reducer', '--max-old-space-size=768'])
  assert.deepEqual(workerExecArgv(loadConfig({ MEMORY_LIMIT_MB: '100', WORKERS: '4' }), []), ['--no-memory-reducer', '--max-old-space-size=64'])
  assert.deepEqual(workerExecArgv(loadConfig({ WORKERS: '2' }), []), ['--no-memory-reducer'], 'no limit: no heap flag')
})
