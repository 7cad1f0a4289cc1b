// The container setup without a Docker engine (issue #7): scripts/compose.yaml
// through a real YAML parser, and the Dockerfile's final stage read, its CMD run
// from the repository root (standing in for WORKDIR) and its HEALTHCHECK run against it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join, posix, resolve } from 'node:path'
import { parseEnv } from 'node:util'
import { parseDocument } from 'yaml'
import { isConfigKey, loadConfig } from './config.ts'
import { FAKE_YTDLP, MAIN_JS, REPO_ROOT, freePort, startCluster } from './test-helpers.ts'

const SCRIPTS = join(REPO_ROOT, 'scripts')
const COMPOSE_TEXT = readFileSync(join(SCRIPTS, 'compose.yaml'), 'utf8')

// Property names from compose-spec schema/compose-spec.json; `x-` extensions are allowed anywhere.
const TOP_KEYS = new Set('version name include services models networks volumes secrets configs'.split(' '))
const BUILD_KEYS = new Set(('context dockerfile dockerfile_inline entitlements args ssh labels cache_from cache_to no_cache ' +
  'additional_contexts network pull target shm_size extra_hosts isolation privileged secrets tags ulimits platforms').split(' '))
const SERVICE_KEYS = new Set(('develop deploy annotations attach build blkio_config cap_add cap_drop cgroup cgroup_parent command ' +
  'configs container_name cpu_count cpu_percent cpu_shares cpu_quota cpu_period cpu_rt_period cpu_rt_runtime cpus cpuset ' +
  'credential_spec depends_on device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file label_file ' +
  'environment expose extends provider external_links extra_hosts gpus group_add healthcheck hostname image init ipc ' +
  'isolation labels links logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit network_mode models ' +
  'networks oom_kill_disable oom_score_adj pid pids_limit platform ports post_start pre_stop privileged profiles pull_policy ' +
  'pull_refresh_after read_only restart runtime scale security_opt shm_size secrets sysctls stdin_open stop_grace_period ' +
  'stop_signal storage_opt tmpfs tty ulimits use_api_socket user uts userns_mode volumes volumes_from working_dir').split(' '))

type Dict = Record<string, unknown>

function dict (value: unknown, what: string): Dict {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${what} must be a mapping`)
  return value as Dict
}

function strings (value: unknown, what: string): string[] {
  const list = typeof value === 'string' ? [value] : value
  assert.ok(Array.isArray(list) && list.every((x) => typeof x === 'string'), `${what} must be a string or a list of strings`)
  return list
}

function knownKeys (value: Dict, known: ReadonlySet<string>, what: string): void {
  for (const key of Object.keys(value)) assert.ok(known.has(key) || key.startsWith('x-'), `${what}: unknown key "${key}"`)
}

// Short form [SOURCE:]TARGET[:MODE], or the long form's source and target.
function mountOf (value: unknown, what: string): { source: string, target: string } {
  if (typeof value !== 'string') {
    const m = dict(value, what)
    return { source: typeof m.source === 'string' ? m.source : '', target: String(m.target) }
  }
  const [first = '', second] = value.split(':')
  return second === undefined ? { source: '', target: first } : { source: first, target: second }
}

function readCompose (text: string): Dict {
  const doc = parseDocument(text, { prettyErrors: true })
  assert.deepEqual([...doc.errors, ...doc.warnings].map((e) => e.message), [], 'compose.yaml must parse without errors or warnings')
  const compose = dict(doc.toJS(), 'compose.yaml')
  knownKeys(compose, TOP_KEYS, 'compose.yaml')
  for (const [name, service] of Object.entries(dict(compose.services, 'services'))) {
    knownKeys(dict(service, `services.${name}`), SERVICE_KEYS, `services.${name}`)
    const build = dict(service, name).build
    if (typeof build === 'object') knownKeys(dict(build, `services.${name}.build`), BUILD_KEYS, `services.${name}.build`)
  }
  return compose
}

// Words as /bin/sh (shell: true) or Docker's ENV would split them, with no
// expansion: anything that would need one throws instead of being guessed.
function shellWords (text: string, shell: boolean): string[] {
  const words: string[] = []
  let word: string | null = null
  let quote: string | null = null
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i)
    if (c === '$' || c === '`') assert.ok(quote === "'", `"${text}" needs expansion`)
    if (quote === "'") {
      if (c === "'") quote = null
      else word += c
    } else if (quote === '"') {
      if (c === '"') quote = null
      else if (c === '\\' && '"\\$`'.includes(text.charAt(i + 1))) word += text.charAt(++i)
      else word += c
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word)
      word = null
    } else {
      assert.ok(!shell || !'|&;<>()*?[]{}~#'.includes(c), `"${text}" needs a shell (${c})`)
      word ??= ''
      if (c === '"' || c === "'") quote = c
      else if (c === '\\') word += text.charAt(++i)
      else word += c
    }
  }
  assert.equal(quote, null, `unterminated quote in "${text}"`)
  if (word !== null) words.push(word)
  return words
}

