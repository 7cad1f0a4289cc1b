import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AppError } from '../errors.ts'
import {
  availableQualities, explainVrchat, formatQuality, parseQuality, protocolRank, qualityLabel, resolveAuto,
  selectFormat, selectVrchat
} from './quality.ts'
import type { Quality, SelectableFormat, Selection } from './quality.ts'

function fmt (f: Partial<SelectableFormat> & Pick<SelectableFormat, 'format_id'>): SelectableFormat {
  const vcodec = f.vcodec ?? null
  const acodec = f.acodec ?? null
  return {
    ext: 'mp4',
    protocol: 'https',
    width: null,
    height: null,
    fps: null,
    bitrate: null,
    filesize: null,
    has_video: vcodec !== 'none',
    has_audio: acodec !== 'none',
    ...f,
    vcodec,
    acodec
  }
}

// YouTube as yt-dlp reports it today: 18 is the only progressive file (22 is gone).
const YOUTUBE: SelectableFormat[] = [
  fmt({ format_id: 'sb0', ext: 'mhtml', protocol: 'mhtml', width: 160, height: 90, vcodec: 'none', acodec: 'none', has_video: false, has_audio: false }),
  fmt({ format_id: '18', width: 640, height: 360, fps: 30, vcodec: 'avc1.42001E', acodec: 'mp4a.40.2', bitrate: 568 }),
  fmt({ format_id: '160', width: 256, height: 144, fps: 30, vcodec: 'avc1.4d400c', acodec: 'none', bitrate: 110 }),
  fmt({ format_id: '134', width: 640, height: 360, fps: 30, vcodec: 'avc1.4d401e', acodec: 'none', bitrate: 400 }),
  fmt({ format_id: '135', width: 854, height: 480, fps: 30, vcodec: 'avc1.4d401f', acodec: 'none', bitrate: 690 }),
  fmt({ format_id: '136', width: 1280, height: 720, fps: 30, vcodec: 'avc1.4d401f', acodec: 'none', bitrate: 1380 }),
  fmt({ format_id: '247', ext: 'webm', width: 1280, height: 720, fps: 30, vcodec: 'vp9', acodec: 'none', bitrate: 1140 }),
  fmt({ format_id: '137', width: 1920, height: 1080, fps: 30, vcodec: 'avc1.640028', acodec: 'none', bitrate: 4400 }),
  fmt({ format_id: '248', ext: 'webm', width: 1920, height: 1080, fps: 30, vcodec: 'vp9', acodec: 'none', bitrate: 2650 }),
  fmt({ format_id: '140', ext: 'm4a', vcodec: 'none', acodec: 'mp4a.40.2', bitrate: 129.5 }),
  fmt({ format_id: '251', ext: 'webm', vcodec: 'none', acodec: 'opus', bitrate: 135.6 })
]

// BiliBili: DASH only (separate video and audio over https), no progressive file.
const BILIBILI: SelectableFormat[] = [
  fmt({ format_id: '30016', ext: 'mp4', width: 640, height: 360, vcodec: 'avc1.64001E', acodec: 'none', bitrate: 300 }),
  fmt({ format_id: '30032', ext: 'mp4', width: 852, height: 480, vcodec: 'avc1.64001F', acodec: 'none', bitrate: 650 }),
  fmt({ format_id: '30064', ext: 'mp4', width: 1280, height: 720, vcodec: 'avc1.640028', acodec: 'none', bitrate: 1400 }),
  fmt({ format_id: '30080', ext: 'mp4', width: 1920, height: 1080, vcodec: 'avc1.640032', acodec: 'none', bitrate: 2900 }),
  fmt({ format_id: '30077', ext: 'mp4', width: 1920, height: 1080, vcodec: 'hev1.1.6.L150.90', acodec: 'none', bitrate: 1200 }),
  fmt({ format_id: '30216', ext: 'm4a', vcodec: 'none', acodec: 'mp4a.40.5', bitrate: 67 }),
  fmt({ format_id: '30232', ext: 'm4a', vcodec: 'none', acodec: 'mp4a.40.2', bitrate: 132 }),
  fmt({ format_id: '30280', ext: 'm4a', vcodec: 'none', acodec: 'mp4a.40.2', bitrate: 192 })
]

