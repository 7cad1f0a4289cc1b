// Debian's nginx as the byte proxy's baseline: a private instance on a free
// port with a config in a temp folder (never the system service or its
// config), in the foreground as our child, one worker process. Two roles:
// a static file origin (sendfile: it costs the origin side next to nothing)
// and `proxy_pass` to an origin over a keep-alive upstream, set up as one
// would for large media: buffers of 256 KiB (the defaults are 4 KiB pages) and
// no spooling to disk. With the defaults nginx writes a response to a temp
// file whenever the client lags the origin (it did on every 256 MB download
// here): its cost then depends on how far the client lags, and the baseline
// would move with the machine's load instead of the code.
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findExecutable } from '../src/testing/helpers.ts'
import { freePort, pinnedCommand, processTree, sleep, stopChild, track } from './lib.ts'

export interface Nginx { port: number, base: string, pids: () => number[], stop: () => Promise<void> }

export type NginxRole = { kind: 'static', root: string } | { kind: 'proxy', upstream: string }

export function nginxPath (): string | null {
  return findExecutable('nginx', ['/usr/sbin/nginx'])
}

function config (dir: string, port: number, role: NginxRole): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${join(dir, `${k}_temp`)};`).join('\n')
  const server = role.kind === 'static'
    ? `    root ${role.root};\n    location / { sendfile on; tcp_nopush on; }`
    : [
        '    location / {',
        '      proxy_pass http://origin;',
        '      proxy_http_version 1.1;',
        '      proxy_set_header Connection "";',
        '      proxy_buffer_size 64k;',
        '      proxy_buffers 8 256k;',
        '      proxy_busy_buffers_size 512k;',
        '      proxy_max_temp_file_size 0;',
        '    }'
      ].join('\n')
  const upstream = role.kind === 'proxy' ? `  upstream origin { server ${role.upstream}; keepalive 16; }\n` : ''
  return `daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
${temp}
  keepalive_timeout 60s;
${upstream}  server {
    listen 127.0.0.1:${port};
${server}
  }
}
`
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

// Starts nginx in `role` on the given cores and waits until it accepts connections.
export async function startNginx (role: NginxRole, cpus?: string): Promise<Nginx> {
  const bin = nginxPath()
  if (bin === null) throw new Error('nginx not found (Debian: apt-get install nginx; node scripts/ensure.js test installs it)')
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-bench-nginx-'))
  // the worker may run as another user (nginx started as root): it must reach the temp paths
  chmodSync(dir, 0o755)
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  await writeFile(conf, config(dir, port, role))
  const [cmd, args] = pinnedCommand(bin, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], cpus)
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  track(child)
  let err = ''
  child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000) })
  const stop = async (): Promise<void> => {
    // SIGTERM: nginx's fast shutdown
    await stopChild(child, 5000)
    rmSync(dir, { recursive: true, force: true })
  }
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break
    if (await accepts(port)) return { port, base: `http://127.0.0.1:${port}`, pids: () => processTree(child.pid ?? 0), stop }
    await sleep(50)
  }
  await stop()
  throw new Error(`nginx did not start: ${err.slice(-2000)}`)
}