function execForm (args: string, what: string): string[] {
  let parsed: unknown
  try { parsed = JSON.parse(args) } catch {}
  assert.ok(Array.isArray(parsed) && parsed.length > 0, `${what} must use the JSON exec form`)
  return strings(parsed, what)
}

function durationMs (text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  assert.match(text, /^(\d+(\.\d+)?(ms|s|m|h))+$/, `duration ${text}`)
  let ms = 0
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * (units[m[2] ?? ''] ?? 0)
  return ms
}

// ENV A=1 B="x y", or the legacy ENV KEY rest of the line.
function envPairs (args: string): Record<string, string> {
  const words = shellWords(args, false)
  const [first = ''] = words
  if (!first.includes('=')) return { [first]: args.slice(args.indexOf(first) + first.length).trim() }
  return Object.fromEntries(words.map((w) => {
    assert.ok(w.indexOf('=') > 0, `ENV ${w}`)
    return [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]
  }))
}

interface Instruction { keyword: string, args: string }

// Comment lines go, `\` line ends join (comments inside a continuation are dropped too).
function instructions (text: string): Instruction[] {
  const out: Instruction[] = []
  let buf = ''
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd()
    if (/^\s*#/.test(line) || line.trim() === '') continue
    if (line.endsWith('\\')) { buf += line.slice(0, -1); continue }
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buf + line)
    assert.ok(m !== null, `Dockerfile: cannot read "${buf + line}"`)
    out.push({ keyword: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim() })
    buf = ''
  }
  assert.equal(buf, '', 'Dockerfile ends inside a line continuation')
  return out
}

interface Image {
  env: Record<string, string>
  workdir: string
  user: string
  entrypoint: string[]
  cmd: string[]
  expose: number[]
  volumes: string[]
  copied: Set<string>
  runs: string[]
  healthcheck: { options: Record<string, string>, argv: string[] }
}

function readImage (): Image {
  const all = instructions(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'))
  const from = all.map((x) => x.keyword).lastIndexOf('FROM')
  assert.ok(from >= 0, 'Dockerfile has no FROM')
  const image: Image = {
    env: {}, workdir: '/', user: 'root', entrypoint: [], cmd: [], expose: [], volumes: [], copied: new Set(), runs: [], healthcheck: { options: {}, argv: [] }
  }
  for (const { keyword, args } of all.slice(from + 1)) {
    if (keyword === 'ENV') Object.assign(image.env, envPairs(args))
    else if (keyword === 'WORKDIR') image.workdir = posix.resolve(image.workdir, args)
    else if (keyword === 'USER') image.user = args
    else if (keyword === 'ENTRYPOINT') image.entrypoint = execForm(args, 'ENTRYPOINT')
    else if (keyword === 'CMD') image.cmd = execForm(args, 'CMD')
    else if (keyword === 'EXPOSE') image.expose.push(...shellWords(args, false).map((p) => Number(p.replace(/\/tcp$/, ''))))
    else if (keyword === 'VOLUME') image.volumes.push(...(args.startsWith('[') ? execForm(args, 'VOLUME') : shellWords(args, false)))
    else if (keyword === 'RUN') image.runs.push(args)
    else if (keyword === 'COPY') image.copied.add(posix.resolve(image.workdir, shellWords(args, false).at(-1) ?? ''))
    else if (keyword === 'HEALTHCHECK') {
      const m = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+([\s\S]+)$/.exec(args)
      assert.ok(m !== null, `HEALTHCHECK ${args}`)
      const options = Object.fromEntries(shellWords(m[1] ?? '', false).map((o): [string, string] => {
        const [key = '', value = ''] = o.slice(2).split('=')
        return [key, value]
      }))
      const cmd = m[2] ?? ''
      image.healthcheck = { options, argv: cmd.startsWith('[') ? execForm(cmd, 'HEALTHCHECK CMD') : shellWords(cmd, true) }
    }
  }
  return image
}

interface Exit { code: number | null, signal: NodeJS.Signals | null, output: string }

// As Docker runs a HEALTHCHECK: in WORKDIR (the repository root here) with the container's env, killed at --timeout.
async function runCheck (argv: readonly string[], env: Record<string, string>, timeoutMs: number): Promise<Exit> {
  const [bin = '', ...args] = argv
  const child = spawn(bin === 'node' ? process.execPath : bin, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  return await new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, output }))
  })
}

function definedEnv (env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))
}

test('compose.yaml parses cleanly and uses only Compose-spec keys', () => {
  const compose = readCompose(COMPOSE_TEXT)
  assert.deepEqual(Object.keys(dict(compose.services, 'services')).sort(), ['redis', 'vidgate'])
})

