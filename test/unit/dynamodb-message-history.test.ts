import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDbMessageHistory } from '../../src/adapters/dynamodb-message-history.ts';
import type { ChatMessage } from '../../src/domain/frames.ts';
import type { NewMessage } from '../../src/domain/message-history.ts';

const dynamo = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));

const NOW = new Date(1_900_000_000_999);
const NOW_SECONDS = 1_900_000_000;
const RETENTION_SECONDS = 3600;

function history(): DynamoDbMessageHistory {
  return new DynamoDbMessageHistory(client, {
    tableName: 'chat-table',
    retentionSeconds: RETENTION_SECONDS,
    now: () => NOW,
  });
}

const hello: NewMessage = {
  type: 'message',
  id: 'msg-1',
  room: 'red',
  from: 'A',
  name: 'Ann',
  text: 'hello',
  sentAt: '2030-01-01T00:00:00.000Z',
};

function numbered(seq: number, id = `msg-${seq}`): ChatMessage {
  return { ...hello, id, seq, text: `message ${seq}` };
}

/** A stored slot item as the adapter writes it. */
function slotItem(message: ChatMessage): Record<string, unknown> {
  return {
    pk: `history#${message.room}`,
    sk: `slot#${String(message.seq % 60).padStart(2, '0')}`,
    ...message,
    expiresAt: NOW_SECONDS + RETENTION_SECONDS,
  };
}

function counterAt(seq: number): void {
  dynamo.on(UpdateCommand).resolves({ Attributes: { seq } });
}

function putInputs() {
  return dynamo.commandCalls(PutCommand).map((call) => call.args[0].input);
}

function queryInputs() {
  return dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
}

beforeEach(() => {
  dynamo.reset();
});

afterAll(() => {
  dynamo.restore();
});

