// The original's fields on /api/vrchat/stream?format=json and /api/vrchat/info,
// filled from what we planned (its duration and title rules for the notes and
// the recommended quality: ../shared/reference/seed-system.md §1.8).
import { queryEnum, queryString } from '../input.ts'
import { infoOut } from './videos.ts'
import { originalInfo } from './compat.ts'
import type { VrchatPlan } from '../../media/stream-plan.ts'
import type { Target } from '../../platforms/index.ts'
import type { MediaInfo } from '../../../workers/protocol.ts'
import type { VrchatOriginal } from '../../schemas/compat.ts'

export interface VrchatChoice { target: Target, info: MediaInfo, plan: VrchatPlan, plays: string }

const codecs = (plan: VrchatPlan): string => {
  const video = plan.format ?? plan.split?.video ?? null
  const audio = plan.split?.audio ?? plan.format
  return `${video?.vcodec ?? 'unknown'} video, ${audio?.acodec ?? 'unknown'} audio`
}

export function vrchatOriginal (c: VrchatChoice, query: Readonly<Record<string, unknown>>, image: ((url: string) => string) | null): VrchatOriginal {
  const asked = queryEnum(query, 'player', ['avpro', 'unity', 'auto'] as const, 'auto')
  const quality = queryString(query, 'quality', { max: 16 }) ?? '720p'
  const duration = c.info.duration
  const compatibility: string[] = []
  const performance: string[] = []
  if (duration !== null && duration > 1800) {
    compatibility.push('Video is longer than 30 minutes - may cause performance issues in VRChat')
    if (asked === 'avpro') performance.push('Long videos may consume more memory with AVPro Video')
  }
  if (/['"]/.test(c.info.title)) compatibility.push('Title contains apostrophes/quotes - filename will be sanitized')
  if (asked === 'avpro') {
    performance.push('AVPro Video: Best with H.264 baseline profile and AAC audio')
    if (duration !== null && duration > 3600) compatibility.push('Very long videos may cause memory issues with AVPro Video')
  } else if (asked === 'unity') {
    performance.push('Unity Video Player: MP4 (H.264/AAC) only')
  }
  const recommended = duration === null
    ? (asked === 'avpro' ? '480p' : '720p')
    : duration <= 300 ? '720p' : duration <= 900 ? (asked === 'avpro' ? '480p' : '720p') : (asked === 'avpro' ? '360p' : '480p')
  // the Unity player takes one MP4; HLS (live) only AVPro
  const mp4 = !c.plan.hls
  return {
    video_id: c.target.id,
    quality,
    player_type: asked,
    vrchat_optimized: true,
    unity_optimized: mp4,
    notes: `${c.plan.reason} (${c.plays})`,
    codec_info: { avpro_compatible: true, unity_compatible: mp4, recommended_codecs: codecs(c.plan) },
    info: originalInfo(infoOut(c.target, c.info, true, image)),
    vrchat_compatible: true,
    unity_compatible: mp4,
    compatibility_notes: compatibility,
    performance_notes: performance,
    recommended_quality: recommended,
    codec_recommendations: {
      avpro_best: 'H.264 baseline profile, AAC audio, MP4 container (HLS for live)',
      unity_best: 'H.264 video, AAC audio, MP4 container',
      current_selection: codecs(c.plan)
    },
    success: true
  }
}