// Twitter/X: progressive MP4 variants without codec info, plus HLS with separate audio renditions.
const TWITTER: SelectableFormat[] = [
  fmt({ format_id: 'http-256', width: 480, height: 270, bitrate: 256, has_audio: true, has_video: true }),
  fmt({ format_id: 'http-832', width: 640, height: 360, bitrate: 832, has_audio: true, has_video: true }),
  fmt({ format_id: 'http-2176', width: 1280, height: 720, bitrate: 2176, has_audio: true, has_video: true }),
  fmt({ format_id: 'hls-audio-128000-Audio', protocol: 'm3u8_native', vcodec: 'none', acodec: 'mp4a.40.2', bitrate: 128 }),
  fmt({ format_id: 'hls-256', protocol: 'm3u8_native', width: 480, height: 270, vcodec: 'avc1.4d001e', acodec: 'none', bitrate: 256 }),
  fmt({ format_id: 'hls-2176', protocol: 'm3u8_native', width: 1280, height: 720, vcodec: 'avc1.640020', acodec: 'none', bitrate: 2176 }),
  fmt({ format_id: 'hls-10368', protocol: 'm3u8_native', width: 1920, height: 1080, vcodec: 'avc1.640032', acodec: 'none', bitrate: 10368 })
]

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1'
const ANDROID_PHONE = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36'
const ANDROID_TABLET = 'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36'
const IPAD = 'Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1'
const DESKTOP = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36'

function ids (s: Selection): string {
  switch (s.kind) {
    case 'split': return `split:${s.video.format_id}+${s.audio.format_id}`
    default: return `${s.kind}:${s.format.format_id}`
  }
}

const pick = (formats: SelectableFormat[], quality: string, options = {}): string =>
  ids(selectFormat(formats, parseQuality(quality), options))

function code (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof AppError)
    return err.code
  }
  return 'no error'
}

test('parseQuality accepts every documented value and its aliases', () => {
  const cases: Array<[string | undefined, Quality]> = [
    [undefined, { kind: 'best' }], ['', { kind: 'best' }], ['best', { kind: 'best' }], ['HIGHEST', { kind: 'best' }],
    ['worst', { kind: 'worst' }], ['lowest', { kind: 'worst' }], ['audio', { kind: 'audio' }], ['bestaudio', { kind: 'audio' }],
    ['auto', { kind: 'auto' }], [' 720p ', { kind: 'height', height: 720 }], ['1080', { kind: 'height', height: 1080 }],
    ['4k', { kind: 'height', height: 2160 }], ['hd', { kind: 'height', height: 1080 }], ['sd', { kind: 'height', height: 480 }]
  ]
  for (const [input, expected] of cases) assert.deepEqual(parseQuality(input), expected, String(input))
  for (const h of [2160, 1440, 1080, 720, 480, 360, 240, 144]) assert.deepEqual(parseQuality(`${h}p`), { kind: 'height', height: h })
  assert.deepEqual(parseQuality(undefined, { kind: 'height', height: 720 }), { kind: 'height', height: 720 })
  assert.equal(formatQuality({ kind: 'height', height: 480 }), '480p')
  assert.equal(formatQuality({ kind: 'auto' }), 'auto')
})

test('parseQuality rejects anything else with INVALID_INPUT naming quality', () => {
  for (const bad of ['999p', '1080i', 'ultra', 'constructor', '__proto__', '720pp', '-1']) {
    try {
      parseQuality(bad)
      assert.fail(bad)
    } catch (err) {
      assert.ok(err instanceof AppError)
      assert.equal(err.code, 'INVALID_INPUT')
      assert.match(err.message, /^quality /)
      assert.match(err.detail ?? '', /best, highest, worst, lowest, .*720p.*audio.*auto/)
    }
  }
})

test('resolveAuto caps phones at 480p, others at 1080p, and follows bandwidth', () => {
  assert.equal(resolveAuto(), 1080)
  assert.equal(resolveAuto({ userAgent: DESKTOP }), 1080)
  assert.equal(resolveAuto({ userAgent: IPHONE }), 480)
  assert.equal(resolveAuto({ userAgent: ANDROID_PHONE }), 480)
  assert.equal(resolveAuto({ userAgent: ANDROID_TABLET }), 1080)
  assert.equal(resolveAuto({ userAgent: IPAD }), 1080)
  assert.equal(resolveAuto({ userAgent: DESKTOP, device: 'mobile' }), 480)
  assert.equal(resolveAuto({ userAgent: IPHONE, device: 'desktop' }), 1080)
  assert.equal(resolveAuto({ userAgent: DESKTOP, bandwidthKbps: 100000 }), 1080)
  assert.equal(resolveAuto({ userAgent: DESKTOP, bandwidthKbps: 3000 }), 720)
  assert.equal(resolveAuto({ userAgent: DESKTOP, bandwidthKbps: 800 }), 360)
  assert.equal(resolveAuto({ userAgent: DESKTOP, bandwidthKbps: 150 }), 144)
  assert.equal(resolveAuto({ userAgent: IPHONE, bandwidthKbps: 8000 }), 480)
  assert.equal(resolveAuto({ userAgent: IPHONE, bandwidthKbps: 500 }), 240)
  assert.equal(resolveAuto({ bandwidthKbps: 0 }), 1080)
  assert.equal(resolveAuto({ bandwidthKbps: Number.NaN }), 1080)
})

