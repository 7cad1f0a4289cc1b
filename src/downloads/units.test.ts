// Pure parts of downloads: yt-dlp arguments, progress parsing, names, input
// parsing and the response schemas (round trips).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildDownloadArgs, buildFormatSelection, PROGRESS_TEMPLATE } from './args.ts'
import { createProgressTracker, parseOutputLine } from './progress.ts'
import { finalName, parseServedName, sanitizeBase } from './names.ts'
import { parseBatchRequest, parseDownloadRequest, parseListQuery } from './request.ts'
import { newRecord, revise, toView, isTaskRecord } from './record.ts'
import { serializeBatch, serializeCleanup, serializeDelete, serializeStorage, serializeSubmit, serializeTask, serializeTaskList } from './schemas.ts'
import { AppError } from '../errors.ts'
import type { DownloadSpec } from './types.ts'
import { dedupeKey } from './tasks.ts'

const spec: DownloadSpec = { url: 'https://www.youtube.com/watch?v=dQw4w9WgXcQ', platform: 'youtube', video_id: 'dQw4w9WgXcQ', quality: '720p', format: 'mp4', audio_only: false, filename: null }

test('the URL comes last, after --, and options are fixed', () => {
  const args = buildDownloadArgs({ url: '--exec=rm -rf /', quality: 'best', format: 'mp4', audioOnly: false, outputTemplate: '/d/media.%(ext)s', cookiesFile: null, ffmpegPath: null, maxFileBytes: 1000, socketTimeoutSec: 20 })
  assert.equal(args.at(-2), '--')
  assert.equal(args.at(-1), '--exec=rm -rf /')
  assert.equal(args.filter((a) => a === '--').length, 1)
  for (const flag of ['--ignore-config', '--no-playlist', '--newline', '--no-mtime']) assert.ok(args.includes(flag), flag)
  assert.equal(args[args.indexOf('--max-filesize') + 1], '1000')
  assert.ok(PROGRESS_TEMPLATE.startsWith('download:'))
  assert.ok(!args.includes('--playlist-items'))
  const item = buildDownloadArgs({ url: 'https://x.com/a/status/1', quality: 'best', format: 'mp4', audioOnly: false, outputTemplate: '/d/media.%(ext)s', cookiesFile: null, ffmpegPath: null, maxFileBytes: null, socketTimeoutSec: 20, item: 2 })
  assert.equal(item[item.indexOf('--playlist-items') + 1], '2')
  assert.equal(item.at(-1), 'https://x.com/a/status/1')
})

test('item=N of a post: a whole number from 1, in the dedupe key only when given', () => {
  assert.equal(parseDownloadRequest({ url: 'https://x' }).item, null)
  assert.equal(parseDownloadRequest({ url: 'https://x', item: 3 }).item, 3)
  for (const item of [0, -1, 1.5, '2', 1001, true]) {
    assert.throws(() => parseDownloadRequest({ url: 'https://x', item }), (err: unknown) => err instanceof AppError && err.code === 'INVALID_INPUT' && err.message.startsWith('item'), String(item))
  }
  assert.equal(dedupeKey(spec, 'o'), dedupeKey({ ...spec }, 'o'))
  assert.notEqual(dedupeKey({ ...spec, item: 2 }, 'o'), dedupeKey(spec, 'o'))
  assert.notEqual(dedupeKey({ ...spec, item: 2 }, 'o'), dedupeKey({ ...spec, item: 3 }, 'o'))
})

test('format selection: heights sort by res, containers by ext, audio extracts', () => {
  assert.deepEqual(buildFormatSelection('720p', 'mp4', false), ['-f', 'bv*+ba/b', '-S', 'res:720,ext:mp4:m4a'])
  assert.deepEqual(buildFormatSelection('best', 'mkv', false), ['-f', 'bv*+ba/b'])
  assert.deepEqual(buildFormatSelection('worst', 'webm', false), ['-f', 'wv*+wa/w', '-S', 'ext:webm:webm'])
  assert.deepEqual(buildFormatSelection('best', 'mp3', true), ['-f', 'ba/b'])
  const audio = buildDownloadArgs({ url: 'https://x/', quality: 'audio', format: 'm4a', audioOnly: true, outputTemplate: 'o', cookiesFile: '/c.txt', ffmpegPath: '/usr/bin/ffmpeg', maxFileBytes: null, socketTimeoutSec: 5 })
  assert.ok(audio.includes('-x'))
  assert.equal(audio[audio.indexOf('--audio-format') + 1], 'm4a')
  assert.equal(audio[audio.indexOf('--cookies') + 1], '/c.txt')
  const video = buildDownloadArgs({ url: 'https://x/', quality: 'best', format: 'webm', audioOnly: false, outputTemplate: 'o', cookiesFile: null, ffmpegPath: null, maxFileBytes: null, socketTimeoutSec: 5 })
  assert.equal(video[video.indexOf('--merge-output-format') + 1], 'webm')
  assert.ok(!video.includes('--max-filesize'))
})

