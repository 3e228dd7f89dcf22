import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, paginateQuery, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ChatMessage } from '../domain/frames.ts';
import { historyPartition, historySlotKey, sequenceKey } from './dynamodb-keys.ts';
import {
  HISTORY_LENGTH,
  type MessageHistory,
  type NewMessage,
  type ReplayPoint,
  replayAfter,
} from '../domain/message-history.ts';

/**
 * Slots in a room's ring: more than the history keeps, so that a gap in the numbers (a counter increment
 * the SDK replayed after its answer was lost) never pushes one of the newest messages out of the ring.
 */
const RING_SLOTS = HISTORY_LENGTH + 10;

export interface DynamoDbMessageHistoryOptions {
  readonly tableName: string;
  /** How long a kept message lives before the table's TTL removes it. */
  readonly retentionSeconds: number;
  readonly now?: () => Date;
}

type Item = Record<string, unknown>;

function toMessage(item: Item): ChatMessage | undefined {
  const { id, seq, room, from, name, userId, text, sentAt } = item;
  if (typeof id !== 'string' || typeof seq !== 'number' || typeof room !== 'string') return undefined;
  if (typeof from !== 'string' || typeof name !== 'string' || typeof text !== 'string' || typeof sentAt !== 'string') {
    return undefined;
  }
  return {
    type: 'message',
    id,
    seq,
    room,
    from,
    name,
    ...(typeof userId === 'string' ? { userId } : {}),
    text,
    sentAt,
  };
}

/**
 * Keeps each room's newest messages as a ring of slots in one partition: an atomic counter numbers each
 * message, and message n overwrites slot n mod {@link RING_SLOTS}, so a room never holds more than that many items, a read is one
 * Query, and it returns the newest {@link HISTORY_LENGTH}. Items expire through the table's TTL and are
 * filtered on read.
 */
export class DynamoDbMessageHistory implements MessageHistory {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #retentionSeconds: number;
  readonly #now: () => Date;

  constructor(client: DynamoDBDocumentClient, options: DynamoDbMessageHistoryOptions) {
    this.#client = client;
    this.#tableName = options.tableName;
    this.#retentionSeconds = options.retentionSeconds;
    this.#now = options.now ?? (() => new Date());
  }

  async append(message: NewMessage, clientMsgId?: string): Promise<ChatMessage> {
    const now = this.#nowSeconds();
    const expiresAt = now + this.#retentionSeconds;
    const { Attributes } = await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: sequenceKey(message.room),
        // The counter never expires: a page may keep its afterSeq for any time, and a count restarted at 1 would
        // number new messages below it, so that page's replay would skip them. REMOVE drops the expiry that
        // counters written before kept. One item per room ever written to is the price.
        UpdateExpression: 'ADD seq :one REMOVE expiresAt',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const seq = Attributes?.['seq'];
    if (typeof seq !== 'number') throw new Error(`the sequence counter of room ${message.room} returned no number`);
    const numbered: ChatMessage = { ...message, seq };
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            ...historySlotKey(message.room, seq % RING_SLOTS),
            ...numbered,
            ...(clientMsgId !== undefined ? { clientMsgId } : {}),
            expiresAt,
          },
          // A write that arrives more than 50 messages late must not overwrite a newer message's slot.
          ConditionExpression: 'attribute_not_exists(seq) OR seq < :seq OR expiresAt <= :now',
          ExpressionAttributeValues: { ':seq': seq, ':now': now },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    return numbered;
  }

  async sentAs(room: string, from: string, clientMsgId: string): Promise<ChatMessage | undefined> {
    // The ring is one partition of at most RING_SLOTS items: one Query, filtered by DynamoDB, finds the message.
    const sent = await this.#kept(room, {
      FilterExpression: 'expiresAt > :now AND #from = :from AND clientMsgId = :clientMsgId',
      ExpressionAttributeNames: { '#from': 'from' },
      ExpressionAttributeValues: { ':from': from, ':clientMsgId': clientMsgId },
    });
    return sent.at(-1);
  }

  async recent(room: string, from?: ReplayPoint): Promise<readonly ChatMessage[]> {
    const messages = await this.#kept(room, { FilterExpression: 'expiresAt > :now' });
    messages.splice(0, Math.max(0, messages.length - HISTORY_LENGTH));
    return replayAfter(messages, from);
  }

  /** The room's unexpired slots that `filter` keeps, oldest first. */
  async #kept(
    room: string,
    filter: {
      FilterExpression: string;
      ExpressionAttributeNames?: Record<string, string>;
      ExpressionAttributeValues?: Record<string, string>;
    },
  ): Promise<ChatMessage[]> {
    const messages: ChatMessage[] = [];
    const pages = paginateQuery(
      { client: this.#client },
      {
        TableName: this.#tableName,
        KeyConditionExpression: 'pk = :pk',
        ...filter,
        // A message stored a moment before a hello (or a resend) must be found.
        ConsistentRead: true,
        ExpressionAttributeValues: {
          ':pk': historyPartition(room),
          ':now': this.#nowSeconds(),
          ...filter.ExpressionAttributeValues,
        },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const message = toMessage(item);
        if (message !== undefined) messages.push(message);
      }
    }
    messages.sort((a, b) => a.seq - b.seq);
    return messages;
  }

  #nowSeconds(): number {
    return Math.floor(this.#now().getTime() / 1000);
  }
}