test('YouTube: every quality value', () => {
  assert.equal(pick(YOUTUBE, 'best'), 'split:137+140', 'avc1 1080p with the AAC that muxes into MP4')
  assert.equal(pick(YOUTUBE, 'highest'), 'split:137+140')
  assert.equal(pick(YOUTUBE, '2160p'), 'split:137+140')
  assert.equal(pick(YOUTUBE, '1440p'), 'split:137+140')
  assert.equal(pick(YOUTUBE, '1080p'), 'split:137+140')
  assert.equal(pick(YOUTUBE, '720p'), 'split:136+140')
  assert.equal(pick(YOUTUBE, '480p'), 'split:135+140')
  assert.equal(pick(YOUTUBE, '360p'), 'progressive:18', 'a progressive file wins at equal height')
  assert.equal(pick(YOUTUBE, '240p'), 'split:160+140')
  assert.equal(pick(YOUTUBE, '144p'), 'split:160+140')
  assert.equal(pick(YOUTUBE, 'worst'), 'progressive:18', 'worst is the lowest progressive')
  assert.equal(pick(YOUTUBE, 'audio'), 'audio:251', 'highest bitrate audio')
  assert.equal(pick(YOUTUBE, 'auto', { auto: { userAgent: DESKTOP } }), 'split:137+140')
  assert.equal(pick(YOUTUBE, 'auto', { auto: { userAgent: IPHONE } }), 'split:135+140')
  assert.equal(pick(YOUTUBE, 'auto', { auto: { userAgent: DESKTOP, bandwidthKbps: 800 } }), 'progressive:18')
  assert.equal(pick(YOUTUBE, 'best', { maxHeight: 720 }), 'split:136+140')
  assert.equal(pick(YOUTUBE, '1080p', { maxHeight: 480 }), 'split:135+140')
})

test('a vp9-only ladder pairs with Opus audio', () => {
  const vp9 = YOUTUBE.filter(f => !f.format_id.startsWith('13') && f.format_id !== '160')
  assert.equal(pick(vp9, 'best'), 'split:248+251')
})

test('nothing at or below the cap: the smallest above it, never a failure', () => {
  assert.equal(pick(YOUTUBE.filter(f => f.format_id !== '160'), '144p'), 'progressive:18', 'progressive wins a tie above the cap')
  assert.equal(pick(BILIBILI, '240p'), 'split:30016+30280')
  assert.equal(pick(TWITTER, '144p'), 'progressive:http-256')
})

test('video_only=true returns the silent stream; never otherwise', () => {
  assert.equal(pick(YOUTUBE, 'best', { videoOnly: true }), 'video_only:137')
  assert.equal(pick(YOUTUBE, '720p', { videoOnly: true }), 'video_only:136')
  assert.equal(pick(YOUTUBE, 'worst', { videoOnly: true }), 'video_only:160')
  assert.equal(pick(YOUTUBE, 'auto', { videoOnly: true, auto: { userAgent: IPHONE } }), 'video_only:135')
  assert.equal(pick(TWITTER.filter(f => f.format_id.startsWith('http')), 'best', { videoOnly: true }), 'progressive:http-2176')
  const kinds = new Set<string>()
  for (const list of [YOUTUBE, BILIBILI, TWITTER]) {
    for (const q of ['best', 'worst', 'auto', 'audio', '2160p', '1080p', '720p', '480p', '360p', '240p', '144p']) {
      kinds.add(selectFormat(list, parseQuality(q)).kind)
    }
  }
  assert.ok(!kinds.has('video_only'))
})

