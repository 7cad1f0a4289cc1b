// mode=redirect: one file the client fetches itself, never a remux. The best
// single file (video and audio in one file: progressive, or HLS where that is
// what the platform has) at or below the quality; when a better quality exists
// only as separate video and audio, the reason says what was given up. Pure.
import { AppError } from '../errors.ts'
import { selectFormat, protocolRank, resolution } from './quality.ts'
import type { AutoInput, Quality, Selection } from './quality.ts'
import type { MediaFormat } from '../../workers/protocol.ts'

export interface RedirectChoice {
  selection: Selection<MediaFormat>
  format: MediaFormat
  // why it is not what mode=auto would serve; null when it is
  lowered: string | null
}

const capOf = (quality: Quality): string | null =>
  quality.kind === 'height' ? `${quality.height}p` : quality.kind === 'auto' ? 'the automatic quality' : null

export function redirectChoice (formats: readonly MediaFormat[], quality: Quality, opts: { videoOnly: boolean, auto?: AutoInput | undefined }): RedirectChoice {
  const selected = selectFormat(formats, quality, { videoOnly: opts.videoOnly, auto: opts.auto })
  if (selected.kind !== 'split') return { selection: selected, format: selected.format, lowered: null }
  const best = resolution(selected.video)
  const split = `${best}p exists only as separate video and audio`
  const singles = formats.filter((f) => f.has_audio && f.has_video && protocolRank(f.protocol) !== null)
  if (singles.length === 0) {
    throw new AppError('NO_SINGLE_FILE', undefined, {
      detail: `${split}, and no file has both, so there is nothing to redirect to: ask with mode=auto (a remux into one MP4, ` +
        'or an HLS master for HLS players) or mode=proxy (the same through this server)'
    })
  }
  // only single files are left, so this is one of them
  const pick = selectFormat(singles, quality, { auto: opts.auto })
  if (pick.kind !== 'progressive') throw new AppError('INTERNAL', 'a single-file selection was not a single file')
  const res = resolution(pick.format)
  const cap = capOf(quality)
  const lowered = res <= best
    ? `${split}: redirected to ${res}p, the best single file${cap === null ? '' : ` at or below ${cap}`} (mode=auto remuxes ${best}p)`
    : `${split}, and no single file is at or below ${cap ?? 'it'}: redirected to ${res}p, the smallest single file above it (mode=auto remuxes ${best}p)`
  return { selection: pick, format: pick.format, lowered }
}
