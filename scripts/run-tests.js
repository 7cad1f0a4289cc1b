// Runs every compiled *.test.js under dist/src and dist/workers with node:test.
// Node 20's --test does not expand globs itself, so the list is built here.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

function findTests (dir, out) {
  let names
  try { names = readdirSync(dir) } catch { return out }
  for (const name of names) {
    const full = join(dir, name)
    if (statSync(full).isDirectory()) findTests(full, out)
    else if (name.endsWith('.test.js')) out.push(full)
  }
  return out
}

const filter = process.argv.slice(2)
const all = [...findTests('dist/src', []), ...findTests('dist/workers', []), ...findTests('dist/bench', [])].sort()
const files = filter.length > 0 ? all.filter(f => filter.some(p => f.includes(p))) : all
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2'
// --test-timeout bounds each test file as a whole too (node 20): the fuzz file alone
// took over 150 s at load 18; a hang still ends, after 10 minutes
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
