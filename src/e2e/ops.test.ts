// The container setup without a Docker engine (issues #7, #13): scripts/compose.yaml
// through a real YAML parser, and the Dockerfile's stages read, the final stage's CMD run
// from the repository root (standing in for WORKDIR) and its HEALTHCHECK run against it;
// the production build config compiled by tsc; package-lock.json as `npm ci` reads it;
// scripts/ensure.js's yt-dlp update failing without losing the installed yt-dlp.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, posix, relative, resolve } from 'node:path'
import { parseEnv, promisify } from 'node:util'
import { parseDocument } from 'yaml'
import { isConfigKey, loadConfig } from '../config.ts'
import { FAKE_YTDLP, MAIN_JS, REPO_ROOT, freePort, startCluster } from '../testing/helpers.ts'

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
  args: Record<string, string>
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

interface Stage { name: string, instructions: Instruction[] }

// FROM starts a stage; "FROM image AS name" names it.
function readStages (text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')): Stage[] {
  const stages: Stage[] = []
  for (const instruction of instructions(text)) {
    if (instruction.keyword === 'FROM') {
      const m = /\s+AS\s+(\S+)\s*$/i.exec(instruction.args)
      stages.push({ name: m?.[1] ?? String(stages.length), instructions: [] })
    } else {
      assert.ok(stages.length > 0 || instruction.keyword === 'ARG', `Dockerfile: ${instruction.keyword} before FROM`)
      stages.at(-1)?.instructions.push(instruction)
    }
  }
  assert.ok(stages.length > 0, 'Dockerfile has no FROM')
  return stages
}

function readImage (): Image {
  const stages = readStages()
  const image: Image = {
    args: {}, env: {}, workdir: '/', user: 'root', entrypoint: [], cmd: [], expose: [], volumes: [], copied: new Set(), runs: [], healthcheck: { options: {}, argv: [] }
  }
  for (const { keyword, args } of stages.at(-1)?.instructions ?? []) {
    if (keyword === 'ARG') {
      const [name = '', ...value] = args.split('=')
      image.args[name.trim()] = value.join('=')
    } else if (keyword === 'ENV') Object.assign(image.env, envPairs(args))
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
  assert.deepEqual(Object.keys(dict(compose.services, 'services')).sort(), ['pot-provider', 'redis', 'vidgate'])
})

// `docker compose up` starts the services without a profile; the others only with --profile.
function defaultServices (services: Dict): string[] {
  return Object.entries(services).filter(([name, s]) => strings(dict(s, name).profiles ?? [], `${name}.profiles`).length === 0).map(([name]) => name).sort()
}

