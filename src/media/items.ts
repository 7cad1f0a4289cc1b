// Multi-item posts (an X or Instagram post with several videos or photos, a page
// of several videos): `item=N` (from 1, yt-dlp's --playlist-items numbering)
// picks one. The info of an item is the post's info with that item's formats,
// title, duration and picture, so plans, links and remuxes work on it unchanged.
import { AppError } from '../errors.ts'
import type { Target } from '../platforms/index.ts'
import type { MediaEntry, MediaInfo } from '../../workers/protocol.ts'

// the highest item number a request may name (a query or body value past it is a 400)
export const MAX_ITEM = 1000

// the target as one item of its post: the links made for it name the item
export const withItem = (target: Target, item: number | undefined): Target => item === undefined ? target : { ...target, item }

// a signed link's ref names the item of a target that is one item of a post
export const itemOf = (target: Target): { item?: number } => target.item === undefined ? {} : { item: target.item }

// `&item=N` for a link back to one of our stream routes
export const itemQuery = (item: number | undefined): string => item === undefined ? '' : `&item=${item}`

const count = (info: MediaInfo): number => info.entries?.length ?? 1

export function findEntry (info: MediaInfo, item: number): MediaEntry | null {
  return info.entries?.find((e) => e.index === item) ?? null
}

// The item's own info; throws ITEM_NOT_FOUND (404) past the post's items, ITEM_IS_PHOTO (422) for a photo.
export function itemInfo (info: MediaInfo, item: number | undefined): MediaInfo {
  if (item === undefined) return info
  if (info.entries === undefined) {
    if (item === 1) return info
    throw notFound(info, item)
  }
  const entry = findEntry(info, item)
  if (entry === null) throw notFound(info, item)
  if (entry.kind === 'photo') {
    throw new AppError('ITEM_IS_PHOTO', `Item ${item} of this post is a photo, not a video`, {
      detail: 'its image is entries[].image of the video info (GET /api/v2/videos/{platform}/{id}), a link through this server'
    })
  }
  const { entries: _all, ...post } = info
  return {
    ...post,
    id: entry.id ?? info.id,
    title: entry.title ?? info.title,
    duration: entry.duration,
    thumbnail: entry.thumbnail,
    thumbnails: entry.thumbnail === null ? [] : [{ url: entry.thumbnail, width: null, height: null }],
    formats: entry.formats,
    // subtitles are listed for the post's first video only
    ...(info.formats === entry.formats || sameFormats(info, entry) ? {} : { subtitles: [], automatic_captions: [], subtitle_tracks: [] }),
    expires_at: entry.expires_at
  }
}

const sameFormats = (info: MediaInfo, entry: MediaEntry): boolean =>
  info.formats.length === entry.formats.length && info.formats.every((f, i) => f.url === entry.formats[i]?.url)

function notFound (info: MediaInfo, item: number): AppError {
  const n = count(info)
  return new AppError('ITEM_NOT_FOUND', `This post has no item ${item}`, {
    detail: n === 1 ? 'it has one item: item=1, or no item' : `it has ${n} items: item=1 to item=${Math.max(...(info.entries ?? []).map((e) => e.index))} (entries[].index of the video info)`
  })
}
