/**
 * TransactWriteItems for dynalite, which has none. The chat writes a connection change, its presence record and
 * its room's member count in one transaction on DynamoDB; locally, `npm start` and the tests run on dynalite, so
 * the stack that starts it adds the operation here, with DynamoDB's semantics for what the chat relies on:
 *
 * - all or nothing: every item's condition holds and every write applies, or none does and the answer is a
 *   `TransactionCanceledException` whose `CancellationReasons` name each item's outcome in order;
 * - isolation: no other request of this dynalite runs while a transaction does (a readers–writer lock over every
 *   request: others share it, a transaction holds it alone), so no reader sees half of one;
 * - idempotency: the same `ClientRequestToken` with the same request within 10 minutes answers success again
 *   without applying anything, and with another request `IdempotentParameterMismatchException`;
 * - two operations on one item in one transaction are refused (`ValidationException`), as DynamoDB does.
 *
 * Each item is applied by dynalite itself (PutItem, UpdateItem or DeleteItem with the item's condition, all at once,
 * each returning the item as it was); when an item's condition fails, the items applied are put back as they were.
 * The contract suite runs the same transactions on DynamoDB Local, which implements them natively.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import { PassThrough } from 'node:stream';

type Listener = (request: IncomingMessage, response: ServerResponse) => void;
/** An item in DynamoDB's wire format: attribute name → `{ S: ... }`, `{ N: ... }`, ... */
type Item = Record<string, unknown>;
/** Sends one request, in DynamoDB's wire format, to dynalite's own handler in this process; throws its refusals. */
type Call = (operation: string, input: object) => Promise<Record<string, unknown>>;

/** Dynalite refused a write because its condition failed. */
class ConditionFailed extends Error {}

/**
 * Hands a request to dynalite's handler in this process, as an HTTP request would reach it (no socket, no SDK: a
 * transaction's items cost no more than dynalite's own work), and resolves with its answer.
 */
function callerOf(listeners: readonly Listener[]): Call {
  return (operation, input) =>
    new Promise((resolve, reject) => {
      const request = Object.assign(new PassThrough(), {
        method: 'POST',
        url: '/',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `DynamoDB_20120810.${operation}`,
          'x-amz-date': '20300101T000000Z',
          authorization:
            'AWS4-HMAC-SHA256 Credential=local/20300101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=local',
        },
      });
      const response = {
        statusCode: 200,
        contentType: '',
        setHeader: () => response,
        end: (body?: string | Buffer) => {
          const answer = (body === undefined || body.length === 0 ? {} : JSON.parse(String(body))) as Record<
            string,
            unknown
          >;
          if (response.statusCode === 200) resolve(answer);
          else if (String(answer['__type']).endsWith('ConditionalCheckFailedException'))
            reject(new ConditionFailed('The conditional request failed'));
          else reject(new Error(`dynalite refused ${operation}: ${JSON.stringify(answer)}`));
        },
      };
      for (const listener of listeners)
        listener(request as unknown as IncomingMessage, response as unknown as ServerResponse);
      request.end(Buffer.from(JSON.stringify(input)));
    });
}

const TARGET = 'DynamoDB_20120810.TransactWriteItems';
/** DynamoDB remembers a ClientRequestToken for 10 minutes. */
const TOKEN_LIFE_MS = 10 * 60 * 1000;
const MAX_ITEMS = 100;

interface Expression {
  readonly TableName: string;
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Item;
}

interface TransactItem {
  readonly Put?: Expression & { readonly Item: Item };
  readonly Update?: Expression & { readonly Key: Item; readonly UpdateExpression: string };
  readonly Delete?: Expression & { readonly Key: Item };
  readonly ConditionCheck?: Expression & { readonly Key: Item };
}

/** A readers–writer lock: any number of shared holders, or one exclusive holder. */
class ReadersWriterLock {
  #shared = 0;
  #exclusive = false;
  readonly #waiting: Array<{ exclusive: boolean; grant: () => void }> = [];

