// A SOCKS client for the egress proxy's chain to the operator's outbound proxy
// (YTDLP_PROXY / <PLATFORM>_PROXY may be socks4, socks4a, socks5 or socks5h, as
// yt-dlp accepts). CONNECT only: RFC 1928 (no authentication, or RFC 1929
// username/password from the URL) and SOCKS4/4a. The caller decides whether the
// target is a name (4a, 5h: the proxy resolves it) or an address it checked.
import { connect as netConnect, isIP } from 'node:net'
import type { Socket } from 'node:net'

export class SocksError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SocksError'
  }
}

export interface SocksTarget { host: string, port: number }

// Reads exactly n bytes (or fails): the replies of both versions have known sizes.
interface Reader { read: (n: number) => Promise<Buffer>, done: () => Buffer }

function reader (socket: Socket): Reader {
  let buffered = Buffer.alloc(0)
  let waiting: { n: number, resolve: (b: Buffer) => void, reject: (e: Error) => void } | null = null
  let failed: Error | null = null
  const settle = (): void => {
    if (waiting === null) return
    if (failed !== null) { const w = waiting; waiting = null; w.reject(failed); return }
    if (buffered.length < waiting.n) return
    const w = waiting
    waiting = null
    const out = buffered.subarray(0, w.n)
    buffered = buffered.subarray(w.n)
    w.resolve(out)
  }
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk])
    if (buffered.length > 1024) { failed = new SocksError('the SOCKS proxy sent more than a reply'); socket.destroy() }
    settle()
  }
  const onEnd = (): void => { failed ??= new SocksError('the SOCKS proxy closed the connection'); settle() }
  const onError = (err: Error): void => { failed ??= err; settle() }
  socket.on('data', onData)
  socket.once('end', onEnd)
  socket.once('close', onEnd)
  socket.once('error', onError)
  const read = async (n: number): Promise<Buffer> => await new Promise((resolve, reject) => {
    waiting = { n, resolve, reject }
    settle()
  })
  const done = (): Buffer => {
    socket.off('data', onData)
    socket.off('end', onEnd)
    socket.off('close', onEnd)
    socket.off('error', onError)
    return buffered
  }
  return { read, done }
}

function hostBytes (host: string): Buffer {
  const b = Buffer.from(host, 'utf8')
  if (b.length === 0 || b.length > 255) throw new SocksError('the target name does not fit a SOCKS request')
  return b
}

async function socks5 (socket: Socket, read: (n: number) => Promise<Buffer>, proxy: URL, target: SocksTarget): Promise<void> {
  const user = decodeURIComponent(proxy.username)
  const pass = decodeURIComponent(proxy.password)
  const withAuth = user !== ''
  socket.write(Buffer.from(withAuth ? [5, 2, 0, 2] : [5, 1, 0]))
  const hello = await read(2)
  if (hello[0] !== 5) throw new SocksError('not a SOCKS5 proxy')
  if (hello[1] === 2 && withAuth) {
    const u = Buffer.from(user, 'utf8')
    const p = Buffer.from(pass, 'utf8')
    if (u.length > 255 || p.length > 255) throw new SocksError('SOCKS credentials are too long')
    socket.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]))
    const auth = await read(2)
    if (auth[1] !== 0) throw new SocksError('the SOCKS proxy refused the credentials')
  } else if (hello[1] !== 0) {
    throw new SocksError('the SOCKS proxy accepts none of our authentication methods')
  }
  const family = isIP(target.host)
  const addr = family === 4
    ? Buffer.from([1, ...target.host.split('.').map(Number)])
    : family === 6
      ? Buffer.concat([Buffer.from([4]), ipv6Bytes(target.host)])
      : (() => { const h = hostBytes(target.host); return Buffer.concat([Buffer.from([3, h.length]), h]) })()
  const port = Buffer.alloc(2)
  port.writeUInt16BE(target.port)
  socket.write(Buffer.concat([Buffer.from([5, 1, 0]), addr, port]))
  const head = await read(4)
  if (head[0] !== 5) throw new SocksError('not a SOCKS5 reply')
  if (head[1] !== 0) throw new SocksError(`the SOCKS proxy could not connect (reply ${String(head[1])})`)
  const rest = head[3] === 1 ? 4 : head[3] === 4 ? 16 : head[3] === 3 ? (await read(1))[0] ?? 0 : -1
  if (rest < 0) throw new SocksError('a malformed SOCKS5 reply')
  await read(rest + 2)
}

function ipv6Bytes (address: string): Buffer {
  const [head = '', tail = ''] = address.split('::')
  const part = (s: string): string[] => s === '' ? [] : s.split(':')
  const h = part(head)
  const t = part(tail)
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}

async function socks4 (socket: Socket, read: (n: number) => Promise<Buffer>, proxy: URL, target: SocksTarget): Promise<void> {
  const user = Buffer.from(decodeURIComponent(proxy.username), 'utf8')
  const port = Buffer.alloc(2)
  port.writeUInt16BE(target.port)
  const family = isIP(target.host)
  if (family === 6) throw new SocksError('SOCKS4 cannot reach an IPv6 address')
  const name = family === 4 ? null : hostBytes(target.host)
  if (name !== null && proxy.protocol !== 'socks4a:') throw new SocksError('SOCKS4 needs an IPv4 address')
  const ip = name === null ? Buffer.from(target.host.split('.').map(Number)) : Buffer.from([0, 0, 0, 1])
  socket.write(Buffer.concat([Buffer.from([4, 1]), port, ip, user, Buffer.from([0]), ...(name === null ? [] : [name, Buffer.from([0])])]))
  const reply = await read(8)
  if (reply[1] !== 0x5a) throw new SocksError(`the SOCKS proxy could not connect (reply ${String(reply[1])})`)
}

// A connected socket to target through the SOCKS proxy, or an error; timeoutMs bounds the whole handshake.
export async function socksConnect (proxyUrl: string, target: SocksTarget, timeoutMs: number): Promise<Socket> {
  const proxy = new URL(proxyUrl)
  const v5 = proxy.protocol === 'socks5:' || proxy.protocol === 'socks5h:' || proxy.protocol === 'socks:'
  if (!v5 && proxy.protocol !== 'socks4:' && proxy.protocol !== 'socks4a:') throw new SocksError(`not a SOCKS proxy URL: ${proxy.protocol}`)
  const socket = netConnect({ host: proxy.hostname.replace(/^\[|\]$/g, ''), port: proxy.port === '' ? 1080 : Number(proxy.port) })
  const timer = setTimeout(() => socket.destroy(new SocksError('the SOCKS proxy did not answer in time')), timeoutMs)
  const r = reader(socket)
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    if (v5) await socks5(socket, r.read, proxy, target)
    else await socks4(socket, r.read, proxy, target)
    const extra = r.done()
    if (extra.length > 0) socket.unshift(extra)
    return socket
  } catch (err) {
    r.done()
    socket.destroy()
    throw err instanceof Error ? err : new SocksError(String(err))
  } finally {
    clearTimeout(timer)
  }
}