test('BiliBili: DASH-only lists always split', () => {
  assert.equal(pick(BILIBILI, 'best'), 'split:30080+30280', 'avc1 over hevc at equal height by bitrate')
  assert.equal(pick(BILIBILI, '720p'), 'split:30064+30280')
  assert.equal(pick(BILIBILI, 'worst'), 'split:30016+30216')
  assert.equal(pick(BILIBILI, 'audio'), 'audio:30280')
  assert.equal(pick(BILIBILI, 'auto', { auto: { userAgent: ANDROID_PHONE } }), 'split:30032+30280')
})

test('Twitter: progressive files unless HLS has a strictly higher video', () => {
  assert.equal(pick(TWITTER, 'best'), 'split:hls-10368+hls-audio-128000-Audio')
  assert.equal(pick(TWITTER, '720p'), 'progressive:http-2176', 'direct progressive beats equal-height HLS')
  assert.equal(pick(TWITTER, '480p'), 'progressive:http-832')
  assert.equal(pick(TWITTER, 'worst'), 'progressive:http-256')
  assert.equal(pick(TWITTER, 'audio'), 'audio:hls-audio-128000-Audio')
})

test('protocol preference and tie-breaks among equal heights', () => {
  const list = [
    fmt({ format_id: 'hls-720', protocol: 'm3u8_native', width: 1280, height: 720, vcodec: 'avc1', acodec: 'mp4a', bitrate: 3000 }),
    fmt({ format_id: 'dash-720', protocol: 'http_dash_segments', width: 1280, height: 720, vcodec: 'avc1', acodec: 'mp4a', bitrate: 3500 }),
    fmt({ format_id: 'mp4-720-low', width: 1280, height: 720, vcodec: 'avc1', acodec: 'mp4a', bitrate: 1000 }),
    fmt({ format_id: 'mp4-720-high', width: 1280, height: 720, vcodec: 'avc1', acodec: 'mp4a', bitrate: 2000 }),
    fmt({ format_id: 'rtmp-1080', protocol: 'rtmp', width: 1920, height: 1080, vcodec: 'avc1', acodec: 'mp4a' })
  ]
  assert.equal(pick(list, 'best'), 'progressive:mp4-720-high')
  assert.equal(pick(list.filter(f => f.protocol !== 'https'), 'best'), 'progressive:hls-720')
  assert.equal(protocolRank('https'), 0)
  assert.equal(protocolRank('m3u8_native'), 1)
  assert.equal(protocolRank('http_dash_segments'), 2)
  assert.equal(protocolRank('https+m3u8'), 1)
  assert.equal(protocolRank('mhtml'), null)
})

test('audio: m4a wins a bitrate tie; progressive fallback; no audio fails', () => {
  const tie = [
    fmt({ format_id: 'opus', ext: 'webm', vcodec: 'none', acodec: 'opus', bitrate: 128 }),
    fmt({ format_id: 'aac', ext: 'm4a', vcodec: 'none', acodec: 'mp4a.40.2', bitrate: 128 })
  ]
  assert.equal(pick(tie, 'audio'), 'audio:aac')
  assert.equal(pick(TWITTER.filter(f => f.format_id.startsWith('http')), 'audio'), 'progressive:http-256')
  const silent = [fmt({ format_id: 'gif', width: 480, height: 480, vcodec: 'avc1', acodec: 'none' })]
  assert.equal(code(() => selectFormat(silent, { kind: 'audio' })), 'EXTRACTION_FAILED')
})

test('sources without any audio or any video still play; empty lists fail', () => {
  const gif = [
    fmt({ format_id: 'gif-small', width: 320, height: 320, vcodec: 'avc1', acodec: 'none' }),
    fmt({ format_id: 'gif-large', width: 720, height: 720, vcodec: 'avc1', acodec: 'none' })
  ]
  assert.equal(pick(gif, 'best'), 'video_only:gif-large', 'no audio exists, so nothing is muted')
  assert.equal(pick(gif, '480p'), 'video_only:gif-small')
  assert.equal(pick(gif, 'worst'), 'video_only:gif-small')
  const podcast = [fmt({ format_id: 'mp3', ext: 'mp3', vcodec: 'none', acodec: 'mp3', bitrate: 128 })]
  assert.equal(pick(podcast, 'best'), 'audio:mp3')
  assert.equal(code(() => selectFormat([], { kind: 'best' })), 'EXTRACTION_FAILED')
  assert.equal(code(() => selectFormat([YOUTUBE[0] as SelectableFormat], { kind: 'best' })), 'EXTRACTION_FAILED', 'storyboards only')
})

