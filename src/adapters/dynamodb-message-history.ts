import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ChatMessage } from '../domain/frames.ts';
import { historyPartition, historySlotKey, sentKey, sequenceKey, type TableKey } from './dynamodb-keys.ts';
import {
  HISTORY_LENGTH,
  type MessageHistory,
  type NewMessage,
  type ReplayPoint,
  replayAfter,
  type SentAs,
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
 * filtered on read. A message sent with a clientMsgId is claimed by one conditional item per sender and clientMsgId
 * (holding the message, kept as long as messages are), written in one transaction with its slot, so racing appends
 * and resends store it once.
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

  async append(message: NewMessage, sentAs?: SentAs): Promise<ChatMessage> {
    const numbered = await this.#number(message);
    const expiresAt = this.#nowSeconds() + this.#retentionSeconds;
    if (sentAs === undefined) {
      await this.#keep(numbered, expiresAt);
      return numbered;
    }
    return this.#claim(sentKey(sentAs.sender, sentAs.clientMsgId), numbered, expiresAt);
  }

  /** The message with the room's next sequence number. */
  async #number(message: NewMessage): Promise<ChatMessage> {
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
    return { ...message, seq };
  }

  /**
   * Claims the sender's clientMsgId for `numbered` and keeps it in its slot, in one transaction: a claim is never
   * there without its message kept. When a resend or a racing append claimed it first, nothing is written and that
   * one's message is returned: its number stays a gap, which the pages fill from history like any other. One
   * transaction after the number, instead of a read before it and two writes after: two round trips, not four.
   */
  async #claim(key: TableKey, numbered: ChatMessage, expiresAt: number): Promise<ChatMessage> {
    try {
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: this.#claimPut(key, numbered, expiresAt) },
            { Put: this.#slotPut(numbered, expiresAt) },
          ],
        }),
      );
      return numbered;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [claim, slot] = error.CancellationReasons ?? [];
      if (claim?.Code !== 'ConditionalCheckFailed') {
        // Only the slot refused: a message more than the ring's length newer holds it. Claimed all the same.
        if (slot?.Code === 'ConditionalCheckFailed') return this.#claimAlone(key, numbered, expiresAt);
        throw error;
      }
    }
    return this.#winner(key);
  }

  /** The claim of a message whose slot a much newer message holds already; the winner's message if it lost. */
  async #claimAlone(key: TableKey, numbered: ChatMessage, expiresAt: number): Promise<ChatMessage> {
    try {
      await this.#client.send(new PutCommand(this.#claimPut(key, numbered, expiresAt)));
      return numbered;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    return this.#winner(key);
  }

  /** The write of a claim, refused while an unexpired claim holds the key. */
  #claimPut(key: TableKey, numbered: ChatMessage, expiresAt: number) {
    return {
      TableName: this.#tableName,
      Item: { ...key, ...numbered, expiresAt },
      // TTL deletion lags up to 48 h: a claim past its expiry is free again.
      ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
      ExpressionAttributeValues: { ':now': this.#nowSeconds() },
    };
  }

  /** The message of the claim that refused this one's: it must be there. */
  async #winner(key: TableKey): Promise<ChatMessage> {
    const winner = await this.#sent(key);
    if (winner === undefined) throw new Error(`the claim of ${key.pk} ${key.sk} was refused, and is not there`);
    return winner;
  }

  /** The unexpired message claimed under `key`. */
  async #sent(key: TableKey): Promise<ChatMessage | undefined> {
    // Strongly consistent: a claim written a moment ago by a racing append must be seen.
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: key, ConsistentRead: true }),
    );
    const message = Item === undefined ? undefined : toMessage(Item);
    const expiresAt = Item?.['expiresAt'];
    if (message === undefined || typeof expiresAt !== 'number' || expiresAt <= this.#nowSeconds()) return undefined;
    return message;
  }

  /** Puts a numbered message in its slot of the room's ring, unless a newer message holds the slot. */
  async #keep(numbered: ChatMessage, expiresAt: number): Promise<void> {
    try {
      await this.#client.send(new PutCommand(this.#slotPut(numbered, expiresAt)));
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** The write of a numbered message in its slot, refused when a newer message holds the slot. */
  #slotPut(
    numbered: ChatMessage,
    expiresAt: number,
  ): {
    TableName: string;
    Item: Record<string, unknown>;
    ConditionExpression: string;
    ExpressionAttributeValues: Record<string, unknown>;
  } {
    return {
      TableName: this.#tableName,
      Item: { ...historySlotKey(numbered.room, numbered.seq % RING_SLOTS), ...numbered, expiresAt },
      // A write that arrives more than 50 messages late must not overwrite a newer message's slot.
      ConditionExpression: 'attribute_not_exists(seq) OR seq < :seq OR expiresAt <= :now',
      ExpressionAttributeValues: { ':seq': numbered.seq, ':now': this.#nowSeconds() },
    };
  }

  async recent(room: string, from?: ReplayPoint): Promise<readonly ChatMessage[]> {
    const messages: ChatMessage[] = [];
    // The ring is one partition of at most RING_SLOTS items: one Query reads it.
    const pages = paginateQuery(
      { client: this.#client },
      {
        TableName: this.#tableName,
        KeyConditionExpression: 'pk = :pk',
        FilterExpression: 'expiresAt > :now',
        // A message stored a moment before a hello must be found.
        ConsistentRead: true,
        ExpressionAttributeValues: { ':pk': historyPartition(room), ':now': this.#nowSeconds() },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const message = toMessage(item);
        if (message !== undefined) messages.push(message);
      }
    }
    messages.sort((a, b) => a.seq - b.seq);
    messages.splice(0, Math.max(0, messages.length - HISTORY_LENGTH));
    return replayAfter(messages, from);
  }

  #nowSeconds(): number {
    return Math.floor(this.#now().getTime() / 1000);
  }
}