test('a YAML error or a misspelt key in compose.yaml is caught', () => {
  const broken: Array<[string, string, RegExp]> = [
    ['unterminated quote', `${COMPOSE_TEXT}\nx-note: "unterminated\n`, /without errors or warnings/],
    ['duplicate key', `${COMPOSE_TEXT}\nservices: {}\n`, /without errors or warnings/],
    ['misspelt service key', COMPOSE_TEXT.replace(/^(\s+)depends_on:/m, '$1depend_on:'), /unknown key "depend_on"/],
    ['misspelt build key', COMPOSE_TEXT.replace(/^(\s+)context:/m, '$1contxt:'), /unknown key "contxt"/],
    ['misspelt top-level key', COMPOSE_TEXT.replace(/^services:/m, 'service:'), /unknown key "service"/]
  ]
  for (const [what, text, message] of broken) {
    assert.notEqual(text, COMPOSE_TEXT, `${what}: the mutation must apply`)
    assert.throws(() => readCompose(text), message, what)
  }
})

test('compose builds the Dockerfile, loads orbstack.env and sets only known settings, published on EXPOSE', () => {
  const vidgate = dict(dict(readCompose(COMPOSE_TEXT).services, 'services').vidgate, 'services.vidgate')
  const build = dict(vidgate.build, 'build')
  assert.equal(resolve(SCRIPTS, String(build.context)), REPO_ROOT.replace(/\/$/, ''))
  assert.ok(existsSync(resolve(SCRIPTS, String(build.context), String(build.dockerfile ?? 'Dockerfile'))), 'the Dockerfile exists in the build context')

  const envFiles = strings(vidgate.env_file, 'env_file').map((f) => resolve(SCRIPTS, f))
  assert.deepEqual(envFiles, [join(REPO_ROOT, 'orbstack.env')])
  const environment = Object.fromEntries(Object.entries(dict(vidgate.environment, 'environment')).map(([k, v]) => [k, String(v)]))
  for (const key of Object.keys(environment)) assert.ok(isConfigKey(key), `environment: ${key} is not in CONFIG_TABLE`)

  // What the container sees: image ENV, then env_file, then environment.
  const image = readImage()
  const fromFile = definedEnv(parseEnv(readFileSync(envFiles[0] ?? '', 'utf8')))
  const config = loadConfig({ ...image.env, ...fromFile, ...environment })
  assert.ok(['0.0.0.0', '::'].includes(config.HOST), `HOST ${config.HOST} must be reachable through the published port`)
  const published = strings(vidgate.ports, 'ports').map((p) => Number(p.split(':').at(-1)?.replace(/\/tcp$/, '')))
  assert.deepEqual(published, image.expose, 'ports map to the Dockerfile\'s EXPOSE')
  assert.deepEqual(image.expose, [config.PORT], 'the server listens on the exposed port')
})

test('compose points vidgate at the redis service, which never evicts (BullMQ)', () => {
  const services = dict(readCompose(COMPOSE_TEXT).services, 'services')
  const vidgate = dict(services.vidgate, 'services.vidgate')
  const redisUrl = new URL(String(dict(vidgate.environment, 'environment').REDIS_URL))
  assert.equal(redisUrl.hostname, 'redis')
  assert.ok(redisUrl.hostname in services, 'REDIS_URL names a service')
  const dependsOn = Array.isArray(vidgate.depends_on) ? strings(vidgate.depends_on, 'depends_on') : Object.keys(dict(vidgate.depends_on, 'depends_on'))
  assert.ok(dependsOn.includes('redis'), 'vidgate depends on redis')

  const redis = dict(services.redis, 'services.redis')
  const command = typeof redis.command === 'string' ? shellWords(redis.command, false) : strings(redis.command, 'redis command')
  assert.equal(command[0], 'redis-server')
  const flag = (name: string): string | undefined => command[command.indexOf(name) + 1]
  assert.equal(flag('--maxmemory-policy'), 'noeviction')
  const listens = command.includes('--port') ? Number(flag('--port')) : 6379
  assert.equal(redisUrl.port === '' ? 6379 : Number(redisUrl.port), listens, 'REDIS_URL uses the port redis-server listens on')
})

