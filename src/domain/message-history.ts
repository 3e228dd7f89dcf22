import type { ChatMessage } from './frames.ts';

/** How many messages of each room are kept for replay. */
export const HISTORY_LENGTH = 50;

/** The message to store, before the room's sequence number is known. */
export type NewMessage = Omit<ChatMessage, 'seq'>;

/**
 * Where a replay starts. A client that may have received messages out of order names the highest `seq`
 * below which it has every message; `id` is the older form, the last message it saw.
 */
export type ReplayPoint = { readonly seq: number } | { readonly id: string };

/**
 * A message's sender and the name it gave the message (`clientMsgId`): a resend under the same pair is the same
 * message. `sender` is {@link senderKey}'s, so that a resend from a new connection of the same user or page is known.
 */
export interface SentAs {
  readonly sender: string;
  readonly clientMsgId: string;
}

/**
 * Who a resend must come from to be known as one: the signed-in user when the chat authenticates (any of their
 * connections), else the page that sent it, by the `clientId` it gives each message (any connection of that
 * page, which chose it at random and shows it to no one else), else the connection. Prefixed, so that no user id,
 * clientId or connection id can stand for another kind.
 */
export function senderKey(connection: { readonly id: string; readonly userId?: string }, clientId?: string): string {
  if (connection.userId !== undefined) return `user:${connection.userId}`;
  return clientId !== undefined ? `client:${clientId}` : `connection:${connection.id}`;
}

/**
 * The sender of a message a backend service published, for {@link SentAs}: the caller's identity, prefixed as
 * {@link senderKey}'s are, so that no member can stand for a publisher nor a publisher for a member.
 */
export const publisherKey = (publisherId: string): string => `publisher:${publisherId}`;

/**
 * The `from` of a published message: no connection sent it, and API Gateway's connection ids are base64 without
 * `:`, so no connection can have this one. Members tell a published message by its prefix, `publisher:`.
 */
export const publisherFrom = (name: string): string => `${PUBLISHED_PREFIX}${name}`;

/** The prefix of a published message's `from`. */
export const PUBLISHED_PREFIX = 'publisher:';

/** Whether a message's `from` says a backend service published it, rather than a member sent it. */
export const isPublished = (from: string): boolean => from.startsWith(PUBLISHED_PREFIX);

/** Keeps the newest {@link HISTORY_LENGTH} messages of each room, numbered in the order they were accepted. */
export interface MessageHistory {
  /**
   * Stores the message under the room's next sequence number and returns it numbered. With `sentAs`, at most one
   * message is ever stored per sender and clientMsgId, whatever the room, however many appends race: each later or
   * losing append stores nothing and returns the message stored first, as it was stored (in its room), for as long
   * as the history keeps that pair (at least while the message is kept).
   */
  append(message: NewMessage, sentAs?: SentAs): Promise<ChatMessage>;
  /**
   * The room's kept messages, oldest first. From `{ seq }`: only those numbered above it. From `{ id }`:
   * only those after that message; an id that is no longer (or never was) kept yields everything kept, so
   * nothing that is kept is missed.
   */
  recent(room: string, from?: ReplayPoint): Promise<readonly ChatMessage[]>;
}

/** The part of a room's kept messages, oldest first, that a replay from `from` sends. */
export function replayAfter(kept: readonly ChatMessage[], from: ReplayPoint | undefined): readonly ChatMessage[] {
  if (from === undefined) return kept.slice();
  if ('seq' in from) return kept.filter((message) => message.seq > from.seq);
  return kept.slice(kept.findIndex((message) => message.id === from.id) + 1);
}
