// The error table against real message texts: what yt-dlp prints (spawn mode, a
// full "ERROR: [extractor] id: …" line) and the exception strings a warm process
// returns, from yt-dlp 2026.11.23 (and 2023.03.04 where the text differs). Each
// must reach its code, the code's HTTP status in src/errors.ts, and a detail that
// names the remedy and keeps yt-dlp's own words.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TASK_ERROR_CODES } from '../../workers/protocol.ts'
import type { TaskErrorCode } from '../../workers/protocol.ts'
import { classifyYtDlpError, cleanYtDlpMessage } from '../../workers/ytdlp/ytdlp.ts'
import { ERRORS, isErrorCode, REMEDIES } from '../errors.ts'
import { taskFailure } from './failure.ts'

const COOKIE_HINT = 'Use --cookies-from-browser or --cookies for the authentication. See  https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp  for how to manually pass cookies'
const YT_HINT = `${COOKIE_HINT}. Also see  https://github.com/yt-dlp/yt-dlp/wiki/Extractors#exporting-youtube-cookies  for tips on effectively exporting YouTube cookies`
const ANY_HINT = (netrc: string): string => `Use --cookies, --cookies-from-browser, --username and --password, --netrc-cmd, or --netrc (${netrc}) to provide account credentials. See  https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp  for how to manually pass cookies`
const REPORT = '; please report this issue on  https://github.com/yt-dlp/yt-dlp/issues?q= , filling out the appropriate issue template. Confirm you are on the latest version using  yt-dlp -U'

// The status each code must answer with, decided here once more on purpose.
const STATUS: Record<string, number> = {
  BOT_CHECK: 503,
  CAPTCHA_REQUIRED: 503,
  AGE_RESTRICTED: 403,
  LOGIN_REQUIRED: 403,
  DRM_PROTECTED: 422,
  UPSTREAM_RATE_LIMITED: 429,
  FORMAT_NOT_AVAILABLE: 502,
  VIDEO_NOT_FOUND: 404,
  GEO_BLOCKED: 451,
  LIVE_NOT_STARTED: 409,
  FFMPEG_MISSING: 503,
  EXTRACTION_FAILED: 502,
  UNSUPPORTED_URL: 422,
  EGRESS_REFUSED: 403
}