test('progress lines: our template (2023 and later) and the default line', () => {
  const t = parseOutputLine('vgp\tdownloading\t3072\t59623\tNA\t2710328.5\t0\tNA\tNA\tmp4')
  assert.deepEqual(t, { kind: 'progress', sample: { status: 'downloading', downloaded: 3072, total: 59623, speed: 2710328.5, eta: 0, formatId: 'mp4' } })
  const est = parseOutputLine('vgp\tdownloading\t1024\tNA\t72004.0\tNA\tNA\t0\t1\t0')
  assert.equal(est.kind === 'progress' ? est.sample.total : -1, 72004)
  const d = parseOutputLine('[download]  42.0% of ~  10.00MiB at    1.20MiB/s ETA 00:05 (frag 3/10)')
  assert.equal(d.kind, 'progress')
  if (d.kind === 'progress') {
    assert.equal(d.sample.total, 10 * 1024 * 1024)
    assert.equal(d.sample.eta, 5)
    assert.equal(d.sample.speed, Math.round(1.2 * 1024 * 1024))
  }
  assert.deepEqual(parseOutputLine('vgfmt\t120+aud-English\t["120", "aud-English"]'), { kind: 'formats', parts: ['120', 'aud-English'] })
  assert.deepEqual(parseOutputLine('vgfmt\t18\tNA'), { kind: 'formats', parts: ['18'] })
  assert.deepEqual(parseOutputLine('vgdone\t"/tmp/x/media.mp4"\t"A \\"title\\""'), { kind: 'done', path: '/tmp/x/media.mp4', title: 'A "title"' })
  assert.deepEqual(parseOutputLine('[generic] Extracting URL'), { kind: 'other' })
})

test('a split download folds into one monotonic percentage', () => {
  const tr = createProgressTracker()
  tr.setParts(['137', '140'])
  const seen: number[] = []
  const feed = (status: 'downloading' | 'finished', downloaded: number, total: number, formatId: string): void => {
    seen.push(tr.add({ status, downloaded, total, speed: 1, eta: 1, formatId }).percent)
  }
  feed('downloading', 50, 100, '137')
  feed('finished', 100, 100, '137')
  feed('downloading', 0, 10, '140')
  feed('downloading', 5, 10, '140')
  feed('downloading', 4, 12, '140')
  feed('finished', 12, 12, '140')
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b))
  assert.equal(seen[1], 49.5)
  assert.equal(seen.at(-1), 99)
  assert.equal(tr.current().downloaded_bytes, 112)
  assert.equal(tr.current().total_bytes, 112)
})

test('file names: sanitized, bounded, unique; served names cannot escape', () => {
  assert.equal(sanitizeBase('../../etc/passwd'), 'etc_passwd')
  assert.equal(sanitizeBase('  .hidden\u0000name\r\n'), 'hidden name')
  assert.equal(sanitizeBase('a\u202eb'), 'a b')
  assert.equal(sanitizeBase(''), 'download')
  assert.equal(sanitizeBase('a\\b:c*d?e"f<g>h|i'), 'a_b_c_d_e_f_g_h_i')
  assert.ok(Buffer.byteLength(sanitizeBase('é'.repeat(500))) <= 120)
  assert.equal(finalName('My Video', 'abcdefghijklmnop', 'MP4'), 'My Video_abcdefghijklmnop.mp4')
  for (const bad of ['..', '%2e%2e', '..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', 'a%5Cb', 'a\\b', 'a%00b', '.vidgate', '%2evidgate', '', '%E0%A4%A', 'a/b']) {
    assert.equal(parseServedName(bad), null, bad)
  }
  assert.equal(parseServedName('My%20Video_abc.mp4'), 'My Video_abc.mp4')
  assert.equal(parseServedName('%E2%82%AC.mp4'), '€.mp4')
})