describe('DynamoDbMessageHistory', () => {
  describe('append', () => {
    it("numbers the message by adding one to the room's sequence counter", async () => {
      counterAt(1);
      dynamo.on(PutCommand).resolves({});

      await history().append(hello);

      expect(dynamo.commandCalls(UpdateCommand).map((call) => call.args[0].input)).toEqual([
        expect.objectContaining({
          TableName: 'chat-table',
          Key: { pk: 'room#red', sk: 'sequence' },
          UpdateExpression: expect.stringMatching(/^ADD seq :one\b/),
          ExpressionAttributeValues: expect.objectContaining({ ':one': 1 }),
          ReturnValues: 'UPDATED_NEW',
        }),
      ]);
    });

    it('keeps the counter for ever, removing the expiry an older counter may carry', async () => {
      counterAt(1);
      dynamo.on(PutCommand).resolves({});

      await history().append(hello);

      const updates = dynamo.commandCalls(UpdateCommand).map((call) => call.args[0].input.UpdateExpression);
      expect(updates).toEqual(['ADD seq :one REMOVE expiresAt']);
    });

    it("puts the numbered message in its slot of the room's history, expiring after the retention, unless a newer message holds the slot", async () => {
      counterAt(7);
      dynamo.on(PutCommand).resolves({});

      await history().append(hello);

      expect(putInputs()).toEqual([
        {
          TableName: 'chat-table',
          Item: {
            pk: 'history#red',
            sk: 'slot#07',
            type: 'message',
            id: 'msg-1',
            seq: 7,
            room: 'red',
            from: 'A',
            name: 'Ann',
            text: 'hello',
            sentAt: '2030-01-01T00:00:00.000Z',
            expiresAt: NOW_SECONDS + RETENTION_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(seq) OR seq < :seq OR expiresAt <= :now',
          ExpressionAttributeValues: { ':seq': 7, ':now': NOW_SECONDS },
        },
      ]);
    });

    it.each([
      { seq: 1, slot: 'slot#01' },
      { seq: 50, slot: 'slot#50' },
      { seq: 59, slot: 'slot#59' },
      { seq: 60, slot: 'slot#00' },
      { seq: 67, slot: 'slot#07' },
      { seq: 1234, slot: 'slot#34' },
    ])('puts message $seq in $slot of a ring of 60', async ({ seq, slot }) => {
      counterAt(seq);
      dynamo.on(PutCommand).resolves({});

      await history().append(hello);

      expect(putInputs().map((input) => input.Item?.['sk'])).toEqual([slot]);
    });

    it('returns the message with its number', async () => {
      counterAt(7);
      dynamo.on(PutCommand).resolves({});

      expect(await history().append(hello)).toEqual({ ...hello, seq: 7 });
    });

    it('still returns the numbered message when a newer message already holds its slot', async () => {
      counterAt(7);
      dynamo
        .on(PutCommand)
        .rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));

      expect(await history().append(hello)).toEqual({ ...hello, seq: 7 });
    });

    it('rethrows any other failure to store the message', async () => {
      counterAt(7);
      dynamo.on(PutCommand).rejects(new Error('ProvisionedThroughputExceededException'));

      await expect(history().append(hello)).rejects.toThrow('ProvisionedThroughputExceededException');
    });

    it('throws and stores nothing when the counter returns no number', async () => {
      dynamo.on(UpdateCommand).resolves({});

      await expect(history().append(hello)).rejects.toThrow('room red');
      expect(putInputs()).toEqual([]);
    });
  });

  describe('append with a sender and clientMsgId', () => {
    const sentAs = { sender: 'user:ann', clientMsgId: 'c-1' };
    const claimKey = { pk: 'sent#user:ann', sk: 'msg#c-1' };

    /** The transaction as DynamoDB cancels it: the claim's condition failed, and the slot's if `slotToo`. */
    const cancelled = (slotToo = false) =>
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [
          { Code: 'ConditionalCheckFailed' },
          { Code: slotToo ? 'ConditionalCheckFailed' : 'None' },
        ],
      });
    const transactions = () => dynamo.commandCalls(TransactWriteCommand).map((call) => call.args[0].input);

    it('numbers the message, then claims the clientMsgId and keeps the message in its slot in one transaction, reading nothing', async () => {
      counterAt(7);
      dynamo.on(TransactWriteCommand).resolves({});

      expect(await history().append(hello, sentAs)).toEqual({ ...hello, seq: 7 });
      expect({
        gets: dynamo.commandCalls(GetCommand).length,
        puts: putInputs().length,
        transaction: transactions().map(({ TransactItems }) =>
          TransactItems?.map(({ Put }) => ({
            pk: Put?.Item?.['pk'],
            sk: Put?.Item?.['sk'],
            seq: Put?.Item?.['seq'],
            ConditionExpression: Put?.ConditionExpression,
          })),
        ),
      }).toEqual({
        gets: 0,
        puts: 0,
        transaction: [
          [
            { ...claimKey, seq: 7, ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now' },
            { pk: 'history#red', sk: 'slot#07', seq: 7, ConditionExpression: expect.stringContaining('seq < :seq') },
          ],
        ],
      });
    });

    it('returns the message claimed before (a resend, or a racing append that won) read strongly consistently, its own number left a gap', async () => {
      const earlier = { ...claimKey, ...numbered(3, 'first'), expiresAt: NOW_SECONDS + 10 };
      counterAt(7);
      dynamo.on(TransactWriteCommand).rejects(cancelled());
      dynamo.on(GetCommand).resolves({ Item: earlier });

      expect({
        returned: await history().append(hello, sentAs),
        gets: dynamo.commandCalls(GetCommand).map((call) => call.args[0].input),
        puts: putInputs().length,
      }).toEqual({
        returned: numbered(3, 'first'),
        gets: [{ TableName: 'chat-table', Key: claimKey, ConsistentRead: true }],
        puts: 0,
      });
    });

    it('takes an expired claim for free, as TTL deletion may lag: the claim condition allows it', async () => {
      counterAt(7);
      dynamo.on(TransactWriteCommand).resolves({});

      expect(await history().append(hello, sentAs)).toEqual({ ...hello, seq: 7 });
      expect(transactions()[0]?.TransactItems?.[0]?.Put?.ExpressionAttributeValues).toEqual({ ':now': NOW_SECONDS });
    });

    it('claims alone when only the slot refused (a message a whole ring newer holds it)', async () => {
      counterAt(7);
      dynamo.on(TransactWriteCommand).rejects(
        new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: {},
          CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }],
        }),
      );
      dynamo.on(PutCommand).resolves({});

      expect(await history().append(hello, sentAs)).toEqual({ ...hello, seq: 7 });
      expect(putInputs().map(({ Item }) => Item?.['pk'])).toEqual([claimKey.pk]);
    });

    it('throws when the claim was refused and is not there to read', async () => {
      counterAt(7);
      dynamo.on(TransactWriteCommand).rejects(cancelled(true));
      dynamo.on(GetCommand).resolves({});

      await expect(history().append(hello, sentAs)).rejects.toThrow('was refused, and is not there');
    });

    it('rethrows a transaction cancelled for another reason', async () => {
      counterAt(7);
      dynamo.on(TransactWriteCommand).rejects(
        new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: {},
          CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
        }),
      );

      await expect(history().append(hello, sentAs)).rejects.toThrow('Transaction cancelled');
    });
  });

  describe('recent', () => {
    it("queries the room's history partition for items that have not expired, and never scans", async () => {
      dynamo.on(QueryCommand).resolves({ Items: [] });

      await history().recent('red');

      expect({ queries: queryInputs(), scans: dynamo.commandCalls(ScanCommand).length }).toEqual({
        queries: [
          expect.objectContaining({
            TableName: 'chat-table',
            KeyConditionExpression: 'pk = :pk',
            FilterExpression: 'expiresAt > :now',
            ExpressionAttributeValues: { ':pk': 'history#red', ':now': NOW_SECONDS },
          }),
        ],
        scans: 0,
      });
    });

    it('returns the messages ordered by seq, not by slot', async () => {
      // After the ring wraps, slot#00..slot#06 hold messages 51..57 and sort before slot#07..slot#49.
      const messages = Array.from({ length: 50 }, (_, i) => numbered(i + 8));
      const bySlot = [...messages].sort((a, b) => (a.seq % 50) - (b.seq % 50));
      dynamo.on(QueryCommand).resolves({ Items: bySlot.map(slotItem) });

      const recent = await history().recent('red');

      expect(recent.map((m) => m.seq)).toEqual(messages.map((m) => m.seq));
    });

    it('returns each message as the chat message it stored, without its key or expiry', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [slotItem(numbered(1))] });

      expect(await history().recent('red')).toEqual([numbered(1)]);
    });

    it('returns only the messages after the id it is given', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [3, 1, 4, 2].map((seq) => slotItem(numbered(seq))) });

      const recent = await history().recent('red', { id: 'msg-2' });

      expect(recent.map((m) => m.seq)).toEqual([3, 4]);
    });

    it('returns everything kept after an id it does not keep', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [2, 1].map((seq) => slotItem(numbered(seq))) });

      const recent = await history().recent('red', { id: 'long-gone' });

      expect(recent.map((m) => m.seq)).toEqual([1, 2]);
    });

    it('follows LastEvaluatedKey until there is none', async () => {
      const firstKey = { pk: 'history#red', sk: 'slot#01' };
      const answers = [
        { Items: [slotItem(numbered(1))], LastEvaluatedKey: firstKey },
        { Items: [slotItem(numbered(2))] },
      ];
      // Read at call time: the paginator reuses one input object from page to page.
      const startKeys: unknown[] = [];
      dynamo.on(QueryCommand).callsFake((input: { ExclusiveStartKey?: unknown }) => {
        startKeys.push(input.ExclusiveStartKey);
        return answers.shift();
      });

      const recent = await history().recent('red');

      expect({
        startKeys,
        seqs: recent.map((m) => m.seq),
      }).toEqual({ startKeys: [undefined, firstKey], seqs: [1, 2] });
    });

    it('leaves out an item that is not a whole message', async () => {
      dynamo.on(QueryCommand).resolves({ Items: [slotItem(numbered(1)), { ...slotItem(numbered(2)), text: 5 }] });

      expect((await history().recent('red')).map((m) => m.seq)).toEqual([1]);
    });

    it('returns nothing for a room with no items', async () => {
      dynamo.on(QueryCommand).resolves({});

      expect(await history().recent('red')).toEqual([]);
    });
  });
});
