// Test-only: a page in headless Chromium, driven over the DevTools protocol on
// a pipe (--remote-debugging-pipe: no port, no WebSocket). evaluateInPage opens
// a URL and returns what an expression (which may return a promise) gives;
// DevTools evaluation runs under no page CSP, so pages without script work.
import { spawn } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--mute-audio', '--autoplay-policy=no-user-gesture-required'
]

interface Reply { id?: number, method?: string, sessionId?: string, result?: Record<string, unknown>, error?: { message: string } }

export async function evaluateInPage (chromium: string, url: string, expression: string, timeoutMs = 60_000): Promise<unknown> {
  const profile = mkdtempSync(join(tmpdir(), 'vidgate-chromium-'))
  const child = spawn(chromium, [...FLAGS, `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true })
  const toBrowser = child.stdio[3] as Writable
  const fromBrowser = child.stdio[4] as Readable
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  const pending = new Map<number, { resolve: (r: Record<string, unknown>) => void, reject: (e: Error) => void }>()
  let nextId = 1
  let buffered = ''
  // events by "sessionId method", for the one waiter each may have
  const events = new Map<string, () => void>()
  fromBrowser.on('data', (d: Buffer) => {
    buffered += d.toString()
    let end = buffered.indexOf('\0')
    while (end !== -1) {
      const msg = JSON.parse(buffered.slice(0, end)) as Reply
      buffered = buffered.slice(end + 1)
      end = buffered.indexOf('\0')
      if (msg.method !== undefined) events.get(`${msg.sessionId ?? ''} ${msg.method}`)?.()
      const waiter = msg.id === undefined ? undefined : pending.get(msg.id)
      if (waiter === undefined) continue
      pending.delete(msg.id ?? 0)
      if (msg.error !== undefined) waiter.reject(new Error(`DevTools: ${msg.error.message}`))
      else waiter.resolve(msg.result ?? {})
    }
  })
  const gone = new Promise<never>((_resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`chromium exited (${code ?? signal ?? '?'}):\n${stderr}`)))
  })
  gone.catch(() => {})
  const send = async (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> => {
    const id = nextId++
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => pending.set(id, { resolve, reject }))
    toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) }) + '\0')
    return await Promise.race([answer, gone])
  }
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer from the page within ${timeoutMs} ms:\n${stderr}`)), timeoutMs) })
  try {
    return await Promise.race([deadline, (async () => {
      const { targetId } = await send('Target.createTarget', { url: 'about:blank' })
      const session = String((await send('Target.attachToTarget', { targetId, flatten: true })).sessionId)
      await send('Page.enable', {}, session)
      const loaded = new Promise<void>((resolve) => events.set(`${session} Page.loadEventFired`, resolve))
      await send('Page.navigate', { url }, session)
      await loaded
      const out = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, session)
      if (out.exceptionDetails !== undefined) throw new Error(`the expression threw: ${JSON.stringify(out.exceptionDetails).slice(0, 1000)}`)
      return (out.result as { value?: unknown } | undefined)?.value
    })()])
  } finally {
    clearTimeout(timer)
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    // its helpers (zygote, renderers, crashpad) are in its own process group and may still
    // be writing into the profile: end them too, and retry the removal while they go
    if (child.pid !== undefined) try { process.kill(-child.pid, 'SIGKILL') } catch {}
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  }
}