test('the PO-token provider is behind a profile, and the URL the compose file tells vidgate reaches it', () => {
  const services = dict(readCompose(COMPOSE_TEXT).services, 'services')
  assert.deepEqual(defaultServices(services), ['redis', 'vidgate'], 'docker compose up starts vidgate and redis only')
  const pot = dict(services['pot-provider'], 'services.pot-provider')
  assert.match(String(pot.image), /^brainicism\/bgutil-ytdlp-pot-provider(:|$)/)
  const profiles = strings(pot.profiles, 'pot-provider.profiles')
  // A service with a profile is not started by default: vidgate must not need it.
  const vidgate = dict(services.vidgate, 'services.vidgate')
  const dependsOn = Array.isArray(vidgate.depends_on) ? strings(vidgate.depends_on, 'depends_on') : Object.keys(dict(vidgate.depends_on ?? {}, 'depends_on'))
  assert.ok(!dependsOn.includes('pot-provider'), 'vidgate does not depend on the optional pot-provider')

  // The comment's setting: a valid YTDLP_EXTRACTOR_ARGS naming the service and a port it exposes.
  const m = /^#\s*(YTDLP_EXTRACTOR_ARGS)[:=]\s*(\S+)\s*$/m.exec(COMPOSE_TEXT)
  assert.ok(m !== null, 'compose.yaml shows the YTDLP_EXTRACTOR_ARGS that enables the provider')
  loadConfig({ YTDLP_EXTRACTOR_ARGS: m[2] })
  const base = /youtubepot-bgutilhttp:base_url=(\S+)/.exec(m[2] ?? '')
  assert.ok(base !== null, `${m[2]} sets youtubepot-bgutilhttp:base_url`)
  const url = new URL(base[1] ?? '')
  assert.equal(url.hostname, 'pot-provider')
  assert.ok(strings(pot.expose ?? [], 'pot-provider.expose').map(Number).includes(Number(url.port)), `pot-provider exposes ${url.port}`)
  assert.ok(new RegExp(`--profile ${profiles[0] ?? ''}\\b`).test(COMPOSE_TEXT), `compose.yaml says how to turn profile ${profiles[0] ?? ''} on`)
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
  for (const arg of Object.keys(dict(build.args ?? {}, 'build.args'))) assert.ok(arg in image.args, `build arg ${arg} is an ARG of the final stage`)
  const fromFile = definedEnv(parseEnv(readFileSync(envFiles[0] ?? '', 'utf8')))
  const seen = { ...image.env, ...fromFile, ...environment }
  assert.equal(seen.YTDLP_PATH, image.env.YTDLP_PATH, 'the container runs the image\'s yt-dlp')
  const config = loadConfig(seen)
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
  const tini = image.entrypoint[0] ?? ''
  assert.ok(image.runs.some((r) => new RegExp(`apt-get install[^&]*\\b${basename(tini)}\\b`).test(r)), `${tini} is installed in the final stage`)
  for (const key of Object.keys(image.env)) assert.ok(key === 'NODE_ENV' || isConfigKey(key), `ENV ${key} is not in CONFIG_TABLE`)
  loadConfig(image.env)
  const [node, script = ''] = image.cmd
  assert.equal(node, 'node')
  // package.json makes dist/ ES modules ("type": "module").
  for (const needed of ['package.json', 'node_modules', script.split('/')[0] ?? '']) {
    assert.ok(image.copied.has(posix.join(image.workdir, needed)), `${needed} is copied into WORKDIR ${image.workdir}`)
  }
  for (const key of ['DOWNLOAD_DIRECTORY', 'COOKIES_DIRECTORY', 'YTDLP_CACHE_DIR']) {
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
    YTDLP_CACHE_DIR: join(dir, 'yt-dlp-cache'),
    // The image's virtualenv does not exist here (no PyPI on these machines).
    YTDLP_PATH: existsSync(ytdlp) ? ytdlp : FAKE_YTDLP,
    LOG_LEVEL: 'info' // startCluster waits for the primary's "ready" line
  }
  // startCluster lays this env over its test defaults (WORKERS=1, YTDLP_MODE=spawn, SHUTDOWN_TIMEOUT=2).
  const cluster = await startCluster({ args, env, timeoutMs: 30_000 })
  t.after(cluster.stop)

  // The check's own command is what is tested; Docker's timeout belongs to the operator's host
  // (a node start took over 3 s on this 2-core machine at load 20), so the test allows more.
  const timeoutMs = Math.max(60_000, durationMs(image.healthcheck.options.timeout ?? '30s'))
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

// One shell command per element: a RUN's `&&` / `;` chains split up.
function commands (runs: readonly string[]): string[] {
  return runs.flatMap((r) => r.split(/&&|;/).map((c) => c.trim().replace(/\s+/g, ' '))).filter((c) => c !== '')
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

function packageJson (): { dependencies: Record<string, string>, devDependencies: Record<string, string> } {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'))
}

test('the final stage installs a pinned yt-dlp from PyPI into a virtualenv the server user owns, and no Debian yt-dlp', () => {
  const [final] = readStages().slice(-1)
  const image = readImage()
  const version = image.args.YTDLP_VERSION ?? ''
  assert.match(version, /^\d{4}\.\d{2}\.\d{2}(\.\d+)?$/, `ARG YTDLP_VERSION=${version} pins a yt-dlp release`)
  const ytdlp = image.env.YTDLP_PATH ?? ''
  assert.ok(posix.isAbsolute(ytdlp) && basename(dirname(ytdlp)) === 'bin' && basename(ytdlp) === 'yt-dlp', `YTDLP_PATH=${ytdlp} is a virtualenv's bin/yt-dlp`)
  const venv = posix.dirname(posix.dirname(ytdlp))
  const steps = commands(image.runs)
  const created = steps.findIndex((c) => c === `python3 -m venv ${venv}`)
  assert.ok(created >= 0, `python3 -m venv ${venv} in a RUN`)
  const pip = new RegExp(`^${escapeRegExp(venv)}/bin/(?:pip|python3? -m pip) install .*"yt-dlp\\[([^\\]]*)\\]==\\$\\{?YTDLP_VERSION\\}?"`)
  const installed = steps.findIndex((c) => pip.test(c))
  assert.ok(installed > created, `the virtualenv's pip installs "yt-dlp[...]==\${YTDLP_VERSION}" after creating it:\n${steps.join('\n')}`)
  const extras = (pip.exec(steps[installed] ?? '')?.[1] ?? '').split(',')
  for (const extra of ['default', 'curl-cffi']) assert.ok(extras.includes(extra), `yt-dlp[${extra}] (default brings yt-dlp-ejs, the solver scripts)`)
  // The ARG must be declared in this stage before the RUN that reads it.
  const argAt = final?.instructions.findIndex((i) => i.keyword === 'ARG' && i.args.startsWith('YTDLP_VERSION')) ?? -1
  const runAt = final?.instructions.findIndex((i) => i.keyword === 'RUN' && pip.test(commands([i.args]).find((c) => pip.test(c)) ?? '')) ?? -1
  assert.ok(argAt >= 0 && argAt < runAt, 'ARG YTDLP_VERSION comes before the RUN that installs it')

  const aptInstalls = steps.filter((c) => c.startsWith('apt-get install'))
  assert.ok(aptInstalls.some((c) => /\spython3-venv(\s|$)/.test(c)), 'Debian\'s python3-venv is installed')
  assert.ok(aptInstalls.every((c) => !/\syt-dlp(\s|$)/.test(c)), 'no Debian yt-dlp in the image')
  // Auto-update runs as USER: it must be able to write the virtualenv (and yt-dlp its cache).
  const user = image.user.split(':')[0] ?? ''
  const chown = new RegExp(`^chown -R ${escapeRegExp(user)}(?::\\S+)? (.+)$`)
  const ownedAt = (dir: string): number => steps.findIndex((c) => (chown.exec(c)?.[1]?.split(' ') ?? []).some((d) => dir === d || dir.startsWith(`${d}/`)))
  assert.ok(ownedAt(venv) > installed, `chown -R ${user} ${venv} after the install`)
  assert.ok(ownedAt(image.env.YTDLP_CACHE_DIR ?? '') >= 0, `YTDLP_CACHE_DIR=${image.env.YTDLP_CACHE_DIR ?? ''} belongs to ${user}`)

  // Deno comes from the npm package, kept by `npm prune --omit=dev`.
  const { dependencies, devDependencies } = packageJson()
  assert.match(dependencies.deno ?? '', /^\d+\.\d+\.\d+$/, 'deno is a pinned runtime dependency')
  assert.ok(!('deno' in devDependencies))
  assert.notEqual(loadConfig(image.env).jsRuntime.name, 'none', 'the image lets yt-dlp use a JavaScript runtime')
})

test('the image\'s YTDLP_UPDATE_COMMAND upgrades the virtualenv with pip, with --pre on the nightly channel only', async (t) => {
  const image = readImage()
  const venv = posix.dirname(posix.dirname(image.env.YTDLP_PATH ?? ''))
  const command = image.env.YTDLP_UPDATE_COMMAND ?? ''
  assert.ok(command.includes(`${venv}/bin/`), `YTDLP_UPDATE_COMMAND runs the virtualenv's pip: ${command}`)
  // The same command with the virtualenv's bin/ swapped for recorders of their argv.
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-update-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'bin'))
  for (const name of ['python', 'python3', 'pip', 'pip3']) {
    writeFileSync(join(dir, 'bin', name), '#!/bin/sh\nprintf \'%s\\n\' "$(basename "$0")" "$@" > "$RECORD"\n')
    chmodSync(join(dir, 'bin', name), 0o755)
  }
  const run = promisify(execFile)
  for (const channel of ['stable', 'nightly']) {
    const record = join(dir, `${channel}.txt`)
    await run('/bin/sh', ['-c', command.replaceAll(`${venv}/bin/`, `${dir}/bin/`)], { env: { PATH: process.env.PATH ?? '', YTDLP_UPDATE_CHANNEL: channel, RECORD: record }, timeout: 10_000 })
    const argv = readFileSync(record, 'utf8').split('\n').slice(0, -1)
    const pipArgs = argv[0]?.startsWith('python') === true ? (assert.deepEqual(argv.slice(1, 3), ['-m', 'pip']), argv.slice(3)) : argv.slice(1)
    assert.equal(pipArgs[0], 'install', argv.join(' '))
    assert.ok(pipArgs.includes('--upgrade') || pipArgs.includes('-U'), `${channel}: --upgrade in ${argv.join(' ')}`)
    const requirement = pipArgs.find((a) => a.startsWith('yt-dlp'))
    assert.match(requirement ?? '', /^yt-dlp\[[^\]]*\bdefault\b[^\]]*\]$/, `${channel}: upgrades yt-dlp with its default extras, unpinned`)
    assert.equal(pipArgs.includes('--pre'), channel === 'nightly', `${channel}: ${argv.join(' ')}`)
  }
})

