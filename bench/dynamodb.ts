/**
 * Part 3: DynamoDB capacity per connect, disconnect and broadcast listing, through the real
 * DynamoDbConnectionRepository, with ReturnConsumedCapacity added to every request it sends.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoDBClient, ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SerializeHandler, SerializeHandlerArguments, SerializeHandlerOutput } from '@smithy/types';
import { DynamoDbConnectionRepository } from '../src/adapters/dynamodb-connection-repository.ts';
import { CONNECTION_LIFETIME_MS } from '../src/domain/chat-service.ts';
import { type Connection, DEFAULT_ROOM } from '../src/domain/connection.ts';
import { localDynamoDbClient, projectRoot } from '../scripts/local-stack.ts';
import { type DynamoDbTarget, startDynaliteTarget, startDynamoDbLocalTarget } from '../test/support/dynamodb.ts';
import { mean } from './stats.ts';

/** A consumed-capacity tally of one kind of request. */
interface Tally {
  requests: number;
  units: number[];
}

/** An attribute as the document client passes it (a plain string or number) or marshalled (`{S}`/`{N}`). */
type Attribute = string | number | { readonly S?: string; readonly N?: string };

class CapacityRecorder {
  readonly byOperation = new Map<string, Tally>();
  missing = 0;
  /** The first item the repository wrote, as sent to DynamoDB: the bench sizes rows from it. */
  firstItem: Record<string, Attribute> | undefined;

  reset(): void {
    this.byOperation.clear();
    this.missing = 0;
  }

  record(operation: string, units: number | undefined): void {
    const tally = this.byOperation.get(operation) ?? { requests: 0, units: [] };
    tally.requests += 1;
    if (units === undefined) this.missing += 1;
    else tally.units.push(units);
    this.byOperation.set(operation, tally);
  }
}

interface CapacityShape {
  readonly ConsumedCapacity?: { readonly CapacityUnits?: number };
}

/** A client whose every request asks for ReturnConsumedCapacity TOTAL and reports it to the recorder. */
function recordingClient(endpoint: string, recorder: CapacityRecorder): DynamoDBClient {
  const client = localDynamoDbClient(endpoint);
  client.middlewareStack.add(
    (next: SerializeHandler<ServiceInputTypes, ServiceOutputTypes>, context) =>
      async (
        args: SerializeHandlerArguments<ServiceInputTypes>,
      ): Promise<SerializeHandlerOutput<ServiceOutputTypes>> => {
        const input = { ...args.input, ReturnConsumedCapacity: 'TOTAL' } as ServiceInputTypes;
        const item = (input as { Item?: Record<string, Attribute> }).Item;
        if (context.commandName === 'PutItemCommand' && item !== undefined) recorder.firstItem ??= item;
        const result = await next({ ...args, input });
        const output = result.output as CapacityShape;
        recorder.record(String(context.commandName ?? 'unknown'), output.ConsumedCapacity?.CapacityUnits);
        return result;
      },
    { step: 'serialize', priority: 'high', name: 'benchConsumedCapacity' },
  );
  return client;
}

/** DynamoDB's item size: UTF-8 attribute names plus values; a number is about 1 byte per 2 significant digits + 1. */
export function itemBytes(item: Record<string, Attribute>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name);
    const text = typeof value === 'string' ? value : typeof value === 'number' ? undefined : value.S;
    const number = typeof value === 'number' ? String(value) : typeof value === 'string' ? undefined : value.N;
    if (text !== undefined) bytes += Buffer.byteLength(text);
    else if (number !== undefined) {
      const digits = number.replace('-', '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
      bytes += Math.ceil(Math.max(1, digits.length) / 2) + 1;
    }
  }
  return bytes;
}

/** Table and index key attributes by this project's naming (pk, sk, gsi1pk, ...). */
const KEY_NAMES = /^(pk|sk|gsi\d*(pk|sk))$/;

const pick = (item: Record<string, Attribute>, names: readonly string[]): Record<string, Attribute> =>
  Object.fromEntries(Object.entries(item).filter(([name]) => names.includes(name)));

/** An API Gateway connection id is 16 characters, e.g. `L0SM9cOFvHcCIhw=`. */
const connectionId = (prefix: string, index: number): string =>
  `${prefix}${index.toString(36).padStart(15 - prefix.length, '0')}=`;

export interface ListingFigure {
  readonly target: string;
  readonly layout: string;
  readonly rows: number;
  readonly pageSize: string;
  readonly pages: number;
  readonly rcu: number;
  readonly itemBytes: number;
  readonly idealStoredRcu: number;
  readonly idealKeysOnlyRcu: number;
  readonly ratioToKeysOnly: number;
  readonly listed: number;
  readonly ms: number;
}

export interface WriteFigure {
  readonly target: string;
  readonly operation: 'connect (PutItem)' | 'disconnect (DeleteItem)';
  readonly requests: number;
  readonly meanUnits: number;
  readonly maxUnits: number;
  readonly missing: number;
}

export interface DynamoDbResult {
  readonly listings: ListingFigure[];
  readonly writes: WriteFigure[];
  readonly reportsCapacity: Record<string, boolean>;
  readonly scanInSrc: string[];
  readonly skipped: string[];
}

/** The repository as the bench uses it; written so that it fits the port before and after rooms were added. */
interface Repository {
  save(connection: Connection): Promise<void>;
  remove(connectionId: string): Promise<unknown>;
  list(room: string): AsyncIterable<readonly unknown[]>;
}

async function inBatches<T>(items: readonly T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
}

