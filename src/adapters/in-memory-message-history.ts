import type { ChatMessage } from '../domain/frames.ts';
import { HISTORY_LENGTH, type MessageHistory, type NewMessage } from '../domain/message-history.ts';

/** Keeps each room's newest messages in this process's memory: for a single process, and for tests. */
export class InMemoryMessageHistory implements MessageHistory {
  readonly #rooms = new Map<string, { seq: number; messages: ChatMessage[] }>();

  async append(message: NewMessage): Promise<ChatMessage> {
    const room = this.#rooms.get(message.room) ?? { seq: 0, messages: [] };
    this.#rooms.set(message.room, room);
    room.seq += 1;
    const numbered: ChatMessage = { ...message, seq: room.seq };
    room.messages.push(numbered);
    if (room.messages.length > HISTORY_LENGTH) room.messages.splice(0, room.messages.length - HISTORY_LENGTH);
    return numbered;
  }

  async recent(room: string, afterId?: string): Promise<readonly ChatMessage[]> {
    const messages = this.#rooms.get(room)?.messages ?? [];
    const seen = afterId === undefined ? -1 : messages.findIndex((message) => message.id === afterId);
    return messages.slice(seen + 1);
  }
}
