// Who a download task belongs to. A task records its owner (an API key's id,
// or the digest of an anonymous client's owner token; never the key or token
// itself) and the client it counts against for DOWNLOAD_TASKS_PER_CLIENT (the
// key, or a digest of the client IP: tokens are free to mint, addresses are not).
// Ids are [a-z0-9-] only: the files store uses them as folder names.
import { createHash, randomBytes } from 'node:crypto'
import { AppError } from '../errors.ts'
import type { TaskClient, TaskRecord } from './types.ts'

export const TASK_TOKEN_HEADER = 'x-task-token'
export const OWNER_TOKEN = /^[A-Za-z0-9_-]{32,128}$/

// The caller of one request, as the routes work it out.
export interface Caller {
  // null: an anonymous client without a token yet (one is minted when it creates a task)
  owner: string | null
  // the client IP's or key's id, for the per-client cap
  quota: string
  admin: boolean
}

const digest = (text: string, chars: number): string => createHash('sha256').update(text).digest('hex').slice(0, chars)

export const newOwnerToken = (): string => randomBytes(32).toString('base64url')

export const keyOwner = (keyId: string): string => `k-${keyId.toLowerCase().replace(/[^0-9a-f]/g, '')}`

export const tokenOwner = (token: string): string => `t-${digest(`vidgate-task-token:${token}`, 32)}`

export const ipQuota = (ip: string): string => `i-${digest(`vidgate-client-ip:${ip}`, 24)}`

// An API key identifies the caller; otherwise the X-Task-Token it sends, if any.
export function callerOf (who: { keyId: string | null, ip: string, admin: boolean }, token: string | undefined): Caller {
  if (who.keyId !== null) {
    const id = keyOwner(who.keyId)
    return { owner: id, quota: id, admin: who.admin }
  }
  const quota = ipQuota(who.ip)
  if (token === undefined || token === '') return { owner: null, quota, admin: who.admin }
  if (!OWNER_TOKEN.test(token)) {
    throw new AppError('INVALID_INPUT', 'X-Task-Token is not a valid owner token', { detail: 'send the owner_token a task was created with (32-128 characters of A-Z, a-z, 0-9, _ and -)' })
  }
  return { owner: tokenOwner(token), quota, admin: who.admin }
}

// the same from a request's (lower-case) headers
export function callerFrom (who: { keyId: string | null, ip: string, admin: boolean }, headers: Readonly<Record<string, string | undefined>>): Caller {
  return callerOf(who, headers[TASK_TOKEN_HEADER])
}

export const clientOf = (caller: Caller & { owner: string }): TaskClient => ({ owner: caller.owner, quota: caller.quota })

// Tasks from before owners were recorded belong to nobody: only admins see them.
export function visibleTo (task: TaskRecord, caller: Caller): boolean {
  return caller.admin || (caller.owner !== null && task.client !== null && task.client.owner === caller.owner)
}

// "<base>_<task id>.<ext>" (names.ts finalName) → the task id
export function taskIdOfFile (name: string): string | null {
  const m = /_([A-Za-z0-9_-]{16})\.[A-Za-z0-9]{1,8}$/.exec(name)
  return m === null ? null : m[1] ?? null
}

// The owner a creating caller gets: its key, the token it sent, or a new token.
// `token` is what the response hands back (null for a key).
export function ownerFor (who: { keyId: string | null, ip: string, admin: boolean }, sent: string | undefined): { caller: Caller & { owner: string }, token: string | null } {
  const caller = callerOf(who, sent)
  if (caller.owner !== null) return { caller: { ...caller, owner: caller.owner }, token: who.keyId === null ? sent ?? null : null }
  const token = newOwnerToken()
  return { caller: { ...caller, owner: tokenOwner(token) }, token }
}