/** Every src file that mentions a Scan, which the issue forbids. */
function scansInSrc(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/ScanCommand|paginateScan|\.scan\(/.test(readFileSync(path, 'utf8')))
        found.push(path.slice(projectRoot.length + 1));
    }
  };
  walk(join(projectRoot, 'src'));
  return found;
}

async function measureTarget(
  target: DynamoDbTarget,
  sizes: readonly number[],
  onStep: (label: string) => void,
): Promise<{ listings: ListingFigure[]; writes: WriteFigure[]; reports: boolean }> {
  const recorder = new CapacityRecorder();
  const client = recordingClient(target.endpoint, recorder);
  const documents = DynamoDBDocumentClient.from(client);
  const listings: ListingFigure[] = [];
  const writes: WriteFigure[] = [];
  let reports = false;
  try {
    for (const rows of sizes) {
      let stored: Record<string, Attribute> | undefined;
      for (const layout of ['as stored today'] as const) {
        onStep(`dynamodb ${target.name} ${layout} ${rows} rows`);
        const tableName = await target.table();
        const repository: Repository = new DynamoDbConnectionRepository(documents, { tableName });
        const ids = Array.from({ length: rows }, (_, i) => connectionId('L0', i));
        const now = new Date();
        const expiresAt = new Date(now.getTime() + CONNECTION_LIFETIME_MS);
        recorder.reset();
        if (layout === 'as stored today') {
          recorder.firstItem = undefined;
          await inBatches(ids, 16, (id) =>
            repository.save({
              id,
              room: DEFAULT_ROOM,
              name: `Guest ${id.slice(-5, -1)}`,
              connectedAt: now,
              expiresAt,
              revision: 0,
              announced: false,
            }),
          );
          stored = recorder.firstItem;
          const put = recorder.byOperation.get('PutItemCommand');
          if (put !== undefined && rows === Math.max(...sizes)) {
            writes.push({
              target: target.name,
              operation: 'connect (PutItem)',
              requests: put.requests,
              meanUnits: mean(put.units),
              maxUnits: Math.max(...put.units),
              missing: recorder.missing,
            });
          }
          reports ||= (put?.units.length ?? 0) > 0;
        }
        const written = stored ?? {};
        const bytes = itemBytes(written);
        const keyBytes = itemBytes(
          pick(
            written,
            Object.keys(written).filter((name) => KEY_NAMES.test(name)),
          ),
        );
        for (const pageSize of [undefined, 1000]) {
          recorder.reset();
          const listing: Repository = new DynamoDbConnectionRepository(documents, { tableName, pageSize });
          const started = performance.now();
          let listed = 0;
          for await (const page of listing.list(DEFAULT_ROOM)) listed += page.length;
          const ms = performance.now() - started;
          const query = recorder.byOperation.get('QueryCommand');
          const rcu = query ? query.units.reduce((a, b) => a + b, 0) : Number.NaN;
          const idealKeysOnlyRcu = Math.ceil((rows * keyBytes) / 4096) * 0.5;
          listings.push({
            target: target.name,
            layout,
            rows,
            pageSize: pageSize === undefined ? '1 MB (default)' : String(pageSize),
            pages: query?.requests ?? 0,
            rcu,
            itemBytes: bytes,
            idealStoredRcu: Math.ceil((rows * bytes) / 4096) * 0.5,
            idealKeysOnlyRcu,
            ratioToKeysOnly: rcu / idealKeysOnlyRcu,
            listed,
            ms,
          });
        }
        if (layout === 'as stored today' && rows === Math.max(...sizes)) {
          recorder.reset();
          const removed = ids.slice(0, Math.min(100, ids.length));
          await inBatches(removed, 8, async (id) => {
            await repository.remove(id);
          });
          const del = recorder.byOperation.get('DeleteItemCommand');
          if (del !== undefined) {
            writes.push({
              target: target.name,
              operation: 'disconnect (DeleteItem)',
              requests: del.requests,
              meanUnits: mean(del.units),
              maxUnits: Math.max(...del.units),
              missing: recorder.missing,
            });
          }
        }
      }
    }
  } finally {
    documents.destroy();
  }
  return { listings, writes, reports };
}

export async function runDynamoDb(
  sizes: readonly number[],
  withDynamoDbLocal: boolean,
  onStep: (label: string) => void,
): Promise<DynamoDbResult> {
  const result: DynamoDbResult = {
    listings: [],
    writes: [],
    reportsCapacity: {},
    scanInSrc: scansInSrc(),
    skipped: [],
  };
  const starters: Array<[string, () => Promise<DynamoDbTarget>]> = [['dynalite', startDynaliteTarget]];
  if (withDynamoDbLocal) starters.push(['DynamoDB Local', startDynamoDbLocalTarget]);
  for (const [name, start] of starters) {
    onStep(`starting ${name}`);
    let target: DynamoDbTarget;
    try {
      target = await start();
    } catch (error) {
      result.skipped.push(`${name}: ${(error as Error).message.split('\n')[0] ?? ''}`);
      continue;
    }
    try {
      const measured = await measureTarget(target, sizes, onStep);
      result.listings.push(...measured.listings);
      result.writes.push(...measured.writes);
      result.reportsCapacity[name] = measured.reports;
    } catch (error) {
      // src/ and serverless.yml may be mid-change (a new key design, an index not yet declared): report, go on.
      result.skipped.push(`${name}: ${(error as Error).name}: ${(error as Error).message.split('\n')[0] ?? ''}`);
    } finally {
      await target.stop();
    }
  }
  return result;
}
