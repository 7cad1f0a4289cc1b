// Split video + audio → one fragmented MP4 streamed as ffmpeg produces it
// (`-c copy`, no transcoding). ffmpeg reads its inputs through our own signed
// proxy links, so the formats' headers, the SSRF guard and re-extraction apply.
// Bounded per worker; ffmpeg is killed when the client leaves.
import { spawn } from 'node:child_process'
import type { Request, Response } from 'hyper-express'
import { AppError } from '../errors.ts'
import { requestSignal, processTime } from '../http/route.ts'
import type { RequestContext } from '../http/route.ts'
import { createSink } from '../proxy/sink.ts'
import { contentDisposition } from '../proxy/headers.ts'

export interface Remuxer {
  serve: (req: Request, res: Response, ctx: RequestContext, inputs: { video: string, audio: string }, opts: { filename?: string | null, download?: boolean }) => Promise<void>
  active: () => number
}

export function remuxArgs (video: string, audio: string): string[] {
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-i', video, '-i', audio,
    '-map', '0:v:0', '-map', '1:a:0', '-c', 'copy',
    '-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof',
    'pipe:1'
  ]
}

export function createRemuxer (opts: { ffmpegPath: string, maxConcurrent: number }): Remuxer {
  let active = 0
  return {
    active: () => active,
    async serve (req, res, ctx, inputs, o) {
      if (active >= opts.maxConcurrent) {
        throw new AppError('STREAM_BUSY', 'Too many remuxes are running; try again shortly', { detail: `${active} of ${opts.maxConcurrent}`, headers: { 'retry-after': '5' } })
      }
      res.header('content-type', 'video/mp4')
      res.header('x-stream-mode', 'remux')
      res.header('cache-control', 'no-store')
      if (o.download === true || (o.filename ?? null) !== null) res.header('content-disposition', contentDisposition(`${o.filename ?? 'video'}.mp4`, o.download === true ? 'attachment' : 'inline'))
      res.header('x-process-time', processTime(ctx))
      if (req.method === 'HEAD') { res.status(200).send(); return }
      const signal = requestSignal(ctx, res)
      active++
      const child = spawn(opts.ffmpegPath, remuxArgs(inputs.video, inputs.audio), { stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => { if (stderr.length < 4000) stderr += d.toString() })
      const kill = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }
      signal.addEventListener('abort', kill, { once: true })
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
      const sink = createSink(res, signal)
      try {
        let started = false
        for await (const chunk of child.stdout) {
          if (signal.aborted) break
          if (!started) { sink.start(200, null); started = true }
          if (!sink.write(chunk as Buffer)) await sink.drained()
        }
        const code = await exited
        if (!started) {
          if (signal.aborted) return
          throw new AppError('UPSTREAM_ERROR', 'The video and audio could not be combined', { detail: stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300) || `ffmpeg exited with ${String(code)}` })
        }
        if (code === 0) sink.end()
        else sink.close()
      } finally {
        kill()
        await exited
        active--
      }
    }
  }
}
