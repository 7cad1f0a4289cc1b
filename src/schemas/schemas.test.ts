// Round trip per serializer: fast-json-stringify silently drops fields that the
// type has and the schema lacks, so JSON.parse(serialize(full)) must equal full.
// The serializers are found by listing this folder, so a new `serialize*`
// export without a fixture in fixtures/responses.ts fails the suite.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { FIXTURES as BASE, STREAM_FIXTURES } from './fixtures/responses.ts'
import { SUBTITLE_FIXTURES } from './fixtures/subtitles.ts'
import { COMPAT_FIXTURES } from './fixtures/compat.ts'

const FIXTURES: Readonly<Record<string, readonly unknown[]>> = { ...BASE, ...STREAM_FIXTURES, ...SUBTITLE_FIXTURES, ...COMPAT_FIXTURES }

interface Found { file: string, name: string, fn: (value: unknown) => string, schema: Record<string, unknown> }

async function findSerializers (): Promise<Found[]> {
  const dir = fileURLToPath(new URL('.', import.meta.url))
  const files = readdirSync(dir).filter((f) => f.endsWith('.js') && !f.endsWith('.test.js')).sort()
  const found: Found[] = []
  for (const file of files) {
    const mod: Record<string, unknown> = await import(new URL(file, import.meta.url).href)
    for (const [name, value] of Object.entries(mod)) {
      if (!name.startsWith('serialize')) continue
      assert.equal(typeof value, 'function', `${file}: ${name} is not a function`)
      const fn = value as Found['fn'] & { schema?: unknown }
      assert.ok(typeof fn.schema === 'object' && fn.schema !== null, `${file}: ${name} has no schema (use compile())`)
      found.push({ file, name, fn, schema: fn.schema as Record<string, unknown> })
    }
  }
  return found
}

test('every exported serializer has a fixture, and every fixture a serializer', async () => {
  const found = await findSerializers()
  assert.ok(found.length >= Object.keys(FIXTURES).length)
  const missing = found.filter((s) => FIXTURES[s.name] === undefined).map((s) => `${s.file}: ${s.name}`)
  assert.deepEqual(missing, [], 'add a full fixture to src/schemas/fixtures/responses.ts for each of these')
  const stale = Object.keys(FIXTURES).filter((name) => !found.some((s) => s.name === name))
  assert.deepEqual(stale, [])
})

test('JSON.parse(serialize(fixture)) deep-equals the fixture', async (t) => {
  for (const s of await findSerializers()) {
    const fixtures = FIXTURES[s.name] ?? []
    await t.test(s.name, () => {
      assert.ok(fixtures.length > 0)
      for (const fixture of fixtures) assert.deepEqual(JSON.parse(s.fn(fixture)), fixture)
    })
  }
})

test('a missing required top-level field throws instead of vanishing', async (t) => {
  for (const s of await findSerializers()) {
    const required = Array.isArray(s.schema.required) ? s.schema.required.filter((k): k is string => typeof k === 'string') : []
    const fixture = FIXTURES[s.name]?.[0]
    if (required.length === 0 || typeof fixture !== 'object' || fixture === null) continue
    await t.test(s.name, () => {
      for (const key of required) {
        const partial = Object.fromEntries(Object.entries(fixture).filter(([k]) => k !== key))
        assert.throws(() => s.fn(partial), Error, `${s.name} without ${key}`)
      }
    })
  }
})
