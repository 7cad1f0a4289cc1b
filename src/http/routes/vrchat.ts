// VRChat/Unity: a plain GET that ends in one progressive H.264/AAC MP4 at or
// below the quality (default 720p), or HLS for live streams with AVPro. The
// Unity player gets MP4 only. Separate video and audio, and an HLS-only source
// that is not live, are remuxed into one MP4. /info explains what will play and why.
import type { Request } from 'hyper-express'
import { AppError } from '../../errors.ts'
import { jsonRoute, sendJson } from '../route.ts'
import { processTime, requester } from '../context.ts'
import type { RequestContext } from '../context.ts'
import type { Route } from '../route.ts'
import { queryString, queryEnum } from '../input.ts'
import { targetFrom } from './videos.ts'
import { queryItem, ITEM_PARAM } from './stream-options.ts'
import { itemQuery, withItem } from '../../media/items.ts'
import { parseQuality } from '../../media/quality.ts'
import { planVrchat, needsHeaders, safeLocation } from '../../media/stream-plan.ts'
import type { VrchatPlan } from '../../media/stream-plan.ts'
import { trackOut } from '../../media/service.ts'
import type { StreamService } from '../../media/service.ts'
import { serializeCompatVrchat } from '../../schemas/compat.ts'
import type { CompatVrchatOut } from '../../schemas/compat.ts'
import { vrchatOriginal } from './vrchat-compat.ts'
import type { VrchatInfoOut } from '../../schemas/streams.ts'
import type { PlatformRegistry, Target } from '../../platforms/index.ts'
import type { MediaInfo } from '../../../workers/protocol.ts'

interface Choice { target: Target, info: MediaInfo, plan: VrchatPlan, player: 'avpro' | 'unity', maxHeight: number, url: string, plays: string }

export function vrchatRoutes (deps: { registry: PlatformRegistry, streams: StreamService, publicBase: (req: Request) => string, image?: (target: Target, url: string) => string }): Route[] {
  async function choose (req: Request, ctx: RequestContext): Promise<Choice> {
    const q = req.query_parameters
    const item = queryItem(q)
    const target = withItem(targetFrom(deps.registry, {}, q, 'video'), item)
    const quality = parseQuality(queryString(q, 'quality', { max: 16 }), { kind: 'height', height: 720 })
    const maxHeight = quality.kind === 'height' ? quality.height : quality.kind === 'worst' ? 144 : 1080
    const asked = queryEnum(q, 'player', ['avpro', 'unity', 'auto'] as const, 'auto')
    const player = asked !== 'auto' ? asked : /UnityPlayer/i.test(req.headers['user-agent'] ?? '') ? 'unity' : 'avpro'
    const { info } = await deps.streams.plan(target, { quality, mode: 'auto', videoOnly: false, prefersHls: false, download: false, filename: null, client: requester(ctx), ...(item === undefined ? {} : { item }) })
    const plan = planVrchat(info.formats, maxHeight, player, info.is_live)
    const base = deps.publicBase(req)
    let url: string
    let plays: string
    if (plan.format !== null && plan.hls) {
      url = base + deps.streams.playlistLink(target, plan.format)
      plays = 'hls'
    } else if (plan.format !== null) {
      const direct = !needsHeaders(plan.format) && !target.platform.ipBound
      url = direct ? plan.format.url : base + deps.streams.proxyLink(target, plan.format)
      plays = direct ? 'direct' : 'proxy'
    } else if (plan.split !== null || plan.hlsRemux !== undefined) {
      url = `${base}/api/v2/stream/${target.platform.name}/${encodeURIComponent(target.id)}?quality=${maxHeight}p&mode=proxy&format=mp4${itemQuery(item)}`
      plays = 'remux'
    } else {
      throw new AppError('EXTRACTION_FAILED', 'No format VRChat can play', { detail: plan.reason })
    }
    return { target, info, plan, player, maxHeight, url, plays }
  }

  const describe = (c: Choice): VrchatInfoOut => ({
    platform: c.target.platform.name,
    id: c.target.id,
    title: c.info.title,
    player: c.player,
    max_height: c.maxHeight,
    plays: c.plays,
    reason: c.plan.reason,
    stream_url: c.url,
    format: c.plan.format !== null ? trackOut(c.plan.format) : c.plan.split !== null ? trackOut(c.plan.split.video) : c.plan.hlsRemux !== undefined ? trackOut(c.plan.hlsRemux) : null,
    audio: c.plan.split !== null ? trackOut(c.plan.split.audio) : null
  })

  // ours plus the original's fields (vrchat-compat.ts)
  const answer = (req: Request, c: Choice): CompatVrchatOut => {
    const base = deps.publicBase(req)
    const image = deps.image
    return { ...describe(c), ...vrchatOriginal(c, req.query_parameters, image === undefined ? null : (url) => base + image(c.target, url)) }
  }

  const params = [
    { name: 'url', in: 'query' as const, required: true, description: 'the video page URL' },
    { name: 'quality', in: 'query' as const, description: '720p (default), 480p, 360p, best…' },
    { name: 'player', in: 'query' as const, description: 'avpro | unity | auto (from the User-Agent)' },
    ITEM_PARAM
  ]

  return [
    {
      method: 'get',
      path: '/api/vrchat/stream',
      limit: 'extract',
      admin: false,
      doc: { summary: 'VRChat/Unity: one progressive H.264/AAC MP4 (or HLS for live with AVPro)', tags: ['vrchat', 'compat'], params: [...params, { name: 'format', in: 'query', description: 'redirect (default) | proxy | json' }], responses: { 302: { description: 'to a URL the player can open' } } },
      async handle (req, res, ctx) {
        const format = queryEnum(req.query_parameters, 'format', ['redirect', 'proxy', 'json'] as const, 'redirect')
        const c = await choose(req, ctx)
        if (format === 'json') { sendJson(req, res, ctx, 200, serializeCompatVrchat(answer(req, c))); return }
        const url = format === 'proxy' && c.plays === 'direct' && c.plan.format !== null ? deps.publicBase(req) + deps.streams.proxyLink(c.target, c.plan.format) : c.url
        // (the reason may quote codec names from the metadata: printable ASCII only)
        const reason = c.plan.reason.replace(/[^\x20-\x7e]/g, '?')
        res.status(302).header('location', safeLocation(url)).header('x-stream-mode', c.plays).header('x-stream-reason', reason).header('cache-control', 'no-store').header('x-process-time', processTime(ctx)).send()
      }
    },
    jsonRoute({
      method: 'get',
      path: '/api/vrchat/info',
      limit: 'extract',
      doc: { summary: 'What VRChat will play for this URL and why', tags: ['vrchat', 'compat'], params },
      serialize: serializeCompatVrchat,
      handle: async ({ req, ctx }) => answer(req, await choose(req, ctx))
    })
  ]
}