test('compose declares every named volume it mounts, and downloads and cookies live on one', () => {
  const compose = readCompose(COMPOSE_TEXT)
  const declared = Object.keys(dict(compose.volumes ?? {}, 'volumes'))
  const targets: string[] = []
  for (const [name, service] of Object.entries(dict(compose.services, 'services'))) {
    const volumes = dict(service, name).volumes ?? []
    assert.ok(Array.isArray(volumes), `services.${name}.volumes must be a list`)
    for (const v of volumes) {
      const { source, target } = mountOf(v, `services.${name}.volumes`)
      // A source that is not a path (./, /, ~) names a volume.
      if (/^[A-Za-z0-9][\w.-]*$/.test(source)) assert.ok(declared.includes(source), `services.${name}: volume "${source}" is not declared under volumes`)
      if (name === 'vidgate') targets.push(target)
    }
  }
  const environment = dict(dict(dict(compose.services, 'services').vidgate, 'vidgate').environment, 'environment')
  for (const key of ['DOWNLOAD_DIRECTORY', 'COOKIES_DIRECTORY']) {
    const dir = String(environment[key])
    assert.ok(targets.some((t) => dir === t || dir.startsWith(`${t}/`)), `${key}=${dir} is not on a mounted volume (${targets.join(', ')})`)
  }
})

test('the final image stage runs non-root in production under tini, with what its CMD needs copied in', () => {
  const image = readImage()
  assert.equal(image.env.NODE_ENV, 'production')
  assert.ok(!['root', '0', ''].includes(image.user.split(':')[0] ?? ''), `USER ${image.user} must not be root`)
  assert.equal(basename(image.entrypoint[0] ?? ''), 'tini')
  for (const bin of [image.entrypoint[0] ?? '', image.env.YTDLP_PATH ?? '']) {
    assert.ok(image.runs.some((r) => new RegExp(`apt-get install[^&]*\\b${basename(bin)}\\b`).test(r)), `${bin} is installed in the final stage`)
  }
  for (const key of Object.keys(image.env)) assert.ok(key === 'NODE_ENV' || isConfigKey(key), `ENV ${key} is not in CONFIG_TABLE`)
  loadConfig(image.env)
  const [node, script = ''] = image.cmd
  assert.equal(node, 'node')
  // package.json makes dist/ ES modules ("type": "module").
  for (const needed of ['package.json', 'node_modules', script.split('/')[0] ?? '']) {
    assert.ok(image.copied.has(posix.join(image.workdir, needed)), `${needed} is copied into WORKDIR ${image.workdir}`)
  }
  for (const key of ['DOWNLOAD_DIRECTORY', 'COOKIES_DIRECTORY']) {
    assert.ok(image.volumes.some((v) => (image.env[key] ?? '').startsWith(`${v}/`)), `${key} is on a VOLUME`)
  }
  assert.ok(Number(image.healthcheck.options.retries) >= 1)
  assert.ok(durationMs(image.healthcheck.options.timeout ?? '30s') < durationMs(image.healthcheck.options.interval ?? '30s'))
})

test('the image\'s CMD serves, passes the HEALTHCHECK and exits 0 on SIGTERM', async (t) => {
  const image = readImage()
  const [node, script = '', ...args] = image.cmd
  assert.equal(node, 'node')
  assert.equal(resolve(REPO_ROOT, script), MAIN_JS, 'the CMD runs the compiled entry')
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-ops-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const port = await freePort()
  const ytdlp = image.env.YTDLP_PATH ?? ''
  const env = {
    ...definedEnv(process.env),
    ...image.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DOWNLOAD_DIRECTORY: join(dir, 'downloads'),
    COOKIES_DIRECTORY: join(dir, 'cookies'),
    YTDLP_PATH: existsSync(ytdlp) ? ytdlp : FAKE_YTDLP,
    LOG_LEVEL: 'info' // startCluster waits for the primary's "ready" line
  }
  // startCluster lays this env over its test defaults (WORKERS=1, YTDLP_MODE=spawn, SHUTDOWN_TIMEOUT=2).
  const cluster = await startCluster({ args, env, timeoutMs: 30_000 })
  t.after(cluster.stop)

  const timeoutMs = durationMs(image.healthcheck.options.timeout ?? '30s')
  const check = await runCheck(image.healthcheck.argv, env, timeoutMs)
  assert.deepEqual({ code: check.code, signal: check.signal }, { code: 0, signal: null }, `HEALTHCHECK failed: ${check.output}\n${cluster.output().slice(-2000)}`)

  const drainMs = loadConfig(env).SHUTDOWN_TIMEOUT * 1000 + 5000
  let timer: NodeJS.Timeout | undefined
  cluster.child.kill('SIGTERM')
  const exit = await Promise.race([
    cluster.exited,
    new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no exit within ${drainMs} ms of SIGTERM`)), drainMs) })
  ]).finally(() => clearTimeout(timer))
  assert.deepEqual(exit, { code: 0, signal: null }, cluster.output().slice(-2000))
})

test('the HEALTHCHECK fails when nothing listens on PORT', async () => {
  const image = readImage()
  const env = { ...definedEnv(process.env), ...image.env, PORT: String(await freePort()) }
  const check = await runCheck(image.healthcheck.argv, env, durationMs(image.healthcheck.options.timeout ?? '30s'))
  assert.deepEqual({ code: check.code, signal: check.signal }, { code: 1, signal: null }, check.output)
})