  async run<T>(exclusive: boolean, work: () => Promise<T>): Promise<T> {
    await new Promise<void>((grant) => {
      this.#waiting.push({ exclusive, grant });
      this.#next();
    });
    try {
      return await work();
    } finally {
      if (exclusive) this.#exclusive = false;
      else this.#shared -= 1;
      this.#next();
    }
  }

  /** Grants waiters in arrival order: a waiting transaction is not starved by a stream of other requests. */
  #next(): void {
    while (this.#waiting.length > 0 && !this.#exclusive) {
      const first = this.#waiting[0];
      if (first === undefined || (first.exclusive && this.#shared > 0)) return;
      this.#waiting.shift();
      if (first.exclusive) this.#exclusive = true;
      else this.#shared += 1;
      first.grant();
    }
  }
}

class Refused extends Error {
  readonly type: string;
  readonly extra: Record<string, unknown>;

  constructor(type: string, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.type = type;
    this.extra = extra;
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(body));
}

/** The listener's request again, for a listener that reads it as a stream. */
async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Adds TransactWriteItems to a dynalite server (before anything else wraps its listener), answering it with the
 * semantics above; every other request goes to dynalite as it came.
 */
export function addTransactions(server: Server): void {
  const listeners = server.listeners('request') as Listener[];
  server.removeAllListeners('request');
  const lock = new ReadersWriterLock();
  const tokens = new Map<string, { hash: string; at: number }>();
  const keySchemas = new Map<string, ReadonlyArray<{ AttributeName?: string }>>();
  const call = callerOf(listeners);

  const pass = (request: IncomingMessage, response: ServerResponse): void => {
    for (const listener of listeners) listener(request, response);
  };

  const keyOf = async (tableName: string, item: Item): Promise<Item> => {
    let schema = keySchemas.get(tableName);
    if (schema === undefined) {
      const { Table } = (await call('DescribeTable', { TableName: tableName })) as {
        Table?: { KeySchema?: ReadonlyArray<{ AttributeName?: string }> };
      };
      schema = Table?.KeySchema ?? [];
      keySchemas.set(tableName, schema);
    }
    const key: Item = {};
    for (const { AttributeName } of schema) {
      const value = AttributeName === undefined ? undefined : item[AttributeName];
      if (AttributeName === undefined || value === undefined)
        throw new Refused(
          'com.amazon.coral.validate#ValidationException',
          'One of the required keys was not given a value',
        );
      key[AttributeName] = value;
    }
    return key;
  };

  const transact = async (body: Buffer): Promise<void> => {
    const request = JSON.parse(body.toString()) as { TransactItems?: TransactItem[]; ClientRequestToken?: string };
    const items = request.TransactItems ?? [];
    if (items.length === 0 || items.length > MAX_ITEMS)
      throw new Refused(
        'com.amazon.coral.validate#ValidationException',
        `TransactItems must have between 1 and ${MAX_ITEMS} items`,
      );
    const now = Date.now();
    for (const [token, { at }] of tokens) if (at < now - TOKEN_LIFE_MS) tokens.delete(token);
    const hash = createHash('sha256').update(JSON.stringify(items)).digest('hex');
    const token = request.ClientRequestToken;
    if (token !== undefined) {
      const seen = tokens.get(token);
      if (seen !== undefined && seen.hash === hash) return;
      if (seen !== undefined)
        throw new Refused(
          'com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException',
          'The request uses the same client token as a previous, but non-identical request.',
        );
    }
    const steps = await Promise.all(
      items.map(async (item) => {
        const operation = item.Put ?? item.Update ?? item.Delete ?? item.ConditionCheck;
        if (operation === undefined)
          throw new Refused('com.amazon.coral.validate#ValidationException', 'A TransactItem names no operation');
        const key =
          item.Put !== undefined ? await keyOf(item.Put.TableName, item.Put.Item) : (operation as { Key: Item }).Key;
        return { item, table: operation.TableName, key };
      }),
    );
    const identities = new Set(
      steps.map(({ table, key }) =>
        [
          table,
          ...Object.keys(key)
            .sort()
            .map((name) => `${name}=${JSON.stringify(key[name])}`),
        ].join(' '),
      ),
    );
    if (identities.size !== steps.length)
      throw new Refused(
        'com.amazon.coral.validate#ValidationException',
        'Transaction request cannot include multiple operations on one item',
      );
    // Every item at once (they are distinct, and no other request runs meanwhile), each returning its image before.
    const outcomes = await Promise.allSettled(steps.map(({ item, key }) => apply(call, item, key)));
    const applied: Array<{ table: string; key: Item; image: Item | undefined }> = [];
    const reasons: Array<{ Code: string; Message?: string }> = steps.map(() => ({ Code: 'None' }));
    let failed = false;
    let unexpected: unknown;
    outcomes.forEach((outcome, index) => {
      const step = steps[index];
      if (step === undefined) return;
      if (outcome.status === 'fulfilled') applied.push({ table: step.table, key: step.key, image: outcome.value });
      else if (outcome.reason instanceof ConditionFailed) {
        reasons[index] = { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' };
        failed = true;
      } else unexpected ??= outcome.reason;
    });
    if (unexpected !== undefined) {
      await restore(call, applied);
      throw unexpected;
    }
    if (failed) {
      await restore(call, applied);
      throw new Refused(
        'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
        `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map(({ Code }) => Code).join(', ')}]`,
        { CancellationReasons: reasons },
      );
    }
    // A condition check changes nothing: an item its evaluation created or touched is put back as it was.
    await restore(
      call,
      applied.filter((_, index) => steps[index]?.item.ConditionCheck !== undefined),
    );
    if (token !== undefined) tokens.set(token, { hash, at: now });
  };

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.headers['x-amz-target'] !== TARGET) {
      void lock.run(false, () => {
        pass(request, response);
        return new Promise<void>((resolve) => {
          response.once('close', resolve);
          response.once('finish', resolve);
        });
      });
      return;
    }
    void bodyOf(request).then((body) =>
      lock.run(true, async () => {
        try {
          await transact(body);
          send(response, 200, {});
        } catch (error) {
          if (error instanceof Refused)
            send(response, 400, { __type: error.type, message: error.message, ...error.extra });
          else
            send(response, 500, {
              __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
              message: String(error),
            });
        }
      }),
    );
  });
}

