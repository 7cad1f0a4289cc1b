// Shared URL helpers for platform detectors. Hosts are compared on the parsed
// hostname (exact, or a proper subdomain), never by substring.

export function isHttpUrl (url: URL): boolean {
  return url.protocol === 'https:' || url.protocol === 'http:'
}

export function hostIn (url: URL, domains: readonly string[]): boolean {
  if (!isHttpUrl(url)) return false
  const host = url.hostname.endsWith('.') ? url.hostname.slice(0, -1) : url.hostname
  return domains.some(d => host === d || host.endsWith('.' + d))
}

export function hostIs (url: URL, hosts: readonly string[]): boolean {
  if (!isHttpUrl(url)) return false
  const host = url.hostname.endsWith('.') ? url.hostname.slice(0, -1) : url.hostname
  return hosts.includes(host)
}

export function pathSegments (url: URL): string[] {
  return url.pathname.split('/').filter(s => s !== '')
}

export function matchWhole (pattern: RegExp, value: string | null | undefined): string | null {
  return value != null && pattern.test(value) ? value : null
}