// .dockerignore as Docker reads it: a path is left out when it or a folder above it
// matches a pattern (* and ? within a name, ** across folders).
function dockerIgnored (): (file: string) => boolean {
  const patterns = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  assert.ok(patterns.every((p) => !p.startsWith('!')), '.dockerignore exceptions (!) are not read here')
  const regexes = patterns.map((pattern) => {
    const p = posix.normalize(pattern).replace(/^\/+/, '')
    let re = ''
    for (let i = 0; i < p.length; i++) {
      const c = p.charAt(i)
      if (c === '*' && p.charAt(i + 1) === '*') {
        i++
        if (p.charAt(i + 1) === '/') { i++; re += '(?:.*/)?' } else re += '.*'
      } else if (c === '*') re += '[^/]*'
      else if (c === '?') re += '[^/]'
      else re += escapeRegExp(c)
    }
    return new RegExp(`^${re}(?:/.*)?$`)
  })
  return (file) => regexes.some((re) => re.test(file))
}

// Sources of a stage's COPY instructions (not those copied --from another stage).
function copySources (stage: Stage): string[] {
  return stage.instructions.filter((i) => i.keyword === 'COPY').flatMap((i) => {
    const words = shellWords(i.args, false)
    if (words.some((w) => w.startsWith('--from='))) return []
    return words.filter((w) => !w.startsWith('--')).slice(0, -1).map((w) => posix.normalize(w).replace(/\/$/, ''))
  })
}