/** Applies one item's operation with its condition; returns the item as it was before (undefined: none). */
async function apply(call: Call, item: TransactItem, key: Item): Promise<Item | undefined> {
  const { Put, Update, Delete, ConditionCheck } = item;
  const before = async (operation: string, input: object): Promise<Item | undefined> =>
    (await call(operation, { ...input, ReturnValues: 'ALL_OLD' }))['Attributes'] as Item | undefined;
  if (Put !== undefined) return before('PutItem', Put);
  if (Update !== undefined) return before('UpdateItem', Update);
  if (Delete !== undefined) return before('DeleteItem', Delete);
  if (ConditionCheck === undefined) return undefined;
  // Evaluated by a conditional write that changes nothing it keeps: the item is put back after the transaction.
  const { TableName, ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues } = ConditionCheck;
  return before('UpdateItem', {
    TableName,
    Key: key,
    UpdateExpression: 'REMOVE #localConditionCheck',
    ConditionExpression,
    ExpressionAttributeNames: { ...ExpressionAttributeNames, '#localConditionCheck': 'localConditionCheck' },
    ...(ExpressionAttributeValues !== undefined ? { ExpressionAttributeValues } : {}),
  });
}

async function restore(
  call: Call,
  applied: ReadonlyArray<{ table: string; key: Item; image: Item | undefined }>,
): Promise<void> {
  for (const { table, key, image } of [...applied].reverse()) {
    if (image === undefined) await call('DeleteItem', { TableName: table, Key: key });
    else await call('PutItem', { TableName: table, Item: image });
  }
}
