import { lookAlikeNameProblem, MAX_NAME_CHARACTERS, UNSAFE_NAME_CHARACTER } from '../../src/domain/display-name.ts';

/** Keep-alive bounds: API Gateway closes a connection idle for 10 minutes; a ping more often than this is waste. */
export const KEEP_ALIVE_DEFAULT_MS = 5 * 60 * 1000;
export const KEEP_ALIVE_MIN_MS = 30 * 1000;
export const KEEP_ALIVE_MAX_MS = 9 * 60 * 1000;

const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 8192;

/** What the page takes from its address: each value checked, and absent when it would not be valid. */
export interface PageParams {
  readonly keepAliveMs: number;
  readonly room: string | undefined;
  readonly name: string | undefined;
  readonly token: string | undefined;
  readonly server: string | undefined;
}

/** Reads the page's query string; a bad value is dropped (or, for the keep-alive, brought within bounds). */
export function readPageParams(search: URLSearchParams): PageParams {
  return {
    keepAliveMs: keepAliveMs(search.get('keepalive')),
    room: validRoom(search.get('room')),
    name: validName(search.get('name')),
    token: validToken(search.get('token')),
    server: validServerUrl(search.get('ws')),
  };
}

/** Whole milliseconds within the bounds; anything else, the default. */
export function keepAliveMs(value: string | null): number {
  if (value === null || !/^\d{1,12}$/.test(value)) return KEEP_ALIVE_DEFAULT_MS;
  return Math.min(KEEP_ALIVE_MAX_MS, Math.max(KEEP_ALIVE_MIN_MS, Number(value)));
}

/** A room name by the server's rule, lower-cased as the server compares it. */
export function validRoom(value: string | null | undefined): string | undefined {
  const room = value?.trim();
  return room !== undefined && ROOM_PATTERN.test(room) ? room.toLowerCase() : undefined;
}

/** Why the server would refuse a display name (already trimmed): its own rules, in its own words. */
export function nameProblem(name: string): string | undefined {
  const length = [...name].length;
  if (length < 1 || length > MAX_NAME_CHARACTERS) return `a name is 1 to ${MAX_NAME_CHARACTERS} characters`;
  if (UNSAFE_NAME_CHARACTER.test(name)) {
    return 'a name cannot contain control, invisible or direction-changing characters';
  }
  return lookAlikeNameProblem(name);
}

/** A display name by the server's rule, trimmed. */
export function validName(value: string | null | undefined): string | undefined {
  const name = value?.trim();
  return name !== undefined && nameProblem(name) === undefined ? name : undefined;
}

/** A token shaped like a JWT (three base64url parts) and of a sane length. */
export function validToken(value: string | null | undefined): string | undefined {
  return value !== null && value !== undefined && value.length <= MAX_TOKEN_LENGTH && TOKEN_PATTERN.test(value)
    ? value
    : undefined;
}

/**
 * A chat server address: a ws:// or wss:// URL without credentials, reduced to its origin and path. The page
 * adds its own query (room, name, token), so whatever query the address came with is dropped.
 */
export function validServerUrl(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'ws:' && url.protocol !== 'wss:') || url.username !== '' || url.password !== '') {
    return undefined;
  }
  return `${url.origin}${url.pathname}`;
}