test('the build stage compiles with tsconfig.build.json from src/ and workers/ only: no bench/, no scripts/', () => {
  const stages = readStages()
  const final = stages.at(-1)
  const from = new Set(final?.instructions.filter((i) => i.keyword === 'COPY').flatMap((i) => /--from=(\S+)/.exec(i.args)?.[1] ?? []))
  assert.equal(from.size, 1, 'the final stage copies from one build stage')
  const build = stages.find((s) => from.has(s.name))
  assert.ok(build !== undefined, `no stage named ${[...from].join()}`)
  const sources = copySources(build)
  for (const left of ['bench', 'scripts']) assert.ok(!sources.some((s) => s === left || s.startsWith(`${left}/`) || s === '.'), `the build stage copies ${left}/`)
  for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'workers']) assert.ok(sources.includes(needed), `the build stage copies ${needed}`)
  const ignored = dockerIgnored()
  assert.deepEqual(sources.filter(ignored), [], 'nothing the build stage copies is left out of the build context')

  const steps = commands(build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args))
  assert.ok(steps.some((c) => /^npm ci( |$)/.test(c)), 'npm ci installs from the lock')
  assert.ok(!build.instructions.some((i) => i.keyword === 'RUN' && /npm ci[^&;]*\|\|/.test(i.args)), 'npm ci without a fallback (the lock must be complete)')
  const tsc = steps.filter((c) => /^(npx )?tsc\b/.test(c))
  assert.deepEqual(tsc, ['npx tsc -p tsconfig.build.json'], 'the production build config, and only it')
  assert.ok(steps.some((c) => c === 'npm prune --omit=dev'), 'dev dependencies are pruned before node_modules is copied')
})

const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

// The repository files tsc compiles with a config (inputs and whatever they import).
async function compiledFiles (config: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [TSC, '-p', join(REPO_ROOT, config), '--listFilesOnly'], { cwd: REPO_ROOT, maxBuffer: 16 << 20 })
  return stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.includes('/node_modules/')).map((f) => relative(REPO_ROOT, f)).sort()
}

// Tests, what only tests use, and the benchmarks.
function testOnly (file: string): boolean {
  return /^(bench|scripts)\//.test(file) || file.endsWith('.test.ts') || /(^|\/)fixtures(\/|\.ts$)/.test(file) ||
    /(^|\/)([\w-]+-)?testing\.ts$/.test(file) || file.startsWith('src/testing/')
}

