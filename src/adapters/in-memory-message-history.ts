import type { ChatMessage } from '../domain/frames.ts';
import {
  HISTORY_LENGTH,
  type MessageHistory,
  type NewMessage,
  type ReplayPoint,
  replayAfter,
} from '../domain/message-history.ts';

/** Keeps each room's newest messages in this process's memory: for a single process, and for tests. */
export class InMemoryMessageHistory implements MessageHistory {
  readonly #rooms = new Map<string, { seq: number; messages: ChatMessage[] }>();
  readonly #clientMsgIds = new WeakMap<ChatMessage, string>();

  async append(message: NewMessage, clientMsgId?: string): Promise<ChatMessage> {
    const room = this.#rooms.get(message.room) ?? { seq: 0, messages: [] };
    this.#rooms.set(message.room, room);
    room.seq += 1;
    const numbered: ChatMessage = { ...message, seq: room.seq };
    if (clientMsgId !== undefined) this.#clientMsgIds.set(numbered, clientMsgId);
    room.messages.push(numbered);
    if (room.messages.length > HISTORY_LENGTH) room.messages.splice(0, room.messages.length - HISTORY_LENGTH);
    return numbered;
  }

  async sentAs(room: string, from: string, clientMsgId: string): Promise<ChatMessage | undefined> {
    const kept = this.#rooms.get(room)?.messages ?? [];
    return kept.findLast((message) => message.from === from && this.#clientMsgIds.get(message) === clientMsgId);
  }

  async recent(room: string, from?: ReplayPoint): Promise<readonly ChatMessage[]> {
    return replayAfter(this.#rooms.get(room)?.messages ?? [], from);
  }
}
