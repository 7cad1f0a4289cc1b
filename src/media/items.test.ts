import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AppError } from '../errors.ts'
import { itemInfo, itemQuery, withItem } from './items.ts'
import { createLinkSigner } from '../proxy/signer.ts'
import { normalizeMediaInfo } from '../../workers/ytdlp/normalize.ts'
import type { Target } from '../platforms/index.ts'

const fmt = (url: string): Record<string, unknown> => ({ format_id: 'http-832', url, ext: 'mp4', vcodec: 'avc1', acodec: 'mp4a.40.2', height: 720 })
const post = normalizeMediaInfo({
  _type: 'playlist',
  id: 'post',
  entries: [
    { id: 'v1', title: 'Post #1', duration: 3, formats: [fmt('https://v.test/1.mp4')], subtitles: { en: [{ ext: 'vtt', url: 'https://v.test/en.vtt' }] } },
    { id: 'v2', title: 'Post #2', duration: 5, thumbnail: 'https://v.test/2.jpg', formats: [fmt('https://v.test/2.mp4')] },
    { id: 'p3', title: 'Post #3', formats: [], thumbnails: [{ url: 'https://v.test/3.jpg' }] }
  ]
})
const single = normalizeMediaInfo({ id: 'one', title: 'One', formats: [fmt('https://v.test/one.mp4')] })
const code = (fn: () => unknown): string => { try { fn(); return 'none' } catch (err) { return err instanceof AppError ? `${err.statusCode} ${err.code}` : 'other' } }

test('itemInfo: the item\'s formats, title, duration and picture; the first video keeps the subtitles', () => {
  assert.equal(itemInfo(post, undefined), post)
  const second = itemInfo(post, 2)
  assert.deepEqual([second.id, second.title, second.duration, second.thumbnail], ['v2', 'Post #2', 5, 'https://v.test/2.jpg'])
  assert.deepEqual(second.formats.map((f) => f.url), ['https://v.test/2.mp4'])
  assert.deepEqual([second.subtitles, second.subtitle_tracks], [[], []])
  assert.ok(!('entries' in second))
  const first = itemInfo(post, 1)
  assert.deepEqual(first.subtitles, ['en'])
  assert.deepEqual(first.formats.map((f) => f.url), ['https://v.test/1.mp4'])
  assert.equal(itemInfo(single, 1), single)
})

test('itemInfo: past the items 404 ITEM_NOT_FOUND, a photo 422 ITEM_IS_PHOTO', () => {
  assert.equal(code(() => itemInfo(post, 4)), '404 ITEM_NOT_FOUND')
  assert.equal(code(() => itemInfo(post, 3)), '422 ITEM_IS_PHOTO')
  assert.equal(code(() => itemInfo(single, 2)), '404 ITEM_NOT_FOUND')
})

test('an item target: its links carry the item; links without one are as they were', () => {
  const target = { id: 'post' } as unknown as Target
  assert.equal(withItem(target, undefined), target)
  assert.equal(withItem(target, 2).item, 2)
  assert.equal(itemQuery(undefined), '')
  assert.equal(itemQuery(3), '&item=3')
  const signer = createLinkSigner('secret')
  const ref = { platform: 'twitter', id: 'post', formatId: 'http-832' }
  assert.deepEqual(signer.verify(signer.sign({ route: 'proxy', url: 'https://v.test/2.mp4', ref: { ...ref, item: 2 } }, 60), 'proxy').ref, { ...ref, item: 2 })
  assert.deepEqual(signer.verify(signer.sign({ route: 'proxy', url: 'https://v.test/1.mp4', ref }, 60), 'proxy').ref, ref)
})