test('tsconfig.build.json compiles no tests, test support or bench, and every thread file production code loads', async () => {
  const [production, all] = await Promise.all([compiledFiles('tsconfig.build.json'), compiledFiles('tsconfig.json')])
  // The development config does compile such files: the classification below is not vacuous.
  for (const kind of [/\.test\.ts$/, /^bench\//, /^src\/testing\//, /fixtures/]) assert.ok(all.some((f) => kind.test(f) && testOnly(f)), `tsconfig.json compiles ${kind}`)
  // tsc compiles what the inputs import even when excluded: production code must import none of it.
  assert.deepEqual(production.filter(testOnly), [], 'the production build compiles no tests, test support or bench')
  assert.ok(production.includes('src/main.ts'))
  assert.deepEqual(production.filter((f) => !/^(src|workers)\//.test(f)), [], 'the build stage copies src/ and workers/ only')
  assert.deepEqual(production.filter(dockerIgnored()), [], '.dockerignore leaves out nothing the build compiles')
  // Threads are started from compiled files named by URL, which tsc does not follow: they
  // must be built too. (A URL out of dist/ names a repository file, such as scripts/ensure.js,
  // the default YTDLP_UPDATE_COMMAND, which the image replaces.)
  let loaded = 0
  for (const file of production) {
    for (const m of readFileSync(join(REPO_ROOT, file), 'utf8').matchAll(/new URL\(\s*['"](\.{1,2}\/[^'"]+)\.js['"]\s*,\s*import\.meta\.url\s*\)/g)) {
      const compiled = posix.join('dist', posix.dirname(file), `${m[1] ?? ''}.js`)
      if (!compiled.startsWith('dist/')) continue
      const target = compiled.slice('dist/'.length).replace(/\.js$/, '.ts')
      assert.ok(production.includes(target), `${file} loads ${m[1] ?? ''}.js, but ${target} is not in the production build`)
      loaded++
    }
  }
  assert.ok(loaded >= 1, 'the worker threads\' files are found')
})

interface LockEntry { version?: string, dependencies?: Record<string, string>, optionalDependencies?: Record<string, string>, devDependencies?: Record<string, string> }

test('package-lock.json resolves every dependency, optional per-platform packages included (npm ci refuses a lock that does not)', () => {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }
  const pkg = packageJson()
  const root = lock.packages[''] ?? {}
  assert.deepEqual([root.dependencies, root.devDependencies], [pkg.dependencies, pkg.devDependencies], 'the lock\'s root entry is package.json\'s')
  // Node's lookup: node_modules/<name> beside the package, then in each folder above it.
  const resolves = (from: string, name: string): boolean => {
    let base = from
    for (;;) {
      if (`${base === '' ? '' : `${base}/`}node_modules/${name}` in lock.packages) return true
      if (base === '') return false
      base = base.slice(0, Math.max(0, base.lastIndexOf('node_modules/') - 1))
    }
  }
  const missing: string[] = []
  for (const [path, entry] of Object.entries(lock.packages)) {
    const names = Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...(path === '' ? entry.devDependencies : {}) })
    for (const name of names) if (!resolves(path, name)) missing.push(`${name} (of ${path === '' ? 'package.json' : path})`)
  }
  assert.deepEqual(missing, [], 'missing from package-lock.json')
  assert.equal(lock.packages['node_modules/deno']?.version, pkg.dependencies.deno, 'the lock has the pinned deno')
})

test('ensure.js ytdlp keeps the installed yt-dlp and exits 1 when the new one cannot be fetched', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-ensure-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'scripts'))
  copyFileSync(join(SCRIPTS, 'ensure.js'), join(dir, 'scripts', 'ensure.js'))
  mkdirSync(join(dir, '.tools'))
  const installed = join(dir, '.tools', 'yt-dlp')
  const old = '#!/bin/sh\necho 2020.01.01\n'
  writeFileSync(installed, old, { mode: 0o755 })
  // apt reads APT_CONFIG first; with no other configuration, every fetch goes to a
  // proxy port nothing listens on, once (apt's default is 3 retries, 7 s of back-off).
  mkdirSync(join(dir, 'apt.conf.d'))
  writeFileSync(join(dir, 'apt.conf'), `Dir::Etc::Parts "${join(dir, 'apt.conf.d')}";\nDir::Etc::Main "/dev/null";\nAcquire::Retries "0";\nAcquire::http::Proxy "http://127.0.0.1:${await freePort()}/";\n`)
  const result = await new Promise<Exit>((resolve, reject) => {
    const child = spawn(process.execPath, [join(dir, 'scripts', 'ensure.js'), 'ytdlp'], {
      cwd: dir, env: { ...definedEnv(process.env), APT_CONFIG: join(dir, 'apt.conf'), YTDLP_UPDATE_CHANNEL: 'stable' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, output }))
  })
  assert.equal(result.code, 1, result.output)
  assert.match(result.output, new RegExp(`could not update ${escapeRegExp(installed)}: .+; the installed one stays`))
  assert.equal(readFileSync(installed, 'utf8'), old)
  // no temporary files or apt state left behind
  assert.deepEqual(readdirSync(join(dir, '.tools')).filter((f) => f !== 'apt'), ['yt-dlp'])
  if (existsSync(join(dir, '.tools', 'apt'))) assert.deepEqual(readdirSync(join(dir, '.tools', 'apt')), [])
})