// What the detail must name for each code (with the platform filled in where yt-dlp names one of ours).
const REMEDY: Record<string, RegExp[]> = {
  BOT_CHECK: [/PUT \/api\/v2\/auth\/cookies\/youtube\b/, /YTDLP_PROXY \(or YOUTUBE_PROXY\)/, /YTDLP_EXTRACTOR_ARGS/, /POST \/api\/v2\/system\/ytdlp\/reload/],
  CAPTCHA_REQUIRED: [/PUT \/api\/v2\/auth\/cookies\//, /YTDLP_PROXY/],
  AGE_RESTRICTED: [/age-verified/, /PUT \/api\/v2\/auth\/cookies\//],
  LOGIN_REQUIRED: [/PUT \/api\/v2\/auth\/cookies\//],
  DRM_PROTECTED: [/DRM/, /no setting/],
  UPSTREAM_RATE_LIMITED: [/Retry later/, /YTDLP_PROXY/, /PUT \/api\/v2\/auth\/cookies\//],
  FORMAT_NOT_AVAILABLE: [/POST \/api\/v2\/system\/ytdlp\/reload/, /YTDLP_AUTO_UPDATE/, /JavaScript runtime/],
  VIDEO_NOT_FOUND: [/Check the URL/, /PUT \/api\/v2\/auth\/cookies\//],
  GEO_BLOCKED: [/YTDLP_PROXY/],
  LIVE_NOT_STARTED: [/once the stream or premiere is live/],
  FFMPEG_MISSING: [/Install ffmpeg/, /FFMPEG_PATH/],
  EXTRACTION_FAILED: [/update yt-dlp/, /POST \/api\/v2\/system\/ytdlp\/reload/],
  EGRESS_REFUSED: [/non-public address/, /GENERIC_HOSTS/]
}

const CASES: ReadonlyArray<[string, TaskErrorCode]> = [
  // the bot check: curly apostrophe (YouTube's own text), straight, and the 2024 form before yt-dlp trimmed YouTube's tail
  [`ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you’re not a bot. ${YT_HINT}`, 'BOT_CHECK'],
  [`ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you're not a bot. ${YT_HINT}`, 'BOT_CHECK'],
  ["ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you're not a bot. This helps protect our community. Learn more", 'BOT_CHECK'],
  // captcha: appended by yt-dlp to any reason but a sign-in one, so it must beat "try again later"
  ["ERROR: [youtube] dQw4w9WgXcQ: This content isn't available, try again later. YouTube is requiring a captcha challenge before playback", 'CAPTCHA_REQUIRED'],
  [`ERROR: [PeekVids] BSyLMbN0YCd: You are suspected as a bot. Wait, or pass the captcha on the site and provide cookies. ${COOKIE_HINT}`, 'CAPTCHA_REQUIRED'],
  ['ERROR: [udemy] 12345: Udemy asks you to solve a CAPTCHA. Login with browser, solve CAPTCHA, then export cookies and pass cookie file to yt-dlp with --cookies.', 'CAPTCHA_REQUIRED'],
  // age gate (2026 with the cookie hint, 2023 without) and X's sensitive media
  [`ERROR: [youtube] HtVdAasjOgU: Sign in to confirm your age. This video may be inappropriate for some users. ${YT_HINT}`, 'AGE_RESTRICTED'],
  ['ERROR: [youtube] HtVdAasjOgU: Sign in to confirm your age. This video may be inappropriate for some users.', 'AGE_RESTRICTED'],
  [`ERROR: [twitter] 1577719286659006464: NSFW tweet requires authentication. ${COOKIE_HINT}`, 'AGE_RESTRICTED'],
  // login / members / premium / subscriber-only
  ['ERROR: [youtube] Tq92D6wQ1mg: Join this channel to get access to members-only content like this video, and other exclusive perks.', 'LOGIN_REQUIRED'],
  ['ERROR: [youtube] Tq92D6wQ1mg: This video is available to this channel’s members on level: Tier 1 (or any higher level). Join this channel to get access to members-only content and other exclusive perks.', 'LOGIN_REQUIRED'],
  [`ERROR: [BiliBili] BV1bK411W797: This video is for premium members only. ${COOKIE_HINT}`, 'LOGIN_REQUIRED'],
  [`ERROR: [BiliBili] BV1bK411W797: This video is only available for registered users. ${COOKIE_HINT}`, 'LOGIN_REQUIRED'],
  [`ERROR: [twitch:vod] v2005583201: You must be logged into an account that has access to this subscriber-only content. ${ANY_HINT('twitch')}`, 'LOGIN_REQUIRED'],
  [`ERROR: [Instagram] CgRdXLsrOXe: This content is only available for registered users who follow this account. ${COOKIE_HINT}`, 'LOGIN_REQUIRED'],
  [`ERROR: [twitter] 1600649710662213632: You are not authorized to view this protected tweet. ${COOKIE_HINT}`, 'LOGIN_REQUIRED'],
  [`ERROR: [youtube] dQw4w9WgXcQ: Login details are needed to download this content. ${YT_HINT}`, 'LOGIN_REQUIRED'],
  // DRM
  ['ERROR: [youtube] s7_qI6_mIXc: This video is DRM protected', 'DRM_PROTECTED'],
  // the site's rate limit
  ["ERROR: [youtube] dQw4w9WgXcQ: This content isn't available, try again later. The current session has been rate-limited by YouTube for up to an hour. It is recommended to use `-t sleep` to add a delay between video requests to avoid exceeding the rate limit. For more information, refer to  https://github.com/yt-dlp/yt-dlp/wiki/Extractors#this-content-isnt-available-try-again-later", 'UPSTREAM_RATE_LIMITED'],
  ["ERROR: [youtube] dQw4w9WgXcQ: Video unavailable. This content isn't available, try again later.", 'UPSTREAM_RATE_LIMITED'],
  ['ERROR: [youtube] dQw4w9WgXcQ: Unable to download API page: HTTP Error 429: Too Many Requests (caused by <HTTPError 429: Too Many Requests>)', 'UPSTREAM_RATE_LIMITED'],
  ['ERROR: [BiliBili] BV1bK411W797: Unable to download webpage: HTTP Error 412: Precondition Failed (caused by <HTTPError 412: Precondition Failed>)', 'UPSTREAM_RATE_LIMITED'],
  ['ERROR: [bilibili:space:video] 3494360557685524: Request is blocked by server (412), please wait and try later.', 'UPSTREAM_RATE_LIMITED'],
  ['ERROR: [BiliBili] BV1bK411W797: You have exceeded the rate limit. Try again later', 'UPSTREAM_RATE_LIMITED'],
  [`ERROR: [Instagram] CgRdXLsrOXe: The webpage request was redirected to the login page. You have exceeded the rate-limit for accessing posts anonymously. ${COOKIE_HINT}`, 'UPSTREAM_RATE_LIMITED'],
  // format not available
  ['ERROR: [youtube] dQw4w9WgXcQ: Requested format is not available. Use --list-formats for a list of available formats', 'FORMAT_NOT_AVAILABLE'],
  ['ERROR: [generic] clip: Requested format is not available. Use --list-formats for a list of available formats', 'FORMAT_NOT_AVAILABLE'],
  [`ERROR: [youtube] dQw4w9WgXcQ: No video formats found!${REPORT}`, 'FORMAT_NOT_AVAILABLE'],
  // private / removed / unavailable
  [`ERROR: [youtube] xdZ0zGPdZKM: Private video. Sign in if you've been granted access to this video. ${YT_HINT}`, 'VIDEO_NOT_FOUND'],
  ["ERROR: [youtube] xdZ0zGPdZKM: Private video. Sign in if you've been granted access to this video", 'VIDEO_NOT_FOUND'],
  ['ERROR: [youtube] xdZ0zGPdZKM: Video unavailable. This video has been removed by the uploader', 'VIDEO_NOT_FOUND'],
  ['ERROR: [youtube] xdZ0zGPdZKM: Video unavailable. This video is no longer available because the YouTube account associated with this video has been terminated.', 'VIDEO_NOT_FOUND'],
  ['ERROR: [youtube] xdZ0zGPdZKM: Video unavailable', 'VIDEO_NOT_FOUND'],
  ['ERROR: [generic] Unable to download webpage: HTTP Error 404: Not Found (caused by <HTTPError 404: Not Found>)', 'VIDEO_NOT_FOUND'],
  ['ERROR: [twitter] 1600649710662213632: Twitter API says: This Post was deleted by the Post author', 'VIDEO_NOT_FOUND'],
  ['ERROR: [twitter] 1600649710662213632: Requested tweet is unavailable', 'VIDEO_NOT_FOUND'],
  ['ERROR: [twitch:vod] v2005583201: Video v2005583201 does not exist', 'VIDEO_NOT_FOUND'],
  // geo block (yt-dlp prints its proxy advice on the lines after the ERROR line)
  ['ERROR: [youtube] sJL6WA-aGkQ: The uploader has not made this video available in your country\nThis video is available in Germany, Austria.\nYou might want to use a VPN or a proxy server (with --proxy) to workaround.', 'GEO_BLOCKED'],
  ['ERROR: [youtube] sJL6WA-aGkQ: Video unavailable. The uploader has not made this video available in your country', 'GEO_BLOCKED'],
  ['ERROR: [BiliBili] BV1bK411W797: This video is not available from your location due to geo restriction\nYou might want to use a VPN or a proxy server (with --proxy) to workaround.', 'GEO_BLOCKED'],
  ['ERROR: [BiliBili] BV1bK411W797: This video may be deleted or geo-restricted. You might want to try a VPN or a proxy server (with --proxy)', 'GEO_BLOCKED'],
  // live not started (YouTube's own reasons; yt-dlp's UserNotLive; BiliBili live)
  ['ERROR: [youtube] 5qap5aO4i9A: This live event will begin in 3 hours.', 'LIVE_NOT_STARTED'],
  ['ERROR: [youtube] 5qap5aO4i9A: This live event will begin in a few moments.', 'LIVE_NOT_STARTED'],
  ['ERROR: [youtube] 5qap5aO4i9A: Premieres in 10 hours', 'LIVE_NOT_STARTED'],
  ['ERROR: [twitch:stream] monstercat: The channel is not currently live', 'LIVE_NOT_STARTED'],
  ['ERROR: [youtube:tab] UCSJ4gkVC6NrvII8umztf0Ow: The channel is not currently live', 'LIVE_NOT_STARTED'],
  ['ERROR: [bilibili:live] 196: Streamer is not live', 'LIVE_NOT_STARTED'],
  // missing ffmpeg (postprocessor/ffmpeg.py, YoutubeDL.py), never "not found" as in a missing video
  ['ERROR: Postprocessing: ffprobe and ffmpeg not found. Please install or provide the path using --ffmpeg-location', 'FFMPEG_MISSING'],
  ['ERROR: Postprocessing: ffmpeg not found. Please install or provide the path using --ffmpeg-location', 'FFMPEG_MISSING'],
  ['ERROR: Postprocessing: ffprobe not found. Please install or provide the path using --ffmpeg-location', 'FFMPEG_MISSING'],
  ['ERROR: You have requested merging of multiple formats but ffmpeg is not installed. Aborting due to --abort-on-error', 'FFMPEG_MISSING'],
  ['ERROR: You have requested downloading the video partially, but ffmpeg is not installed. Aborting', 'FFMPEG_MISSING'],
  // everything else: our side or a changed site
  [`ERROR: [youtube] dQw4w9WgXcQ: Unable to extract yt initial data${REPORT}`, 'EXTRACTION_FAILED'],
  ['ERROR: [generic] Unable to download webpage: <urlopen error [Errno 111] Connection refused> (caused by TransportError(\'<urlopen error [Errno 111] Connection refused>\'))', 'EXTRACTION_FAILED'],
  ['ERROR: [BiliBili] BV1bK411W797: pycryptodomex not found. Please install', 'EXTRACTION_FAILED'],
  ['ERROR: Unsupported URL: https://example.com/watch', 'UNSUPPORTED_URL'],
  // our egress proxy refused the page, a redirect or the media (http, and an https tunnel), 2026.11.23
  ['ERROR: [generic] redirect: Unable to download webpage: HTTP Error 403: Refused by the egress policy (caused by <HTTPError 403: Refused by the egress policy>)', 'EGRESS_REFUSED'],
  [`ERROR: [generic] page: Unable to download webpage: <urlopen error Tunnel connection failed: 403 Refused by the egress policy> (caused by ProxyError('<urlopen error Tunnel connection failed: 403 Refused by the egress policy>'))${REPORT}`, 'EGRESS_REFUSED']
]

test('every code a thread returns is in the HTTP table; every classified code has a remedy', () => {
  for (const code of TASK_ERROR_CODES) assert.ok(isErrorCode(code), code)
  for (const code of Object.keys(REMEDY)) assert.ok(isErrorCode(code) && typeof REMEDIES[code] === 'string', code)
  for (const [code, status] of Object.entries(STATUS)) {
    assert.ok(isErrorCode(code), code)
    assert.equal(ERRORS[code].status, status, code)
  }
  // the table below covers every code the classifier can return, apart from the ones a thread decides itself
  const covered = new Set(CASES.map(([, code]) => code))
  for (const code of TASK_ERROR_CODES) {
    if (code === 'EXTRACTION_TIMEOUT' || code === 'INVALID_INPUT') continue
    assert.ok(covered.has(code), `no real message drives ${code}`)
  }
})

test('real yt-dlp messages → code, status and a detail that names the remedy', () => {
  for (const [text, code] of CASES) {
    // spawn mode classifies the ERROR lines; a warm process returns the exception's text,
    // with yt-dlp's "ERROR: " (DownloadError) or without it (the ExtractorError itself)
    const errorLines = text.split('\n').filter((l) => l.startsWith('ERROR:')).join('\n')
    for (const form of [text, errorLines, text.replace(/^ERROR: /, '')]) {
      assert.equal(classifyYtDlpError(form), code, form)
    }
    const message = cleanYtDlpMessage(text)
    assert.doesNotMatch(message, /^ERROR:|please report this issue|Use --cookies/, text)
    const err = taskFailure({ code, message })
    assert.equal(err.code, code)
    assert.equal(err.statusCode, STATUS[code], code)
    assert.equal(err.message, ERRORS[code].message)
    const detail = err.detail ?? ''
    assert.ok(detail.endsWith(message), `${code}: the detail keeps yt-dlp's message: ${detail}`)
    for (const remedy of REMEDY[code] ?? []) assert.match(detail, remedy, `${code}: ${text}`)
    if (REMEDY[code] === undefined) assert.equal(detail, message)
  }
})

test('the detail names the platform yt-dlp reported, or leaves the {platform} slot as written', () => {
  const bili = taskFailure({ code: 'UPSTREAM_RATE_LIMITED', message: cleanYtDlpMessage('ERROR: [BiliBili] BV1bK411W797: Request is blocked by server (412), please wait and try later.') })
  assert.match(bili.detail ?? '', /BILIBILI_PROXY/)
  assert.match(bili.detail ?? '', /PUT \/api\/v2\/auth\/cookies\/bilibili\b/)
  const twitch = taskFailure({ code: 'LOGIN_REQUIRED', message: '[twitch:vod] v1: You must be logged into an account that has access to this subscriber-only content' })
  assert.match(twitch.detail ?? '', /PUT \/api\/v2\/auth\/cookies\/twitch\b/)
  const generic = taskFailure({ code: 'GEO_BLOCKED', message: '[generic] page: This video is not available from your location due to geo restriction' })
  assert.match(generic.detail ?? '', /YTDLP_PROXY \(or <PLATFORM>_PROXY\)/)
  // a caller that knows the platform (a download task) wins over yt-dlp's generic extractor
  const known = taskFailure({ code: 'BOT_CHECK', message: '[generic] x: Sign in to confirm you’re not a bot' }, 'youtube')
  assert.match(known.detail ?? '', /cookies\/youtube\b.*YOUTUBE_PROXY/)
  // unknown platform names are not substituted
  assert.match(taskFailure({ code: 'LOGIN_REQUIRED', message: '[vimeo] 1: Login required' }, 'vimeo').detail ?? '', /cookies\/\{platform\}/)
})

test('cleaning keeps yt-dlp\'s words and drops its command-line advice', () => {
  assert.equal(cleanYtDlpMessage(`WARNING: x\nERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you’re not a bot. ${YT_HINT}`), '[youtube] dQw4w9WgXcQ: Sign in to confirm you’re not a bot')
  assert.equal(cleanYtDlpMessage(`ERROR: [twitch:vod] v1: You must be logged into an account that has access to this subscriber-only content. ${ANY_HINT('twitch')}`), '[twitch:vod] v1: You must be logged into an account that has access to this subscriber-only content')
  assert.equal(cleanYtDlpMessage(`ERROR: [youtube] x: Unable to extract yt initial data${REPORT}`), '[youtube] x: Unable to extract yt initial data')
  // advice inside a sentence is yt-dlp's text, not a trailing hint
  const instagram = 'ERROR: [Instagram] x: Instagram sent an empty media response. Check if this post is accessible in your browser without being logged-in. If it is not, then use --cookies-from-browser or --cookies for the authentication.'
  assert.equal(cleanYtDlpMessage(instagram), instagram.slice('ERROR: '.length))
})
