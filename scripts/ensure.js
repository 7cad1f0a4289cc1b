// Runs before `npm start` and `npm test` so that both work on a fresh clone:
//  - `npm ci` when node_modules is missing or older than package-lock.json;
//  - the Debian packages vidgate needs (apt-get, when run as root) when they are
//    missing: bookworm's own yt-dlp stays the fallback and brings Python, and the
//    Python modules the current yt-dlp uses are installed beside it;
//  - a current yt-dlp at .tools/yt-dlp (when that file is missing): Debian's
//    trixie-backports package, fetched with a private apt state under .tools/apt/
//    (the system's apt state is never touched) and packed into a single-file
//    zipapp, the shape of yt-dlp's own release file. When that fails, start and
//    test go on with a warning and the runtime uses yt-dlp on PATH.
//
//   node scripts/ensure.js [start|test]   what `npm start` / `npm test` run first
//   node scripts/ensure.js ytdlp          re-provision .tools/yt-dlp from the newest
//                                         yt-dlp in trixie-backports, forced; the old
//                                         file stays when anything fails (exit 1).
//                                         The default YTDLP_UPDATE_COMMAND.
//
// Plain JavaScript: it runs before anything is compiled.
import { execFileSync, spawnSync } from 'node:child_process'
import { accessSync, chmodSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TOOLS = join(ROOT, '.tools')
const PROJECT_YTDLP = join(TOOLS, 'yt-dlp')
const APT_DIR = join(TOOLS, 'apt')
const SUITE = 'trixie-backports'
const SOURCE = `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${SUITE} main`
// The zipapp's interpreter: Debian's python3, where the python3-* modules below live.
const INTERPRETER = '/usr/bin/python3'

const purpose = process.argv[2] ?? 'start'
const PACKAGES = {
  start: [['yt-dlp', 'yt-dlp'], ['ffmpeg', 'ffmpeg'], ['ffprobe', 'ffmpeg']],
  // nginx: the byte proxy's baseline in npm run bench and bench:gate (a private instance, never the service)
  test: [['yt-dlp', 'yt-dlp'], ['ffmpeg', 'ffmpeg'], ['ffprobe', 'ffmpeg'], ['redis-server', 'redis-server'], ['chromium', 'chromium'], ['ip', 'iproute2'], ['nginx', 'nginx']]
}
// What the trixie-backports yt-dlp Depends on (all of them are in bookworm too).
const PYTHON_PACKAGES = ['python3-certifi', 'python3-mutagen', 'python3-pycryptodome', 'python3-requests', 'python3-urllib3', 'python3-websockets']

// on PATH, or in sbin (nginx lives in /usr/sbin, off a non-root PATH)
function has (cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd} || test -x /usr/sbin/${cmd}`], { stdio: 'ignore' }).status === 0
}

function isExecutable (file) {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function run (cmd, args, options = {}, shown = args.join(' ')) {
  process.stderr.write(`> ${cmd} ${shown}\n`)
  execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, ...options })
}

// "exit 100", or why the command did not run at all
function why (err) {
  return typeof err.status === 'number' ? `exit ${err.status}` : err.message
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0

// Debian packages (by name) not installed; [] where there is no dpkg.
function missingDebs (names) {
  // eslint-disable-next-line no-template-curly-in-string -- dpkg-query's own format syntax
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...names], { encoding: 'utf8' })
  if (r.error !== undefined) return []
  const installed = new Set(r.stdout.split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]))
  return names.filter((n) => !installed.has(n))
}

function npmPackages () {
  const lock = join(ROOT, 'package-lock.json')
  const marker = join(ROOT, 'node_modules', '.package-lock.json')
  if (existsSync(marker) && statSync(lock).mtimeMs <= statSync(marker).mtimeMs + 1000) return
  try {
    run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT })
  } catch (err) {
    process.stderr.write(`vidgate: npm ci failed (${why(err)}). package-lock.json must match package.json: run npm install, commit package-lock.json and try again.\n`)
    process.exit(1)
  }
}

function systemPackages () {
  const missing = [...new Set((PACKAGES[purpose] ?? PACKAGES.start).filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg))]
  const python = missingDebs(PYTHON_PACKAGES)
  if (missing.length + python.length === 0) return
  if (!isRoot || !has('apt-get')) {
    if (python.length > 0) process.stderr.write(`vidgate: the current yt-dlp works best with these Debian packages: ${python.join(' ')} (sudo apt-get install ${python.join(' ')})\n`)
    if (missing.length === 0) return
    process.stderr.write(`vidgate needs these system packages: ${missing.join(' ')}\nInstall them (Debian/Ubuntu: sudo apt-get install ${missing.join(' ')}) and run again.\n`)
    process.exit(1)
  }
  run('apt-get', ['update', '-qq'])
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing, ...python])
}

function userId (name) {
  try {
    const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))
    return entry === undefined ? null : Number(entry.split(':')[2])
  } catch {
    return null
  }
}

// A step of the yt-dlp provisioning; its failure names the step.
function step (what, cmd, args, options = {}, shown = undefined) {
  try {
    run(cmd, args, options, shown)
  } catch (err) {
    throw new Error(`${what} failed (${why(err)})`, { cause: err })
  }
}

// Packs dist-packages/yt_dlp (sorted entries, fixed timestamps: the same package
// always gives the same bytes) with a top-level __main__.py into a zipapp. Each
// module's bytecode goes beside it (x.pyc next to x.py, where zipimport looks),
// checked against the source's hash: without it every start compiles ~1,000
// modules again (yt-dlp -J took 5.9-6.9 s instead of 2.2-3.9 s on a loaded host).
const ZIPAPP_PY = String.raw`
import os, py_compile, sys, tempfile, zipfile
src, out, interpreter = sys.argv[1:4]
work = tempfile.mkdtemp()

def bytecode(path, name):
    target = os.path.join(work, 'x.pyc')
    py_compile.compile(path, cfile=target, dfile=name, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    with open(target, 'rb') as g:
        return g.read()

MAIN = b'import yt_dlp\n\nif __name__ == "__main__":\n    yt_dlp.main()\n'
WHEN = (2000, 1, 1, 0, 0, 0)

def add(z, name, data):
    info = zipfile.ZipInfo(name, WHEN)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    z.writestr(info, data)

with open(out, 'wb') as f:
    f.write(b'#!' + interpreter.encode() + b'\n')
    with zipfile.ZipFile(f, 'w') as z:
        add(z, '__main__.py', MAIN)
        for top, dirs, files in os.walk(os.path.join(src, 'yt_dlp')):
            dirs[:] = sorted(d for d in dirs if d != '__pycache__')
            for name in sorted(files):
                if name.endswith(('.pyc', '.pyo')):
                    continue
                path = os.path.join(top, name)
                rel = os.path.relpath(path, src).replace(os.sep, '/')
                with open(path, 'rb') as g:
                    add(z, rel, g.read())
                if name.endswith('.py'):
                    add(z, rel[:-3] + '.pyc', bytecode(path, rel))
`

// Fetches the newest yt-dlp of trixie-backports and installs it at .tools/yt-dlp
// (temp file, checked, then renamed over the old one). Throws with what failed.
function provisionYtDlp (channel) {
  for (const cmd of ['apt-get', 'dpkg-deb']) if (!has(cmd)) throw new Error(`${cmd} not found (a Debian-family host is needed)`)
  if (!isExecutable(INTERPRETER)) throw new Error(`${INTERPRETER} not found (apt-get install python3)`)
  if (channel === 'nightly') process.stderr.write(`vidgate: Debian carries yt-dlp's stable releases only; installing the newest in ${SUITE}\n`)
  mkdirSync(APT_DIR, { recursive: true })
  // A private state per run: concurrent runs never share apt's lists or downloads.
  const dir = mkdtempSync(join(APT_DIR, 'run-'))
  const tmp = join(TOOLS, `yt-dlp.tmp-${process.pid}`)
  try {
    chmodSync(dir, 0o755) // apt downloads as the _apt user when run as root (it must reach its folders)
    const sources = join(dir, 'sources.list')
    writeFileSync(sources, `${SOURCE}\n`)
    for (const sub of ['state/lists/partial', 'cache/archives/partial', 'work', 'root']) mkdirSync(join(dir, sub), { recursive: true })
    const aptUser = isRoot ? userId('_apt') : null
    if (aptUser !== null) chownSync(join(dir, 'work'), aptUser, -1) // where apt-get download writes the .deb
    const apt = [
      '-o', `Dir::Etc::SourceList=${sources}`,
      '-o', 'Dir::Etc::SourceParts=/dev/null',
      '-o', `Dir::State=${join(dir, 'state')}`,
      '-o', `Dir::Cache=${join(dir, 'cache')}`,
      '-o', 'Dir::State::status=/var/lib/dpkg/status',
      '-o', 'Debug::NoLocking=1',
      '-o', 'Acquire::Languages=none',
      '-o', 'Acquire::http::Timeout=30'
    ]
    const timeout = 300_000
    step(`apt-get update (${SUITE})`, 'apt-get', [...apt, '-qq', '--error-on=any', 'update'], { timeout })
    step(`apt-get download yt-dlp/${SUITE}`, 'apt-get', [...apt, '-qq', 'download', `yt-dlp/${SUITE}`], { cwd: join(dir, 'work'), timeout })
    const deb = readdirSync(join(dir, 'work')).find((f) => f.startsWith('yt-dlp_') && f.endsWith('.deb'))
    if (deb === undefined) throw new Error(`apt-get download yt-dlp/${SUITE} left no .deb`)
    const debVersion = execFileSync('dpkg-deb', ['-f', join(dir, 'work', deb), 'Version'], { encoding: 'utf8' }).trim()
    // 1:2026.11.23+dfsg-1~bpo13+1 → 2026.11.23
    const upstream = debVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '').split(/[+~]/)[0]
    step(`dpkg-deb -x ${deb}`, 'dpkg-deb', ['-x', join(dir, 'work', deb), join(dir, 'root')])
    const src = join(dir, 'root', 'usr', 'lib', 'python3', 'dist-packages')
    if (!existsSync(join(src, 'yt_dlp', '__init__.py'))) throw new Error(`${deb} has no usr/lib/python3/dist-packages/yt_dlp`)
    step('packing the zipapp', INTERPRETER, ['-c', ZIPAPP_PY, src, tmp, INTERPRETER], {}, `-c <pack yt_dlp into a zipapp> ${src} ${tmp}`)
    chmodSync(tmp, 0o755)
    let version
    try {
      version = execFileSync(tmp, ['--version'], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim()
    } catch (err) {
      throw new Error(`the new yt-dlp does not run: ${String(err.stderr ?? err.message).trim().split('\n').slice(-3).join(' | ')}`, { cause: err })
    }
    if (version !== upstream) throw new Error(`the new yt-dlp says ${JSON.stringify(version)}, its package ${debVersion}`)
    const same = isExecutable(PROJECT_YTDLP) && readFileSync(PROJECT_YTDLP).equals(readFileSync(tmp))
    if (same) {
      process.stderr.write(`vidgate: ${relative(ROOT, PROJECT_YTDLP)} is already yt-dlp ${version} (${SUITE} ${debVersion})\n`)
    } else {
      renameSync(tmp, PROJECT_YTDLP)
      process.stderr.write(`vidgate: yt-dlp ${version} (${SUITE} ${debVersion}) installed at ${PROJECT_YTDLP}\n`)
    }
    return version
  } finally {
    rmSync(tmp, { force: true })
    rmSync(dir, { recursive: true, force: true })
  }
}

function ytdlpPathFallback () {
  const r = spawnSync('sh', ['-c', 'command -v yt-dlp'], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

if (purpose === 'ytdlp') {
  try {
    provisionYtDlp(process.env.YTDLP_UPDATE_CHANNEL ?? 'stable')
  } catch (err) {
    process.stderr.write(`vidgate: could not update ${PROJECT_YTDLP}: ${err.message}; ${isExecutable(PROJECT_YTDLP) ? 'the installed one stays' : 'none is installed'}\n`)
    process.exit(1)
  }
} else {
  npmPackages()
  systemPackages()
  // A stat when it is there: start and test never go to the network for it.
  if (!isExecutable(PROJECT_YTDLP)) {
    try {
      provisionYtDlp('stable')
    } catch (err) {
      const fallback = ytdlpPathFallback()
      process.stderr.write(`\nvidgate: WARNING: could not set up a current yt-dlp at ${PROJECT_YTDLP}: ${err.message}.\n` +
        `  vidgate uses ${fallback === null ? 'yt-dlp on PATH (none found)' : `yt-dlp on PATH (${fallback})`} instead; an old yt-dlp cannot extract YouTube.\n` +
        '  Run `node scripts/ensure.js ytdlp` when deb.debian.org is reachable, or set YTDLP_PATH.\n\n')
    }
  }
}
