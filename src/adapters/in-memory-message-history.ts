import type { ChatMessage } from '../domain/frames.ts';
import {
  HISTORY_LENGTH,
  type MessageHistory,
  type NewMessage,
  type ReplayPoint,
  replayAfter,
  type SentAs,
} from '../domain/message-history.ts';

/** Keeps each room's newest messages in this process's memory: for a single process, and for tests. */
export class InMemoryMessageHistory implements MessageHistory {
  readonly #rooms = new Map<string, { seq: number; messages: ChatMessage[] }>();
  /** Each kept message stored with a clientMsgId, by room, sender and clientMsgId; forgotten when it is dropped. */
  readonly #sent = new Map<string, ChatMessage>();
  readonly #sentKeys = new WeakMap<ChatMessage, string>();

  async append(message: NewMessage, sentAs?: SentAs): Promise<ChatMessage> {
    // Nothing below awaits, so a check and its append are one step: racing appends cannot both store.
    const sentKey = sentAs === undefined ? undefined : JSON.stringify([sentAs.sender, sentAs.clientMsgId]);
    const sent = sentKey === undefined ? undefined : this.#sent.get(sentKey);
    if (sent !== undefined) return sent;
    const room = this.#rooms.get(message.room) ?? { seq: 0, messages: [] };
    this.#rooms.set(message.room, room);
    room.seq += 1;
    const numbered: ChatMessage = { ...message, seq: room.seq };
    if (sentKey !== undefined) {
      this.#sent.set(sentKey, numbered);
      this.#sentKeys.set(numbered, sentKey);
    }
    room.messages.push(numbered);
    for (const dropped of room.messages.splice(0, Math.max(0, room.messages.length - HISTORY_LENGTH))) {
      const key = this.#sentKeys.get(dropped);
      if (key !== undefined) this.#sent.delete(key);
    }
    return numbered;
  }

  async recent(room: string, from?: ReplayPoint): Promise<readonly ChatMessage[]> {
    return replayAfter(this.#rooms.get(room)?.messages ?? [], from);
  }
}
