// Runs before `npm start` and `npm test` so that both work on a fresh clone:
// installs npm packages when node_modules is missing or stale, and the Debian
// packages vidgate needs (apt-get, when run as root) when they are missing.
// Plain JavaScript: it runs before anything is compiled.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'

const purpose = process.argv[2] ?? 'start'
const PACKAGES = {
  start: [['yt-dlp', 'yt-dlp'], ['ffmpeg', 'ffmpeg'], ['ffprobe', 'ffmpeg']],
  test: [['yt-dlp', 'yt-dlp'], ['ffmpeg', 'ffmpeg'], ['ffprobe', 'ffmpeg'], ['redis-server', 'redis-server'], ['chromium', 'chromium']]
}

function has (cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

function run (cmd, args) {
  process.stderr.write(`> ${cmd} ${args.join(' ')}\n`)
  execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}

const lock = 'package-lock.json'
const marker = 'node_modules/.package-lock.json'
if (!existsSync(marker) || statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000) {
  // npm 11 writes locks that `npm ci` can reject (optional per-platform packages
  // of msgpackr-extract missing); `npm install` honours the lock all the same.
  try {
    run('npm', ['ci', '--no-audit', '--no-fund'])
  } catch {
    run('npm', ['install', '--no-audit', '--no-fund'])
  }
}

const missing = [...new Set((PACKAGES[purpose] ?? PACKAGES.start).filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg))]
if (missing.length > 0) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root || !has('apt-get')) {
    process.stderr.write(`vidgate needs these system packages: ${missing.join(' ')}\nInstall them (Debian/Ubuntu: sudo apt-get install ${missing.join(' ')}) and run again.\n`)
    process.exit(1)
  }
  run('apt-get', ['update', '-qq'])
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing])
}