test('download input: either url or platform+id, enums named on error', () => {
  const r = parseDownloadRequest({ url: 'https://youtu.be/dQw4w9WgXcQ', quality: 'highest', custom_filename: 'x', extra: 1 })
  assert.equal(r.quality, 'best')
  assert.equal(r.format, 'mp4')
  assert.equal(r.filename, 'x')
  assert.equal(parseDownloadRequest({ url: 'https://x', audio_only: true }).format, 'm4a')
  assert.equal(parseDownloadRequest({ url: 'https://x', format: 'mp3' }).audio_only, true)
  assert.equal(parseDownloadRequest({ url: 'https://x', format: 'mp3' }).quality, 'audio')
  const bad = (body: unknown, field: string): void => {
    assert.throws(() => parseDownloadRequest(body), (err: unknown) => err instanceof AppError && err.code === 'INVALID_INPUT' && err.message.startsWith(field), field)
  }
  bad({}, 'url')
  bad([], 'body')
  bad({ url: 5 }, 'url')
  bad({ url: 'https://x', quality: '999p' }, 'quality')
  bad({ url: 'https://x', format: 'avi' }, 'format')
  bad({ url: 'https://x', audio_only: 'yes' }, 'audio_only')
  bad({ url: 'https://x', audio_only: true, format: 'webm' }, 'format')
  bad({ url: 'https://x', filename: 'a'.repeat(201) }, 'filename')
  assert.throws(() => parseDownloadRequest({ url: 1 }, 'items[2].'), /items\[2\]\.url/)
  assert.equal(parseBatchRequest({ urls: ['https://a', 'https://b'], quality: '480p' }).length, 2)
  assert.throws(() => parseBatchRequest({ items: new Array(11).fill({ url: 'https://a' }) }), /at most 10/)
  assert.deepEqual(parseListQuery({ status: 'running', limit: '5' }), { status: 'running', limit: 5, offset: 0 })
  assert.throws(() => parseListQuery({ limit: '0' }), /limit/)
  assert.throws(() => parseListQuery({ status: 'done' }), /status/)
})

test('schemas round-trip full fixtures', () => {
  const base = newRecord('abcdefghijklmnop', spec, 'k', null, { owner: 't-0123abcd', quota: 'i-4567ef' }, new Date('2024-01-02T03:04:05.000Z'))
  const done = revise(base, { state: 'completed', percent: 100, downloaded_bytes: 10, total_bytes: 10, file: 'a b_abcdefghijklmnop.mp4', file_size: 10, title: 't', started_at: base.created_at, finished_at: base.created_at }, new Date('2024-01-02T03:04:06.000Z'))
  const failed = revise(base, { state: 'failed', error: { code: 'VIDEO_NOT_FOUND', message: 'gone' }, speed: 1.5, eta: 3 })
  assert.ok(isTaskRecord(done) && isTaskRecord(failed))
  for (const t of [toView(base), toView(done), toView(failed)]) assert.deepEqual(JSON.parse(serializeTask(t)), t)
  assert.equal(toView(done).links.file, '/api/v2/files/a%20b_abcdefghijklmnop.mp4')
  const submit = { ...toView(base), reused: true, owner_token: 'x'.repeat(43) }
  assert.deepEqual(JSON.parse(serializeSubmit(submit)), submit)
  const list = { total: 2, limit: 50, offset: 0, tasks: [toView(done), toView(failed)] }
  assert.deepEqual(JSON.parse(serializeTaskList(list)), list)
  const batch = { total_count: 2, accepted: 1, failed: 1, owner_token: null, results: [{ index: 0, ok: true, reused: false, task: toView(base), error: null }, { index: 1, ok: false, reused: false, task: null, error: { code: 'INVALID_INPUT', message: 'm', detail: null } }] }
  assert.deepEqual(JSON.parse(serializeBatch(batch)), batch)
  const del = { action: 'removed' as const, file_removed: true, task: toView(done) }
  assert.deepEqual(JSON.parse(serializeDelete(del)), del)
  const storage = { directory: '/d', used_bytes: 1, quota_bytes: 2, available_bytes: 1, usage_percent: 50, file_count: 1, temp_bytes: 0, temp_dirs: 0, free_disk_bytes: null, total_disk_bytes: 9, oldest_file: null, oldest_file_age_seconds: null, retention_hours: 24, cleanup_interval_seconds: 3600, timestamp: '2024-01-02T03:04:05.000Z' }
  assert.deepEqual(JSON.parse(serializeStorage(storage)), storage)
  const cleanup = { removed_files: 1, removed_bytes: 2, removed_temp_dirs: 3, removed_tasks: 4, storage }
  assert.deepEqual(JSON.parse(serializeCleanup(cleanup)), cleanup)
  assert.throws(() => serializeTask({ ...toView(base), links: undefined } as unknown as ReturnType<typeof toView>))
})