test('vertical videos are labelled by their shorter side', () => {
  const shorts = [
    fmt({ format_id: '18', width: 360, height: 640, vcodec: 'avc1', acodec: 'mp4a' }),
    fmt({ format_id: '137', width: 1080, height: 1920, vcodec: 'avc1', acodec: 'none', bitrate: 3000 }),
    fmt({ format_id: '140', ext: 'm4a', vcodec: 'none', acodec: 'mp4a', bitrate: 128 })
  ]
  assert.equal(pick(shorts, '1080p'), 'split:137+140')
  assert.equal(pick(shorts, '720p'), 'progressive:18')
  assert.deepEqual(availableQualities(shorts).map(q => q.quality), ['1080p', '360p', 'audio'])
})

test('VRChat: H.264/AAC MP4 at or below the cap, then the closest fallback, else null', () => {
  const yt = explainVrchat(YOUTUBE)
  assert.equal(yt.format?.format_id, '18')
  assert.equal(yt.match, 'exact')
  assert.match(yt.reason, /360p.*720p.*exists only as separate video and audio/)
  assert.equal(selectVrchat(YOUTUBE, 240)?.format_id, '18')
  assert.equal(explainVrchat(YOUTUBE, 240).match, 'above_cap')
  assert.equal(selectVrchat(BILIBILI), null)
  assert.equal(explainVrchat(BILIBILI).match, 'none')
  const tw = explainVrchat(TWITTER)
  assert.equal(tw.format?.format_id, 'http-2176')
  assert.equal(tw.match, 'fallback')
  assert.match(tw.reason, /not reported/)
  assert.equal(selectVrchat(TWITTER, 480)?.format_id, 'http-832')
  const mixed = [
    fmt({ format_id: 'vp9-720', ext: 'mp4', width: 1280, height: 720, vcodec: 'vp09.00.40.08', acodec: 'opus' }),
    fmt({ format_id: 'h264-1080', ext: 'mp4', width: 1920, height: 1080, vcodec: 'avc1.640028', acodec: 'mp4a.40.2' }),
    fmt({ format_id: 'h264-hls-720', ext: 'mp4', protocol: 'm3u8_native', width: 1280, height: 720, vcodec: 'avc1', acodec: 'mp4a' }),
    fmt({ format_id: 'webm-360', ext: 'webm', width: 640, height: 360, vcodec: 'vp9', acodec: 'opus' })
  ]
  assert.equal(explainVrchat(mixed).format?.format_id, 'h264-1080', 'codec compatibility outranks the height cap')
  assert.equal(explainVrchat(mixed).match, 'above_cap')
  const onlyVp9 = explainVrchat(mixed.filter(f => f.format_id !== 'h264-1080'))
  assert.equal(onlyVp9.format?.format_id, 'vp9-720')
  assert.match(onlyVp9.reason, /vp09.*may not play/)
})

test('availableQualities lists heights with how each is served, plus audio', () => {
  assert.deepEqual(availableQualities(YOUTUBE), [
    { quality: '1080p', height: 1080, serving: 'split' },
    { quality: '720p', height: 720, serving: 'split' },
    { quality: '480p', height: 480, serving: 'split' },
    { quality: '360p', height: 360, serving: 'direct' },
    { quality: '144p', height: 144, serving: 'split' },
    { quality: 'audio', height: null, serving: 'direct' }
  ])
  assert.deepEqual(availableQualities(TWITTER).map(q => `${q.quality}:${q.serving}`),
    ['1080p:split', '720p:direct', '360p:direct', 'audio:direct'], '270p files are listed under 360p')
  assert.deepEqual(availableQualities([fmt({ format_id: 'v', width: 400, height: 406, vcodec: 'avc1', acodec: 'none' })]),
    [{ quality: '480p', height: 400, serving: 'video_only' }])
  const mixed = [
    fmt({ format_id: 'p640', width: 1138, height: 640, vcodec: 'avc1', acodec: 'mp4a' }),
    fmt({ format_id: 'v720', width: 1280, height: 720, vcodec: 'avc1', acodec: 'none' }),
    fmt({ format_id: 'a', ext: 'm4a', vcodec: 'none', acodec: 'mp4a' })
  ]
  assert.deepEqual(availableQualities(mixed)[0], { quality: '720p', height: 720, serving: 'split' }, 'serving matches what 720p selects')
  assert.equal(pick(mixed, '720p'), 'split:v720+a')
  assert.equal(qualityLabel(718), '720p')
  assert.equal(qualityLabel(1088), '1440p')
  assert.equal(qualityLabel(5000), '5000p')
})
