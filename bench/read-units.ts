/**
 * The DynamoDB read units a `who` frame and a `sendmessage` frame consume, as DynamoDB reports them
 * (ReturnConsumedCapacity TOTAL) on the real adapters with the deployed defaults, each frame counted against its
 * sender's rate budget first as the message function does; and so the read units per unit of rate weight, which a
 * `who` page must not exceed a message's. On a dynalite of its own, or on the DynamoDB endpoint given.
 *
 *   node bench/read-units.ts
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createChatTable, freePort, localDynamoDbClient, startDynalite } from '../scripts/local-stack.ts';
import type { DeliveryOutcome, Messenger } from '../src/domain/messenger.ts';
import { FRAME_WEIGHTS } from '../src/handlers/frames/inbound-frame.ts';
import { chatOnDynamoDb } from './chat-on-dynamodb.ts';

/** Requests that consume read units; every other request consumes write units. */
const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);

export interface FrameReads {
  readonly frame: 'who' | 'sendmessage';
  /** The room's members. */
  readonly members: number;
  readonly readUnits: number;
  /** Rows the room index's Queries returned. */
  readonly rowsListed: number;
  /** Items a BatchGetItem read by their keys (a roster's names). */
  readonly itemsFetched: number;
  readonly queries: number;
  readonly weight: number;
}

export interface ReadUnits {
  /** The first page of a roster. */
  readonly who: FrameReads;
  /** A page whose cursor names the room index's second shard, which a room below its growth does not use. */
  readonly whoOfForgedShard: FrameReads;
  /** The `who` frames that list the whole room, the first page's included, each cursor followed. */
  readonly wholeRoster: { readonly frames: number; readonly readUnits: number; readonly weight: number };
  readonly message: FrameReads;
}

interface Spent {
  read: number;
  listed: number;
  fetched: number;
  queries: number;
}

type CapacityOutput = {
  ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[];
  Items?: unknown[];
  Responses?: Record<string, unknown[]>;
};

/** A `who` in a room of `whoRoom` members and a message to `messageRoom` members, measured on `endpoint`. */
export async function measureReadUnits(
  endpoint: string,
  { whoRoom = 601, messageRoom = 101 }: { whoRoom?: number; messageRoom?: number } = {},
): Promise<ReadUnits> {
  const raw = localDynamoDbClient(endpoint);
  let spent: Spent = { read: 0, listed: 0, fetched: 0, queries: 0 };
  raw.middlewareStack.add(
    (next, context) => async (args) => {
      (args.input as Record<string, unknown>)['ReturnConsumedCapacity'] = 'TOTAL';
      const result = await next(args);
      const name = String(context.commandName).replace(/Command$/, '');
      if (!READS.has(name)) return result;
      const output = result.output as CapacityOutput;
      spent.read += [output.ConsumedCapacity ?? []]
        .flat()
        .reduce((sum, { CapacityUnits = 0 }) => sum + CapacityUnits, 0);
      if (name === 'Query') spent.queries += 1;
      spent.listed += output.Items?.length ?? 0;
      spent.fetched += Object.values(output.Responses ?? {}).reduce((sum, items) => sum + items.length, 0);
      return result;
    },
    { step: 'initialize', name: 'readUnits' },
  );
  const dynamo = DynamoDBDocumentClient.from(raw);
  const tableName = `read-units-${process.pid}-${Date.now()}`;
  let now = Date.UTC(2030, 0, 1);
  const clock = (): Date => new Date((now += 1));
  // The cursor of each roster page sent, for a client that follows them.
  const cursors: (string | undefined)[] = [];
  const messenger: Messenger = {
    send: async (_id, frame): Promise<DeliveryOutcome> => {
      if (frame.type === 'roster') cursors.push(frame.next);
      return 'delivered';
    },
  };
  const { service, rateLimiter, settle } = chatOnDynamoDb(dynamo, tableName, messenger, clock);
  try {
    await createChatTable(endpoint, tableName);
    const fill = async (room: string, count: number): Promise<void> => {
      for (let i = 0; i < count; i += 1) await service.connect(`${room}-${i}`, { room, userId: `${room}-user-${i}` });
    };
    await fill('atrium', whoRoom);
    await fill('kitchen', messageRoom);
    /** One frame, counted against its sender's budget first, each room past its presence window. */
    const measure = async (sender: string, weight: number, handle: () => Promise<unknown>): Promise<Spent> => {
      now += 2000;
      await settle();
      now += 2000;
      spent = { read: 0, listed: 0, fetched: 0, queries: 0 };
      await rateLimiter.admit(sender, weight);
      await handle();
      return spent;
    };
    const row = (frame: 'who' | 'sendmessage', members: number, { read, listed, fetched, queries }: Spent) => ({
      frame,
      members,
      readUnits: read,
      rowsListed: listed,
      itemsFetched: fetched,
      queries,
      weight: FRAME_WEIGHTS[frame],
    });
    const asker = 'atrium-0';
    let frames = 0;
    let rosterUnits = 0;
    let first: Spent | undefined;
    for (let cursor: string | undefined, more = true; more; more = cursor !== undefined) {
      const page = await measure(asker, FRAME_WEIGHTS.who, () => service.who(asker, cursor));
      first ??= page;
      frames += 1;
      rosterUnits += page.read;
      cursor = cursors.at(-1);
    }
    const forged = await measure(asker, FRAME_WEIGHTS.who, () => service.who(asker, '1'));
    const message = await measure('kitchen-0', FRAME_WEIGHTS.sendmessage, () =>
      service.post('kitchen-0', 'dinner is ready', 'kitchen-0.1'),
    );
    return {
      who: row('who', whoRoom, first ?? spent),
      whoOfForgedShard: row('who', whoRoom, forged),
      wholeRoster: { frames, readUnits: rosterUnits, weight: frames * FRAME_WEIGHTS.who },
      message: row('sendmessage', messageRoom, message),
    };
  } finally {
    raw.destroy();
  }
}

if (process.argv[1] === import.meta.filename) {
  const { endpoint, server } = await startDynalite(await freePort());
  try {
    const { who, whoOfForgedShard, wholeRoster, message } = await measureReadUnits(endpoint);
    console.log(
      '| frame | room | read units | Queries | rows listed | names fetched | weight | read units per weight |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    const rows: [string, FrameReads][] = [
      ['`who`, first page', who],
      ['`who`, cursor `1` (a shard the room does not use)', whoOfForgedShard],
      ['`sendmessage`', message],
    ];
    for (const [what, r] of rows) {
      console.log(
        `| ${what} | ${r.members} | ${r.readUnits} | ${r.queries} | ${r.rowsListed} | ${r.itemsFetched} | ${r.weight} | ${(r.readUnits / r.weight).toFixed(2)} |`,
      );
    }
    console.log(
      `\nThe whole roster of ${who.members}: ${wholeRoster.frames} \`who\` frames, ${wholeRoster.readUnits} read units, weight ${wholeRoster.weight}.`,
    );
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
