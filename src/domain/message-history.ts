import type { ChatMessage } from './frames.ts';

/** How many messages of each room are kept for replay. */
export const HISTORY_LENGTH = 50;

/** The message to store, before the room's sequence number is known. */
export type NewMessage = Omit<ChatMessage, 'seq'>;

/** Keeps the newest {@link HISTORY_LENGTH} messages of each room, numbered in the order they were accepted. */
export interface MessageHistory {
  /** Stores the message under the room's next sequence number and returns it numbered. */
  append(message: NewMessage): Promise<ChatMessage>;
  /**
   * The room's kept messages, oldest first; with `afterId`, only those after that message. An `afterId`
   * that is no longer (or never was) kept yields everything kept, so nothing that is kept is missed.
   */
  recent(room: string, afterId?: string): Promise<readonly ChatMessage[]>;
}
