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

/** Keeps the newest {@link HISTORY_LENGTH} messages of each room, numbered in the order they were accepted. */
export interface MessageHistory {
  /**
   * Stores the message under the room's next sequence number and returns it numbered. With `clientMsgId` (the
   * name its sender gave it), {@link sentAs} finds it while it is kept.
   */
  append(message: NewMessage, clientMsgId?: string): Promise<ChatMessage>;
  /** The kept message of `room` that connection `from` sent with this `clientMsgId`, if there is one. */
  sentAs(room: string, from: string, clientMsgId: string): Promise<ChatMessage | undefined>;
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
