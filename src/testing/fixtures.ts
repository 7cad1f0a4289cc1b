// Test-only: platform-shaped yt-dlp fixtures whose media URLs point at a local
// origin, written where fake-yt-dlp picks them up (FAKE_YTDLP_FIXTURE_DIR).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from './helpers.ts'

interface RawFormat { format_id: string, ext?: string, vcodec?: string, acodec?: string, protocol?: string, url: string, manifest_url?: string }

function fileFor (f: RawFormat): string {
  if (f.protocol?.startsWith('m3u8') === true) return 'master.m3u8'
  const video = f.vcodec !== undefined && f.vcodec !== 'none'
  const audio = f.acodec !== undefined && f.acodec !== 'none'
  if (video && audio) return 'progressive.mp4'
  return video ? 'video.mp4' : 'audio.m4a'
}

export function writeLocalFixtures (originUrl: string, overrides: { title?: string } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-fixtures-'))
  const expire = Math.floor(Date.now() / 1000) + 6 * 3600
  for (const [name, prefix] of [['youtube', 'm'], ['bilibili', 'bili'], ['twitter', 'm']] as const) {
    const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'workers', 'fixtures', `${name}.json`), 'utf8')) as { title: string, formats: RawFormat[] }
    if (overrides.title !== undefined) raw.title = overrides.title
    for (const f of raw.formats) {
      const url = `${originUrl}/${prefix}/${fileFor(f)}?expire=${expire}&deadline=${expire}&fid=${encodeURIComponent(f.format_id)}`
      f.url = url
      if (f.manifest_url !== undefined) f.manifest_url = url
    }
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(raw))
  }
  return dir
}
